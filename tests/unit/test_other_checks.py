"""cluster.velero-absent, policy.namespace-excluded, network.egress, network.nsg-service-tags."""

from __future__ import annotations

import pytest

from shared.checks.incluster import check_velero_absent
from shared.checks.network import EGRESS_FQDNS, check_egress, check_nsg_service_tags, tag_admitted
from shared.checks.policy import check_namespace_excluded
from shared.model import NsgInfo, NsgRule, Status, VeleroResult
from tests.unit import builders as b

# ---- velero ---------------------------------------------------------------------------------


def test_velero_not_applicable_when_incluster_checks_disabled() -> None:
    snap = b.healthy(velero=VeleroResult(found=True, detail="deployment velero/velero"))
    finding = check_velero_absent(snap)
    assert finding.status is Status.NOT_APPLICABLE
    assert finding.detail == "in-cluster checks disabled: GUARD_INCLUSTER_CHECKS"


def test_velero_found_fails() -> None:
    snap = b.healthy(velero=VeleroResult(found=True, detail="deployment velero/velero"))
    finding = check_velero_absent(snap, incluster_checks=True)
    assert finding.status is Status.FAIL
    assert "deployment velero/velero" in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert finding.fix.command.startswith("az aks command invoke --resource-group rg-aks --name aks-prod")


def test_velero_absent_passes() -> None:
    snap = b.healthy(velero=VeleroResult(found=False, detail="no velero deployments"))
    assert check_velero_absent(snap, incluster_checks=True).status is Status.PASS


def test_velero_unknown_when_probe_failed_or_missing() -> None:
    assert check_velero_absent(b.healthy(velero=b.DENIED), incluster_checks=True).status is Status.UNKNOWN
    assert check_velero_absent(b.healthy(velero=None), incluster_checks=True).status is Status.UNKNOWN


# ---- policy ---------------------------------------------------------------------------------


def test_all_kubernetes_assignments_exclude_namespace() -> None:
    assert check_namespace_excluded(b.healthy()).status is Status.PASS


def test_no_kubernetes_assignments_passes() -> None:
    generic = b.k8s_policy("tagging", excluded_namespaces=None)
    assert check_namespace_excluded(b.healthy(policy_assignments=(generic,))).status is Status.PASS
    assert check_namespace_excluded(b.healthy(policy_assignments=())).status is Status.PASS


def test_assignment_without_the_namespace_warns_and_is_listed() -> None:
    bad = b.k8s_policy("k8s-strict", excluded_namespaces=("kube-system",), display_name="Strict pods")
    ok = b.k8s_policy("k8s-baseline")
    finding = check_namespace_excluded(b.healthy(policy_assignments=(ok, bad)))
    assert finding.status is Status.WARN
    assert "Strict pods" in finding.detail and "Kubernetes k8s-baseline" not in finding.detail
    assert finding.fix is not None
    assert finding.fix.command == (
        f"az policy assignment update --name k8s-strict --scope /subscriptions/{b.SUB} "
        """--params '{"excludedNamespaces":{"value":["kube-system","dataprotection-microsoft"]}}'"""
    )


def test_empty_exclusion_list_is_a_kubernetes_policy() -> None:
    bad = b.k8s_policy(excluded_namespaces=())
    assert check_namespace_excluded(b.healthy(policy_assignments=(bad,))).status is Status.WARN


def test_do_not_enforce_assignments_are_ignored() -> None:
    audit = b.k8s_policy(excluded_namespaces=("kube-system",), enforcement_mode="DoNotEnforce")
    assert check_namespace_excluded(b.healthy(policy_assignments=(audit,))).status is Status.PASS


def test_policy_unreadable_is_unknown() -> None:
    assert check_namespace_excluded(b.healthy(policy_assignments=b.DENIED)).status is Status.UNKNOWN


# ---- egress ---------------------------------------------------------------------------------


@pytest.mark.parametrize("outbound", ["loadBalancer", "managedNATGateway", "userAssignedNATGateway", None])
def test_open_egress_passes(outbound: str | None) -> None:
    assert check_egress(b.healthy(cluster=b.cluster(outbound_type=outbound))).status is Status.PASS


@pytest.mark.parametrize("outbound", ["userDefinedRouting", "USERDEFINEDROUTING", "none"])
def test_udr_warns_listing_fqdns(outbound: str) -> None:
    finding = check_egress(b.healthy(cluster=b.cluster(outbound_type=outbound)))
    assert finding.status is Status.WARN
    for fqdn in ("*.microsoft.com", "mcr.microsoft.com", "management.azure.com", "*.blob.core.windows.net"):
        assert fqdn in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert " ".join(EGRESS_FQDNS) in finding.fix.command


def test_egress_unknown_when_cluster_unreadable() -> None:
    assert check_egress(b.healthy(cluster=b.DENIED)).status is Status.UNKNOWN


# ---- NSG ------------------------------------------------------------------------------------


def rule(name: str, priority: int, access: str, *sources: str, direction: str = "Inbound") -> NsgRule:
    return NsgRule(name=name, direction=direction, access=access, priority=priority, source_prefixes=sources)


