"""Client-side pacing: ARM's token buckets mirrored in the client, so a scan waits instead of
collecting 429 answers (docs/architecture.md, "Pacing").

ARM throttles per region with token buckets per (subscription, principal) and per (tenant,
principal): reads 250 burst / 25 per second, writes and deletes 200 / 10. The :class:`Pacer`
keeps the same buckets for the one principal the process signs in as and charges every HTTP
attempt to ARM against them, retries included (the pacing policy sits after azure-core's retry
policy). A request that finds its bucket empty takes a token on credit and waits until the token
would exist: requests leave in order at the refill rate, never faster than ARM accepts them.

When ARM still answers 429 (another client with the same principal, a different region's clock),
the bucket is drained for the ``Retry-After`` the answer names, so every request of that
subscription waits, not only the one azure-core retries.

Concurrency: on the async path a request holds one of ``GUARD_ARM_CONCURRENCY`` slots of its
subscription only while it is on the wire; waiting for a token, and azure-core's back-off before
a retry, hold no slot.

Blob data-plane requests (``*.blob.core.windows.net``, or the simulator's account paths) are
outside ARM's buckets and are not paced.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from azure.core.pipeline import PipelineRequest, PipelineResponse
from azure.core.pipeline.policies import AsyncHTTPPolicy, HTTPPolicy

READS, WRITES, DELETES = "reads", "writes", "deletes"
LIMITS: dict[str, tuple[float, float]] = {READS: (250.0, 25.0), WRITES: (200.0, 10.0), DELETES: (200.0, 10.0)}
"""ARM's documented bucket size and refill per second, per (subscription or tenant, principal)."""
HEADROOM = 0.96
"""The client's bucket holds and refills 96 % of ARM's: clocks and network jitter must not make it
overtake ARM (a 10,000-target scan with the full burst collected 16 answers 429)."""
TENANT = "tenant"
_SUBSCRIPTION = re.compile(r"^/subscriptions/([^/?]+)", re.IGNORECASE)


def _path(url: str) -> str:
    """The path of an absolute URL (cheaper than urlsplit, called for every request)."""
    start = url.find("/", url.find("//") + 2) if "//" in url else 0
    if start < 0:
        return "/"
    end = url.find("?", start)
    return url[start:] if end < 0 else url[start:end]


def kind_of(method: str) -> str:
    method = method.upper()
    if method in ("GET", "HEAD"):
        return READS
    return DELETES if method == "DELETE" else WRITES


def bucket_scope(path: str) -> str:
    """The bucket a request path is charged to: its subscription (lower case) or the tenant."""
    match = _SUBSCRIPTION.match(path)
    return match.group(1).lower() if match else TENANT


class TokenBucket:
    """One bucket; :meth:`reserve` takes a token now and says how long to wait for it. Thread-safe."""

    def __init__(self, capacity: float, rate: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.capacity = capacity
        self.rate = rate
        self._clock = clock
        self._tokens = capacity
        self._stamp = clock()
        self._lock = threading.Lock()

    def _refill(self, now: float) -> None:
        self._tokens = min(self.capacity, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def reserve(self) -> float:
        """Seconds until the token taken now exists (0 when one was there)."""
        with self._lock:
            now = self._clock()
            self._refill(now)
            self._tokens -= 1.0
            return 0.0 if self._tokens >= 0 else -self._tokens / self.rate

    def drain(self, seconds: float) -> None:
        """ARM said 429 with ``Retry-After: seconds``: no token before then."""
        with self._lock:
            self._refill(self._clock())
            self._tokens = min(self._tokens, -seconds * self.rate)

    @property
    def tokens(self) -> float:
        with self._lock:
            self._refill(self._clock())
            return self._tokens


@dataclass
class PacingStats:
    """What the pacer saw: every HTTP attempt to ARM, the waits it imposed and the 429s."""

    attempts: int = 0
    throttled: int = 0
    waits: int = 0
    waited_seconds: float = 0.0


class Pacer:
    """The buckets of one principal (the process's credential); shared by every client."""

    def __init__(self, *, concurrency: int = 8, headroom: float = HEADROOM, enabled: bool = True) -> None:
        self.concurrency = concurrency
        self.headroom = headroom
        self.enabled = enabled
        self.stats = PacingStats()
        self._buckets: dict[tuple[str, str], TokenBucket] = {}
        self._slots: dict[str, asyncio.Semaphore] = {}
        self._lock = threading.Lock()

    def bucket(self, scope: str, kind: str) -> TokenBucket:
        key = (scope, kind)
        found = self._buckets.get(key)
        if found is None:
            with self._lock:
                found = self._buckets.get(key)
                if found is None:
                    capacity, rate = LIMITS[kind]
                    found = self._buckets[key] = TokenBucket(capacity * self.headroom, rate * self.headroom)
        return found

    def slot(self, scope: str) -> asyncio.Semaphore:
        """The async concurrency limit of one subscription (created on the event loop that uses it)."""
        found = self._slots.get(scope)
        if found is None:
            found = self._slots[scope] = asyncio.Semaphore(self.concurrency)
        return found

    def before(self, request: Any) -> tuple[str, str, float]:
        """Charge one attempt; returns (scope, kind, seconds to wait before sending)."""
        scope, kind = bucket_scope(_path(request.url)), kind_of(request.method)
        with self._lock:
            self.stats.attempts += 1
        wait = self.bucket(scope, kind).reserve() if self.enabled else 0.0
        if wait > 0:
            with self._lock:
                self.stats.waits += 1
                self.stats.waited_seconds += wait
        return scope, kind, wait

    def after(self, scope: str, kind: str, response: Any) -> None:
        """Learn from ARM's answer: a 429 drains the bucket for its Retry-After."""
        if response.status_code != 429:
            return
        with self._lock:
            self.stats.throttled += 1
        self.bucket(scope, kind).drain(retry_after_seconds(response.headers))


def retry_after_seconds(headers: Any) -> float:
    """Retry-After (seconds or ``Retry-After-Ms``/``x-ms-retry-after-ms``); 1 s when absent or odd."""
    for name, scale in (("retry-after-ms", 0.001), ("x-ms-retry-after-ms", 0.001), ("retry-after", 1.0)):
        value = headers.get(name)
        if value is None:
            continue
        try:
            return max(0.0, float(value) * scale)
        except ValueError:
            continue
    return 1.0


class PacingPolicy(HTTPPolicy):
    """Sync pipelines (writes, run command): wait for the bucket, then send."""

    def __init__(self, pacer: Pacer) -> None:
        super().__init__()
        self.pacer = pacer

    def send(self, request: PipelineRequest) -> PipelineResponse:
        scope, kind, wait = self.pacer.before(request.http_request)
        if wait > 0:
            time.sleep(wait)
        response = self.next.send(request)
        self.pacer.after(scope, kind, response.http_response)
        return response


class AsyncPacingPolicy(AsyncHTTPPolicy):
    """Async pipelines (the scan's reads): wait for the bucket holding no slot, then hold one slot
    of the subscription while the request is on the wire."""

    def __init__(self, pacer: Pacer) -> None:
        super().__init__()
        self.pacer = pacer

    async def send(self, request: PipelineRequest) -> PipelineResponse:
        scope, kind, wait = self.pacer.before(request.http_request)
        if wait > 0:
            await asyncio.sleep(wait)
        async with self.pacer.slot(scope):
            response = await self.next.send(request)
        self.pacer.after(scope, kind, response.http_response)
        return response
