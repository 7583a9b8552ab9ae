"""Generate the infra's data files from the code's own tables (one source of truth).

``python -m shared.infra_export`` (``make infra-json``) writes, under ``infra/generated/``:

- ``roles.json``: the role matrix GUIDs (the only roles the Guard may assign) and the built-in
  roles the Bicep itself assigns, by name;
- ``rbac-condition.json``: the ABAC condition (version 2.0) on the Guard's Role Based Access
  Control Administrator assignment (:func:`rbac_condition`): write only matrix roles, only to
  service principals other than the Guard itself; never delete. The Guard's principal id is a
  placeholder the Bicep replaces. The simulator's :mod:`localdev.azure_sim.abac` evaluates the
  same text;
- ``event-filters.json``: the event types and ``data.operationName`` values of the Event Grid
  subscriptions, from :data:`shared.routing.ROUTES`, packed so that no event subscription
  exceeds Event Grid's advanced-filter limits;
- ``storage.json``: the ledger's table name suffixes (``<prefix>Current`` ...).

``python -m shared.infra_export --check`` writes nothing and exits 1 when a file is stale.
Pure apart from :func:`write` / :func:`main`; the output is deterministic (sorted keys, a
trailing newline), so regenerating an up-to-date tree changes nothing.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

from shared.ledger.ledger import TableNames
from shared.roles import BUILTIN_ROLES, ROLE_MATRIX, RoleRow
from shared.routing import ROUTES, SUBSCRIPTION_EVENT_TYPES, RouteRule
from shared.workqueue import QUEUES

GENERATED_DIR = Path(__file__).resolve().parent.parent / "infra" / "generated"

MAX_VALUES_PER_SUBSCRIPTION = 25
"""Event Grid: at most 25 advanced-filter values across all filters of one event subscription."""
MAX_FILTERS_PER_SUBSCRIPTION = 5
"""Event Grid: at most 5 advanced filters per event subscription in older API versions (25 now)."""

INFRA_ONLY_ROLES: Mapping[str, str] = {
    "Storage Queue Data Contributor": "974c5e8b-45b9-4653-ba55-5f855dd0fb88",
    "Storage Table Data Contributor": "0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3",
    "Monitoring Metrics Publisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "Key Vault Secrets User": "4633458b-17de-408a-b874-0445c86b69e6",
}
"""Built-in roles the Bicep assigns to the Guard's own identities on its own resources only."""

INFRA_BUILTIN_ROLE_NAMES = (
    "Reader",
    "Role Based Access Control Administrator",
    "Storage Blob Data Owner",
    "Storage Blob Data Contributor",
    "Storage Blob Data Reader",
)
"""Roles from :data:`shared.roles.BUILTIN_ROLES` that the Bicep assigns (not the matrix)."""

FORBIDDEN_ROLES: Mapping[str, str] = {
    "Owner": BUILTIN_ROLES["Owner"],
    "User Access Administrator": BUILTIN_ROLES["User Access Administrator"],
}
"""Never assigned by the Bicep at any scope (Contributor is forbidden at subscription scope)."""

_RA = "Microsoft.Authorization/roleAssignments"


def _generated(source: str) -> str:
    return f"by `make infra-json` (python -m shared.infra_export) from {source}; do not edit"


def matrix_role_guids(matrix: Sequence[RoleRow] = ROLE_MATRIX) -> list[str]:
    """The matrix's role GUIDs, de-duplicated, in matrix order (the order the demo estate uses)."""
    return list(dict.fromkeys(row.role_guid.lower() for row in matrix))


GUARD_PRINCIPAL_PLACEHOLDER = "GUARD_PRINCIPAL_ID"
"""Stands for the Guard identity's principal id in ``rbac-condition.json``; the Bicep substitutes
the identity's ``principalId`` (``replace()``), which exists only once the identity is deployed."""


def rbac_condition(guids: Sequence[str], guard_principal_id: str = GUARD_PRINCIPAL_PLACEHOLDER) -> str:
    """The ABAC condition on the Guard's Role Based Access Control Administrator assignment.

    - ``roleAssignments/write``: only a role in ``guids``, only ``principalType``
      ServicePrincipal, and never to ``guard_principal_id`` (the Guard cannot widen its own rights);
    - ``roleAssignments/delete``: never (the Guard never deletes an assignment). Azure's condition
      grammar pairs a targeted action with an expression, so "never" is a contradiction on the
      existing assignment's single-valued ``PrincipalType``: it cannot both be and not be
      ServicePrincipal, and an assignment without the attribute matches neither.

    Every other action of the role (reads) is not constrained.
    """
    listed = ", ".join(guids)
    ptype = f"{_RA}:PrincipalType"
    return (
        f"((!(ActionMatches{{'{_RA}/write'}})) OR "
        f"(@Request[{_RA}:RoleDefinitionId] ForAnyOfAnyValues:GuidEquals {{{listed}}} AND "
        f"@Request[{ptype}] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}} AND "
        f"@Request[{_RA}:PrincipalId] ForAnyOfAnyValues:GuidNotEquals {{{guard_principal_id}}}))"
        " AND "
        f"((!(ActionMatches{{'{_RA}/delete'}})) OR "
        f"(@Resource[{ptype}] ForAnyOfAnyValues:StringEqualsIgnoreCase {{'ServicePrincipal'}} AND "
        f"@Resource[{ptype}] ForAnyOfAnyValues:StringNotEqualsIgnoreCase {{'ServicePrincipal'}}))"
    )


