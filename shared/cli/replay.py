"""``aks-backup-guard replay-event FILE|-``: run events through the Event Grid function's code.

Accepts the Event Grid schema or CloudEvents 1.0, one event or an array. Events are routed
exactly as the Event Grid function routes them (:func:`shared.orchestration.receive_events`); each
resulting verification is then processed as the queue worker would (:func:`shared.orchestration.process`),
inline rather than through the queue. With storage settings the ledger and alerts are used;
without them the verification runs inline and the ledger and alerts are skipped (it says so).
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from shared import ids, orchestration
from shared.cli import EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE
from shared.errors import ConfigError
from shared.model import Status
from shared.settings import Settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "replay-event",
        help="route Event Grid events (Event Grid schema or CloudEvents) and verify the targets they hit",
        description="Run events through the Event Grid function's routing, then verify (and, in enforce "
        "mode, remediate) each target they hit. Exit codes as for check, on the final findings.",
    )
    parser.add_argument(
        "file", metavar="FILE", help="a JSON file with one event or an array of events; - for stdin"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


def _read(path: str) -> Any:
    try:
        text = sys.stdin.read() if path == "-" else open(path, encoding="utf-8").read()  # noqa: SIM115
    except OSError as exc:
        raise ConfigError(f"cannot read {path!r}: {exc.strerror}") from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{path!r} is not JSON: {exc}") from None


def run(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    payload = _read(args.file)
    items = payload if isinstance(payload, list) else [payload]
    settings = Settings.from_env()
    svc = orchestration.Services.build(settings)
    ledger_used = svc.ledger is not None
    # Inline: no queue round trip and no debounce marker; the worker's code runs right here.
    svc.queue, svc.work = None, None
    report = orchestration.receive_events(items, svc)
    processed = [orchestration.process(item, svc) for item in report.enqueued]
    delivered = svc.outbox.drain() if svc.outbox is not None else None
    results = [p for p in processed if p.result is not None]
    doc = {
        "events": report.events,
        "dropped": report.dropped,
        "ignored": [{"event": e, "reason": r} for e, r in report.ignored],
        "routed": [
            {"event": e, "rule": rt.rule, "resource": rt.resource_id, "targets": [t.key for t in ts]}
            for e, rt, ts in report.routed
        ],
        "verified": [
            {
                **p.item.target.to_dict(),
                "outcomes": [o.to_dict() for o in p.result.outcomes],  # type: ignore[union-attr]
                "findings": [f.to_dict() for f in p.result.after_findings],  # type: ignore[union-attr]
            }
            for p in results
        ],
        "ledger": ledger_used,
        "alerts_delivered": getattr(delivered, "delivered", 0),
    }
    if args.format == "json":
        json.dump(doc, out, indent=2)
        out.write("\n")
    else:
        _table(out, doc, results, ledger_used)
    if report.dropped and not report.events:
        return EXIT_USAGE  # nothing in the input was an event
    finals = [f.status for p in results for f in p.result.after_findings]  # type: ignore[union-attr]
    if Status.FAIL in finals:
        return EXIT_FAIL
    return EXIT_UNKNOWN if Status.UNKNOWN in finals else EXIT_OK


def _table(
    out: IO[str], doc: dict[str, Any], results: list[orchestration.Processed], ledger_used: bool
) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=out, width=120, highlight=False)
    if not ledger_used:
        console.print("[yellow]no storage configured: verified inline; the ledger and alerts were skipped[/]")
    for reason in doc["dropped"]:
        console.print(f"[magenta]dropped[/] {reason}")
    for ignored in doc["ignored"]:
        console.print(f"[dim]ignored {ignored['event']}: {ignored['reason']}[/]")
    table = Table(title=f"{doc['events']} event(s), {len(results)} verification(s)", expand=True)
    for column in ("cluster -> vault", "actions", "still failing"):
        table.add_column(column)
    for p in results:
        assert p.result is not None
        actions = "\n".join(
            f"{o.result}: {o.description}" for o in p.result.outcomes if o.result != "skipped"
        )
        failing = "\n".join(f.check for f in p.result.after_findings if f.status is Status.FAIL)
        table.add_row(
            f"{ids.name_of(p.item.target.cluster_id)} -> {ids.name_of(p.item.target.vault_id)}",
            actions or "-",
            failing or "[green]none[/]",
        )
    console.print(table)
