"""``python -m bench [--quick] [--only NAME ...]``: run the benchmarks, print a table, write results.json."""

from __future__ import annotations

import argparse
import logging
import signal
import time
from collections.abc import Callable
from pathlib import Path

from bench import alerts, cold_start, event_path, report, scan, table_ops
from bench.common import progress

BENCHMARKS: dict[str, Callable[..., list[report.Figure]]] = {
    "cold_start": cold_start.run,
    "scan": scan.run,
    "event_path": event_path.run,
    "table_ops": table_ops.run,
    "alerts": alerts.run,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="tiny sizes, fewer runs (a smoke test)")
    parser.add_argument("--only", action="append", choices=sorted(BENCHMARKS), help="run only these")
    parser.add_argument("--out", type=Path, default=report.RESULTS, help="where to write the JSON results")
    args = parser.parse_args(argv)
    # SIGTERM unwinds like Ctrl-C, so the simulators and Azurite started in `with` blocks are stopped.
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    started = time.monotonic()
    figures: list[report.Figure] = []
    for name, bench in BENCHMARKS.items():
        if args.only and name not in args.only:
            continue
        progress("running %s%s", name, " (quick)" if args.quick else "")
        figures += bench(quick=args.quick)
    report.write(figures, path=args.out, quick=args.quick)
    report.print_table(figures)
    progress("done in %.0f s; results in %s", time.monotonic() - started, args.out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
