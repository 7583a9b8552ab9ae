"""The simulator's Event Grid topic endpoint: publish REST API, keys and tokens, faults, /_sim/published."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from azure.core.credentials import AzureKeyCredential
from azure.core.exceptions import ClientAuthenticationError
from azure.core.messaging import CloudEvent
from azure.eventgrid import EventGridPublisherClient

from localdev.azure_sim.launcher import SimHandle, running_simulator

KEY = "dG9waWMta2V5"
SENDER = "00000000-0000-0000-0000-00000000a001"  # the default Guard principal
PATH = "/eventgrid/topics/drift/api/events?api-version=2018-01-01"
BATCH = "application/cloudevents-batch+json; charset=utf-8"
ESTATE = {
    "other_tokens": [
        {
            "token": "sim-admin-token",
            "principal_id": "00000000-0000-0000-0000-00000000ad01",
            "object_type": "User",
        }
    ],
    "eventgrid_topics": [{"name": "drift", "key": KEY, "senders": [SENDER]}, {"name": "open", "key": "k2"}],
}


@pytest.fixture(scope="module")
def sim() -> Iterator[SimHandle]:
    with running_simulator(ESTATE) as handle:
        yield handle


@pytest.fixture(autouse=True)
def _clean(sim: SimHandle) -> None:
    sim.reset_published()
    sim.clear_faults()


def event(i: int = 1, **overrides: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": f"e{i}",
        "source": "/test",
        "type": "T",
        "data": {"i": i},
        **overrides,
    }


def post(sim: SimHandle, body: Any, headers: dict[str, str]) -> tuple[int, Any]:
    status, _, parsed = sim.call("POST", PATH, body, headers={"Content-Type": BATCH, **headers})
    return status, parsed


def test_publish_with_the_key_is_kept_and_readable(sim: SimHandle) -> None:
    status, body = post(sim, [event(1), event(2)], {"aeg-sas-key": KEY})
    assert status == 200 and body is None
    received = sim.published()
    assert [r["event"]["id"] for r in received] == ["e1", "e2"]
    assert {(r["topic"], r["auth"], r["principal"]) for r in received} == {("drift", "key", None)}
    assert [r["event"]["id"] for r in sim.published(since=1)] == ["e2"]
    sim.reset_published()
    assert sim.published() == []


def test_bad_or_missing_credentials_are_401_and_nothing_is_kept(sim: SimHandle) -> None:
    status, body = post(sim, [event()], {"aeg-sas-key": "wrong"})
    assert status == 401 and body["error"]["code"] == "Unauthorized"
    assert "wrong" not in str(body)
    assert post(sim, [event()], {})[0] == 401
    assert post(sim, [event()], {"Authorization": "Bearer unknown"})[0] == 401
    assert sim.published() == []


def test_bearer_token_of_a_sender_is_accepted_others_are_403(sim: SimHandle) -> None:
    assert post(sim, [event()], {"Authorization": f"Bearer {sim.token}"})[0] == 200
    status, body = post(sim, [event(2)], {"Authorization": "Bearer sim-admin-token"})
    assert status == 403 and "events/send/action" in body["error"]["message"]
    received = sim.published()
    assert [(r["auth"], r["principal"]) for r in received] == [("bearer", SENDER)]
    # a topic without a senders list takes any known token
    status, _, _ = sim.call(
        "POST",
        "/eventgrid/topics/open/api/events?api-version=2018-01-01",
        [event(3)],
        headers={"Content-Type": BATCH, "Authorization": "Bearer sim-admin-token"},
    )
    assert status == 200


def test_invalid_batches_are_rejected_whole(sim: SimHandle) -> None:
    key = {"aeg-sas-key": KEY}
    assert post(sim, [event(1), {"id": "x"}], key)[0] == 400  # the valid first event is not kept
    assert post(sim, [event(1, specversion="0.3")], key)[0] == 400
    assert post(sim, [], key)[0] == 400
    assert post(sim, {"not": "a list"}, key)[0] == 400
    status, _, _ = sim.call("POST", PATH, [event()], headers={"Content-Type": "application/json", **key})
    assert status == 400
    status, _, _ = sim.call("POST", "/eventgrid/topics/nope/api/events?api-version=2018-01-01", [event()])
    assert status == 404
    status, _, _ = sim.call(
        "POST", "/eventgrid/topics/drift/api/events", [event()], headers={"Content-Type": BATCH, **key}
    )
    assert status == 400  # api-version is required
    assert sim.published() == []


def test_faults_apply_and_publishes_are_counted(sim: SimHandle) -> None:
    sim.reset_counters()
    sim.set_faults([{"method": "POST", "path": "^/eventgrid/", "status": 429, "retry_after": 3, "count": 1}])
    status, headers, _ = sim.call(
        "POST", PATH, [event()], headers={"Content-Type": BATCH, "aeg-sas-key": KEY}
    )
    assert status == 429 and headers["Retry-After"] == "3"
    assert post(sim, [event()], {"aeg-sas-key": KEY})[0] == 200
    counts = sim.requests()["by_template"]
    assert counts["POST /eventgrid/topics/{topic}/api/events"] == 2
    assert len(sim.published()) == 1


def test_the_sdk_publishes_cloudevents_to_it(sim: SimHandle) -> None:
    client = EventGridPublisherClient(sim.topic_endpoint("drift"), AzureKeyCredential(KEY))
    sent = CloudEvent(
        source="/aks-backup-guard", type="AksBackupGuard.DriftDetected", data={"a": 1}, subject="/s"
    )
    client.send([sent], connection_verify=sim.ca_bundle, retry_total=0)
    (received,) = sim.published()
    back: CloudEvent[Any] = CloudEvent.from_dict(received["event"])
    assert (back.id, back.type, back.subject, back.data) == (sent.id, sent.type, "/s", {"a": 1})
    bad = EventGridPublisherClient(sim.topic_endpoint("drift"), AzureKeyCredential("nope"))
    with pytest.raises(ClientAuthenticationError):
        bad.send([sent], connection_verify=sim.ca_bundle, retry_total=0)
