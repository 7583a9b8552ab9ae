"""The scan reads its hot listings as ARM's JSON (``convert.JsonView``), not through SDK models.
Proof that nothing is lost: for every recorded body of those kinds, the Guard's record built from
the JSON equals the one built from the SDK model the same bytes deserialize into. And the raw
``List Blobs`` reader on a recorded storage answer."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.mgmt.authorization.v2022_04_01.models import RoleAssignment
from azure.mgmt.containerservice.models import ManagedCluster
from azure.mgmt.dataprotection.models import (
    AzureBackupJobResource,
    BackupInstanceResource,
    BackupVaultResource,
)

from shared.checks.roles import matching_assignments
from shared.gather import convert
from shared.model import RoleAssignmentInfo, RoleAssignments

CORPUS = Path(__file__).parent


def _items(kind: str) -> Iterator[tuple[str, dict[str, Any]]]:
    for path in sorted((CORPUS / kind).glob("*.json")):
        body = json.loads(path.read_text(encoding="utf-8"))
        for index, item in enumerate(body.get("value", [body])):
            yield f"{kind}/{path.name}#{index}", item


def _sdk(model: Any) -> Callable[[dict[str, Any]], Any]:
    deserialize = getattr(model, "deserialize", None)
    return deserialize if callable(deserialize) else model


CASES = [
    ("managed_clusters", ManagedCluster, convert.cluster),
    ("backup_vaults", BackupVaultResource, convert.vault),
    ("backup_instances", BackupInstanceResource, convert.backup_instance),
    ("backup_jobs", AzureBackupJobResource, convert.job),
    ("role_assignments", RoleAssignment, convert.role_assignment),
]
PARAMS = [pytest.param(item, model, to, id=name) for kind, model, to in CASES for name, item in _items(kind)]


@pytest.mark.parametrize(("body", "model", "to"), PARAMS)
def test_the_json_view_reads_what_the_sdk_model_reads(body: dict[str, Any], model: Any, to: Any) -> None:
    from_json = to(convert.JsonView(body))
    from_model = to(_sdk(model)(body))
    assert from_json == from_model


def test_every_hot_kind_has_recorded_bodies() -> None:
    assert all(list(_items(kind)) for kind, _, _ in CASES)


def test_json_view_answers_sdk_names_from_arms_keys() -> None:
    view = convert.JsonView(
        {"properties": {"agentPoolProfiles": [{"vnetSubnetID": "/s"}], "principalId": "P"}}
    )
    assert view.properties.agent_pool_profiles[0].vnet_subnet_id == "/s"
    assert view.principal_id == "P"  # flattened from properties, as msrest models do
    assert view.missing is None


def test_blob_names_from_a_recorded_list_blobs_answer() -> None:
    xml = (CORPUS / "blob_listings" / "list_blobs_flat_three.xml").read_bytes()
    assert convert.blob_names(xml) == (
        "blockblob/0163764847049508913",
        "blockblob/1163764847075404687",
        "blockblob/2163764847100203486",
    )


def test_encoded_blob_names_are_decoded_and_garbage_reads_as_no_names() -> None:
    xml = (
        b'<EnumerationResults><Blobs><Blob><Name Encoded="true">a%EF%BF%BEb</Name></Blob></Blobs>'
        b"</EnumerationResults>"
    )
    assert convert.blob_names(xml) == ("a\ufffeb",)
    assert convert.blob_names(b"<not xml") == ()


def _ra(n: int, principal: str, role: str, scope: str) -> RoleAssignmentInfo:
    return RoleAssignmentInfo(
        id=f"/ra/{n}", scope=scope, principal_id=principal, role_definition_id=f"/x/roleDefinitions/{role}"
    )


def test_the_indexed_listing_finds_what_a_plain_scan_finds() -> None:
    sub = "/subscriptions/s1"
    scopes = [
        sub,
        f"{sub}/resourceGroups/rg",
        f"{sub}/resourceGroups/rg/providers/P/t/x",
        "/",
        "/providers/Microsoft.Management/managementGroups/mg",
        f"{sub}/resourceGroups/other",
    ]
    listing = [
        _ra(i, principal, role, scope)
        for i, (principal, role, scope) in enumerate(
            (p, r, s) for p in ("a", "B") for r in ("r1", "R2") for s in scopes
        )
    ]
    indexed = RoleAssignments(listing)
    for principal in ("A", "b", "c"):
        for role in ("r1", "r2"):
            for scope in scopes[1:3] + [f"{sub}/resourceGroups/RG/providers/P/t/x"]:
                assert matching_assignments(indexed, principal, role, scope) == matching_assignments(
                    tuple(listing), principal, role, scope
                )
