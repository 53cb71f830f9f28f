"""HTTP on loopback: the server, its request handler, and the dispatch of each request to a
Bot API method or a file download (faults and holds applied first)."""

from __future__ import annotations

import logging
import mimetypes
import socket
import sys
import threading
import time
from contextlib import suppress
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import SplitResult, unquote, urlsplit

from tests.support.telegram_standin.faults import FaultInjection
from tests.support.telegram_standin.holds import fault_error
from tests.support.telegram_standin.protocol import (
    DOWNLOAD,
    NGINX_502,
    ApiError,
    envelope,
    error_envelope,
    parse_params,
)
from tests.support.telegram_standin.records import RequestRecord
from tests.support.telegram_standin.webhook import WebhookDelivery

logger = logging.getLogger("tests.support.telegram_standin")


class Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True
    request_queue_size = 256  # the default 5 drops SYNs under load and adds 1 s retries

    def __init__(self, address: tuple[str, int], standin: HttpServing) -> None:
        self.standin = standin
        super().__init__(address, Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # Clients hanging up (cancelled long polls, timeouts) are routine, not errors.
        if isinstance(sys.exc_info()[1], OSError):
            return
        logger.exception("telegram stand-in: unexpected error serving %s", client_address)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as httpx expects
    server: Server

    def setup(self) -> None:
        super().setup()
        # Without this, Nagle + delayed ACK can add 40 ms to a response on loopback.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.server.standin._track_connection(self.connection, open_=True)

    def finish(self) -> None:
        try:
            with suppress(OSError):
                super().finish()
        finally:
            self.server.standin._track_connection(self.connection, open_=False)

    def do_GET(self) -> None:
        self.server.standin._handle_request(self)

    do_POST = do_GET

    def log_message(self, format: str, *args: Any) -> None:
        pass  # requests_log keeps this; stderr lines would bury test output

    def read_body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks: list[bytes] = []
            while size := int(self.rfile.readline().split(b";")[0].strip() or b"0", 16):
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                pass  # trailers
            return b"".join(chunks)
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def send_payload(self, status: int, payload: bytes, content_type: str) -> None:
        try:
            reason = HTTPStatus(status).phrase
        except ValueError:
            reason = "Unknown"
        head = [
            f"HTTP/1.1 {status} {reason}",
            "Server: telegram-standin",
            f"Content-Type: {content_type}",
            f"Content-Length: {len(payload)}",
            f"Connection: {'close' if self.close_connection else 'keep-alive'}",
        ]
        # One write: header and body in a single segment.
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + payload)
        except OSError:
            self.close_connection = True


