"""The local review web server: one HTML page and a few JSON endpoints, 127.0.0.1 only.

Endpoints (all JSON except the page):

=========================  ======================================================
``GET /``                  the review page (``page.html`` beside this module)
``GET /api/state``         :meth:`ReviewSession.state`
``GET /api/thumbs?pos=..`` thumbnails of train rows, ``pos`` comma-separated
``POST /api/preview``      body = edits (the ``edits.yaml`` schema as JSON) -> val accuracy
``POST /api/save``         same body -> the new version (number, path, val accuracy)
=========================  ======================================================

A user-caused problem answers HTTP 400 with ``{"error": "<one line>"}`` and changes
nothing. Two guards keep other web pages out: POSTs must say ``Content-Type:
application/json`` (browsers cannot send that cross-origin without a preflight this
server never grants), and every request must name this server in its ``Host`` header
as ``127.0.0.1:<port>`` or ``localhost:<port>`` (defeats DNS rebinding); anything else
gets HTTP 403.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from importlib import resources
from typing import Any
from urllib.parse import parse_qs, urlparse

from cotclip.optimizer.review.session import ReviewSession
from cotclip.systems.errors import CotclipError, InputError

__all__ = ["HOST", "ReviewServer", "make_server", "page_html"]

logger = logging.getLogger(__name__)
HOST = "127.0.0.1"
_MAX_BODY = 1 << 20


def page_html() -> bytes:
    """The single self-contained review page."""
    return resources.files("cotclip.optimizer.review").joinpath("page.html").read_bytes()


def _positions(query: dict[str, list[str]]) -> list[int]:
    raw = ",".join(query.get("pos", []))
    try:
        return [int(p) for p in raw.split(",") if p.strip()]
    except ValueError:
        raise InputError(f"pos={raw!r} must be comma-separated integers") from None


class _Handler(BaseHTTPRequestHandler):
    session: ReviewSession  # set on the subclass made by make_server
    server: _Server
    server_version = "cotclip-review"

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - stdlib signature
        """Requests go to this module's logger (shown with ``--verbose``), not to stderr."""
        logger.info("%s %s", self.address_string(), format % args)

    def _send(self, status: int, body: bytes, content_type: str) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)
        except ConnectionError:  # the browser went away (closed tab, reload): nothing to answer
            logger.info("client %s disconnected before the answer was sent", self.address_string())
            self.close_connection = True

    def _json(self, status: int, payload: Any) -> None:
        self._send(status, json.dumps(payload, ensure_ascii=False).encode(), "application/json; charset=utf-8")

    def _answer(self, compute: Callable[[], Any]) -> None:
        try:
            self._json(HTTPStatus.OK, compute())
        except CotclipError as exc:
            self._json(HTTPStatus.BAD_REQUEST, {"error": exc.message})

    def _foreign_host(self) -> bool:
        port = self.server.server_port
        if self.headers.get("Host") in (f"{HOST}:{port}", f"localhost:{port}"):
            return False
        self._json(HTTPStatus.FORBIDDEN, {"error": f"open the page as http://{HOST}:{port}/"})
        return True

    def do_GET(self) -> None:  # noqa: N802 - stdlib name
        """The page, the state or thumbnails."""
        if self._foreign_host():
            return
        url = urlparse(self.path)
        if url.path in ("/", "/index.html"):
            self._send(HTTPStatus.OK, page_html(), "text/html; charset=utf-8")
        elif url.path == "/api/state":
            self._answer(self.session.state)
        elif url.path == "/api/thumbs":
            self._answer(lambda: self.session.thumbnails(_positions(parse_qs(url.query))))
        else:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such page {url.path}"})

    def _body(self) -> Any:
        if self.headers.get_content_type() != "application/json":
            raise InputError("POST bodies must be JSON (Content-Type: application/json)")
        length = int(self.headers.get("Content-Length") or 0)
        if length > _MAX_BODY:
            raise InputError(f"request body of {length} bytes is too large; send fewer edits at once")
        try:
            return json.loads(self.rfile.read(length) or b"null")
        except ValueError as exc:
            raise InputError(f"request body is not valid JSON ({exc})") from None

    def do_POST(self) -> None:  # noqa: N802 - stdlib name
        """Preview or save edits."""
        if self._foreign_host():
            return
        actions = {"/api/preview": self.session.preview, "/api/save": self.session.save}
        action = actions.get(urlparse(self.path).path)
        if action is None:
            self._json(HTTPStatus.NOT_FOUND, {"error": f"no such endpoint {self.path}"})
            return
        self._answer(lambda: action(self._body()))


class _Server(ThreadingHTTPServer):
    """A threading HTTP server that treats a client hanging up (BrokenPipe, reset) as normal, not as a traceback."""

    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Log a vanished client quietly; anything else is a bug and keeps the standard report."""
        import sys

        if isinstance(sys.exc_info()[1], ConnectionError):
            logger.info("client %s disconnected", client_address)
            return
        super().handle_error(request, client_address)


class ReviewServer:
    """A running review server on ``127.0.0.1:port`` (``port=0`` picks a free one)."""

    def __init__(self, session: ReviewSession, port: int = 0) -> None:
        handler = type("ReviewHandler", (_Handler,), {"session": session})
        try:
            self.httpd = _Server((HOST, port), handler)
        except OSError as exc:
            raise InputError(f"cannot listen on {HOST}:{port} ({exc.strerror}); pick another --port") from None
        self.httpd.daemon_threads = True
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The page's address."""
        return f"http://{HOST}:{self.httpd.server_port}/"

    def serve_forever(self) -> None:
        """Serve until interrupted (blocks)."""
        self.httpd.serve_forever()

    def start(self) -> ReviewServer:
        """Serve from a background thread (tests); stop with :meth:`stop`."""
        self._thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket."""
        self.httpd.shutdown()
        self.httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)

    def __enter__(self) -> ReviewServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def make_server(session: ReviewSession, port: int = 0) -> ReviewServer:
    """A review server for ``session`` bound to 127.0.0.1 only."""
    return ReviewServer(session, port)
