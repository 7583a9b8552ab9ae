"""Azurite round-trips through the Azure SDKs the ledger and queue worker use."""

from __future__ import annotations

import uuid

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueClient

from localdev.azurite import Azurite


def test_table_round_trip(azurite: Azurite) -> None:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    table = service.create_table_if_not_exists(f"t{uuid.uuid4().hex[:12]}")
    table.upsert_entity({"PartitionKey": "p", "RowKey": "r", "status": "fail", "count": 3})
    entity = table.get_entity("p", "r")
    assert entity["status"] == "fail"
    assert entity["count"] == 3
    assert entity.metadata["etag"]


def test_queue_round_trip(azurite: Azurite) -> None:
    queue = QueueClient.from_connection_string(azurite.connection_string, f"q{uuid.uuid4().hex[:12]}")
    queue.create_queue()
    queue.send_message('{"cluster_id": "/subscriptions/x"}')
    messages = list(queue.receive_messages(max_messages=5, visibility_timeout=5))
    assert [m.content for m in messages] == ['{"cluster_id": "/subscriptions/x"}']
    assert messages[0].dequeue_count == 1
    queue.delete_message(messages[0])
    assert list(queue.receive_messages(max_messages=5)) == []
