"""The lower bound of a scan: what no client could beat against ARM, whatever its concurrency. Pure.

Two physical limits, and the bound is the larger:

- **ARM's read bucket** per subscription and principal: 250 reads of burst, refilled at 25 per
  second. A subscription that needs ``reads`` ARM reads cannot finish before
  ``(reads - 250) / 25`` seconds; subscriptions have independent buckets, so the scan's bucket
  term is the maximum over its subscriptions (not the sum). Blob listings are the storage data
  plane, outside ARM's buckets: they are counted apart and not in this term.
- **The critical path**: reads that need an earlier answer (the backup instances of a vault need
  the vault's id; a cluster's extensions need the cluster to be a target; the blob listing needs
  the account and container named in the backup extension's settings) form chains of round
  trips. The longest chain among the reads the scan made, times the latency of one round trip,
  is the shortest possible wall time. Every round trip counts here, the blob listing too: it is
  a request that waits for its answer. Concurrency does not shorten a chain, so the latency
  term is not divided by the Guard's concurrency (a client choice, not an ARM limit).

The dependencies below are the data a request needs before it can be sent, not the order the
Guard happens to send them in; a template the table does not know is reported (``unclassified``)
and counted as a per-target read (it needs the target, hence the vault's backup instances).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

READ_BURST = 250.0  # ARM reads per subscription and principal, burst
READ_REFILL = 25.0  # ... refilled per second


@dataclass(frozen=True)
class ReadKind:
    name: str
    suffix: str  # the end of the simulator's request template (``/_sim/requests`` ``template``)
    needs: tuple[str, ...]  # kinds whose answer this request needs before it can be sent
    why: str


# Per-subscription listings need only the subscription id, known before the scan starts.
READ_KINDS: tuple[ReadKind, ...] = (
    ReadKind(
        "vaults", "/subscriptions/{s}/providers/Microsoft.DataProtection/backupVaults", (), "subscription"
    ),
    ReadKind(
        "clusters",
        "/subscriptions/{s}/providers/Microsoft.ContainerService/managedClusters",
        (),
        "subscription",
    ),
    ReadKind("backup_instances", "/backupVaults/{vault}/backupInstances", ("vaults",), "the vault's id"),
    ReadKind(
        "cluster_instances",
        "{scope}/providers/Microsoft.DataProtection/backupInstances",
        ("clusters",),
        "the cluster's id (event path)",
    ),
    ReadKind("backup_policies", "/backupVaults/{vault}/backupPolicies", ("vaults",), "the vault's id"),
    ReadKind(
        "backup_policy",
        "/backupVaults/{vault}/backupPolicies/{policy}",
        ("backup_instances",),
        "the policy named by the backup instance",
    ),
    ReadKind("backup_jobs", "/backupVaults/{vault}/backupJobs", ("vaults",), "the vault's id"),
    ReadKind(
        "extensions",
        "/managedClusters/{name}/providers/Microsoft.KubernetesConfiguration/extensions",
        ("backup_instances",),
        "the cluster is a target once a vault's backup instance names it",
    ),
    ReadKind(
        "trusted_access",
        "/managedClusters/{name}/trustedAccessRoleBindings",
        ("backup_instances",),
        "the cluster is a target once a vault's backup instance names it",
    ),
    ReadKind(
        "blob_listing",
        "/{account}/{container}?restype=container&comp=list",
        ("extensions",),
        "account and container come from the backup extension's settings",
    ),
    ReadKind(
        "blob_container",
        "/blobServices/default/containers/{container}",
        ("extensions",),
        "account and container come from the backup extension's settings",
    ),
    ReadKind(
        "storage_account",
        "/providers/Microsoft.Storage/storageAccounts/{account}",
        ("extensions",),
        "the account named by the backup extension",
    ),
    ReadKind(
        "cluster",
        "/providers/Microsoft.ContainerService/managedClusters/{name}",
        ("backup_instances",),
        "the target's cluster",
    ),
    ReadKind(
        "vault",
        "/providers/Microsoft.DataProtection/backupVaults/{vault}",
        ("backup_instances",),
        "the target's vault",
    ),
    ReadKind(
        "policy_definition",
        "{scope}/providers/Microsoft.Authorization/policyDefinitions/{name}",
        ("policy_assignments",),
        "the definition named by an assignment",
    ),
    ReadKind(
        "policy_set_definition",
        "{scope}/providers/Microsoft.Authorization/policySetDefinitions/{name}",
        ("policy_assignments",),
        "the definition named by an assignment",
    ),
    ReadKind(
        "policy_assignments",
        "{scope}/providers/Microsoft.Authorization/policyAssignments",
        (),
        "subscription",
    ),
    ReadKind(
        "role_assignments", "{scope}/providers/Microsoft.Authorization/roleAssignments", (), "subscription"
    ),
    ReadKind("locks", "/subscriptions/{s}/providers/Microsoft.Authorization/locks", (), "subscription"),
    ReadKind(
        "kubernetes_versions",
        "/subscriptions/{s}/providers/Microsoft.ContainerService/locations/{location}/kubernetesVersions",
        ("clusters",),
        "the region of a guarded cluster (one listing per subscription and region)",
    ),
    ReadKind(
        "storage_accounts",
        "/subscriptions/{s}/providers/Microsoft.Storage/storageAccounts",
        (),
        "subscription",
    ),
    ReadKind("vnets", "/subscriptions/{s}/providers/Microsoft.Network/virtualNetworks", (), "subscription"),
    ReadKind(
        "nsgs", "/subscriptions/{s}/providers/Microsoft.Network/networkSecurityGroups", (), "subscription"
    ),
    ReadKind("provider", "/subscriptions/{s}/providers/{namespace}", (), "subscription"),
    ReadKind("resource_groups", "/subscriptions/{s}/resourceGroups", (), "subscription"),
    ReadKind("tags", "{scope}/providers/Microsoft.Resources/tags/default", (), "subscription or known scope"),
)
_BY_NAME = {kind.name: kind for kind in READ_KINDS}
UNCLASSIFIED_NEEDS = ("backup_instances",)


def classify(template: str) -> ReadKind | None:
    """The read kind of a request template (``"GET /subscriptions/{s}/..."``), longest suffix first."""
    path = template.split(" ", 1)[-1]
    best: ReadKind | None = None
    for kind in READ_KINDS:
        if path.endswith(kind.suffix) and (best is None or len(kind.suffix) > len(best.suffix)):
            best = kind
    return best


def _chain(name: str, memo: dict[str, tuple[str, ...]]) -> tuple[str, ...]:
    if name not in memo:
        needs = _BY_NAME[name].needs if name in _BY_NAME else UNCLASSIFIED_NEEDS
        longest: tuple[str, ...] = ()
        for need in needs:
            before = _chain(need, memo)
            if len(before) > len(longest):
                longest = before
        memo[name] = (*longest, name)
    return memo[name]


@dataclass(frozen=True)
class CriticalPath:
    chain: tuple[str, ...]  # read kinds, first to last; its length is the number of round trips
    unclassified: tuple[str, ...]  # templates the table above does not know

    @property
    def round_trips(self) -> int:
        return len(self.chain)


def critical_path(templates: Iterable[str]) -> CriticalPath:
    """The longest chain of dependent round trips among the request templates a scan made."""
    memo: dict[str, tuple[str, ...]] = {}
    longest: tuple[str, ...] = ()
    unclassified: list[str] = []
    for template in sorted(set(templates)):
        kind = classify(template)
        if kind is None:
            unclassified.append(template)
            chain = (*_chain(UNCLASSIFIED_NEEDS[0], memo), template)
        else:
            chain = _chain(kind.name, memo)
        if len(chain) > len(longest):
            longest = chain
    return CriticalPath(longest, tuple(unclassified))


def bucket_seconds(reads: int, *, burst: float = READ_BURST, refill: float = READ_REFILL) -> float:
    """Seconds one subscription's read bucket needs to grant ``reads`` tokens, starting full."""
    return max(0.0, (reads - burst) / refill)


@dataclass(frozen=True)
class Bound:
    bucket_seconds: float  # the slowest subscription's bucket
    bucket_subscription: str
    latency_seconds: float  # round trips x latency
    round_trips: int

    @property
    def seconds(self) -> float:
        return max(self.bucket_seconds, self.latency_seconds)

    @property
    def bound_by(self) -> str:
        return "ARM read bucket" if self.bucket_seconds >= self.latency_seconds else "round-trip latency"


def lower_bound(arm_reads_by_subscription: Mapping[str, int], round_trips: int, latency_s: float) -> Bound:
    """max(max over subscriptions of the bucket time, round trips x latency)."""
    slowest, seconds = "", 0.0
    for sub, reads in sorted(arm_reads_by_subscription.items()):
        needed = bucket_seconds(reads)
        if needed > seconds or not slowest:
            slowest, seconds = sub, needed
    return Bound(seconds, slowest, round_trips * latency_s, round_trips)