def nsg(*rules: NsgRule) -> NsgInfo:
    return NsgInfo(id=b.NSG_ID, subnet_id=b.SUBNET_ID, rules=rules)


def test_no_nsg_is_not_applicable() -> None:
    assert check_nsg_service_tags(b.healthy(node_subnet_nsgs=())).status is Status.NOT_APPLICABLE


def test_nsg_allowing_both_tags_passes() -> None:
    good = nsg(
        rule("allow-backup", 200, "Allow", "AzureBackup", "AzureCloud"), rule("deny-all", 4000, "Deny", "*")
    )
    assert check_nsg_service_tags(b.healthy(node_subnet_nsgs=(good,))).status is Status.PASS


def test_nsg_allow_star_counts() -> None:
    assert check_nsg_service_tags(
        b.healthy(node_subnet_nsgs=(nsg(rule("any", 100, "Allow", "*")),))
    ).status is (Status.PASS)


def test_nsg_without_allow_rules_warns() -> None:
    finding = check_nsg_service_tags(
        b.healthy(node_subnet_nsgs=(nsg(rule("vnet", 100, "Allow", "VirtualNetwork")),))
    )
    assert finding.status is Status.WARN
    assert "AzureBackup (no inbound Allow rule)" in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert "--source-address-prefixes AzureBackup AzureCloud" in finding.fix.command
    assert "--nsg-name nsg-nodes" in finding.fix.command


def test_higher_priority_deny_blocks_a_tag() -> None:
    rules = (
        rule("deny-cloud", 100, "Deny", "AzureCloud"),
        rule("allow", 200, "Allow", "AzureBackup", "AzureCloud"),
    )
    finding = check_nsg_service_tags(b.healthy(node_subnet_nsgs=(nsg(*rules),)))
    assert finding.status is Status.WARN
    assert "AzureCloud (denied by rule deny-cloud, priority 100)" in finding.detail
    assert "AzureBackup (" not in finding.detail
    assert finding.fix is not None and finding.fix.command is not None
    assert "--priority 100 " not in finding.fix.command
    assert "<free priority below 100" in finding.fix.command


def test_new_allow_rule_goes_just_above_the_blocking_deny() -> None:
    rules = (rule("deny-all", 300, "Deny", "*"), rule("taken", 299, "Allow", "VirtualNetwork"))
    finding = check_nsg_service_tags(b.healthy(node_subnet_nsgs=(nsg(*rules),)))
    assert finding.status is Status.WARN
    assert finding.fix is not None and finding.fix.command is not None
    assert "--priority 298 " in finding.fix.command


def test_lower_priority_deny_does_not_block() -> None:
    rules = (
        rule("allow", 300, "Allow", "AzureBackup", "AzureCloud"),
        rule("deny-any", 200, "Deny", "Internet"),
    )
    admitted, deciding = tag_admitted(nsg(*rules), "AzureBackup")
    assert not admitted and deciding is not None and deciding.name == "deny-any"
    rules = (
        rule("allow", 200, "Allow", "AzureBackup", "AzureCloud"),
        rule("deny-any", 300, "Deny", "Internet"),
    )
    assert check_nsg_service_tags(b.healthy(node_subnet_nsgs=(nsg(*rules),))).status is Status.PASS


def test_outbound_rules_are_ignored() -> None:
    rules = (rule("out", 100, "Allow", "AzureBackup", "AzureCloud", direction="Outbound"),)
    assert check_nsg_service_tags(b.healthy(node_subnet_nsgs=(nsg(*rules),))).status is Status.WARN


def test_service_tag_comparison_is_case_insensitive() -> None:
    rules = (rule("allow", 100, "allow", "azurebackup", "AZURECLOUD"),)
    assert check_nsg_service_tags(b.healthy(node_subnet_nsgs=(nsg(*rules),))).status is Status.PASS


def test_nsg_unreadable_is_unknown() -> None:
    assert check_nsg_service_tags(b.healthy(node_subnet_nsgs=b.DENIED)).status is Status.UNKNOWN


def test_only_assignments_at_or_above_the_cluster_govern_it() -> None:
    other_rg = f"/subscriptions/{b.SUB}/resourceGroups/rg-other"
    elsewhere = b.k8s_policy(
        "k8s-other-rg",
        id=f"{other_rg}/providers/Microsoft.Authorization/policyAssignments/k8s-other-rg",
        excluded_namespaces=("kube-system",),
    )
    assert check_namespace_excluded(b.healthy(policy_assignments=(elsewhere,))).status is Status.PASS
    on_cluster_rg = b.k8s_policy(
        "k8s-cluster-rg",
        id=f"{b.CLUSTER_RG_ID}/providers/Microsoft.Authorization/policyAssignments/k8s-cluster-rg",
        excluded_namespaces=("kube-system",),
    )
    assert (
        check_namespace_excluded(b.healthy(policy_assignments=(elsewhere, on_cluster_rg))).status
        is Status.WARN
    )
