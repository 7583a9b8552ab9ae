"""Peak RSS of a scan of a generated estate (10,000 targets), in a fresh process.

The parent starts the simulator (its memory is not counted) and runs
``python -m bench.memory --child`` with the simulator's settings in the environment; the child
runs discover + verify with a bulk reader, streaming results as the ``check`` CLI does (each one
reported and dropped), and prints its own ``ru_maxrss`` (KiB on Linux).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

from bench.common import guard_env, progress, subscriptions_of
from bench.report import Figure
from localdev.azure_sim.launcher import running_simulator
from localdev.estates.generate import generate_estate

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent


def child() -> None:
    from shared.arm import ArmClients
    from shared.discovery import discover
    from shared.gather.reader import ArmReader
    from shared.settings import Settings
    from shared.verification import Tally, iter_verify

    settings = Settings.from_env()
    clients = ArmClients(settings.arm)
    start = time.perf_counter()
    reader = ArmReader(clients, bulk=True)
    found = discover(reader, settings.subscriptions)
    # As `aks-backup-guard check` does: each result is reported (tallied here) and dropped.
    tally = Tally()
    for verification in iter_verify(list(found.targets), reader):
        tally.add(verification)
    wall = time.perf_counter() - start
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"targets": tally.targets, "wall": wall, "peak_mb": peak_kib / 1024}))


def run(*, quick: bool = False) -> list[Figure]:
    targets, subs, runs = (100, 2, 1) if quick else (10_000, 10, 3)
    estate = generate_estate(targets, subs, seed=2)
    peaks: list[float] = []
    with running_simulator(estate, latency_ms=0) as sim:
        env = {**os.environ, **guard_env(sim, subscriptions_of(estate))}
        env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH", "")) if p)
        for i in range(runs):
            out = subprocess.run(
                [sys.executable, "-m", "bench.memory", "--child"],
                cwd=ROOT,
                env=env,
                capture_output=True,
                text=True,
                check=True,
                timeout=1200,
            )
            result = json.loads(out.stdout.strip().splitlines()[-1])
            peaks.append(float(result["peak_mb"]))
            progress(
                "memory: %s targets run %s/%s: peak RSS %.0f MB, scan %.1f s",
                result["targets"],
                i + 1,
                runs,
                result["peak_mb"],
                result["wall"],
            )
    return [
        Figure(
            "scan_peak_rss_mb",
            "memory",
            "MB",
            peaks,
            target=300.0,
            comparison="<",
            note=f"{targets} targets, {subs} subs, scan process only (simulator excluded)",
        )
    ]


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--child", action="store_true")
    if parser.parse_args().child:
        child()
