"""What the ``check`` and ``remediate`` subcommands share: selectors, settings, target selection."""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Iterator
from dataclasses import replace
from typing import IO

from shared import ids
from shared.arm import ArmClients
from shared.discovery import Discovery, discover, targets_for_cluster
from shared.errors import ConfigError
from shared.gather.reader import ArmReader
from shared.model import Status
from shared.settings import Settings
from shared.verification import Tally, Verification, iter_verify

_CLUSTER = re.compile(
    r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.containerservice/managedclusters/[^/]+$",
    re.I,
)
_VAULT = re.compile(
    r"^/subscriptions/[^/]+/resourcegroups/[^/]+/providers/microsoft\.dataprotection/backupvaults/[^/]+$",
    re.I,
)


def add_selectors(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--subscription",
        action="append",
        default=[],
        metavar="ID",
        help="subscription to scan (repeatable); default: GUARD_SUBSCRIPTIONS",
    )
    parser.add_argument("--cluster", metavar="ID", help="only the targets of this AKS cluster (resource id)")
    parser.add_argument(
        "--vault", metavar="ID", help="only the targets protected by this Backup vault (resource id)"
    )
    parser.add_argument("--format", choices=("table", "json"), default="table")
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")


def load_settings(args: argparse.Namespace) -> Settings:
    """Settings from the environment, with ``--subscription`` overriding GUARD_SUBSCRIPTIONS."""
    env = dict(os.environ)
    if args.subscription:
        env["GUARD_SUBSCRIPTIONS"] = ",".join(args.subscription)
    if args.cluster and not _CLUSTER.match(args.cluster.strip()):
        raise ConfigError(f"--cluster must be an AKS cluster resource id, not {args.cluster!r}")
    if args.vault and not _VAULT.match(args.vault.strip()):
        raise ConfigError(f"--vault must be a Backup vault resource id, not {args.vault!r}")
    needs_subs = not (args.cluster or args.vault)
    settings = Settings.from_env(env, require_subscriptions=needs_subs)
    if not settings.subscriptions:
        subs = [ids.subscription_of(x) for x in (args.cluster, args.vault) if x]
        settings = replace(settings, subscriptions=tuple(dict.fromkeys(subs)))
    return settings


def select(settings: Settings, clients: ArmClients, args: argparse.Namespace) -> tuple[Discovery, ArmReader]:
    """The targets named by the selectors, and the reader to gather them with."""
    if args.cluster:
        reader = ArmReader.for_settings(clients, settings)
        found = targets_for_cluster(reader, args.cluster.strip())
        if args.vault:
            found = Discovery(
                tuple(t for t in found.targets if ids.same(t.vault_id, args.vault.strip())), found.problems
            )
        return found, reader
    reader = ArmReader.for_settings(clients, settings, bulk=True)
    subs = settings.subscriptions if not args.vault else (ids.subscription_of(args.vault),)
    found = discover(reader, subs)
    if args.vault:
        found = Discovery(
            tuple(t for t in found.targets if ids.same(t.vault_id, args.vault.strip())), found.problems
        )
    return found, reader


def stream_verification(
    found: Discovery, reader: ArmReader, settings: Settings, *, stream: IO[str] | None = None
) -> Iterator[Verification]:
    """Verify the selected targets in order, one at a time (bounded memory), skipping ignored ones;
    with a progress bar on a terminal for larger scans."""
    stream = stream or sys.stderr  # resolved per call: sys.stderr may be replaced after import
    targets = list(found.targets)
    results = iter_verify(targets, reader, incluster_checks=settings.incluster_checks)
    if not (stream.isatty() and len(targets) > 3):
        yield from (v for v in results if v.snapshot.opt_out != "ignore")
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("verifying"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=Console(file=stream),
        transient=True,
    ) as progress:
        task = progress.add_task("verify", total=len(targets))
        for v in results:
            progress.advance(task)
            if v.snapshot.opt_out != "ignore":
                yield v


def exit_code(verifications: list[Verification], problems: tuple[str, ...] = ()) -> int:
    tally = Tally()
    for v in verifications:
        tally.add(v)
    return exit_code_of(tally, problems)


def exit_code_of(tally: Tally, problems: tuple[str, ...] = ()) -> int:
    if tally.counts[str(Status.FAIL)]:
        return 1
    if tally.counts[str(Status.UNKNOWN)] or problems:
        return 3
    return 0


def open_output(path: str | None) -> IO[str]:
    if path is None:
        return sys.stdout
    try:
        return open(path, "w", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--output: cannot write {path!r}: {exc.strerror}") from None
