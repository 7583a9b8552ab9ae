"""Read-only verification: targets -> gather -> evaluate, never a write (docs/architecture.md).

Used by ``aks-backup-guard check`` and by :mod:`shared.reconcile` (one target's full pipeline);
the Functions-facing orchestration lives in :mod:`shared.orchestration`.

``verify`` runs gather + evaluate for many targets concurrently (bounded per subscription by
the reader), reporting each result as it completes so callers can show progress.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from itertools import islice

from shared.checks import evaluate
from shared.gather.reader import ArmReader
from shared.gather.snapshot import gather, unreadable_snapshot
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
    try:
        snapshot = gather(target, reader, incluster_checks=incluster_checks)
        return Verification(target, snapshot, tuple(evaluate(snapshot, incluster_checks=incluster_checks)))
    except Exception as exc:
        log.exception("verifying %s failed unexpectedly", target.key)
        snapshot = unreadable_snapshot(target, f"unexpected {type(exc).__name__} while verifying: {exc}")
        return Verification(target, snapshot, tuple(evaluate(snapshot, incluster_checks=incluster_checks)))


def iter_verify(
    targets: Iterable[Target],
    reader: ArmReader,
    *,
    incluster_checks: bool = False,
    max_workers: int | None = None,
) -> Iterator[Verification]:
    """Verify ``targets`` concurrently, yielding results in the order of ``targets``.

    At most ``4 x workers`` results are held at once, so memory does not grow with the number
    of targets: a caller that writes each result out and drops it scans any estate in bounded
    memory. Ignored targets (``aks-backup-guard=ignore``) are yielded too; callers skip them.
    """
    pending = iter(targets)
    workers = max_workers or min(64, max(1, reader.clients.settings.concurrency_per_subscription * 8))
    window: deque[Future[Verification]] = deque()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        for target in islice(pending, workers * 4):
            window.append(pool.submit(verify_one, target, reader, incluster_checks=incluster_checks))
        while window:
            head = window.popleft()
            following = next(pending, None)
            if following is not None:
                window.append(pool.submit(verify_one, following, reader, incluster_checks=incluster_checks))
            yield head.result()


def verify(
    targets: Sequence[Target],
    reader: ArmReader,
    *,
    incluster_checks: bool = False,
    on_result: Callable[[Verification], None] | None = None,
    max_workers: int | None = None,
) -> list[Verification]:
    """Verify ``targets``; results come back in the order of ``targets``, ignored ones dropped."""
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
