"""The real server (`python -m web`, waitress) on loopback: uploads over the limit get the page's
JSON error without their body being read, and HSTS follows the trusted proxy's X-Forwarded-Proto.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sys
import urllib.error
import urllib.request
from collections.abc import Iterator

import pytest

from digitbot import defaults, texts
from digitbot.redis_server import EmbeddedRedis, free_port
from tests.support.processes import ManagedProcess, wait_until
from tests.web.conftest import OPERATOR_PASSWORD, OPERATOR_USER
from web.app import MAX_REQUEST_BYTES

HOST = "127.0.0.1"
# A hang guard for each socket read, never a speed limit.
SOCKET_TIMEOUT_SECONDS = 30.0
TOO_LARGE_BODY = {"error": texts.IMAGE_TOO_LARGE}


@pytest.fixture(scope="module")
def web_port(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """`python -m web` on a free loopback port, with the tests as its trusted proxy."""
    base = tmp_path_factory.mktemp("web-limits")
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "DIGITBOT_HOME": str(base / "home"),
        "DIGITBOT_WEB_USER": OPERATOR_USER,
        "DIGITBOT_WEB_PASSWORD": OPERATOR_PASSWORD,
        "DIGITBOT_WEB_TRUSTED_PROXY": HOST,
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "web", "--host", HOST, "--port", str(port)]
    web = ManagedProcess("web", command, env, base).start()
    try:
        assert wait_until(lambda: _healthy(port), timeout=60), web.log()[-3000:]
        yield port
    finally:
        web.stop()


def read_response(connection: socket.socket) -> tuple[bytes, dict[str, str], bytes]:
    """Everything the server sends until it closes: status line, headers, body."""
    received = b""
    try:
        while chunk := connection.recv(65536):
            received += chunk
    except ConnectionResetError:
        # Unread upload bytes make the server's close a reset; what it sent before is kept.
        assert received, "the connection was reset before any answer"
    head, _, body = received.partition(b"\r\n\r\n")
    status, *lines = head.split(b"\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    return status, headers, body


def upload_headers(port: int, *extra: str) -> bytes:
    lines = [
        "POST /api/recognize HTTP/1.1",
        f"Host: {HOST}:{port}",
        "Content-Type: image/png",
        *extra,
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_declared_oversized_upload_is_refused_in_json_before_its_body_is_sent(
    web_port: int,
) -> None:
    declared = 2 * defaults.MAX_DOWNLOAD_BYTES
    # As curl sends a large upload: headers first, the body only after "100 Continue".
    with socket.create_connection((HOST, web_port), timeout=SOCKET_TIMEOUT_SECONDS) as client:
        client.sendall(
            upload_headers(web_port, f"Content-Length: {declared}", "Expect: 100-continue")
        )
        status, headers, body = read_response(client)  # no body byte was ever sent
    assert status == b"HTTP/1.1 413 Request Entity Too Large"  # not "100 Continue" first
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == TOO_LARGE_BODY

    # http.client sends the headers and waits: the answer comes without the body too.
    connection = http.client.HTTPConnection(HOST, web_port, timeout=SOCKET_TIMEOUT_SECONDS)
    try:
        connection.putrequest("POST", "/api/recognize")
        connection.putheader("Content-Type", "image/png")
        connection.putheader("Content-Length", str(MAX_REQUEST_BYTES))
        connection.endheaders()
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read()) == TOO_LARGE_BODY
    finally:
        connection.close()


def test_an_oversized_chunked_upload_is_refused_in_json_at_the_limit(web_port: int) -> None:
    piece = b"\0" * 65536
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    num_chunks = MAX_REQUEST_BYTES // len(piece) + 2  # just past the limit; no final chunk
    with socket.create_connection((HOST, web_port), timeout=SOCKET_TIMEOUT_SECONDS) as client:
        client.sendall(upload_headers(web_port, "Transfer-Encoding: chunked"))
        try:
            for _ in range(num_chunks):
                client.sendall(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the last chunk: the answer is already on its way
        status, headers, body = read_response(client)
    assert status == b"HTTP/1.1 413 Request Entity Too Large"
    assert headers["content-type"] == "application/json"
    assert json.loads(body) == TOO_LARGE_BODY


def test_strict_transport_security_when_the_trusted_proxy_says_https(web_port: int) -> None:
    base = f"http://{HOST}:{web_port}"
    with urllib.request.urlopen(f"{base}/healthz", timeout=SOCKET_TIMEOUT_SECONDS) as plain:
        assert plain.headers["Strict-Transport-Security"] is None
    behind_tls = urllib.request.Request(f"{base}/healthz", headers={"X-Forwarded-Proto": "https"})
    with urllib.request.urlopen(behind_tls, timeout=SOCKET_TIMEOUT_SECONDS) as secure:
        assert secure.headers["Strict-Transport-Security"].startswith("max-age=")


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{HOST}:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
