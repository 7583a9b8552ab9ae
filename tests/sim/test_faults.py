"""Fault injection, throttling and latency, seen through azure-core's retry policy."""

# mypy: disable-error-code="union-attr"
from __future__ import annotations

import http.client
import ssl
import time
from concurrent.futures import ThreadPoolExecutor
from urllib.parse import urlparse

from azure.mgmt.containerservice import ContainerServiceClient

from localdev.azure_sim.launcher import SimHandle, running_simulator
from tests.sim.helpers import CLUSTER, ESTATE, SUB1, cred, kwargs

CLUSTER_GET = (
    "GET /subscriptions/{s}/resourceGroups/{rg}/providers/Microsoft.ContainerService/managedClusters/{name}"
)


def statuses(sim: SimHandle) -> list[int]:
    return [e["status"] for e in sim.requests()["log"] if e["template"] == CLUSTER_GET]


def get_cluster(sim: SimHandle) -> str:
    client = ContainerServiceClient(cred(sim), SUB1, **kwargs(sim))
    return str(client.managed_clusters.get("rg-aks", "aks-prod-1").name)


def test_injected_429_is_retried_after_retry_after(sim: SimHandle) -> None:
    sim.reset_counters()
    sim.set_faults(
        [{"method": "GET", "path": "managedClusters/aks-prod-1", "status": 429, "retry_after": 1, "count": 1}]
    )
    started = time.monotonic()
    assert get_cluster(sim) == "aks-prod-1"
    assert time.monotonic() - started >= 0.9  # azure-core honoured Retry-After
    assert statuses(sim) == [429, 200]
    assert sim.requests()["total"] == 2
    sim.clear_faults()


def test_dropped_connection_is_retried(sim: SimHandle) -> None:
    sim.reset_counters()
    sim.set_faults([{"method": "GET", "path": "managedClusters/aks-prod-1$", "drop": True, "count": 1}])
    assert get_cluster(sim) == "aks-prod-1"
    assert statuses(sim) == [0, 200]
    sim.clear_faults()


def test_injected_503_is_retried_and_faults_can_be_cleared(sim: SimHandle) -> None:
    sim.reset_counters()
    sim.set_faults([{"path": "aks-prod-1", "status": 503, "count": 2}])
    assert get_cluster(sim) == "aks-prod-1"
    assert statuses(sim) == [503, 503, 200]
    sim.set_faults([{"path": "aks-prod-1", "status": 500}])
    sim.clear_faults()
    assert get_cluster(sim) == "aks-prod-1"


def test_fault_delay_and_probability_are_seeded(sim: SimHandle) -> None:
    sim.reset_counters()
    sim.set_faults([{"path": "aks-prod-1", "delay_ms": 300, "count": 1}])
    started = time.monotonic()
    assert get_cluster(sim) == "aks-prod-1"
    assert time.monotonic() - started >= 0.3
    sim.set_faults([{"path": "aks-prod-1", "status": 500, "probability": 0.5}])
    results = [sim.call("GET", CLUSTER + "?api-version=2026-08-01", token=sim.token)[0] for _ in range(20)]
    sim.clear_faults()
    assert 0 < results.count(500) < 20


def _keepalive_get(endpoint: str, ca: str, path: str, token: str, n: int) -> list[tuple[int, dict[str, str]]]:
    url = urlparse(endpoint)
    conn = http.client.HTTPSConnection(
        url.hostname or "", url.port, context=ssl.create_default_context(cafile=ca)
    )
    out = []
    try:
        for _ in range(n):
            conn.request("GET", path, headers={"Authorization": f"Bearer {token}"})
            resp = conn.getresponse()
            resp.read()
            out.append((resp.status, {k.lower(): v for k, v in resp.getheaders()}))
            if resp.status == 429:
                break
    finally:
        conn.close()
    return out


def test_throttling_answers_429_when_the_read_bucket_is_empty() -> None:
    with running_simulator(ESTATE, throttle=True) as sim:
        results = _keepalive_get(
            sim.endpoint, sim.ca_bundle, CLUSTER + "?api-version=2026-08-01", sim.token, 600
        )
        status, headers = results[-1]
        assert status == 429
        assert 250 <= len(results) <= 400  # 250 burst plus what refilled meanwhile
        assert int(headers["retry-after"]) >= 1
        assert headers["x-ms-ratelimit-remaining-subscription-reads"] == "0"
        first = results[0][1]
        assert int(first["x-ms-ratelimit-remaining-subscription-reads"]) == 249
        code = sim.requests()["log"][-1]
        assert code["status"] == 429
        # another principal has its own bucket
        assert sim.admin_token
        assert (
            _keepalive_get(
                sim.endpoint, sim.ca_bundle, CLUSTER + "?api-version=2026-08-01", sim.admin_token, 1
            )[0][0]
            == 200
        )


def test_latency_is_concurrent() -> None:
    with running_simulator(ESTATE, latency_ms=400) as sim:
        started = time.monotonic()
        with ThreadPoolExecutor(16) as pool:
            codes = list(
                pool.map(
                    lambda _: sim.call("GET", CLUSTER + "?api-version=2026-08-01", token=sim.token)[0],
                    range(16),
                )
            )
        elapsed = time.monotonic() - started
        assert codes == [200] * 16
        # at least one latency, and less than 16 sequential latencies (6.4 s): the bound is the
        # property itself, not a speed target, so machine load cannot flip the outcome
        assert 0.4 <= elapsed < 16 * 0.4


def test_the_request_log_times_each_request_on_the_system_wide_monotonic_clock() -> None:
    """``start``/``end`` in /_sim/requests line up with the caller's own monotonic clock (the bench
    computes requests in flight from them): each request lies inside the caller's window and
    lasts at least the configured latency."""
    with running_simulator(ESTATE, latency_ms=200) as sim:
        sim.reset_counters()
        before = time.monotonic()
        with ThreadPoolExecutor(4) as pool:
            codes = list(
                pool.map(
                    lambda _: sim.call("GET", CLUSTER + "?api-version=2026-08-01", token=sim.token)[0],
                    range(4),
                )
            )
        after = time.monotonic()
        log = sim.requests()["log"]
    assert codes == [200] * 4
    assert len(log) == 4
    for entry in log:
        assert before <= entry["start"] <= entry["end"] <= after
        assert entry["end"] - entry["start"] >= 0.2
        assert entry["data_plane"] is False
