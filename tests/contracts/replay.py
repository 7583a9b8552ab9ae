"""A tiny HTTPS server that answers with recorded Azure bodies, for the contract tests.

Each route is (method, path) -> a queue of recorded responses (the last one repeats). Paths are
matched case-insensitively without the query, as ARM does; every request is logged with its
api-version. ``https://management.azure.com`` in recorded headers (Location) is rewritten to this
server, the only change made to what is served. Runs on 127.0.0.1 in a background thread with a
throw-away CA (trustme), so the real azure-mgmt clients talk to it over TLS.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import tempfile
import threading
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import trustme
from aiohttp import web

CORPUS = Path(__file__).resolve().parent
RECORDED_HOST = "https://management.azure.com"


def load(relative: str) -> Any:
    """A corpus file: parsed JSON, or text for anything else."""
    path = CORPUS / relative
    text = path.read_text(encoding="utf-8")
    return json.loads(text) if path.suffix == ".json" else text


@dataclass
class Recorded:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)


class Replay:
    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], deque[Recorded]] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.endpoint = ""
        self.ca_bundle = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._thread: threading.Thread | None = None
        self._tmp = tempfile.TemporaryDirectory(prefix="replay-")

    def add(
        self,
        method: str,
        path: str,
        body: Any,
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        content_type: str = "application/json",
    ) -> None:
        """Queue one recorded response for ``method path`` (the last queued one keeps answering)."""
        raw = (
            body
            if isinstance(body, bytes)
            else (body if isinstance(body, str) else json.dumps(body)).encode()
        )
        key = (method.upper(), path.rstrip("/").lower())
        self.routes.setdefault(key, deque()).append(Recorded(status, raw, content_type, dict(headers or {})))

    async def _handle(self, request: web.Request) -> web.Response:
        key = (request.method.upper(), request.path.rstrip("/").lower())
        self.requests.append((request.method.upper(), request.path, request.query.get("api-version")))
        queue = self.routes.get(key)
        if not queue:
            return web.json_response(
                {"error": {"code": "NotRecorded", "message": f"{request.method} {request.path}"}}, status=404
            )
        answer = queue.popleft() if len(queue) > 1 else queue[0]
        headers = {k: v.replace(RECORDED_HOST, self.endpoint) for k, v in answer.headers.items()}
        return web.Response(
            status=answer.status, body=answer.body, content_type=answer.content_type, headers=headers
        )

    def __enter__(self) -> Replay:
        ca = trustme.CA()
        cert = ca.issue_cert("127.0.0.1")
        ca_path = Path(self._tmp.name) / "ca.pem"
        ca.cert_pem.write_to_path(str(ca_path))
        self.ca_bundle = str(ca_path)
        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        cert.configure_cert(ctx)
        ready = threading.Event()
        loop = asyncio.new_event_loop()
        self._loop = loop

        async def start() -> None:
            app = web.Application()
            app.router.add_route("*", "/{tail:.*}", self._handle)
            self._runner = web.AppRunner(app, access_log=None)
            await self._runner.setup()
            site = web.TCPSite(self._runner, "127.0.0.1", 0, ssl_context=ctx)
            await site.start()
            self.endpoint = f"https://127.0.0.1:{self._runner.addresses[0][1]}"

        def run() -> None:
            asyncio.set_event_loop(loop)
            loop.run_until_complete(start())
            ready.set()
            loop.run_forever()

        self._thread = threading.Thread(target=run, daemon=True)
        self._thread.start()
        if not ready.wait(10):
            raise RuntimeError("replay server did not start")
        return self

    def __exit__(self, *exc: object) -> None:
        loop = self._loop
        if loop is not None and self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), loop).result(10)
            loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._tmp.cleanup()
