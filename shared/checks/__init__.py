"""The pure evaluation core: ``Snapshot -> list[Finding]``, one finding per check id.

Which ids each target kind gets (see :func:`shared.catalog.ids_for_kind`):

- ``backup`` and ``prepare``: every catalog id except ``restore-target.extension``;
- ``restore``: every catalog id except ``extension.installed`` (``restore-target.extension``
  applies the same rule under its own id).

The outcome checks (``backup.protection``, ``backup.recent-jobs``) run after all the others: a
failing outcome names the failing prerequisite that explains Azure's error code
(:mod:`shared.causes`).

Failing findings whose fix the consent rule refuses say so (:func:`consent.explain_refusals`).
One id is omitted on the event path: ``storage.container-not-shared`` is evaluated by scans only
(the ledger keeps a check missing from the findings unchanged). Nothing else is omitted: a check
that does not apply reports ``not-applicable`` with the reason, so the ledger sees every id. No
I/O, no logging; safe to call any number of times.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.catalog import CHECK_IDS, ids_for_kind
from shared.checks import (
    backup,
    cluster,
    consent,
    extension,
    incluster,
    locks,
    network,
    policy,
    provider,
    restore,
    storage,
    support,
    trusted_access,
    vault,
    versions,
)
from shared.checks import roles as role_checks
from shared.model import Finding, Snapshot, Status

Check = Callable[[Snapshot], Finding]

SINGLE_CHECKS: dict[str, Check] = {
    "target.consent": consent.check_target_consent,
    "cluster.identity": cluster.check_identity,
    "cluster.kubernetes-version": cluster.check_kubernetes_version,
    "cluster.kubernetes-version-supported": versions.check_kubernetes_version_supported,
    "cluster.linux-node-pool": support.check_linux_node_pool,
    "cluster.disk-csi-driver": cluster.check_disk_csi_driver,
    "cluster.snapshot-controller": cluster.check_snapshot_controller,
    "subscription.kubernetes-configuration-registered": provider.check_kubernetes_configuration_registered,
    "extension.installed": extension.check_installed,
    "extension.storage-location": extension.check_storage_location,
    "storage.network-access": storage.check_network_access,
    "storage.account-supported": support.check_storage_account_supported,
    "locks.snapshot-rg-unlocked": locks.check_snapshot_rg_unlocked,
    "locks.storage-not-read-only": locks.check_storage_not_read_only,
    "storage.container-dedicated": storage.check_container_dedicated,
    "storage.shared-key-access": storage.check_shared_key_access,
    "trusted-access.binding": trusted_access.check_binding,
    "trusted-access.binding-limit": trusted_access.check_binding_limit,
    "trusted-access.stale-bindings": trusted_access.check_stale_bindings,
    "vault.identity": vault.check_identity,
    "vault.tier-region-supported": vault.check_tier_region_supported,
    "policy.namespace-excluded": policy.check_namespace_excluded,
    "network.egress": network.check_egress,
    "network.nsg-service-tags": network.check_nsg_service_tags,
    "restore-target.extension": restore.check_restore_target_extension,
}
"""Check id -> pure function, for every non-role id except ``cluster.velero-absent`` (which also
takes ``incluster_checks``) and ``storage.container-not-shared`` (evaluated by scans only)."""


def evaluate(snapshot: Snapshot, *, incluster_checks: bool = False) -> list[Finding]:
    """All findings for the snapshot's target, in catalog order (see the module docstring).

    ``incluster_checks`` mirrors ``GUARD_INCLUSTER_CHECKS``: when False, ``cluster.velero-absent``
    is ``not-applicable``. Checks only run when their id applies to the target kind.
    """
    wanted = ids_for_kind(snapshot.target.kind)
    found: dict[str, Finding] = {}
    for check_id in wanted:
        func = SINGLE_CHECKS.get(check_id)
        if func is not None:
            found[check_id] = func(snapshot)
    found["cluster.velero-absent"] = incluster.check_velero_absent(
        snapshot, incluster_checks=incluster_checks
    )
    shared_container = storage.check_container_not_shared(snapshot)
    if shared_container is not None:
        found[shared_container.check] = shared_container
    for finding in role_checks.check_roles(snapshot):
        found[finding.check] = finding
    # Outcomes last: a failed job names its cause from the prerequisite findings above.
    if "backup.protection" in wanted:
        found["backup.protection"] = backup.check_protection(snapshot, found)
    if "backup.recent-jobs" in wanted:
        found["backup.recent-jobs"] = backup.check_recent_jobs(snapshot, found)
    return consent.explain_refusals(snapshot, [found[check_id] for check_id in wanted if check_id in found])


def summarize(findings: list[Finding]) -> dict[Status, int]:
    """Count of findings per status (every status present, zero when none)."""
    counts = dict.fromkeys(Status, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts


__all__ = ["CHECK_IDS", "SINGLE_CHECKS", "evaluate", "summarize"]
