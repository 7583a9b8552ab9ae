"""aks-backup-guard drift: what the ledger says, read-only.

drift lists every recorded target with its failing, unknown and warning checks; --target ID
narrows to one target (its key <cluster id>|<vault id>, or a cluster id for all of that
cluster's targets); --history (with --target) prints the target's history: transitions,
actions and their outcomes, alert deliveries, each with what triggered it. --format json
prints the same data as JSON for scripts.

Reads the ledger's storage account from the same settings as the Function App
(AzureWebJobsStorage, GUARD_STORAGE_CONNECTION or AzureWebJobsStorage__accountName, and
GUARD_TABLE_PREFIX). Exit codes: 0 success (also when nothing is recorded yet), 2 for a
configuration error or an unreachable ledger (one line on stderr, never a connection string).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError

from shared import ids
from shared.cli.text import Writer
from shared.errors import ConfigError
from shared.ledger.ledger import HistoryEntry, Ledger, TargetState
from shared.model import Status
from shared.settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2
_WORST = {Status.FAIL: 0, Status.UNKNOWN: 1, Status.WARN: 2, Status.PASS: 3, Status.NOT_APPLICABLE: 4}


def register(subparsers: argparse._SubParsersAction, parents: list[Any]) -> None:
    parser = subparsers.add_parser(
        "drift",
        parents=parents,
        help="show recorded drift per target, or one target's history",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--target", metavar="ID", help="a target key (<cluster id>|<vault id>) or a cluster id"
    )
    parser.add_argument("--history", action="store_true", help="show the history of --target")
    parser.add_argument("--limit", type=int, default=200, help="at most this many history rows (newest)")
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    try:
        if args.history and not args.target:
            raise ConfigError("--history needs --target")
        settings = Settings.from_env(require_subscriptions=False)
        ledger = Ledger.from_settings(settings)
        states = _select(ledger, args.target)
        if args.history:
            history = {s.target_key: ledger.history(s.target_key, limit=args.limit) for s in states}
            _print_history(history, args.format, out)
        else:
            _print_current(states, args.format, out)
    except ConfigError as exc:
        print(f"aks-backup-guard: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except AzureError as exc:
        status = (
            f" (HTTP {exc.status_code})" if isinstance(exc, HttpResponseError) and exc.status_code else ""
        )
        print(f"aks-backup-guard: cannot read the ledger: {type(exc).__name__}{status}", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


def _select(ledger: Ledger, target: str | None) -> list[TargetState]:
    try:
        if target and "|" in target:
            state = ledger.get_current(_target_key(target))
            return [state] if state else []
        if target:
            cluster = ids.normalize(target)
            sub = ids.subscription_of(cluster)
            return [s for s in ledger.list_current(subscription_id=sub) if ids.same(s.cluster_id, cluster)]
        return ledger.list_current()
    except ResourceNotFoundError:
        return []  # the tables do not exist yet: nothing recorded
    except ValueError:
        raise ConfigError(f"--target must be a target key or a cluster resource id, not {target!r}") from None


def _target_key(value: str) -> str:
    cluster, vault = value.split("|", 1)
    ids.subscription_of(cluster)
    return f"{ids.normalize(cluster)}|{ids.normalize(vault)}"


def _print_current(states: list[TargetState], fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        json.dump({"targets": [s.to_dict() for s in states]}, out, indent=2)
        out.write("\n")
        return
    text = Writer(out)
    if not states:
        text.line(
            "No targets recorded in the ledger yet (a scan fills it: see the README, 'A local ledger')."
        )
        return
    clean = 0
    for s in sorted(states, key=lambda s: (_WORST[s.worst], s.target_key)):
        failing = sorted(s.failing, key=lambda c: (_WORST[c.status], c.check))
        if not failing:
            clean += 1
            continue
        seen = s.last_seen.strftime("%Y-%m-%d %H:%M") if s.last_seen else "-"
        text.line(
            text.paint(f"{ids.name_of(s.cluster_id)} -> {ids.name_of(s.vault_id)} ({s.kind})", "bold")
            + f"  worst {s.worst}, last seen {seen} UTC"
        )
        text.line(text.paint(f"  cluster {s.cluster_id}", "dim"))
        text.line(text.paint(f"  vault   {s.vault_id}", "dim"))
        for c in failing:
            text.line(f"  {text.status(c.status)} {c.check}  since {c.since.strftime('%Y-%m-%d %H:%M')}")
            text.wrapped(c.detail, 10)
            if c.fix and c.fix.command:
                text.command(c.fix.command, 10)
        text.line()
    if clean:
        text.line(text.paint(f"{clean} recorded target(s) pass every check.", "dim"))
    text.line(f"{len(states)} targets recorded, {len(states) - clean} with drift")


def _print_history(history: dict[str, list[HistoryEntry]], fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        json.dump({"history": {k: [e.to_dict() for e in v] for k, v in history.items()}}, out, indent=2)
        out.write("\n")
        return
    text = Writer(out)
    if not history:
        text.line("No such target in the ledger.")
        return
    for key, entries in history.items():
        cluster, _, vault = key.partition("|")
        text.line(text.paint(f"History of {ids.name_of(cluster)} -> {ids.name_of(vault)}", "bold"))
        text.line(text.paint(f"  cluster {cluster}", "dim"))
        text.line(text.paint(f"  vault   {vault}", "dim"))
        for e in entries:
            text.line(f"  {e.at.strftime('%Y-%m-%d %H:%M:%S')}  {e.type:<16} {e.check}")
            text.wrapped(e.summary, 23)
            text.line(text.paint(" " * 23 + f"trigger: {e.trigger_kind} {e.trigger_id}", "dim"))
        text.line()
