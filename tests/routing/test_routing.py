"""Event parsing and routing over plain payloads (docs/architecture.md, "Event routing")."""

from __future__ import annotations

import json

import pytest

from shared.events import OBJECT_ID_CLAIM, ArmEvent, MalformedEvent, from_dict, parse_batch
from shared.routing import ROUTES, operation_filters, route
from shared.settings import Settings

SUB = "0b1f6471-1bf0-4dda-aec3-111111111111"
OTHER_SUB = "9b1f6471-1bf0-4dda-aec3-999999999999"
GUARD = "00000000-0000-0000-0000-00000000a001"
RG = f"/subscriptions/{SUB}/resourceGroups/rg-aks"
CLUSTER = f"{RG}/providers/Microsoft.ContainerService/managedClusters/aks-1"
VAULT = f"/subscriptions/{SUB}/resourceGroups/rg-bk/providers/Microsoft.DataProtection/backupVaults/bv-1"
ACCOUNT = f"/subscriptions/{SUB}/resourceGroups/rg-bk/providers/Microsoft.Storage/storageAccounts/st1"
SETTINGS = Settings.from_env({"GUARD_SUBSCRIPTIONS": SUB, "GUARD_PRINCIPAL_ID": GUARD})


def grid(
    subject: str,
    *,
    event_type: str = "Microsoft.Resources.ResourceWriteSuccess",
    caller: str = "x",
    topic: str | None = None,
    operation: str = "",
) -> dict[str, object]:
    return {
        "id": "e1",
        "topic": topic if topic is not None else f"/subscriptions/{SUB}",
        "subject": subject,
        "eventType": event_type,
        "eventTime": "2026-11-26T10:00:00.0000000Z",
        "dataVersion": "2",
        "metadataVersion": "1",
        "data": {"operationName": operation, "claims": {"appid": caller, OBJECT_ID_CLAIM: caller}},
    }


def decide(payload: dict[str, object]) -> tuple[str, str, str] | str:
    decision = route(from_dict(payload), SETTINGS)
    if decision.route is None:
        return decision.ignored
    return decision.route.kind, decision.route.resource_id, decision.route.rule


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        (CLUSTER, ("cluster", CLUSTER, "cluster")),
        (f"{CLUSTER}/trustedAccessRoleBindings/b1", ("cluster", CLUSTER, "cluster")),
        (
            f"{CLUSTER}/providers/Microsoft.KubernetesConfiguration/extensions/azure-aks-backup",
            ("cluster", CLUSTER, "cluster"),
        ),
        (f"{CLUSTER}/agentPools/np1", ("cluster", CLUSTER, "cluster")),
        (
            f"{CLUSTER}/providers/Microsoft.Authorization/roleAssignments/ra1",
            ("scope", CLUSTER, "role-assignment"),
        ),
        (f"{RG}/providers/Microsoft.Authorization/roleAssignments/ra1", ("scope", RG, "role-assignment")),
        (
            f"/subscriptions/{SUB}/providers/Microsoft.Authorization/roleAssignments/ra1",
            ("scope", f"/subscriptions/{SUB}", "role-assignment"),
        ),
        (VAULT, ("vault", VAULT, "backup-vault")),
        (f"{VAULT}/backupInstances/bi1", ("vault", VAULT, "backup-vault")),
        (f"{VAULT}/backupPolicies/p1", ("vault", VAULT, "backup-vault")),
        (ACCOUNT, ("scope", ACCOUNT, "storage-account")),
        (f"{ACCOUNT}/blobServices/default/containers/c1", ("scope", ACCOUNT, "storage-account")),
        (RG, ("scope", RG, "resource-group")),
        (f"{RG}/providers/Microsoft.Resources/tags/default", ("scope", RG, "tags")),
        (f"{CLUSTER}/providers/Microsoft.Resources/tags/default", ("scope", CLUSTER, "tags")),
        (
            f"/subscriptions/{SUB}/providers/Microsoft.Resources/tags/default",
            ("scope", f"/subscriptions/{SUB}", "tags"),
        ),
        (
            f"/subscriptions/{SUB}/providers/Microsoft.KubernetesConfiguration",
            ("scope", f"/subscriptions/{SUB}", "provider-registration"),
        ),
    ],
)
def test_routes_by_subject(subject: str, expected: tuple[str, str, str]) -> None:
    assert decide(grid(subject)) == expected


