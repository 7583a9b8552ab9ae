"""Network checks: egress for user-defined routing, and node-subnet NSGs admitting service tags.

``network.egress`` reads ``snapshot.cluster.outbound_type``; ``network.nsg-service-tags`` reads
``snapshot.node_subnet_nsgs``.
"""

from __future__ import annotations

from shared import ids
from shared.checks._common import failing, not_applicable, passed, quote, unreadable
from shared.model import Finding, NsgInfo, NsgRule, Snapshot, Unreadable

EGRESS_FQDNS: tuple[str, ...] = (
    # From the backup-extension install prerequisites (quick-install-backup-extension):
    "*.microsoft.com",
    "*.azure.com",
    "*.core.windows.net",
    "*.azmk8s.io",
    "*.digicert.com",
    "*.digicert.cn",
    "*.geotrust.com",
    "*.msocsp.com",
    # Named explicitly because firewalls often need them spelled out (covered by the wildcards above):
    "mcr.microsoft.com",
    "*.data.mcr.microsoft.com",
    "management.azure.com",
    "login.microsoftonline.com",
    "*.dp.kubernetesconfiguration.azure.com",
    "*.blob.core.windows.net",
)
"""FQDNs the backup extension needs when egress is forced through a firewall."""

RESTRICTED_OUTBOUND = frozenset({"userdefinedrouting", "none", "block"})
"""Outbound types where egress is not open by default (``none``/``block``: no outbound at all)."""

SERVICE_TAGS: tuple[str, ...] = ("AzureBackup", "AzureCloud")

WILDCARD_SOURCES = frozenset({"*", "any", "0.0.0.0/0", "internet"})
"""Source prefixes that cover the service tags' addresses: ``*``/``Any``/``0.0.0.0/0`` everything,
``Internet`` all public addresses (Azure's public ranges included)."""


def check_egress(snapshot: Snapshot) -> Finding:
    """network.egress: warn listing :data:`EGRESS_FQDNS` when outboundType is userDefinedRouting
    (or none/block); pass otherwise."""
    check = "network.egress"
    cluster = snapshot.cluster
    if isinstance(cluster, Unreadable):
        return unreadable(check, "cluster", cluster)
    outbound = cluster.outbound_type or "loadBalancer"
    shown = cluster.outbound_type or "not set (loadBalancer)"
    if outbound.strip().lower() not in RESTRICTED_OUTBOUND:
        return passed(
            check, f"networkProfile.outboundType is {shown}: egress is not forced through a firewall"
        )
    fqdns = " ".join(EGRESS_FQDNS)
    return failing(
        check,
        f"networkProfile.outboundType is {outbound}: egress goes through your firewall/route; expected it to "
        f"allow HTTPS (443) to {', '.join(EGRESS_FQDNS)}",
        "On the firewall that the node subnet routes to, allow HTTPS to the listed FQDNs.",
        "az network firewall application-rule create --resource-group <firewall-resource-group> "
        "--firewall-name <firewall> --collection-name aks-backup --name aks-backup-extension --priority 200 "
        "--action Allow --protocols Https=443 --source-addresses <node-subnet-prefix> "
        f"--target-fqdns {fqdns}",
    )


def _matches(rule: NsgRule, tag: str) -> bool:
    return any(
        p.strip().lower() in WILDCARD_SOURCES or p.strip().lower() == tag.lower()
        for p in rule.source_prefixes
    )


def tag_admitted(nsg: NsgInfo, tag: str) -> tuple[bool, NsgRule | None]:
    """First-match over inbound rules by priority: (admitted, the deciding rule or None for the
    default DenyAllInBound)."""
    inbound = sorted(
        (r for r in nsg.rules if r.direction.strip().lower() == "inbound"), key=lambda r: r.priority
    )
    for rule in inbound:
        if _matches(rule, tag):
            return rule.access.strip().lower() == "allow", rule
    return False, None


def free_priority(nsg: NsgInfo, below: int | None) -> str:
    """A free inbound priority (100-4096) below ``below`` (the first blocking Deny), as text; a
    placeholder when every slot above the Deny is taken (the Deny rule must move first)."""
    used = {r.priority for r in nsg.rules if r.direction.strip().lower() == "inbound"}
    candidate = min(below - 1, 4000) if below is not None else 4000
    while candidate >= 100:
        if candidate not in used:
            return str(candidate)
        candidate -= 1
    return f"<free priority below {below}: move rule priority {below} first>"


def check_nsg_service_tags(snapshot: Snapshot) -> Finding:
    """network.nsg-service-tags: not applicable without NSGs on the node subnets; pass when each NSG's
    first matching inbound rule for AzureBackup and for AzureCloud is Allow; warn otherwise."""
    check = "network.nsg-service-tags"
    nsgs = snapshot.node_subnet_nsgs
    if isinstance(nsgs, Unreadable):
        return unreadable(check, "node subnet network security groups", nsgs)
    if not nsgs:
        return not_applicable(check, "no network security group on the node subnets")
    problems: list[str] = []
    commands: list[str] = []
    for nsg in nsgs:
        blocked: list[str] = []
        deny_priorities: list[int] = []
        for tag in SERVICE_TAGS:
            admitted, rule = tag_admitted(nsg, tag)
            if admitted:
                continue
            if rule is None:
                blocked.append(f"{tag} (no inbound Allow rule)")
            else:
                blocked.append(f"{tag} (denied by rule {rule.name}, priority {rule.priority})")
                deny_priorities.append(rule.priority)
        if not blocked:
            continue
        name = ids.name_of(nsg.id)
        problems.append(f"NSG {name} on {ids.name_of(nsg.subnet_id)} does not admit {', '.join(blocked)}")
        priority = free_priority(nsg, min(deny_priorities) if deny_priorities else None)
        rg = ids.resource_group_of(nsg.id) or "<resource-group>"
        any_ = quote("*")
        commands.append(
            f"az network nsg rule create --resource-group {rg} --nsg-name {name} "
            f"--subscription {_sub(nsg.id)} --name AllowAzureBackupInbound --priority {quote(priority)} "
            "--direction Inbound --access Allow "
            f"--protocol {any_} --source-address-prefixes {' '.join(SERVICE_TAGS)} "
            f"--destination-address-prefixes {any_} --destination-port-ranges {any_}"
        )
    if not problems:
        return passed(check, f"{len(nsgs)} node-subnet NSG(s) admit {' and '.join(SERVICE_TAGS)} inbound")
    return failing(
        check,
        f"{'; '.join(problems)}; expected inbound Allow for service tags {' and '.join(SERVICE_TAGS)}",
        "In the portal, network security group > Inbound security rules: add an Allow rule for source "
        "service tags AzureBackup and AzureCloud above any Deny rule that matches them.",
        " && ".join(commands),
    )


def _sub(resource_id: str) -> str:
    try:
        return ids.subscription_of(resource_id)
    except ValueError:
        return "<subscription-id>"
