"""The process's one event loop for ARM reads, on a daemon thread of its own.

Every async SDK client, the aiohttp session they share and the pacing slots live on this loop.
Sync code (a Functions invocation, the CLI, a test) hands it a coroutine with :meth:`LoopThread.run`
and blocks for the result; many threads may do so at once. Code already on the loop awaits instead.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import logging
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

T = TypeVar("T")


class LoopThread:
    """An asyncio loop running forever on a daemon thread (started on first use)."""

    def __init__(self, name: str = "guard-arm-loop") -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    @property
    def loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None or self._loop.is_closed():
                ready = threading.Event()
                loop = asyncio.new_event_loop()

                def main() -> None:
                    asyncio.set_event_loop(loop)
                    ready.set()
                    loop.run_forever()

                self._thread = threading.Thread(target=main, name=self._name, daemon=True)
                self._thread.start()
                ready.wait()
                self._loop = loop
            return self._loop

    def on_loop(self) -> bool:
        """Whether the caller is running on this loop's thread (where :meth:`run` would deadlock)."""
        return self._thread is not None and threading.current_thread() is self._thread

    def submit(self, coro: Coroutine[Any, Any, T]) -> concurrent.futures.Future[T]:
        return asyncio.run_coroutine_threadsafe(coro, self.loop)

    def run(self, coro: Coroutine[Any, Any, T]) -> T:
        """Run ``coro`` on the loop and wait for its result (from any thread but the loop's own)."""
        if self.on_loop():
            coro.close()
            raise RuntimeError("LoopThread.run called on the loop's own thread: await the coroutine instead")
        return self.submit(coro).result()

    def stop(self, cleanup: Coroutine[Any, Any, Any] | None = None) -> None:
        """Run ``cleanup`` (closing sessions), then stop the loop and join its thread."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            if cleanup is not None:
                cleanup.close()
            return
        if cleanup is not None and thread is not threading.current_thread():
            try:
                asyncio.run_coroutine_threadsafe(cleanup, loop).result(timeout=10)
            except Exception:  # closing must not raise over the caller's own error
                logging.getLogger(__name__).debug("closing the loop's clients failed", exc_info=True)
        elif cleanup is not None:
            cleanup.close()
        loop.call_soon_threadsafe(loop.stop)
        if thread is not threading.current_thread():
            thread.join(timeout=10)
        if not loop.is_running():
            loop.close()
