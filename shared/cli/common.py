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
from shared.cli import preflight
from shared.cli.progress import ProgressLine
from shared.cli.render import FORMATS
from shared.discovery import Discovery, discover, targets_for_cluster
from shared.errors import ConfigError
from shared.gather.reader import ArmReader
from shared.model import Status, Unreadable
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


def add_selectors(parser: argparse.ArgumentParser, *, formats: tuple[str, ...] = FORMATS) -> None:
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
    parser.add_argument(
        "--format",
        choices=formats,
        default="table",
        help="table (default: what does not pass), json"
        + (", junit (CI test results), html (a self-contained page)" if "html" in formats else ""),
    )
    parser.add_argument("--output", metavar="FILE", help="write the report to FILE instead of stdout")
    parser.add_argument(
        "--all", action="store_true", help="table: list every check of every target, passing ones too"
    )


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
    """The targets named by the selectors, and the reader to gather them with.

    Checks first that ARM can be used at all (:mod:`shared.cli.preflight`). A ``--cluster`` or
    ``--vault`` that does not exist, or selects no target, is a :class:`ConfigError` naming it:
    a typo must not pass in CI as "0 targets, all good".
    """
    cluster, vault = (args.cluster or "").strip(), (args.vault or "").strip()
    first = ids.subscription_of(cluster or vault) if (cluster or vault) else settings.subscriptions[0]
    preflight.check_access(clients, first)
    if cluster:
        reader = ArmReader.for_settings(clients, settings)
        _must_exist(reader.cluster(cluster), "--cluster", cluster)
        if vault:
            _must_exist(reader.vault(vault), "--vault", vault)
        found = targets_for_cluster(reader, cluster)
        if vault:
            found = Discovery(tuple(t for t in found.targets if ids.same(t.vault_id, vault)), found.problems)
    else:
        reader = ArmReader.for_settings(clients, settings, bulk=True)
        subs = settings.subscriptions if not vault else (ids.subscription_of(vault),)
        if vault:
            _must_exist(reader.vault(vault), "--vault", vault)
        found = discover(reader, subs)
        if vault:
            found = Discovery(tuple(t for t in found.targets if ids.same(t.vault_id, vault)), found.problems)
    if (cluster or vault) and not found.targets and not found.problems:
        named = " and ".join(
            f"{flag} {value}" for flag, value in (("--cluster", cluster), ("--vault", vault)) if value
        )
        raise ConfigError(f"{named} selects no target (no backup instance, vault tag or restore-target tag)")
    return found, reader


def _must_exist(read: object, flag: str, resource_id: str) -> None:
    if isinstance(read, Unreadable) and read.kind == "not-found":
        raise ConfigError(f"{flag} {resource_id} does not exist (or is not visible to this identity)")


def stream_verification(
    found: Discovery, reader: ArmReader, settings: Settings, *, progress: ProgressLine | None = None
) -> Iterator[Verification]:
    """Verify the selected targets in order, one at a time (bounded memory), skipping ignored ones;
    ``progress`` (a transient line on a terminal) advances once per target."""
    results = iter_verify(list(found.targets), reader, incluster_checks=settings.incluster_checks)
    for v in results:
        if progress is not None:
            progress.advance()
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
