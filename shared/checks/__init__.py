"""The pure evaluation core: ``Snapshot -> list[Finding]``, one finding per check id.

Which ids each target kind gets (see :func:`shared.catalog.ids_for_kind`):

- ``backup`` and ``prepare``: every catalog id except ``restore-target.extension``;
- ``restore``: every catalog id except ``extension.installed`` (``restore-target.extension``
  applies the same rule under its own id).

Failing findings whose fix the consent rule refuses say so (:func:`consent.explain_refusals`).
Nothing is omitted otherwise: a check that does not apply reports ``not-applicable`` with the
reason, so the ledger sees every id. No I/O, no logging; safe to call any number of times.
"""

from __future__ import annotations

from collections.abc import Callable

from shared.catalog import CHECK_IDS, ids_for_kind
from shared.checks import (
    cluster,
    consent,
    extension,
    incluster,
    network,
    policy,
    provider,
    restore,
    storage,
    trusted_access,
)
from shared.checks import roles as role_checks
from shared.model import Finding, Snapshot, Status

Check = Callable[[Snapshot], Finding]

SINGLE_CHECKS: dict[str, Check] = {
    "target.consent": consent.check_target_consent,
    "cluster.identity": cluster.check_identity,
    "cluster.kubernetes-version": cluster.check_kubernetes_version,
    "cluster.disk-csi-driver": cluster.check_disk_csi_driver,
    "cluster.snapshot-controller": cluster.check_snapshot_controller,
    "subscription.kubernetes-configuration-registered": provider.check_kubernetes_configuration_registered,
    "extension.installed": extension.check_installed,
    "extension.storage-location": extension.check_storage_location,
    "storage.network-access": storage.check_network_access,
    "storage.container-dedicated": storage.check_container_dedicated,
    "storage.shared-key-access": storage.check_shared_key_access,
    "trusted-access.binding": trusted_access.check_binding,
    "policy.namespace-excluded": policy.check_namespace_excluded,
    "network.egress": network.check_egress,
    "network.nsg-service-tags": network.check_nsg_service_tags,
    "restore-target.extension": restore.check_restore_target_extension,
}
"""Check id -> pure function, for every non-role id except ``cluster.velero-absent`` (which also
takes ``incluster_checks``)."""


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
    for finding in role_checks.check_roles(snapshot):
        found[finding.check] = finding
    return consent.explain_refusals(snapshot, [found[check_id] for check_id in wanted])


def summarize(findings: list[Finding]) -> dict[Status, int]:
    """Count of findings per status (every status present, zero when none)."""
    counts = dict.fromkeys(Status, 0)
    for finding in findings:
        counts[finding.status] += 1
    return counts


__all__ = ["CHECK_IDS", "SINGLE_CHECKS", "evaluate", "summarize"]
