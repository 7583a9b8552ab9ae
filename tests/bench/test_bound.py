"""The scan's lower bound (bench/bound.py): the read bucket per subscription, max not sum; the
critical path from the templates a scan made; latency never divided by the client's concurrency."""

from __future__ import annotations

import pytest

from bench.bound import bucket_seconds, classify, critical_path, lower_bound

VAULTS = "GET /subscriptions/{s}/providers/Microsoft.DataProtection/backupVaults"
CLUSTERS = "GET /subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters"
INSTANCES = (
    "GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DataProtection/backupVaults/{vault}"
    "/backupInstances"
)
EXTENSIONS = (
    "GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
    "/providers/Microsoft.KubernetesConfiguration/extensions"
)
TRUSTED = (
    "GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
    "/trustedAccessRoleBindings"
)
BLOBS = "GET /{account}/{container}?restype=container&comp=list"
LOCKS = "GET /subscriptions/{s}/providers/Microsoft.Authorization/locks"
VAULT_GET = (
    "GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.DataProtection/backupVaults/{vault}"
)
# Every template a bulk scan of a generated estate made (the simulator's /_sim/requests keys).
BULK_SCAN = [
    LOCKS,
    CLUSTERS,
    VAULTS,
    "GET /subscriptions/{s}/providers/Microsoft.Network/networkSecurityGroups",
    "GET /subscriptions/{s}/providers/Microsoft.Network/virtualNetworks",
    "GET /subscriptions/{s}/providers/Microsoft.Storage/storageAccounts",
    "GET /subscriptions/{s}/providers/{namespace}",
    EXTENSIONS,
    TRUSTED,
    INSTANCES,
    INSTANCES.replace("backupInstances", "backupJobs"),
    INSTANCES.replace("backupInstances", "backupPolicies"),
    BLOBS,
    "GET {scope}/providers/Microsoft.Authorization/policyAssignments",
    "GET {scope}/providers/Microsoft.Authorization/roleAssignments",
    "GET {scope}/providers/Microsoft.Resources/tags/default",
]


def test_bucket_time_is_reads_beyond_the_burst_over_the_refill() -> None:
    assert bucket_seconds(100) == 0.0
    assert bucket_seconds(250) == 0.0
    assert bucket_seconds(2090) == pytest.approx(73.6)


def test_the_bucket_term_is_the_slowest_subscription_not_the_sum() -> None:
    bound = lower_bound({"a": 2090, "b": 1000, "c": 250}, round_trips=4, latency_s=0.03)
    assert bound.bucket_seconds == pytest.approx(73.6)
    assert bound.bucket_subscription == "a"
    assert bound.seconds == pytest.approx(73.6)
    assert bound.bound_by == "ARM read bucket"


def test_under_the_burst_the_bound_is_round_trips_times_latency_whatever_the_read_count() -> None:
    # 214 reads per subscription at 30 ms: the old bound divided 214 x 30 ms by a concurrency of 8.
    bound = lower_bound({f"s{i}": 214 for i in range(10)}, round_trips=4, latency_s=0.03)
    assert bound.bucket_seconds == 0.0
    assert bound.seconds == pytest.approx(0.12)
    assert bound.bound_by == "round-trip latency"


def test_a_bulk_scan_has_four_dependent_round_trips() -> None:
    path = critical_path(BULK_SCAN)
    assert path.chain == ("vaults", "backup_instances", "extensions", "blob_listing")
    assert path.round_trips == 4
    assert path.unclassified == ()


def test_without_blob_listings_the_chain_is_one_shorter() -> None:
    path = critical_path([t for t in BULK_SCAN if t != BLOBS])
    assert path.round_trips == 3


def test_subscription_listings_alone_are_one_round_trip() -> None:
    assert critical_path([LOCKS, CLUSTERS, VAULTS]).round_trips == 1


def test_an_unknown_template_is_reported_and_counted_as_a_per_target_read() -> None:
    odd = "GET /subscriptions/{s}/providers/Microsoft.Example/widgets/{w}"
    path = critical_path([VAULTS, odd])
    assert path.unclassified == (odd,)
    assert path.chain == ("vaults", "backup_instances", odd)


def test_the_longest_matching_suffix_wins() -> None:
    vault = classify(VAULT_GET)
    listing = classify(VAULTS)
    assert vault is not None and vault.name == "vault"
    assert listing is not None and listing.name == "vaults"
    policy = classify(INSTANCES.replace("backupInstances", "backupPolicies/{policy}"))
    assert policy is not None and policy.needs == ("backup_instances",)
