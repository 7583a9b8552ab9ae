"""``aks-backup-guard replay-event FILE|-``: run events through the Event Grid function's code.

Accepts the Event Grid schema or CloudEvents 1.0, one event or an array. Events are routed
exactly as the Event Grid function routes them (:func:`shared.orchestration.receive_events`); each
resulting verification is then processed as the queue worker would (:func:`shared.orchestration.process`),
inline rather than through the queue. With storage settings the ledger and alerts are used;
without them the verification runs inline and the ledger and alerts are skipped (it says so).

Which targets an event reaches: cluster and vault events find their targets in ARM; events on a
scope (a role assignment, a storage account, a resource group) find them in the ledger's target
index when storage is configured (a fresh ledger's index is empty until a scan ran), and by
listing ARM without storage. The report says which source decided, per event.

Exit codes: 0/1/3 by the final findings, as ``check``; 2 when nothing could be verified (no
event in the input, every event ignored or routed to no target, ARM unusable), with the reason.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import IO, Any

from shared import orchestration
from shared.cli import EXIT_FAIL, EXIT_OK, EXIT_UNKNOWN, EXIT_USAGE, preflight, render
from shared.cli.text import Writer
from shared.errors import ConfigError
from shared.model import Status
from shared.settings import Settings


def register(subparsers: Any, parents: list[Any]) -> None:
    parser = subparsers.add_parser(
        "replay-event",
        parents=parents,
        help="route Event Grid events (Event Grid schema or CloudEvents) and verify the targets they hit",
        description="Run events through the Event Grid function's routing, then verify (and, in enforce "
        "mode, remediate) each target they hit. Exit codes as for check, on the final findings; 2 when "
        "nothing could be verified (the reason is printed).",
    )
    parser.add_argument(
        "file", metavar="FILE", help="a JSON file with one event or an array of events; - for stdin"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.set_defaults(handler=run)


def _read(path: str) -> Any:
    name = "stdin" if path == "-" else repr(path)
    try:
        if path == "-":
            raw = sys.stdin.buffer.read() if hasattr(sys.stdin, "buffer") else sys.stdin.read().encode()
        else:
            with open(path, "rb") as fh:
                raw = fh.read()
    except OSError as exc:
        raise ConfigError(f"cannot read {name}: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ConfigError(
            f"{name} is not UTF-8 text (byte 0x{raw[exc.start]:02x} at offset {exc.start}); "
            "events are JSON in UTF-8"
        ) from None
    try:
        return json.loads(text)
    except ValueError as exc:
        raise ConfigError(f"{name} is not JSON: {exc}") from None


def _source(svc: orchestration.Services, kind: str) -> str:
    """Where :func:`orchestration.resolve` looks up a route's targets (mirrors its rule)."""
    if svc.ledger is None:
        return "ARM"
    return "target index, then ARM" if kind in ("cluster", "vault") else "target index"


def run(args: argparse.Namespace, *, out: IO[str] | None = None) -> int:
    out = out or sys.stdout
    payload = _read(args.file)
    items = payload if isinstance(payload, list) else [payload]
    settings = Settings.from_env()
    svc = orchestration.Services.build(settings)
    preflight.check_access(svc.clients, settings.subscriptions[0])
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
            {
                "event": e,
                "rule": rt.rule,
                "resource": rt.resource_id,
                "targets_from": _source(svc, rt.kind),
                "targets": [t.key for t in ts],
            }
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
    if not results:
        print(f"aks-backup-guard: error: {_why_nothing(doc)}", file=sys.stderr)
        return EXIT_USAGE
    finals = [f.status for p in results for f in p.result.after_findings]  # type: ignore[union-attr]
    if Status.FAIL in finals:
        return EXIT_FAIL
    return EXIT_UNKNOWN if Status.UNKNOWN in finals else EXIT_OK


def _why_nothing(doc: dict[str, Any]) -> str:
    if not doc["events"]:
        return f"verified nothing: no event in the input ({len(doc['dropped'])} item(s) dropped as malformed)"
    parts = []
    if doc["ignored"]:
        reasons = sorted({i["reason"] for i in doc["ignored"]})
        parts.append(f"{len(doc['ignored'])} event(s) ignored ({'; '.join(reasons)[:200]})")
    empty = [r for r in doc["routed"] if not r["targets"]]
    if empty:
        sources = sorted({r["targets_from"] for r in empty})
        hint = (
            " (a fresh ledger's target index is empty until a scan ran)"
            if any(src == "target index" for src in sources)
            else ""
        )
        parts.append(f"{len(empty)} routed to no target by the {' / '.join(sources)}{hint}")
    return f"verified nothing of {doc['events']} event(s): " + ("; ".join(parts) or "every target opted out")


def _table(
    out: IO[str], doc: dict[str, Any], results: list[orchestration.Processed], ledger_used: bool
) -> None:
    text = Writer(out)
    if not ledger_used:
        text.line(
            text.paint("no storage configured: verified inline; the ledger and alerts were skipped", "yellow")
        )
    for reason in doc["dropped"]:
        text.wrapped(reason, 2, first=text.paint("dropped ", "magenta"))
    for ignored in doc["ignored"]:
        text.wrapped(f"{ignored['event']}: {ignored['reason']}", 2, first=text.paint("ignored ", "dim"))
    for routed in doc["routed"]:
        text.wrapped(
            f"{routed['event']} ({routed['rule']}): {len(routed['targets'])} target(s) from the "
            f"{routed['targets_from']}",
            2,
            first="routed ",
        )
    text.line(f"{doc['events']} event(s), {len(results)} verification(s)")
    text.line()
    for p in results:
        assert p.result is not None
        text.line(text.paint(render.target_title(p.result.before), "bold"))
        for o in p.result.outcomes:
            if o.result != "skipped":
                text.wrapped(f"{o.result}: {o.description}", 4)
        failing = [f for f in render.ordered(p.result.after_findings) if f.status in render.NOT_PASSING]
        if not failing:
            text.line("  " + text.paint("every check passes", "green"))
        for f in failing:
            text.line(f"  {text.status(f.status)} {f.check}")
            if f.fix and f.fix.command:
                text.command(f.fix.command, 10)
        text.line()
