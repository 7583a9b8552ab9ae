"""The Event Grid subscriptions admit every operation some route of docs/architecture.md
("Event routing") needs.

Each row of that table is mapped to the route rules (shared/routing.py ROUTES) that
implement it; a new or reworded row fails until it is mapped here. Every mapped rule's operations
must be in the generated filters that events.bicep loads.
"""

from __future__ import annotations

import json
import re

from shared.routing import ROUTES, SUBSCRIPTION_EVENT_TYPES
from tests.infra import bicep

ROW_RULES: dict[str, tuple[str, ...]] = {
    "cluster, or anything under it": ("cluster",),
    "backup vault, backup instance, backup policy": ("backup-vault",),
    "role assignment (write or delete)": ("role-assignment",),
    "storage account or its blob container": ("storage-account",),
    "resource group or subscription writes": (
        "resource-group",
        "provider-registration",
        "policy-assignment",
        "network",
        "tags",  # consent and vault tags set through the Tags API (docs/trust-model.md)
    ),
}
NOT_SUBSCRIPTION_EVENTS = {
    "aks system-topic events": "raised by each cluster's own Microsoft.ContainerService system topic, not "
    "the subscription topic; clusters are discovered at run time, and the timer scan covers version drift",
    "anything else": "ignored by design",
}


def _section7_rows() -> list[str]:
    """The first column of the table under "## Event routing" in docs/architecture.md."""
    text = (bicep.ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    section = re.search(r"^## Event routing$(.*?)^## ", text, re.MULTILINE | re.DOTALL)
    assert section, "docs/architecture.md has no '## Event routing' section"
    rows = [line for line in section.group(1).splitlines() if line.startswith("| ") and "---" not in line]
    return [row.split("|")[1].strip().lower() for row in rows[1:]]  # skip the header


def _filter_values() -> set[str]:
    doc = json.loads((bicep.INFRA / "generated" / "event-filters.json").read_text(encoding="utf-8"))
    return {v.lower() for sub in doc["subscriptions"] for f in sub["advancedFilters"] for v in f["values"]}


def test_every_design_row_is_mapped() -> None:
    rows = _section7_rows()
    assert len(rows) >= 6
    keys = list(ROW_RULES) + list(NOT_SUBSCRIPTION_EVENTS)
    for row in rows:
        matches = [k for k in keys if row.startswith(k)]
        assert len(matches) == 1, f"routing row not mapped to routes: {row!r}"
    for key in keys:
        assert any(row.startswith(key) for row in rows), f"mapped row no longer documented: {key!r}"


def test_every_route_of_every_row_is_admitted_by_the_filters() -> None:
    rules = {rule.name: rule for rule in ROUTES}
    values = _filter_values()
    for row, names in ROW_RULES.items():
        for name in names:
            assert name in rules, f"{row}: no route rule {name!r} in shared/routing.py"
            missing = [op for op in rules[name].operations if op.lower() not in values]
            assert missing == [], f"{row} ({name}): operations not delivered by Event Grid: {missing}"
    assert {r.name for r in ROUTES} == {n for names in ROW_RULES.values() for n in names}


def test_the_filters_admit_nothing_the_routes_do_not_need() -> None:
    needed = {op.lower() for rule in ROUTES for op in rule.operations}
    assert _filter_values() == needed


def test_events_bicep_delivers_with_the_generated_filters() -> None:
    text = bicep.strip_comments((bicep.INFRA / "app" / "events.bicep").read_text(encoding="utf-8"))
    for snippet in (
        "loadJsonContent('../generated/event-filters.json')",
        "for sub in filters.subscriptions",
        "includedEventTypes: filters.includedEventTypes",
        "advancedFilters: sub.advancedFilters",
        "topicType: 'Microsoft.Resources.Subscriptions'",
        "endpointType: 'AzureFunction'",
        "eventDeliverySchema: 'EventGridSchema'",
        "retryPolicy:",
        "endpointType: 'StorageBlob'",
    ):
        assert snippet in text, snippet
    assert all(t.endswith("Success") for t in SUBSCRIPTION_EVENT_TYPES)
