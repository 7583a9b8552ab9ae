"""``aks-backup-guard silence``: stop alerts about a target (and check) for a while, with a reason.

- ``silence add --target ID [--check CHECK] --for 4h --reason "..."``: ``ID`` is a target key
  (``<cluster id>|<vault id>``), a cluster id or a vault id; ``--for`` takes minutes, hours or
  days (``90m``, ``4h``, ``2d``). The author is ``--author`` or the login name. Prints the id.
- ``silence list [--all] [--format json]``: active silences (``--all``: ended ones too).
- ``silence expire ID``: end a silence now; a check it covered that still fails is alerted once.

A silenced transition is still recorded; it is not sent, and the target's history
(``drift --history``) shows "alert silenced by ..." (see docs/alerts.md). Reads the ledger's
storage from the same settings as the Function App. Exit codes: 0 done, 2 usage/configuration
error or unreachable ledger.
"""

from __future__ import annotations

import argparse
import getpass
import json
import re
import sys
from datetime import UTC, datetime, timedelta
from typing import IO, Any

from azure.core.exceptions import AzureError
from rich.console import Console
from rich.table import Table

from shared.alerts.silences import Silence, Silences
from shared.errors import ConfigError
from shared.ledger.ledger import Ledger
from shared.settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2
_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$", re.I)
_UNIT = {"m": "minutes", "h": "hours", "d": "days"}


def register(subparsers: argparse._SubParsersAction, parents: list[Any]) -> None:
    parser = subparsers.add_parser(
        "silence",
        help="silence alerts for a target for a while",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="silence_command", required=True)
    add = sub.add_parser("add", parents=parents, help="add a silence")
    add.add_argument("--target", required=True, metavar="ID", help="target key, cluster id or vault id")
    add.add_argument("--check", default="", help="only this check id (default: every check)")
    add.add_argument("--for", dest="duration", required=True, metavar="DURATION", help="e.g. 90m, 4h, 2d")
    add.add_argument("--reason", required=True, help="why (shown in history)")
    add.add_argument("--author", default="", help="who (default: the login name)")
    add.set_defaults(handler=run_add)
    listing = sub.add_parser("list", parents=parents, help="list silences")
    listing.add_argument("--all", action="store_true", help="include silences that ended")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    listing.set_defaults(handler=run_list)
    expire = sub.add_parser("expire", parents=parents, help="end a silence now")
    expire.add_argument("id")
    expire.set_defaults(handler=run_expire)


def parse_duration(text: str) -> timedelta:
    m = _DURATION.match(text)
    if not m or float(m.group(1)) <= 0:
        raise ConfigError(f"--for must be a positive duration like 90m, 4h or 2d, not {text!r}")
    return timedelta(**{_UNIT[m.group(2).lower()]: float(m.group(1))})


def _silences() -> Silences:
    settings = Settings.from_env(require_subscriptions=False)
    if not settings.storage.configured:
        raise ConfigError("silences live in the ledger: set AzureWebJobsStorage or GUARD_STORAGE_CONNECTION")
    ledger = Ledger.from_settings(settings)
    ledger.create_tables()
    return Silences(ledger)


def _guarded(action: str, run: object) -> int:
    try:
        return int(run())  # type: ignore[operator]
    except ConfigError as exc:
        print(f"aks-backup-guard: configuration error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except ValueError as exc:
        print(f"aks-backup-guard: silence {action}: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AzureError as exc:
        print(f"aks-backup-guard: cannot reach the ledger: {type(exc).__name__}", file=sys.stderr)
        return EXIT_USAGE


def run_add(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    stream = out or sys.stdout

    def go() -> int:
        duration = parse_duration(args.duration)
        author = args.author or _login()
        silence = _silences().add(
            args.target, duration=duration, reason=args.reason, author=author, check=args.check
        )
        stream.write(
            f"silenced {silence.id} until {silence.ends:%Y-%m-%d %H:%M} UTC ({silence.target}"
            + (f", {silence.check}" if silence.check else "")
            + ")\n"
        )
        return EXIT_OK

    return _guarded("add", go)


def run_list(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    stream = out or sys.stdout

    def go() -> int:
        now = datetime.now(UTC)
        silences = [s for s in _silences().all() if args.all or s.active(now)]
        _print(silences, args.format, stream, now)
        return EXIT_OK

    return _guarded("list", go)


def run_expire(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    stream = out or sys.stdout

    def go() -> int:
        silence = _silences().expire(args.id)
        if silence is None:
            raise ValueError(f"no silence {args.id!r}")
        stream.write(f"expired {silence.id} at {silence.until:%Y-%m-%d %H:%M:%S} UTC\n")
        return EXIT_OK

    return _guarded("expire", go)


def _login() -> str:
    try:
        return getpass.getuser()
    except (OSError, KeyError):
        return "unknown"


def _print(silences: list[Silence], fmt: str, out: IO[str], now: datetime) -> None:
    if fmt == "json":
        json.dump({"silences": [{**s.to_dict(), "active": s.active(now)} for s in silences]}, out, indent=2)
        out.write("\n")
        return
    console = Console(file=out, width=160)
    if not silences:
        console.print("No active silences.")
        return
    table = Table(title="Silences")
    for col in ("Id", "Target", "Check", "Until (UTC)", "Author", "Reason"):
        table.add_column(col, overflow="fold")
    for s in silences:
        table.add_row(s.id, s.target, s.check or "(all)", f"{s.until:%Y-%m-%d %H:%M}", s.author, s.reason)
    console.print(table)
