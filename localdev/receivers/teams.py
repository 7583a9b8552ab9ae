"""A scriptable stand-in for a Teams Workflows webhook ("When a Teams webhook request is received").

It accepts ``POST /workflows/<id>/triggers/manual/paths/invoke?...&sig=<secret>`` with a JSON body,
checks the signature query parameter, stores every body it accepted, and answers 202 like
Workflows. ``script`` lists the answers to give first, in order: an int status (429 answers carry
``Retry-After``), ``"hang"`` (sleep past the client's timeout) or ``"ok"``; ``always`` repeats one
answer forever.
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections.abc import Iterable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

Answer = int | str


class TeamsReceiver:
    def __init__(
        self,
        *,
        script: Iterable[Answer] = (),
        always: Answer | None = None,
        retry_after: int = 1,
        hang_seconds: float = 3.0,
    ) -> None:
        self.script: list[Answer] = list(script)
        self.always = always
        self.retry_after = retry_after
        self.hang_seconds = hang_seconds
        self.signature = secrets.token_urlsafe(24)
        self.received: list[dict[str, Any]] = []
        self.attempts = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)
        self._thread.start()

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        return (
            f"http://127.0.0.1:{self.port}/workflows/4f1c2d/triggers/manual/paths/invoke"
            f"?api-version=2016-06-01&sp=%2Ftriggers%2Fmanual%2Frun&sv=1.0&sig={self.signature}"
        )

    def _next(self) -> Answer:
        with self._lock:
            self.attempts += 1
            if self.script:
                return self.script.pop(0)
            return self.always if self.always is not None else "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def _answer(self, status: int, body: dict[str, Any] | None = None, **headers: str) -> None:
                data = json.dumps(body or {}).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for k, v in headers.items():
                    self.send_header(k.replace("_", "-"), v)
                self.end_headers()
                try:
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up (timeout test)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                raw = self.rfile.read(length)
                query = parse_qs(urlsplit(self.path).query)
                if query.get("sig") != [receiver.signature]:
                    self._answer(401, {"error": {"code": "DirectApiAuthorizationRequired"}})
                    return
                answer = receiver._next()
                if answer == "hang":
                    time.sleep(receiver.hang_seconds)
                    answer = 202
                if answer != "ok" and answer not in (200, 202):
                    extra = {"Retry_After": str(receiver.retry_after)} if answer == 429 else {}
                    self._answer(
                        int(answer), {"error": {"code": "Throttled" if answer == 429 else "Failure"}}, **extra
                    )
                    return
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._answer(400, {"error": {"code": "InvalidJson"}})
                    return
                with receiver._lock:
                    receiver.received.append(body)
                self._answer(202 if answer == "ok" else int(answer))

        return Handler

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def __enter__(self) -> TeamsReceiver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