class HttpServing(FaultInjection, WebhookDelivery):
    """Serving: start and stop, the URLs to give the bot, and the answer to each request."""

    def start(self) -> Self:
        """Bind a port and serve in background threads."""
        if self._server is not None:
            raise RuntimeError("TelegramStandIn is already running; call stop() first")
        self._stopping = False
        self._stop_event.clear()
        self._server = Server((self._host, self._requested_port), self)
        self._threads = [
            threading.Thread(
                target=self._server.serve_forever,
                kwargs={"poll_interval": 0.05},
                name="telegram-standin-http",
                daemon=True,
            ),
            threading.Thread(
                target=self._deliver_webhooks, name="telegram-standin-webhook", daemon=True
            ),
        ]
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        """Stop serving; open long polls are released, not waited for."""
        server = self._server
        if server is None:
            return
        with self._cond:
            self._stopping = True
            self._cond.notify_all()
            holds = list(self._holds)
        for hold in holds:  # held calls end without effect
            hold.drop()
        self._stop_event.set()
        server.shutdown()
        with self._cond:
            connections = list(self._connections)
        for connection in connections:  # unblock keep-alive readers
            with suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        server.server_close()
        for thread in self._threads:
            thread.join(timeout=5)
        self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("TelegramStandIn is not running; call start() first")
        return int(self._server.server_address[1])

    @property
    def api_url(self) -> str:
        """PTB's base_url and the workers' TELEGRAM_API_URL."""
        return f"http://{self._host}:{self.port}/bot"

    @property
    def file_url(self) -> str:
        """PTB's base_file_url and TELEGRAM_FILE_API_URL."""
        return f"http://{self._host}:{self.port}/file/bot"

    def _handle_request(self, handler: Handler) -> None:
        arrived = time.monotonic()
        url = urlsplit(handler.path)
        path = unquote(url.path)
        if path.startswith("/file/bot"):
            name = DOWNLOAD
        else:
            name = self._method_names.get(path.rpartition("/")[2].lower(), "?")
        with self._cond:
            self._in_flight[name] += 1
        try:
            self._serve_request(handler, url, path, arrived)
        finally:
            with self._cond:
                self._in_flight[name] -= 1

    def _serve_request(self, handler: Handler, url: SplitResult, path: str, arrived: float) -> None:
        body = handler.read_body()
        content_type = "application/json"
        if path.startswith("/file/bot"):
            method, status, payload, content_type = self._serve_download(
                path[len("/file/bot") :], handler
            )
        elif path.startswith("/bot"):
            method, status, payload = self._serve_api(path[len("/bot") :], url.query, handler, body)
            if status == 502 and payload == NGINX_502:
                content_type = "text/html"
        else:
            method, status = "?", 404
            payload = error_envelope(ApiError(404, "Not Found"))
        with self._cond:
            self._requests.append(
                RequestRecord(method, arrived, status, time.monotonic() - arrived)
            )
        handler.send_payload(status, payload, content_type)

    def _serve_api(
        self, rest: str, query: str, handler: Handler, body: bytes
    ) -> tuple[str, int, bytes]:
        token, _, method = rest.partition("/")
        method = method.strip("/")
        if token != self.token:
            return method or "?", 401, error_envelope(ApiError(401, "Unauthorized"))
        name = self._method_names.get(method.lower())
        if name is None or name == DOWNLOAD:
            return method or "?", 404, error_envelope(ApiError(404, "Not Found"))
        fault = self._take_fault(name)
        if fault is not None:
            if fault.status == 502:
                return name, 502, NGINX_502
            error = fault_error(fault)
            return name, error.status, error_envelope(error)
        try:
            boundary = handler.headers.get_param("boundary")
            params = parse_params(
                query,
                handler.headers.get_content_type(),
                boundary if isinstance(boundary, str) else None,
                body,
            )
            hold = self._take_hold(name, params)
            if hold is not None and not hold._wait(handler.connection):
                return name, 502, NGINX_502
            result = self._methods[name](params)
        except ApiError as error:
            return name, error.status, error_envelope(error)
        except Exception:
            logger.exception("telegram stand-in: bug while handling %s", name)
            with self._cond:
                self._internal_errors.append(f"{name}: {sys.exc_info()[1]!r}")
            return name, 500, error_envelope(ApiError(500, "Internal Server Error"))
        return name, 200, envelope(result)

    def _serve_download(self, rest: str, handler: Handler) -> tuple[str, int, bytes, str]:
        token, _, file_path = rest.partition("/")
        if token != self.token:
            return (
                DOWNLOAD,
                401,
                error_envelope(ApiError(401, "Unauthorized")),
                "application/json",
            )
        fault = self._take_fault(DOWNLOAD)
        if fault is not None:
            if fault.status == 502:
                return DOWNLOAD, 502, NGINX_502, "text/html"
            error = fault_error(fault)
            return DOWNLOAD, error.status, error_envelope(error), "application/json"
        with self._cond:
            stored = self._files_by_path.get(file_path)
        if stored is None:
            return DOWNLOAD, 404, error_envelope(ApiError(404, "Not Found")), "application/json"
        hold = self._take_hold(DOWNLOAD, {})
        if hold is not None and not hold._wait(handler.connection):
            return DOWNLOAD, 502, NGINX_502, "text/html"
        if stored.delay:
            self._stop_event.wait(stored.delay)
        content_type = mimetypes.guess_type(file_path)[0] or "application/octet-stream"
        return DOWNLOAD, 200, stored.data, content_type
