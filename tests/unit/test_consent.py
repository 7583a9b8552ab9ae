"""The consent rule (shared/consent.py, docs/trust-model.md) on plain data: each clause, and
every way an attacker who owns one resource group might try to stretch it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

import pytest

from shared import ids
from shared.checks import evaluate
from shared.consent import (
    consent_command,
    consent_tag_name,
    decide,
    no_longer_guarded,
    restore_target_ids,
    target_consent,
)
from shared.model import CONSENT_TAG, VAULT_TAG, ConsentFacts, Read, Status, Target, Unreadable
from tests.unit import builders as b

TEAM_A = f"/subscriptions/{b.SUB}/resourceGroups/rg-team-a"
TEAM_B = f"/subscriptions/{b.SUB}/resourceGroups/rg-team-b"
VAULT_A = f"{TEAM_A}/providers/Microsoft.DataProtection/backupVaults/bv-a"
CLUSTER_A = f"{TEAM_A}/providers/Microsoft.ContainerService/managedClusters/aks-a"
CLUSTER_B = f"{TEAM_B}/providers/Microsoft.ContainerService/managedClusters/aks-b"
ACCOUNT_B = f"{TEAM_B}/providers/Microsoft.Storage/storageAccounts/stb"
SUB_ID = f"/subscriptions/{b.SUB}"


def facts(tags: Mapping[str, Read[Mapping[str, str]]], *, domains: tuple[str, ...] = ()) -> ConsentFacts:
    return ConsentFacts({ids.normalize(k): v for k, v in tags.items()}, domains)


def test_same_resource_group_is_consent() -> None:
    decision = decide(f"{TEAM_A}", VAULT_A, ConsentFacts())
    assert decision.allowed and "resource group" in decision.reason
    assert decide(CLUSTER_A.upper(), VAULT_A, ConsentFacts()).allowed  # ids compare case-insensitively


def test_other_group_without_tags_is_refused_with_the_consent_command() -> None:
    decision = decide(CLUSTER_B, VAULT_A, facts({CLUSTER_B: {}, TEAM_B: {}, SUB_ID: {}}))
    assert not decision.allowed and not decision.unknown
    assert "not authorised" in decision.reason
    tag = consent_tag_name(VAULT_A)
    assert decision.command == (
        f"az tag update --resource-id {CLUSTER_B} --operation Merge --tags {tag}={VAULT_A}"
    )
    assert decision.command == consent_command(CLUSTER_B, VAULT_A)


@pytest.mark.parametrize("where", [CLUSTER_B, TEAM_B, SUB_ID])
@pytest.mark.parametrize("value", [VAULT_A, TEAM_A, SUB_ID, VAULT_A.upper()])
def test_a_consent_tag_at_any_level_naming_the_requester_its_group_or_subscription(
    where: str, value: str
) -> None:
    tags = {CLUSTER_B: {}, TEAM_B: {}, SUB_ID: {}, where: {f"{CONSENT_TAG}-x": value}}
    assert decide(CLUSTER_B, VAULT_A, facts(tags)).allowed


@pytest.mark.parametrize(
    "value",
    [
        VAULT_A + "/",  # trailing slash: not exactly an id
        f"{TEAM_A}/providers/Microsoft.DataProtection/backupVaults/bv-a-evil",  # a longer name, not a prefix
        f"{TEAM_A}-evil",
        "/subscriptions",  # a prefix of everything
        f"{SUB_ID}/resourceGroups/rg-team-a/../rg-team-b",
        f"{VAULT_A},{CLUSTER_A}",  # lists do not fit in a tag and are not read as one
        f"{TEAM_B}/providers/Microsoft.DataProtection/backupVaults/bv-a",  # same name, other group
    ],
)
def test_values_are_whole_ids_never_prefixes(value: str) -> None:
    tags = {CLUSTER_B: {CONSENT_TAG: value}, TEAM_B: {}, SUB_ID: {}}
    assert not decide(CLUSTER_B, VAULT_A, facts(tags)).allowed


def test_only_consent_tag_names_count() -> None:
    tags = {CLUSTER_B: {"owner": VAULT_A, "aks-backup-guard-allowed": VAULT_A}, TEAM_B: {}, SUB_ID: {}}
    assert not decide(CLUSTER_B, VAULT_A, facts(tags)).allowed
    tags[CLUSTER_B] = {CONSENT_TAG.upper(): VAULT_A}  # tag names are case-insensitive in ARM
    assert decide(CLUSTER_B, VAULT_A, facts(tags)).allowed


def test_a_clusters_vault_tag_is_its_consent_to_that_vault_only() -> None:
    tags = {CLUSTER_B: {VAULT_TAG: VAULT_A}, TEAM_B: {}, SUB_ID: {}}
    assert decide(CLUSTER_B, VAULT_A, facts(tags)).allowed
    # ... not a consent for the cluster's resource group or another scope
    assert not decide(TEAM_B, VAULT_A, facts(tags)).allowed
    assert not decide(ACCOUNT_B, VAULT_A, facts({**tags, ACCOUNT_B: {VAULT_TAG: VAULT_A}})).allowed


def test_trust_domain_must_hold_both() -> None:
    both = facts({}, domains=(SUB_ID,))
    assert decide(CLUSTER_B, VAULT_A, both).allowed
    only_scope = facts({CLUSTER_B: {}, TEAM_B: {}, SUB_ID: {}}, domains=(TEAM_B,))
    assert not decide(CLUSTER_B, VAULT_A, only_scope).allowed


def test_unreadable_tags_refuse_and_say_unknown() -> None:
    denied = Unreadable("HTTP 403", "denied")
    decision = decide(CLUSTER_B, VAULT_A, facts({CLUSTER_B: denied, TEAM_B: denied, SUB_ID: denied}))
    assert not decision.allowed and decision.unknown


def test_scope_and_requester_must_be_exact_ids() -> None:
    assert not decide(SUB_ID + "/", VAULT_A, ConsentFacts()).allowed
    assert not decide(
        "/providers/Microsoft.Management/managementGroups/root", VAULT_A, ConsentFacts()
    ).allowed
    assert not decide(CLUSTER_A, f"{TEAM_A}/../rg-team-a", ConsentFacts()).allowed


def test_target_consent_check_and_refusal_annotation() -> None:
    snap = replace(b.healthy(), consent=ConsentFacts())
    findings = {f.check: f for f in evaluate(snap)}
    consent = findings["target.consent"]
    assert consent.status is Status.FAIL and consent.fix is not None
    assert consent.fix.command == consent_command(b.CLUSTER_ID, b.VAULT_ID)
    broken = replace(snap, trusted_access=())
    trusted = {f.check: f for f in evaluate(broken)}["trusted-access.binding"]
    assert trusted.status is Status.FAIL and "not authorised to fix" in trusted.detail
    assert trusted.fix is not None and trusted.fix.command == consent_command(b.CLUSTER_ID, b.VAULT_ID)
    # with consent the same finding keeps its own fix
    fine = {f.check: f for f in evaluate(replace(broken, consent=b.platform_consent()))}
    assert "not authorised" not in fine["trusted-access.binding"].detail
    assert fine["target.consent"].status is Status.PASS


def test_restore_target_tags_hold_one_exact_cluster_id_each() -> None:
    good, bad = restore_target_ids(
        {
            "aks-backup-guard-restore-target": CLUSTER_A,
            "aks-backup-guard-restore-target-2": CLUSTER_B.upper(),
            "aks-backup-guard-restore-targets": f"{CLUSTER_A}/, {TEAM_B}",
            "unrelated": CLUSTER_B,
        }
    )
    assert good == [CLUSTER_A, CLUSTER_B.upper()]
    assert bad == [f"{CLUSTER_A}/", TEAM_B]


def test_no_longer_guarded_only_on_proof_of_absence() -> None:
    healthy = b.healthy()
    assert no_longer_guarded(healthy) is None
    gone = Unreadable("HTTP 404 ResourceNotFound", "not-found")
    assert "backup instance" in (no_longer_guarded(replace(healthy, backup_instance=gone)) or "")
    assert "cluster" in (no_longer_guarded(replace(healthy, cluster=gone)) or "")
    assert no_longer_guarded(replace(healthy, backup_instance=b.DENIED)) is None  # denied is not absence
    prepare = replace(
        healthy,
        target=Target(b.CLUSTER_ID, b.VAULT_ID, "prepare"),
        cluster=b.cluster(tags={VAULT_TAG: b.VAULT_ID.upper()}),
    )
    assert no_longer_guarded(prepare) is None
    untagged = replace(prepare, cluster=b.cluster(tags={}))
    assert "no longer names the vault" in (no_longer_guarded(untagged) or "")
    restore = replace(healthy, target=Target(b.CLUSTER_ID, b.VAULT_ID, "restore"))
    assert "restore-target" in (no_longer_guarded(restore) or "")
    listed = replace(restore, vault=b.vault(tags={"aks-backup-guard-restore-target-1": b.CLUSTER_ID}))
    assert no_longer_guarded(listed) is None


def test_target_consent_uses_arm_ids_not_the_targets_strings() -> None:
    snap = replace(b.healthy(), consent=b.platform_consent())
    assert target_consent(snap).allowed


def test_trust_domains_setting_is_validated() -> None:
    from shared.errors import ConfigError
    from shared.settings import Settings

    base = {"GUARD_SUBSCRIPTIONS": b.SUB}
    ok = Settings.from_env({**base, "GUARD_TRUST_DOMAINS": f"{SUB_ID}, {TEAM_A}"})
    assert ok.trust_domains == (SUB_ID, TEAM_A)
    for bad, why in (
        (f"{TEAM_A}/", "not a subscription id"),
        (CLUSTER_A, "not a subscription id"),
        (f"/subscriptions/{b.STORAGE_SUB}", "outside GUARD_SUBSCRIPTIONS"),
        ("/providers/Microsoft.Management/managementGroups/root", "not a subscription id"),
    ):
        with pytest.raises(ConfigError, match=why):
            Settings.from_env({**base, "GUARD_TRUST_DOMAINS": bad})
