"""A real HTTP receiver for webhook tests: a threaded ``http.server`` on a free port that
records what it is sent and answers as told (a status, a redirect, or no answer at all)."""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from guanxi.webhook import signing

HANG = "hang"  # an answer: say nothing for longer than the sender waits


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def delivery(self) -> str:
        return self.headers[signing.DELIVERY.lower()]

    def verifies(self, secret: str, now: int) -> bool:
        return signing.verify(secret, self.headers[signing.SIGNATURE.lower()], self.body, now)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 128  # several workers post at once: no connection refused


class Receiver:
    """``with Receiver() as hook``: POSTs to ``hook.url`` are kept in ``hook.received``; each
    is answered with the next of ``hook.answer(...)``'s replies, then 200. Other paths get
    404 and are not kept (a port the system hands out again cannot mix two tests)."""

    def __init__(self, hang_s: float = 2.0) -> None:
        self.received: list[Received] = []
        self.replies: list[int | str] = []
        self.hang_s = hang_s
        self.path = f"/hook/{uuid.uuid4().hex}"
        self.lock = threading.Lock()
        self.server = _Server(("127.0.0.1", 0), self._handler())
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}{self.path}"

    def answer(self, *replies: int | str) -> None:
        with self.lock:
            self.replies.extend(replies)

    def _next(self, headers: dict[str, str], body: bytes) -> int | str:
        with self.lock:
            self.received.append(Received(headers, body))
            return self.replies.pop(0) if self.replies else 200

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                if self.path != receiver.path:
                    self.send_response(404)
                    self.end_headers()
                    return
                reply = receiver._next({k.lower(): v for k, v in self.headers.items()}, body)
                if reply == HANG:
                    time.sleep(receiver.hang_s)
                    return
                assert isinstance(reply, int)
                self.send_response(reply)
                if 300 <= reply < 400:
                    self.send_header("Location", receiver.path + "/moved")
                text = f"answered {reply}".encode()
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        return Handler

    def __enter__(self) -> Receiver:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
