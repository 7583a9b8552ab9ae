"""``aks-backup-guard drift``: what the ledger says, read-only.

``drift`` lists every recorded target with its failing/unknown checks; ``--target ID`` narrows to
one target (its :attr:`Target.key` ``<cluster id>|<vault id>``, or a cluster id for all of that
cluster's targets); ``--history`` (with ``--target``) prints the target's history: transitions,
actions and their outcomes, alert deliveries, each with what triggered it. ``--format json``
prints the same data as JSON for scripts.

Reads the ledger's storage account from the same settings as the Function App
(``AzureWebJobsStorage`` / ``GUARD_STORAGE_CONNECTION`` / ``AzureWebJobsStorage__accountName``,
``GUARD_TABLE_PREFIX``). Exit codes: 0 success (also when nothing is recorded yet), 2 for a
configuration error or an unreachable ledger (one line on stderr, never a connection string).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO

from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from rich.console import Console
from rich.table import Table

from shared import ids
from shared.errors import ConfigError
from shared.ledger.ledger import HistoryEntry, Ledger, TargetState
from shared.settings import Settings

EXIT_OK, EXIT_USAGE = 0, 2


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "drift", help="show recorded drift per target, or one target's history", description=__doc__
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
        print(f"aks-backup-guard: configuration error: {exc}", file=sys.stderr)
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
    console = Console(file=out, width=160)
    if not states:
        console.print("No targets recorded in the ledger yet.")
        return
    table = Table(title="Recorded drift per target", show_lines=False)
    for col in ("Cluster", "Vault", "Worst", "Failing / unknown checks", "Since", "Last seen"):
        table.add_column(col, overflow="fold")
    for s in states:
        failing = s.failing
        checks = "\n".join(f"{c.check} ({c.status})" for c in failing) or "-"
        since = min((c.since for c in failing), default=None)
        table.add_row(
            ids.name_of(s.cluster_id),
            ids.name_of(s.vault_id),
            str(s.worst),
            checks,
            since.strftime("%Y-%m-%d %H:%M") if since else "-",
            s.last_seen.strftime("%Y-%m-%d %H:%M") if s.last_seen else "-",
        )
    console.print(table)


def _print_history(history: dict[str, list[HistoryEntry]], fmt: str, out: IO[str]) -> None:
    if fmt == "json":
        json.dump({"history": {k: [e.to_dict() for e in v] for k, v in history.items()}}, out, indent=2)
        out.write("\n")
        return
    console = Console(file=out, width=160)
    if not history:
        console.print("No such target in the ledger.")
        return
    for key, entries in history.items():
        cluster, _, vault = key.partition("|")
        table = Table(title=f"History of cluster {ids.name_of(cluster)} / vault {ids.name_of(vault)}")
        for col in ("When (UTC)", "Type", "Check", "What", "Trigger"):
            table.add_column(col, overflow="fold")
        for e in entries:
            table.add_row(
                e.at.strftime("%Y-%m-%d %H:%M:%S"),
                e.type,
                e.check,
                e.summary,
                f"{e.trigger_kind} {e.trigger_id}",
            )
        console.print(table)
