"""Read-only verification: targets -> gather -> evaluate, never a write (docs/architecture.md).

Used by ``aks-backup-guard check`` and by :mod:`shared.reconcile` (one target's full pipeline);
the Functions-facing orchestration lives in :mod:`shared.orchestration`.

``iter_verify`` runs gather + evaluate for many targets concurrently on the event loop, in the
order :func:`interleave` gives them (round-robin across subscriptions, then across vaults, so
every subscription's ARM budget is used at once), yielding each result in that order as it
completes so callers can show progress and write results out in bounded memory.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future
from dataclasses import dataclass

from shared import ids
from shared.checks import evaluate
from shared.gather.async_reader import AsyncArmReader
from shared.gather.reader import ArmReader
from shared.gather.snapshot import gather_async, unreadable_snapshot
from shared.model import Finding, Snapshot, Status, Target

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verification:
    target: Target
    snapshot: Snapshot
    findings: tuple[Finding, ...]

    @property
    def failing(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.status is Status.FAIL)


def verify_one(target: Target, reader: ArmReader, *, incluster_checks: bool = False) -> Verification:
    """Gather and evaluate one target. Never raises: an unexpected error makes every check unknown."""
    return reader.run(verify_one_async(target, reader.aio, incluster_checks=incluster_checks))


async def verify_one_async(
    target: Target, reader: AsyncArmReader, *, incluster_checks: bool = False
) -> Verification:
    """:func:`verify_one` on the event loop."""
    try:
        snapshot = await gather_async(target, reader, incluster_checks=incluster_checks)
        return Verification(target, snapshot, tuple(evaluate(snapshot, incluster_checks=incluster_checks)))
    except Exception as exc:
        log.exception("verifying %s failed unexpectedly", target.key)
        snapshot = unreadable_snapshot(target, f"unexpected {type(exc).__name__} while verifying: {exc}")
        return Verification(target, snapshot, tuple(evaluate(snapshot, incluster_checks=incluster_checks)))


def interleave(targets: Iterable[Target]) -> list[Target]:
    """Round-robin across subscriptions, and across vaults inside each subscription.

    ARM's read buckets are per subscription: a scan that drains one subscription at a time waits
    out each one's bucket in turn (the sum of their limits), while interleaved it waits for the
    slowest only (the maximum). Stable: targets of one vault keep their order. Pure."""
    by_sub: dict[str, dict[str, deque[Target]]] = {}
    for target in targets:
        vaults = by_sub.setdefault(target.subscription_id.lower(), {})
        vaults.setdefault(ids.normalize(target.vault_id), deque()).append(target)
    lanes = [_round_robin(list(vaults.values())) for vaults in by_sub.values()]
    return list(_round_robin([deque(lane) for lane in lanes]))


def _round_robin(queues: list[deque[Target]]) -> Iterator[Target]:
    live = deque(q for q in queues if q)
    while live:
        queue = live.popleft()
        yield queue.popleft()
        if queue:
            live.append(queue)


def window_size(reader: ArmReader) -> int:
    """Targets in flight at once: enough to keep every subscription's connection slots busy
    through a target's dependent read stages, few enough to bound memory."""
    return max(8, reader.clients.settings.concurrency_per_subscription * 32)


def iter_verify(
    targets: Iterable[Target],
    reader: ArmReader,
    *,
    incluster_checks: bool = False,
    max_workers: int | None = None,
) -> Iterator[Verification]:
    """Verify ``targets`` concurrently on the event loop, yielding results in :func:`interleave`
    order.

    At most ``max_workers`` (default :func:`window_size`) targets are in flight or waiting to be
    yielded, so memory does not grow with the number of targets: a caller that writes each result
    out and drops it scans any estate in bounded memory. Ignored targets
    (``aks-backup-guard=ignore``) are yielded too; callers skip them. Abandoning the iterator
    cancels what is still in flight."""
    reader.clients.preload()
    pending = iter(interleave(targets))
    loop = reader.clients.loop
    window: deque[Future[Verification]] = deque()

    def submit(target: Target) -> None:
        window.append(loop.submit(verify_one_async(target, reader.aio, incluster_checks=incluster_checks)))

    try:
        for target in pending:
            submit(target)
            if len(window) >= (max_workers or window_size(reader)):
                break
        while window:
            head = window.popleft()
            following = next(pending, None)
            if following is not None:
                submit(following)
            yield head.result()
    finally:
        for future in window:
            future.cancel()


def verify(
    targets: Sequence[Target],
    reader: ArmReader,
    *,
    incluster_checks: bool = False,
    on_result: Callable[[Verification], None] | None = None,
    max_workers: int | None = None,
) -> list[Verification]:
    """Verify ``targets``; results come back in :func:`interleave` order, ignored ones dropped."""
    kept = []
    for result in iter_verify(targets, reader, incluster_checks=incluster_checks, max_workers=max_workers):
        if on_result is not None:
            on_result(result)
        if result.snapshot.opt_out != "ignore":
            kept.append(result)
    return kept


class Tally:
    """Running counts for a streamed report (see :func:`summarize`)."""

    def __init__(self) -> None:
        self.counts = {str(status): 0 for status in Status}
        self.targets = 0
        self.failing_targets = 0

    def add(self, v: Verification) -> None:
        self.targets += 1
        self.failing_targets += 1 if v.failing else 0
        for finding in v.findings:
            self.counts[str(finding.status)] += 1

    def as_dict(self) -> dict[str, int]:
        return {"targets": self.targets, "failing_targets": self.failing_targets, **self.counts}


def summarize(verifications: Iterable[Verification]) -> dict[str, int]:
    tally = Tally()
    for v in verifications:
        tally.add(v)
    return tally.as_dict()
