"""A fake OpenAI-compatible server on 127.0.0.1 that can answer, fail with 500, hang, never answer or talk garbage.

Also the fixed-latency endpoint of ``benchmarks/bench_llm_concurrency.py``: every
answer waits ``latency_s`` (requests are served on threads, so answers overlap), and
with ``classes`` set each answer is a valid system for those classes whose option
names carry the request's ``seed`` (so different requests give different systems and
the same request always the same one).
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ANSWER = {
    "answer": {
        "groups": [{"name": "color", "prompt": "It is {}.", "options": ["red", "blue"]}],
        "rules": {"a": [{"group": "color", "option": "red"}], "b": [{"group": "color", "option": "blue"}]},
    }
}


def answer_for(classes: list[str], seed: object) -> dict:
    """A valid answer for ``classes``: one group whose options name each class and the seed."""
    options = [f"{name} look {seed}" for name in classes]
    return {
        "answer": {
            "groups": [{"name": "look", "prompt": "It has {}.", "options": options}],
            "rules": {name: [{"group": "look", "option": option}] for name, option in zip(classes, options)},
        }
    }


class FakeServer:
    """Counts requests; keeps the request bodies. ``mode``:

    'ok' answers, '500' fails, 'hang' answers after 3 s, 'never' accepts and never answers
    (until closed), 'trickle' sends headers then one byte every 0.1 s (a per-read HTTP
    timeout never fires), 'garbage' answers 200 with a body that is not JSON.
    ``latency_s`` delays every answer; ``peak`` is the most requests seen in flight at
    once; ``first_at``/``last_at`` are when the first request arrived and the last
    answer left (``time.perf_counter``).
    """

    def __init__(self, *, latency_s: float = 0.0, classes: list[str] | None = None) -> None:
        self.mode = "ok"
        self.closing = threading.Event()
        self.latency_s = latency_s
        self.classes = classes
        self.peak = 0
        self.first_at: float | None = None
        self.last_at: float | None = None
        self._in_flight = 0
        self._lock = threading.Lock()
        self.switch_after: int | None = None  # after this many requests, answer 500
        self.requests: list[dict] = []
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):  # keep test output quiet
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers.get("Content-Length", 0))) or b"{}")
                with server._lock:
                    server.requests.append(body)
                    count = len(server.requests)
                    server._in_flight += 1
                    server.peak = max(server.peak, server._in_flight)
                    server.first_at = server.first_at or time.perf_counter()
                try:
                    self._answer(body, count)
                finally:
                    with server._lock:
                        server._in_flight -= 1
                        server.last_at = time.perf_counter()

            def _answer(self, body, count):
                if server.mode == "hang":
                    time.sleep(3)
                if server.mode in ("never", "trickle", "garbage"):
                    self._misbehave(server.mode)
                    return
                time.sleep(server.latency_s)
                failing = server.switch_after is not None and count > server.switch_after
                if server.mode == "500" or failing:
                    self._send(500, {"error": {"message": "internal error", "type": "server_error"}})
                    return
                answer = ANSWER if server.classes is None else answer_for(server.classes, body.get("seed"))
                self._send(
                    200,
                    {
                        "id": "x",
                        "object": "chat.completion",
                        "created": 0,
                        "model": "fake",
                        "choices": [
                            {
                                "index": 0,
                                "finish_reason": "stop",
                                "message": {"role": "assistant", "content": json.dumps(answer)},
                            }
                        ],
                        "usage": {"prompt_tokens": 120, "completion_tokens": 30, "total_tokens": 150},
                    },
                )

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
