"""A fake OpenAI-compatible server on 127.0.0.1 that can answer, fail with 500, hang, never answer or talk garbage."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = {"answer": {"groups": [{"name": "color", "prompt": "It is {}.", "options": ["red", "blue"]}],
                     "rules": {"a": [{"group": "color", "option": "red"}], "b": [{"group": "color", "option": "blue"}]}}}


class FakeServer:
    """Counts requests; keeps the request bodies. ``mode``:

    'ok' answers, '500' fails, 'hang' answers after 3 s, 'never' accepts and never answers
    (until closed), 'trickle' sends headers then one byte every 0.1 s (a per-read HTTP
    timeout never fires), 'garbage' answers 200 with a body that is not JSON.
    """

    def __init__(self) -> None:
        self.mode = "ok"
        self.closing = threading.Event()
        self.switch_after: int | None = None  # after this many requests, answer 500
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                server.requests.append(json.loads(body or b"{}"))
                if server.mode == "hang":
                    time.sleep(3)
                if server.mode in ("never", "trickle", "garbage"):
                    self._misbehave(server.mode)
                    return
                failing = server.switch_after is not None and len(server.requests) > server.switch_after
                if server.mode == "500" or failing:
                    self._send(500, {"error": {"message": "internal error", "type": "server_error"}})
                    return
                self._send(200, {
                    "id": "x", "object": "chat.completion", "created": 0, "model": "fake",
                    "choices": [{"index": 0, "finish_reason": "stop",
                                 "message": {"role": "assistant", "content": json.dumps(ANSWER)}}],
                    "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
                })

            def _misbehave(self, mode):
                try:
                    if mode == "never":
                        server.closing.wait()
                        return
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "100000" if mode == "trickle" else "21")
                    self.end_headers()
                    if mode == "garbage":
                        self.wfile.write(b"<html>not json at all")
                        return
                    while not server.closing.wait(0.1):
                        self.wfile.write(b" ")
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def _send(self, status, payload):
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.api_base = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.closing.set()
        self.httpd.shutdown()
        self.httpd.server_close()