def roles_document(matrix: Sequence[RoleRow] = ROLE_MATRIX) -> dict[str, Any]:
    builtin = {name: BUILTIN_ROLES[name] for name in INFRA_BUILTIN_ROLE_NAMES}
    builtin.update(INFRA_ONLY_ROLES)
    names = {row.role_guid.lower(): row.role_name for row in matrix}
    return {
        "_generated": _generated("shared/roles.py"),
        "builtin": dict(sorted(builtin.items())),
        "matrix": [{"guid": guid, "name": names[guid]} for guid in matrix_role_guids(matrix)],
        "matrixGuids": matrix_role_guids(matrix),
    }


def condition_document(matrix: Sequence[RoleRow] = ROLE_MATRIX) -> dict[str, Any]:
    return {
        "_generated": _generated("shared/roles.py"),
        "condition": rbac_condition(matrix_role_guids(matrix)),
        "conditionVersion": "2.0",
        "guardPrincipalIdPlaceholder": GUARD_PRINCIPAL_PLACEHOLDER,
    }


def _pack(routes: Iterable[RouteRule], limit: int) -> list[tuple[list[str], list[str]]]:
    """Pack whole routes, in table order, into groups of at most ``limit`` distinct operations."""
    groups: list[tuple[list[str], list[str]]] = []
    seen: set[str] = set()
    for rule in routes:
        ops = [op for op in dict.fromkeys(rule.operations) if op.lower() not in seen]
        seen.update(op.lower() for op in ops)
        if not ops:
            continue
        if len(ops) > limit:
            raise ValueError(f"route {rule.name} has {len(ops)} operations, more than {limit}")
        if not groups or len(groups[-1][1]) + len(ops) > limit:
            groups.append(([], []))
        groups[-1][0].append(rule.name)
        groups[-1][1].extend(ops)
    return groups


def event_filters_document(routes: Sequence[RouteRule] = ROUTES) -> dict[str, Any]:
    subscriptions = []
    for number, (names, ops) in enumerate(_pack(routes, MAX_VALUES_PER_SUBSCRIPTION), start=1):
        subscriptions.append(
            {
                "name": f"guard-arm-{number}",
                "routes": names,
                "advancedFilters": [
                    {
                        "operatorType": "StringIn",
                        "key": "data.operationName",
                        "values": sorted(ops, key=str.lower),
                    }
                ],
            }
        )
    return {
        "_generated": _generated("shared/routing.py"),
        "includedEventTypes": list(SUBSCRIPTION_EVENT_TYPES),
        "limits": {
            "maxValuesPerSubscription": MAX_VALUES_PER_SUBSCRIPTION,
            "maxFiltersPerSubscription": MAX_FILTERS_PER_SUBSCRIPTION,
        },
        "subscriptions": subscriptions,
    }


def storage_document() -> dict[str, Any]:
    names = TableNames.from_prefix("")
    return {
        "_generated": _generated("shared/ledger and shared/workqueue"),
        "tableSuffixes": [names.current, names.history, names.index, names.outbox, names.work],
        "queues": list(QUEUES),
    }


def render(document: Mapping[str, Any]) -> str:
    return json.dumps(document, indent=2, sort_keys=False) + "\n"


def documents(
    matrix: Sequence[RoleRow] = ROLE_MATRIX, routes: Sequence[RouteRule] = ROUTES
) -> dict[str, str]:
    """File name -> rendered content, for the given tables (the code's own by default)."""
    return {
        "roles.json": render(roles_document(matrix)),
        "rbac-condition.json": render(condition_document(matrix)),
        "event-filters.json": render(event_filters_document(routes)),
        "storage.json": render(storage_document()),
    }


def stale_files(
    directory: Path = GENERATED_DIR,
    *,
    matrix: Sequence[RoleRow] = ROLE_MATRIX,
    routes: Sequence[RouteRule] = ROUTES,
) -> list[str]:
    """Names of generated files that are missing or differ from what the tables produce."""
    stale = []
    for name, content in documents(matrix, routes).items():
        path = directory / name
        if not path.is_file() or path.read_text(encoding="utf-8") != content:
            stale.append(name)
    return stale


def write(directory: Path = GENERATED_DIR) -> list[str]:
    """Write every generated file; returns the names that changed. Safe to repeat."""
    directory.mkdir(parents=True, exist_ok=True)
    changed = stale_files(directory)
    for name, content in documents().items():
        if name in changed:
            (directory / name).write_text(content, encoding="utf-8")
    return changed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m shared.infra_export",
        description="Generate infra/generated/*.json from the code tables.",
    )
    parser.add_argument("--check", action="store_true", help="exit 1 if a generated file is stale")
    parser.add_argument("--dir", type=Path, default=GENERATED_DIR, help="output directory")
    args = parser.parse_args(argv)
    if args.check:
        stale = stale_files(args.dir)
        for name in stale:
            print(f"stale: {args.dir / name} (run `make infra-json`)", file=sys.stderr)
        return 1 if stale else 0
    for name in write(args.dir):
        print(f"wrote {args.dir / name}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
