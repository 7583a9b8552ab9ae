"""``python -m localdev.stack``: a local Azure to point the CLI at, with a filled ledger.

Starts Azurite and the ARM simulator (the demo estate, or ``--estate FILE``) on 127.0.0.1, runs
one scheduled scan through the Function App's handlers (timer -> queue -> worker) in report mode,
so the ledger holds every target's findings and the target index, then writes the settings to
``.run/stack.env`` and keeps running until Ctrl-C (or ``--exit`` stops at once).

In another shell::

    . .run/stack.env
    aks-backup-guard drift                  # recorded drift per target
    aks-backup-guard check                  # live verification against the simulator
    aks-backup-guard replay-event .demo/events.json

Nothing is written to ARM (``GUARD_MODE=report``); ``--enforce`` lets the scan fix what it may.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import time
from contextlib import ExitStack
from pathlib import Path

import yaml

from localdev.azure_sim.launcher import running_simulator
from localdev.azurite import Azurite
from localdev.host import LocalHost

ROOT = Path(__file__).resolve().parent.parent
DEMO_ESTATE = ROOT / "localdev" / "estates" / "demo.yaml"
ENV_FILE = ROOT / ".run" / "stack.env"


def _subscriptions(estate: Path) -> list[str]:
    with estate.open(encoding="utf-8") as fh:
        data = json.load(fh) if estate.suffix == ".json" else yaml.safe_load(fh)
    return [str(s["id"]) for s in data["subscriptions"]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m localdev.stack", description=__doc__.split("\n\n")[0])
    parser.add_argument("--estate", type=Path, default=DEMO_ESTATE, help="estate file (default: the demo)")
    parser.add_argument(
        "--enforce", action="store_true", help="let the scan fix what it may (GUARD_MODE=enforce)"
    )
    parser.add_argument("--exit", action="store_true", help="stop after the scan (for scripts and tests)")
    args = parser.parse_args(argv)
    if not args.estate.is_file():
        print(f"localdev.stack: error: no estate file {args.estate}", file=sys.stderr)
        return 2
    ENV_FILE.parent.mkdir(parents=True, exist_ok=True)
    with ExitStack() as stack:
        azurite = stack.enter_context(Azurite.start(log_path=ENV_FILE.parent / "azurite.log"))
        sim = stack.enter_context(running_simulator(args.estate, log_path=ENV_FILE.parent / "simulator.log"))
        env = {
            **sim.env(),
            "AzureWebJobsStorage": azurite.connection_string,
            "GUARD_SUBSCRIPTIONS": ",".join(_subscriptions(args.estate)),
            "GUARD_MODE": "enforce" if args.enforce else "report",
            "GUARD_DEBOUNCE_SECONDS": "0",
        }
        os.environ.update(env)

        import function_app
        from shared import orchestration
        from shared.settings import Settings

        svc = orchestration.Services.build(Settings.from_env())
        orchestration.use_services(svc)
        host = LocalHost(function_app.app, azurite.connection_string)
        started = time.monotonic()
        host.run_timer("guard_scan")
        stats = host.drain(timeout=600)
        recorded = len(svc.ledger.list_current()) if svc.ledger is not None else 0
        ENV_FILE.write_text(
            "".join(f"export {k}={shlex.quote(v)}\n" for k, v in env.items()), encoding="utf-8"
        )
        print(
            f"ledger filled: {recorded} targets recorded by one scan in {time.monotonic() - started:.0f} s "
            f"({stats.failed} failed invocations)\nsettings: . {ENV_FILE.relative_to(ROOT)}",
            flush=True,
        )
        if args.exit:
            return 0 if stats.failed == 0 else 1
        print("running; Ctrl-C (or SIGTERM) stops Azurite and the simulator", flush=True)

        def stop(signum: int, frame: object) -> None:
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)  # also when started in the background (SIGINT ignored)
        try:
            signal.pause()
        except KeyboardInterrupt:
            pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