def test_mixed_casing_still_routes_to_the_cluster() -> None:
    subject = CLUSTER.replace("resourceGroups", "resourcegroups").replace(
        "managedClusters", "MANAGEDCLUSTERS"
    )
    decided = decide(grid(subject))
    assert isinstance(decided, tuple)
    kind, resource_id, _ = decided
    assert kind == "cluster"
    assert resource_id.lower() == CLUSTER.lower()


def test_aks_system_topic_uses_the_topic_as_cluster_id() -> None:
    payload = grid("aks-1", event_type="Microsoft.ContainerService.ClusterSupportEnded", topic=CLUSTER)
    assert decide(payload) == ("cluster", CLUSTER, "aks-system-topic")


def test_aks_system_topic_whose_subject_is_another_cluster_is_ignored() -> None:
    payload = grid("aks-2", event_type="Microsoft.ContainerService.ClusterSupportEnded", topic=CLUSTER)
    assert "not the topic's cluster name" in str(decide(payload))


def test_aks_system_topic_in_an_unwatched_subscription_is_ignored() -> None:
    other = CLUSTER.replace(SUB, OTHER_SUB)
    payload = grid("aks-1", event_type="Microsoft.ContainerService.ClusterSupportEnded", topic=other)
    assert "not watched" in str(decide(payload))


def test_an_event_is_watched_by_the_subscription_it_routes_to() -> None:
    """A watched topic cannot make the Guard read an unwatched subscription, and a subject in a
    watched subscription delivered from another subscription's topic is not believed either."""
    other = CLUSTER.replace(SUB, OTHER_SUB)
    assert "not watched" in str(decide(grid(other, topic=f"/subscriptions/{SUB}")))
    assert "names a resource in subscription" in str(
        decide(grid(CLUSTER, topic=f"/subscriptions/{OTHER_SUB}"))
    )


def test_guard_own_events_are_ignored() -> None:
    assert "own identity" in str(decide(grid(CLUSTER, caller=GUARD.upper())))


def test_unwatched_subscription_is_ignored() -> None:
    other = CLUSTER.replace(SUB, OTHER_SUB)
    assert "not watched" in str(decide(grid(other, topic=f"/subscriptions/{OTHER_SUB}")))


def test_failures_and_unknown_subjects_are_ignored() -> None:
    assert "not routed" in str(decide(grid(CLUSTER, event_type="Microsoft.Resources.ResourceWriteFailure")))
    unrelated = f"{RG}/providers/Microsoft.Web/sites/app1"
    assert "matches no route" in str(decide(grid(unrelated)))


def test_cloud_event_schema_is_parsed() -> None:
    cloud = {
        "id": "c1",
        "source": f"/subscriptions/{SUB}",
        "subject": CLUSTER,
        "specversion": "1.0",
        "type": "Microsoft.Resources.ResourceDeleteSuccess",
        "time": "2026-11-26T10:00:00Z",
        "data": {"operationName": "Microsoft.ContainerService/managedClusters/delete"},
    }
    event = from_dict(cloud)
    assert event == ArmEvent(
        id="c1",
        type="Microsoft.Resources.ResourceDeleteSuccess",
        subject=CLUSTER,
        topic=f"/subscriptions/{SUB}",
        operation_name="Microsoft.ContainerService/managedClusters/delete",
    )
    assert event.subscription_id == SUB


@pytest.mark.parametrize(
    "payload",
    [
        42,
        "text",
        [],
        {"id": "x"},
        {"id": 1, "subject": CLUSTER, "eventType": "t", "topic": "/s", "data": {}},
        {"specversion": "1.0", "id": "x"},
        {"id": "x", "subject": "", "eventType": "t", "topic": "", "data": None},
    ],
)
def test_malformed_events_raise_a_clear_error(payload: object) -> None:
    with pytest.raises(MalformedEvent):
        from_dict(payload)


def test_batches_keep_good_events_and_report_bad_ones() -> None:
    events, dropped = parse_batch(json.dumps([grid(CLUSTER), {"nope": True}, grid(VAULT)]))
    assert [e.subject for e in events] == [CLUSTER, VAULT]
    assert len(dropped) == 1 and dropped[0].startswith("item 1")
    assert parse_batch(b"{not json")[0] == []


def test_operation_filters_cover_every_route() -> None:
    filters = operation_filters()
    for rule in ROUTES:
        assert rule.operations and set(rule.operations) <= set(filters)
    assert "Microsoft.Authorization/roleAssignments/delete" in filters
