"""The upload limit counts each visitor behind a reverse proxy, as compose runs it.

A real hop: clients on their own loopback addresses (127.0.0.2, .3, ...) reach `python -m web`
through a small reverse proxy on 127.0.0.1 that appends the client's address to X-Forwarded-For,
as nginx's `$proxy_add_x_forwarded_for` does; the server trusts that proxy
(DIGITBOT_WEB_TRUSTED_PROXY) and nobody else.
"""

from __future__ import annotations

import http.client
import os
import sys
import threading
import urllib.error
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import redis

from digitbot import keys
from digitbot.redis_server import EmbeddedRedis, free_port
from tests.support.processes import ManagedProcess, wait_until
from tests.web.conftest import OPERATOR_PASSWORD, OPERATOR_USER, digit_png

PROXY_HOST = "127.0.0.1"
CLIENTS = [f"127.0.0.{n}" for n in range(2, 7)]  # five visitors, each on an address of its own
UNTRUSTED_PEER = "127.0.0.9"
LIMIT_PER_MINUTE = 3
SOCKET_TIMEOUT_SECONDS = 30.0  # a hang guard, never a speed limit


class ReverseProxy(ThreadingHTTPServer):
    """Forwards every request to `upstream` from PROXY_HOST, naming the client in
    X-Forwarded-For."""

    daemon_threads = True

    def __init__(self, upstream_port: int) -> None:
        super().__init__((PROXY_HOST, 0), _ProxyHandler)
        self.upstream_port = upstream_port


class _ProxyHandler(BaseHTTPRequestHandler):
    server: ReverseProxy

    def do_GET(self) -> None:
        self._forward()

    def do_POST(self) -> None:
        self._forward()

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() != "connection"}
        earlier = self.headers.get("X-Forwarded-For")
        client = self.client_address[0]
        headers["X-Forwarded-For"] = f"{earlier}, {client}" if earlier else client
        upstream = http.client.HTTPConnection(
            PROXY_HOST, self.server.upstream_port, timeout=SOCKET_TIMEOUT_SECONDS,
            source_address=(PROXY_HOST, 0),
        )  # fmt: skip
        try:
            upstream.request(self.command, self.path, body=body, headers=headers)
            answer = upstream.getresponse()
            payload = answer.read()
            self.send_response(answer.status)
            for name, value in answer.getheaders():
                if name.lower() not in ("connection", "transfer-encoding", "content-length"):
                    self.send_header(name, value)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        finally:
            upstream.close()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib name
        pass


@pytest.fixture(scope="module")
def web_port(
    redis_server: EmbeddedRedis, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[int]:
    """`python -m web` on loopback, trusting the proxy's address, 3 uploads a minute."""
    base = tmp_path_factory.mktemp("web-proxy")
    port = free_port()
    env = {
        **os.environ,
        "REDIS_URL": redis_server.url,
        "DIGITBOT_HOME": str(base / "home"),
        "DIGITBOT_WEB_USER": OPERATOR_USER,
        "DIGITBOT_WEB_PASSWORD": OPERATOR_PASSWORD,
        "DIGITBOT_WEB_TRUSTED_PROXY": PROXY_HOST,
        "DIGITBOT_WEB_RATE_PER_MINUTE": str(LIMIT_PER_MINUTE),
        "PYTHONUNBUFFERED": "1",
    }
    command = [sys.executable, "-m", "web", "--host", PROXY_HOST, "--port", str(port)]
    web = ManagedProcess("web", command, env, base).start()
    try:
        assert wait_until(lambda: _healthy(port), timeout=60), web.log()[-3000:]
        yield port
    finally:
        web.stop()


@pytest.fixture()
def proxy_port(web_port: int) -> Iterator[int]:
    proxy = ReverseProxy(web_port)
    thread = threading.Thread(target=proxy.serve_forever, name="reverse proxy", daemon=True)
    thread.start()
    try:
        yield proxy.server_address[1]
    finally:
        proxy.shutdown()
        proxy.server_close()
        thread.join()


def upload(port: int, *, source: str, forwarded_for: str | None = None) -> int:
    """POST a drawn digit from `source` to 127.0.0.1:`port`; the status answered."""
    connection = http.client.HTTPConnection(
        PROXY_HOST, port, timeout=SOCKET_TIMEOUT_SECONDS, source_address=(source, 0)
    )
    headers = {"Content-Type": "image/png"}
    if forwarded_for:
        headers["X-Forwarded-For"] = forwarded_for
    try:
        connection.request("POST", "/api/recognize", body=digit_png(), headers=headers)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


def uploads_counted(connection: redis.Redis, client: str) -> int:
    """The uploads the server counted for `client`, over every minute window."""
    pattern = keys.rate_limit_key("web-upload", f"{client}:*")
    return sum(int(connection.get(key) or 0) for key in connection.scan_iter(pattern))


def test_five_visitors_behind_the_proxy_each_have_their_own_limit(
    proxy_port: int, redis_conn: redis.Redis
) -> None:
    statuses = {
        client: [upload(proxy_port, source=client) for _ in range(LIMIT_PER_MINUTE)]
        for client in CLIENTS
    }
    # With one limit shared by everyone behind the proxy, at most 3 of these 15 uploads would
    # pass in a minute (6 if a minute ended meanwhile).
    assert statuses == {client: [202] * LIMIT_PER_MINUTE for client in CLIENTS}
    for client in CLIENTS:
        assert uploads_counted(redis_conn, client) == LIMIT_PER_MINUTE
    assert uploads_counted(redis_conn, PROXY_HOST) == 0


def test_the_client_a_visitor_names_itself_is_not_believed(
    proxy_port: int, web_port: int, redis_conn: redis.Redis
) -> None:
    # Through the proxy, a forged X-Forwarded-For is kept but the proxy's last entry wins.
    assert upload(proxy_port, source=CLIENTS[0], forwarded_for="203.0.113.50") == 202
    assert uploads_counted(redis_conn, CLIENTS[0]) == 1
    # Straight to the server from a peer it does not trust: the peer is counted.
    assert upload(web_port, source=UNTRUSTED_PEER, forwarded_for="203.0.113.51") == 202
    assert uploads_counted(redis_conn, UNTRUSTED_PEER) == 1
    for forged in ("203.0.113.50", "203.0.113.51"):
        assert uploads_counted(redis_conn, forged) == 0


def _healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://{PROXY_HOST}:{port}/healthz", timeout=1) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False
