"""The client-side token bucket and the scan's order, without a network (pure parts)."""

from __future__ import annotations

import pytest

from shared.model import Target
from shared.pacing import (
    DELETES,
    READS,
    WRITES,
    Pacer,
    TokenBucket,
    _path,
    bucket_scope,
    kind_of,
    retry_after_seconds,
)
from shared.verification import interleave


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_serves_the_burst_then_one_token_per_refill_interval() -> None:
    clock = Clock()
    bucket = TokenBucket(capacity=5, rate=2.0, clock=clock)
    assert [bucket.reserve() for _ in range(5)] == [0.0] * 5
    # the sixth request waits half a second (2 tokens/s), the seventh a whole second: in order
    assert bucket.reserve() == pytest.approx(0.5)
    assert bucket.reserve() == pytest.approx(1.0)
    clock.now += 1.0  # two tokens refilled: they pay the debt of the two waiting requests
    assert bucket.reserve() == pytest.approx(0.5)


def test_bucket_never_holds_more_than_its_capacity() -> None:
    clock = Clock()
    bucket = TokenBucket(capacity=3, rate=10.0, clock=clock)
    clock.now += 3600
    assert bucket.tokens == 3
    assert [bucket.reserve() for _ in range(4)][-1] == pytest.approx(0.1)


def test_a_429_drains_the_bucket_for_its_retry_after() -> None:
    clock = Clock()
    bucket = TokenBucket(capacity=250, rate=25.0, clock=clock)
    bucket.drain(4.0)
    # no token for 4 s: the next request waits 4 s plus its own token's interval
    assert bucket.reserve() == pytest.approx(4.0 + 1 / 25)


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/subscriptions/ABC-1/resourceGroups/rg/providers/x", "abc-1"),
        ("/subscriptions/abc-1", "abc-1"),
        ("/providers/Microsoft.Authorization/policyDefinitions/p", "tenant"),
        ("/providers/Microsoft.Management/managementGroups/mg", "tenant"),
    ],
)
def test_requests_are_charged_to_their_subscription_or_the_tenant(path: str, scope: str) -> None:
    assert bucket_scope(path) == scope


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("https://management.azure.com/subscriptions/S/x?api-version=1", "/subscriptions/S/x"),
        (
            "https://127.0.0.1:8443/providers/Microsoft.Management/managementGroups/m",
            "/providers/Microsoft.Management/managementGroups/m",
        ),
        ("https://management.azure.com", "/"),
        ("https://management.azure.com?x=1", "/"),
    ],
)
def test_the_path_of_a_request_url(url: str, path: str) -> None:
    assert _path(url) == path


def test_methods_map_to_arms_three_buckets() -> None:
    assert [kind_of(m) for m in ("GET", "head", "PUT", "PATCH", "POST", "DELETE")] == [
        READS,
        READS,
        WRITES,
        WRITES,
        WRITES,
        DELETES,
    ]


def test_pacer_buckets_are_per_subscription_and_kind_with_headroom() -> None:
    pacer = Pacer(headroom=0.96)
    reads = pacer.bucket("sub-a", READS)
    assert reads is pacer.bucket("sub-a", READS)
    assert reads is not pacer.bucket("sub-b", READS)
    assert (reads.capacity, reads.rate) == (pytest.approx(240.0), pytest.approx(24.0))
    assert pacer.bucket("sub-a", WRITES).rate == pytest.approx(9.6)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"retry-after": "7"}, 7.0),
        ({"retry-after-ms": "1500"}, 1.5),
        ({"x-ms-retry-after-ms": "250"}, 0.25),
        ({"retry-after": "Wed, 21 Oct 2026 07:28:00 GMT"}, 1.0),
        ({}, 1.0),
    ],
)
def test_retry_after_forms(headers: dict[str, str], seconds: float) -> None:
    assert retry_after_seconds(headers) == pytest.approx(seconds)


def _target(sub: str, vault: str, n: int) -> Target:
    return Target(
        f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.ContainerService/managedClusters/c{n}",
        f"/subscriptions/{sub}/resourceGroups/rg/providers/Microsoft.DataProtection/backupVaults/{vault}",
        "backup",
        None,
    )


def test_interleave_round_robins_subscriptions_then_vaults() -> None:
    # sorted by subscription, as discovery returns them: a drains first, then b
    targets = [_target("a", "v1", 1), _target("a", "v1", 2), _target("a", "v2", 3), _target("a", "v2", 4)]
    targets += [_target("b", "v3", 5), _target("b", "v3", 6)]
    order = [t.cluster_id.rsplit("/", 1)[-1] for t in interleave(targets)]
    assert order == ["c1", "c5", "c3", "c6", "c2", "c4"]


def test_interleave_keeps_every_target_once() -> None:
    targets = [_target(f"s{i % 3}", f"v{i % 5}", i) for i in range(50)]
    assert sorted(t.cluster_id for t in interleave(targets)) == sorted(t.cluster_id for t in targets)
