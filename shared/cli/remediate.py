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

from shared.arm import ArmClients
from shared.cli import common, render
from shared.cli.progress import ProgressLine
from shared.cli.text import Writer
from shared.model import Target
from shared.reconcile import ReconcileResult, reconcile
from shared.verification import Verification, summarize

_RESULT_STYLE = {"failed": "red", "applied": "green", "skipped": "yellow", "already-present": "dim"}


def register(subparsers: Any, parents: list[Any]) -> None:
    parser = subparsers.add_parser(
        "remediate",
        parents=parents,
        help="fix what is safe to fix (GUARD_MODE=enforce), then verify",
        description="Plan the safe fixes for the selected targets, apply them (GUARD_MODE=enforce, and "
        "GUARD_REMEDIATE_CLUSTER=true for cluster changes), then re-verify. --dry-run and report mode "
        "only print the plan. Exit 0 all pass, 1 some check fails, "
        "2 usage/configuration/authentication error, "
        "3 some checks unknown (on the final findings).",
    )
    common.add_selectors(parser, formats=("table", "json"))
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


def write_table(
    stream: IO[str],
    results: Sequence[ReconcileResult],
    problems: Sequence[str] = (),
    *,
    show_all: bool = False,
) -> None:
    """Per target with actions: each outcome (result, what, why); then the findings after the
    fixes as ``check`` prints them (what does not pass; ``show_all``: everything)."""
    out = Writer(stream)
    quiet = 0
    for r in results:
        if not r.outcomes:
            quiet += 1
            continue
        out.line(out.paint(render.target_title(r.before), "bold") + f"  {len(r.outcomes)} action(s)")
        for o in r.outcomes:
            out.line(f"  {out.paint(o.result.ljust(15), _RESULT_STYLE[o.result])} {o.action}")
            out.wrapped(o.description, 18)
            if o.reason:
                out.wrapped(o.reason, 18, first="     why:         ")
        out.line()
    if quiet:
        out.line(out.paint(f"{quiet} target(s) needed no action.", "dim"))
    counts: Counter[str] = Counter(o.result for r in results for o in r.outcomes)
    if counts:
        out.line("actions: " + ", ".join(f"{counts[k]} {k}" for k in _RESULT_STYLE if counts.get(k)))
    out.line()
    out.line(out.paint("Findings after remediation", "bold"))
    render.write_table(stream, [final(r) for r in results], problems, show_all=show_all)


def run(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    out = common.open_output(args.output)
    clients = ArmClients(settings.arm)
    try:
        found, reader = common.select(settings, clients, args)
        workers = max(1, min(len(found.targets), settings.arm.concurrency_per_subscription))
        progress = ProgressLine("remediating", len(found.targets))

        def one(target: Target) -> ReconcileResult:
            result = reconcile(target, settings, clients, reader=reader, dry_run=args.dry_run)
            progress.advance()
            return result

        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, found.targets))
        progress.clear()
        if args.format == "json":
            render.write_json(out, report_dict(results, found.problems))
        else:
            write_table(out, results, found.problems, show_all=args.all)
        return common.exit_code([final(r) for r in results], found.problems)
    finally:
        clients.close()
        if out is not common.sys.stdout:
            out.close()
