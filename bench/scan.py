"""Full scan through the engine's scan path (discover + verify with a bulk ArmReader, as
``aks-backup-guard check`` does) against the simulator with ARM's token bucket on (``--throttle``).

Figures per size: successful ARM reads per target (429 answers are counted apart), wall time, and
wall time / lower bound. The lower bound of one subscription is
``max(max(0, (reads - 250) / 25), latency * reads / GUARD_ARM_CONCURRENCY)`` (the read bucket,
and every read costing the simulator's latency with at most that many in flight); subscriptions
have independent buckets, so the scan's bound is the maximum over them. Each run gets a fresh
simulator, so every run starts with full buckets.

"ARM reads" exclude the blob listing (the storage data plane, one per target), reported apart.
The simulator takes blob listings from the subscription's read bucket too (Azure does not), so
``reads`` in the bound include them: that is the bucket the Guard really has to stay inside here.
Every run also counts ``unknown`` findings (reads that failed for good), which must be 0.
"""

from __future__ import annotations

import logging
import resource
import time
from typing import Any

from bench.common import (
    LATENCY_MS,
    PER_TARGET_TEMPLATES,
    SUBSCRIPTIONS,
    guard_env,
    progress,
    subscriptions_of,
)
from bench.report import Figure
from localdev.azure_sim.launcher import running_simulator
from localdev.estates.generate import generate_estate
from shared.arm import ArmClients
from shared.discovery import discover
from shared.gather.reader import ArmReader
from shared.settings import Settings
from shared.verification import verify

log = logging.getLogger(__name__)

READ_BURST, READ_REFILL = 250, 25
BLOB_TEMPLATE = "comp=list"  # the blob data plane: not an ARM read
VELERO = "cluster.velero-absent"  # unknown unless in-cluster checks are on


def lower_bound(reads_by_subscription: dict[str, int], latency_s: float, concurrency: int) -> float:
    """Seconds no client can beat (see the module docstring). Pure."""
    bound = 0.0
    for reads in reads_by_subscription.values():
        bucket = max(0.0, (reads - READ_BURST) / READ_REFILL)
        bound = max(bound, bucket, latency_s * reads / concurrency)
    return bound


def one_scan(estate: dict[str, Any], *, latency_ms: int, throttle: bool = True) -> dict[str, Any]:
    subs = subscriptions_of(estate)
    with running_simulator(estate, latency_ms=latency_ms, throttle=throttle) as sim:
        settings = Settings.from_env(guard_env(sim, subs))
        clients = ArmClients(settings.arm)
        try:
            sim.reset_counters()
            cpu0 = resource.getrusage(resource.RUSAGE_SELF)
            start = time.perf_counter()
            reader = ArmReader(clients, bulk=True)
            found = discover(reader, subs)
            results = verify(list(found.targets), reader)
            wall = time.perf_counter() - start
            cpu1 = resource.getrusage(resource.RUSAGE_SELF)
            counted = sim.requests(log=True)
        finally:
            clients.close()
    ok = [r for r in counted["log"] if r["method"] == "GET" and r["status"] != 429]
    throttled = sum(1 for r in counted["log"] if r["status"] == 429)
    by_sub: dict[str, int] = {}
    for r in ok:
        key = str(r.get("subscription") or "tenant")
        by_sub[key] = by_sub.get(key, 0) + 1
    arm = [r for r in ok if BLOB_TEMPLATE not in str(r["template"])]
    per_target = sum(1 for r in arm if any(p in str(r["template"]) for p in PER_TARGET_TEMPLATES))
    targets = len(found.targets)
    concurrency = settings.arm.concurrency_per_subscription
    bound = lower_bound(by_sub, latency_ms / 1000, concurrency)
    findings = sorted((v.target.key, f.check, str(f.status)) for v in results for f in v.findings)
    return {
        "targets": targets,
        "reads": len(arm),
        "reads_per_target": len(arm) / max(1, targets),
        "blob_reads_per_target": (len(ok) - len(arm)) / max(1, targets),
        "unknown_findings": sum(
            1 for v in results for f in v.findings if str(f.status) == "unknown" and f.check != VELERO
        ),
        "per_target_reads_per_target": per_target / max(1, targets),
        "throttled": throttled,
        "wall": wall,
        "bound": bound,
        "ratio": wall / bound if bound else float("nan"),
        "client_cpu": (cpu1.ru_utime - cpu0.ru_utime) + (cpu1.ru_stime - cpu0.ru_stime),
        "concurrency": concurrency,
        "findings": len(findings),
    }


def run(*, quick: bool = False) -> list[Figure]:
    sizes = [(20, 2, 1), (40, 2, 1)] if quick else [(100, 5), (1000, 3)]
    figures: list[Figure] = []
    for label, spec in zip(("small", "large"), sizes, strict=True):
        targets, runs = spec[0], spec[-1]
        subs = spec[1] if quick else SUBSCRIPTIONS
        estate = generate_estate(targets, subs, seed=1)
        samples = []
        for i in range(runs):
            sample = one_scan(estate, latency_ms=LATENCY_MS)
            progress(
                "scan %s targets run %s/%s: %.2f s (bound %.2f s, x%.2f), %.2f reads/target, %s x 429, "
                "client CPU %.1f s",
                targets,
                i + 1,
                runs,
                sample["wall"],
                sample["bound"],
                sample["ratio"],
                sample["reads_per_target"],
                sample["throttled"],
                sample["client_cpu"],
            )
            samples.append(sample)
        extra = {"targets": targets, "subscriptions": subs, "latency_ms": LATENCY_MS, "runs_detail": samples}
        ratio_target = 1.5 if label == "large" else None
        figures += [
            Figure(
                f"scan_{label}_reads_per_target",
                "scan",
                "reads/target",
                [s["reads_per_target"] for s in samples],
                target=3.0,
                note=f"{targets} targets, {subs} subs; ARM GETs incl. per-subscription/per-vault lists",
                extra=extra,
            ),
            Figure(
                f"scan_{label}_blob_reads_per_target",
                "scan",
                "reads/target",
                [s["blob_reads_per_target"] for s in samples],
                note="blob data-plane listings (not ARM), per target",
            ),
            Figure(
                f"scan_{label}_unknown_findings",
                "scan",
                "findings",
                [float(s["unknown_findings"]) for s in samples],
                target=0.0,
                note="findings left unknown because a read failed for good (must be 0)",
            ),
            Figure(
                f"scan_{label}_wall_seconds",
                "scan",
                "s",
                [s["wall"] for s in samples],
                note=f"{targets} targets, latency {LATENCY_MS} ms, --throttle; "
                f"client CPU {samples[0]['client_cpu']:.1f} s",
            ),
            Figure(
                f"scan_{label}_ratio_to_bound",
                "scan",
                "x bound",
                [s["ratio"] for s in samples],
                target=ratio_target,
                note=f"bound {samples[0]['bound']:.2f} s; {samples[0]['throttled']} x 429 in run 1",
            ),
        ]
    return figures
