"""``aks-backup-guard remediate``: plan and apply the safe fixes, then show the final findings.

Same selectors as ``check``. Writes only in ``GUARD_MODE=enforce`` and never with ``--dry-run``
(both print the plan). Exit code as ``check``, computed on the findings after the fixes.
"""

from __future__ import annotations

import argparse
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import IO, Any

from shared import ids
from shared.arm import ArmClients
from shared.cli import common, render
from shared.reconcile import ReconcileResult, reconcile
from shared.verification import Verification, summarize

_RESULT_STYLE = {"applied": "green", "already-present": "dim", "failed": "bold red", "skipped": "yellow"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "remediate",
        help="fix what is safe to fix (GUARD_MODE=enforce), then verify",
        description="Plan the safe fixes for the selected targets, apply them (GUARD_MODE=enforce, and "
        "GUARD_REMEDIATE_CLUSTER=true for cluster changes), then re-verify. --dry-run and report mode "
        "only print the plan. Exit 0 all pass, 1 some check fails, 2 usage/configuration error, "
        "3 some checks unknown (on the final findings).",
    )
    common.add_selectors(parser)
    parser.add_argument("--dry-run", action="store_true", help="print the plan; write nothing")
    parser.set_defaults(handler=run)


def final(result: ReconcileResult) -> Verification:
    """The verification after the fixes (findings as re-read; snapshot as first read)."""
    return Verification(result.target, result.before.snapshot, result.after_findings)


def report_dict(results: Sequence[ReconcileResult], problems: Sequence[str] = ()) -> dict[str, Any]:
    outcomes = Counter(o.result for r in results for o in r.outcomes)
    return {
        "targets": [
            {
                "cluster_id": r.target.cluster_id,
                "vault_id": r.target.vault_id,
                "kind": r.target.kind,
                "opt_out": r.before.snapshot.opt_out,
                "plan": [a.to_dict() for a in r.plan.actions],
                "outcomes": [o.to_dict() for o in r.outcomes],
                "findings": [f.to_dict() for f in render.ordered(r.after_findings)],
            }
            for r in results
        ],
        "summary": {
            **summarize([final(r) for r in results]),
            "actions": sum(len(r.plan.actions) for r in results),
            "outcomes": {k: outcomes.get(k, 0) for k in ("applied", "already-present", "failed", "skipped")},
        },
        "problems": list(problems),
    }


def write_table(stream: IO[str], results: Sequence[ReconcileResult], problems: Sequence[str] = ()) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=stream, width=max(100, Console(file=stream).width), highlight=False)
    for r in results:
        name = f"{ids.name_of(r.target.cluster_id)} -> {ids.name_of(r.target.vault_id)}"
        if not r.outcomes:
            console.print(f"[dim]{name}: nothing to fix[/]")
            continue
        table = Table(title=f"{name}: plan and outcomes", title_justify="left", expand=True)
        table.add_column("result", no_wrap=True)
        table.add_column("action", no_wrap=True)
        table.add_column("what", ratio=3)
        table.add_column("reason", ratio=2)
        for o in r.outcomes:
            table.add_row(f"[{_RESULT_STYLE[o.result]}]{o.result}[/]", o.action, o.description, o.reason)
        console.print(table)
    console.print("\n[bold]Findings after remediation[/]")
    render.write_table(stream, [final(r) for r in results], problems)


def run(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    out = common.open_output(args.output)
    clients = ArmClients(settings.arm)
    try:
        found, reader = common.select(settings, clients, args)
        workers = max(1, min(len(found.targets), settings.arm.concurrency_per_subscription))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(
                pool.map(
                    lambda t: reconcile(t, settings, clients, reader=reader, dry_run=args.dry_run),
                    found.targets,
                )
            )
        if args.format == "json":
            render.write_json(out, report_dict(results, found.problems))
        else:
            write_table(out, results, found.problems)
        return common.exit_code([final(r) for r in results], found.problems)
    finally:
        clients.close()
        if out is not common.sys.stdout:
            out.close()
