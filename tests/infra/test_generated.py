"""infra/generated/*.json is what the code's tables produce, and the Bicep loads exactly those files.

The mutation tests prove the staleness check can fail: a role matrix missing one row, or a route
table missing one operation, must make it report the affected files.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
from pathlib import Path
from typing import Any

from shared import infra_export
from shared.roles import ALLOWED_ROLE_GUIDS, ROLE_MATRIX
from shared.routing import ROUTES, SUBSCRIPTION_EVENT_TYPES, operation_filters
from tests.infra import bicep

GENERATED = bicep.INFRA / "generated"


def _load(name: str) -> Any:
    return json.loads((GENERATED / name).read_text(encoding="utf-8"))


def test_generated_files_are_up_to_date() -> None:
    assert infra_export.stale_files(GENERATED) == [], "infra/generated is stale: run `make infra-json`"
    assert infra_export.main(["--check"]) == 0


def test_roles_json_lists_exactly_the_allowed_role_guids() -> None:
    roles = _load("roles.json")
    assert set(roles["matrixGuids"]) == {g.lower() for g in ALLOWED_ROLE_GUIDS}
    assert {r["guid"] for r in roles["matrix"]} == {g.lower() for g in ALLOWED_ROLE_GUIDS}


def test_condition_names_every_allowed_guid_and_nothing_else() -> None:
    doc = _load("rbac-condition.json")
    condition = doc["condition"].lower()
    for guid in ALLOWED_ROLE_GUIDS:
        assert condition.count(guid.lower()) == 1  # the write branch; the delete branch names no role
    for name, guid in infra_export.FORBIDDEN_ROLES.items():
        assert guid.lower() not in condition, name
    # the Guard's principal id is filled in by the Bicep, in the write branch only
    assert doc["condition"].count(doc["guardPrincipalIdPlaceholder"]) == 1


def test_event_filters_are_the_route_tables_operations_within_event_grid_limits() -> None:
    filters = _load("event-filters.json")
    assert filters["includedEventTypes"] == list(SUBSCRIPTION_EVENT_TYPES)
    values: list[str] = []
    for sub in filters["subscriptions"]:
        assert len(sub["advancedFilters"]) <= infra_export.MAX_FILTERS_PER_SUBSCRIPTION
        in_sub = [v for f in sub["advancedFilters"] for v in f["values"]]
        assert len(in_sub) <= infra_export.MAX_VALUES_PER_SUBSCRIPTION
        for f in sub["advancedFilters"]:
            assert f == {"operatorType": "StringIn", "key": "data.operationName", "values": f["values"]}
        values += in_sub
    assert sorted(values, key=str.lower) == operation_filters()
    assert len(values) == len({v.lower() for v in values}), "an operation is delivered twice"
    assert [r for s in filters["subscriptions"] for r in s["routes"]] == [rule.name for rule in ROUTES]


def test_the_bicep_loads_every_generated_file_and_nothing_missing() -> None:
    loaded = {path for file in bicep.bicep_files() for path in bicep.loaded_files(file)}
    for path in loaded:
        assert path.is_file(), f"loadJsonContent of a missing file: {path}"
    assert {p.name for p in loaded if p.parent == GENERATED} == set(infra_export.documents())


def test_a_matrix_missing_one_guid_is_reported_stale(tmp_path: Path) -> None:
    copy = tmp_path / "generated"
    shutil.copytree(GENERATED, copy)
    dropped = ROLE_MATRIX[-1]
    shorter = tuple(row for row in ROLE_MATRIX if row.role_guid != dropped.role_guid)
    assert len(shorter) < len(ROLE_MATRIX)
    stale = infra_export.stale_files(copy, matrix=shorter)
    assert stale == ["roles.json", "rbac-condition.json"]
    regenerated = infra_export.documents(matrix=shorter)["rbac-condition.json"]
    assert dropped.role_guid not in regenerated
    assert dropped.role_guid in (copy / "rbac-condition.json").read_text(encoding="utf-8")


def test_a_route_missing_one_operation_is_reported_stale(tmp_path: Path) -> None:
    copy = tmp_path / "generated"
    shutil.copytree(GENERATED, copy)
    first = ROUTES[0]
    trimmed = (dataclasses.replace(first, operations=first.operations[:-1]), *ROUTES[1:])
    assert infra_export.stale_files(copy, routes=trimmed) == ["event-filters.json"]


def test_a_hand_edited_file_is_reported_stale_and_write_repairs_it(tmp_path: Path) -> None:
    copy = tmp_path / "generated"
    shutil.copytree(GENERATED, copy)
    roles = json.loads((copy / "roles.json").read_text(encoding="utf-8"))
    roles["matrixGuids"].append(infra_export.FORBIDDEN_ROLES["Owner"])
    (copy / "roles.json").write_text(json.dumps(roles), encoding="utf-8")
    assert infra_export.main(["--check", "--dir", str(copy)]) == 1
    assert infra_export.write(copy) == ["roles.json"]
    assert infra_export.stale_files(copy) == []
    assert infra_export.write(copy) == []
