"""``aks-backup-guard check``: verify every prerequisite, read-only."""

from __future__ import annotations

import argparse
from typing import Any

from shared.arm import ArmClients
from shared.cli import common, render
from shared.cli.progress import ProgressLine


def register(subparsers: Any, parents: list[Any]) -> None:
    parser = subparsers.add_parser(
        "check",
        parents=parents,
        help="verify every AKS backup prerequisite (read-only)",
        description="Verify every AKS backup prerequisite of the selected targets against live ARM state "
        "(read-only). The table lists what does not pass, failing first, with each fix command on a "
        "line of its own; --all lists every check. Exit 0 all pass, 1 some check fails, "
        "2 usage/configuration/authentication error, 3 some checks unknown.",
    )
    common.add_selectors(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    settings = common.load_settings(args)
    out = common.open_output(args.output)
    clients = ArmClients(settings.arm)
    try:
        found, reader = common.select(settings, clients, args)
        progress = ProgressLine("verifying", len(found.targets))
        report = render.StreamedReport(out, args.format, show_all=args.all, before_write=progress.clear)
        for verification in common.stream_verification(found, reader, settings, progress=progress):
            report.add(verification)  # written now and dropped: memory stays flat on big estates
        report.close(found.problems)
        return common.exit_code_of(report.tally, found.problems)
    finally:
        clients.close()
        if out is not common.sys.stdout:
            out.close()
