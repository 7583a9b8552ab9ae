"""``cluster.kubernetes-version-supported``: the cluster's Kubernetes minor version is one AKS
supports in the cluster's region, read from AKS's versions API (``GET /subscriptions/{s}/providers/
Microsoft.ContainerService/locations/{region}/kubernetesVersions``, once per subscription and
region per run). Microsoft's AKS backup support matrix covers only clusters on supported versions.

- pass: the minor is listed with the ``KubernetesOfficial`` plan (or no plan, AKS's default), or
  with ``AKSLongTermSupport`` and the cluster's ``supportPlan`` is ``AKSLongTermSupport``;
- warn: the minor is listed but only as a preview, or only under long-term support while the
  cluster is not on that plan (it runs, but outside the support Azure Backup relies on);
- fail: the minor is not listed and is older than every listed minor (out of the window);
- warn: not listed but newer than the newest listed (AKS's list may lag; nothing to upgrade to).

The patch version is reported (AKS lists the patches it still offers) but does not change the
status. Upgrading is a cluster change the Guard never makes: advice only.
"""

from __future__ import annotations

from shared.checks._common import aks_args, failing, passed, unknown, unreadable
from shared.checks.cluster import parse_version
from shared.model import Finding, KubernetesMinor, Snapshot, Status, Unreadable

OFFICIAL = "KubernetesOfficial"
LTS = "AKSLongTermSupport"


def _minor(text: str) -> tuple[int, int] | None:
    parsed = parse_version(text)
    return None if parsed is None else (parsed[0], parsed[1])


def _span(listed: list[tuple[tuple[int, int], KubernetesMinor]]) -> str:
    ga = [m for m, entry in listed if not entry.is_preview] or [m for m, _ in listed]
    low, high = min(ga), max(ga)
    return f"{low[0]}.{low[1]}" if low == high else f"{low[0]}.{low[1]} to {high[0]}.{high[1]}"


def check_kubernetes_version_supported(snapshot: Snapshot) -> Finding:
    """cluster.kubernetes-version-supported: see the module docstring."""
    check = "cluster.kubernetes-version-supported"
    cluster = snapshot.cluster
    if isinstance(cluster, Unreadable):
        return unreadable(check, "cluster", cluster)
    text = cluster.current_kubernetes_version or cluster.kubernetes_version
    minor = _minor(text or "")
    if minor is None:
        return unknown(check, f"the cluster's Kubernetes version is {text!r}, not a version")
    versions = snapshot.kubernetes_versions
    if versions is None:
        return unknown(check, "AKS's Kubernetes versions were not read")
    if isinstance(versions, Unreadable):
        return unreadable(check, f"AKS's Kubernetes versions for {cluster.location}", versions)
    listed = [(m, entry) for entry in versions if (m := _minor(entry.version)) is not None]
    if not listed:
        return unknown(check, f"AKS listed no Kubernetes versions for {cluster.location}")
    region = cluster.location
    window = f"AKS supports {_span(listed)} in {region}"
    entry = next((e for m, e in listed if m == minor), None)
    patch = ""
    if entry is not None and entry.patches and text not in entry.patches:
        patch = f" (patch {text} is no longer offered: {', '.join(entry.patches)})"
    fix = (
        "Upgrade the cluster to a Kubernetes version AKS supports in its region (az aks get-upgrades "
        "lists them); upgrade one minor version at a time.",
        f"az aks upgrade {aks_args(snapshot)} --kubernetes-version <version>",
    )
    if entry is None:
        detail = f"Kubernetes {text} is not in AKS's list for {region}; {window}"
        if minor < min(m for m, _ in listed):
            return failing(check, detail + "; expected a supported minor version", *fix)
        return failing(check, detail + " (newer than the list)", *fix, status=Status.WARN)
    plans = {p.strip().lower() for p in entry.support_plans} or {OFFICIAL.lower()}
    cluster_plan = (cluster.support_plan or OFFICIAL).strip()
    if entry.is_preview:
        return failing(
            check,
            f"Kubernetes {text} is a preview version in {region}{patch}; {window}; previews are not "
            "covered by support",
            *fix,
            status=Status.WARN,
        )
    if OFFICIAL.lower() in plans:
        return passed(check, f"Kubernetes {text} is supported in {region}{patch}; {window}")
    if LTS.lower() in plans and cluster_plan.lower() == LTS.lower():
        return passed(check, f"Kubernetes {text} is supported in {region} under long-term support{patch}")
    return failing(
        check,
        f"Kubernetes {text} is supported in {region} only under {', '.join(entry.support_plans)}; the "
        f"cluster's support plan is {cluster_plan}{patch}; {window}",
        "Upgrade to a version with community support, or move the cluster to the Premium tier with "
        "long-term support.",
        f"az aks update {aks_args(snapshot)} --tier premium --k8s-support-plan {LTS}",
        status=Status.WARN,
    )
