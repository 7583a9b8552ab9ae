"""The read-only half of the pipeline: targets -> gather -> evaluate (DESIGN.md section 2).

``verify`` runs gather + evaluate for many targets concurrently (bounded per subscription by
the reader), reporting each result as it completes so callers can show progress.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass

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


def verify(
    targets: Sequence[Target],
    reader: ArmReader,
    *,
    incluster_checks: bool = False,
    on_result: Callable[[Verification], None] | None = None,
    max_workers: int | None = None,
) -> list[Verification]:
    """Verify ``targets``; results come back in the order of ``targets``.

    Targets whose cluster or vault carries ``aks-backup-guard=ignore`` are dropped.
    """
    if not targets:
        return []
    subs = {t.subscription_id for t in targets}
    workers = max_workers or min(64, max(1, reader.clients.settings.concurrency_per_subscription * len(subs)))
    results: dict[int, Verification] = {}
    with ThreadPoolExecutor(max_workers=min(workers, len(targets))) as pool:
        futures = {
            pool.submit(verify_one, t, reader, incluster_checks=incluster_checks): i
            for i, t in enumerate(targets)
        }
        for future in as_completed(futures):
            result = future.result()
            results[futures[future]] = result
            if on_result is not None:
                on_result(result)
    ordered = [results[i] for i in range(len(targets))]
    return [v for v in ordered if v.snapshot.opt_out != "ignore"]


def summarize(verifications: Iterable[Verification]) -> dict[str, int]:
    counts = {str(status): 0 for status in Status}
    targets = 0
    failing_targets = 0
    for v in verifications:
        targets += 1
        failing_targets += 1 if v.failing else 0
        for finding in v.findings:
            counts[str(finding.status)] += 1
    return {"targets": targets, "failing_targets": failing_targets, **counts}
