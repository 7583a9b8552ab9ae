"""A local stand-in for the Functions host: triggers the app's functions as the host would.

- timers: calls the timer function with a real ``azure.functions.TimerRequest``;
- Event Grid: calls the Event Grid function with real ``azure.functions.EventGridEvent`` objects,
  one per event, as the host does for a batch delivery;
- queues: receives from the Azurite queues each queue trigger names, and calls the function with
  a real ``azure.functions.QueueMessage`` (decoded body, dequeue count); a message is deleted on
  success, made visible again after a failure, and moved to ``<queue>-poison`` once it has failed
  ``max_dequeue_count`` times (host.json: 5), like the host's poison handling.

The functions are found by indexing the app (``get_functions()``), so bindings are exercised too.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import azure.functions as func
from azure.functions.queue import QueueMessage
from azure.functions.timer import TimerRequest
from azure.storage.queue import QueueServiceClient, TextBase64DecodePolicy, TextBase64EncodePolicy

log = logging.getLogger(__name__)


_INDEXED: dict[int, list[Any]] = {}


def indexed_functions(app: func.FunctionApp) -> list[Any]:
    """``app.get_functions()``, once per app object (indexing twice fails on duplicate names)."""
    if id(app) not in _INDEXED:
        _INDEXED[id(app)] = list(app.get_functions())
    return _INDEXED[id(app)]


@dataclass
class DrainStats:
    calls: int = 0
    succeeded: int = 0
    failed: int = 0
    poisoned: int = 0
    by_queue: dict[str, int] = field(default_factory=dict)


class LocalHost:
    def __init__(
        self,
        app: func.FunctionApp,
        connection_string: str,
        *,
        max_dequeue_count: int = 5,
        retry_visibility_seconds: int = 1,
    ) -> None:
        self.functions: dict[str, Callable[..., Any]] = {}
        self.queue_triggers: dict[str, str] = {}  # queue name -> function name
        self.kinds: dict[str, str] = {}
        for fn in indexed_functions(app):
            trigger = fn.get_trigger()
            binding = trigger.get_dict_repr() if trigger is not None else {}
            name = str(fn.get_function_name())
            self.functions[name] = fn.get_user_function()
            self.kinds[name] = str(binding.get("type"))
            if binding.get("type") == "queueTrigger":
                self.queue_triggers[str(binding["queueName"])] = name
        self.service = QueueServiceClient.from_connection_string(connection_string)
        self._on_message: Callable[[str, DrainStats], None] | None = None
        self.max_dequeue_count = max_dequeue_count
        self.retry_visibility_seconds = retry_visibility_seconds

    def _queue(self, name: str) -> Any:
        return self.service.get_queue_client(
            name,
            message_encode_policy=TextBase64EncodePolicy(),
            message_decode_policy=TextBase64DecodePolicy(),
        )

    # -- triggers -------------------------------------------------------------------------------

    def run_timer(self, name: str, *, past_due: bool = False) -> None:
        self.functions[name](TimerRequest(past_due=past_due))

    def deliver_events(self, events: Iterable[dict[str, Any]], *, function: str = "guard_events") -> int:
        """Hand Event Grid schema events to the Event Grid function; returns how many were delivered."""
        count = 0
        for raw in events:
            event_time = raw.get("eventTime")
            parsed = None
            if isinstance(event_time, str):
                try:
                    parsed = datetime.fromisoformat(event_time.replace("Z", "+00:00"))
                except ValueError:
                    parsed = None
            event = func.EventGridEvent(
                id=str(raw.get("id", "")),
                data=raw.get("data"),  # type: ignore[arg-type]
                topic=str(raw.get("topic", "")),
                subject=str(raw.get("subject", "")),
                event_type=str(raw.get("eventType", "")),
                event_time=parsed,
                data_version=str(raw.get("dataVersion", "")),
            )
            self.functions[function](event)
            count += 1
        return count

    # -- queues ---------------------------------------------------------------------------------

    def drain(
        self,
        *,
        timeout: float = 60.0,
        wait_for_delayed: bool = True,
        idle_rounds: int = 2,
        on_message: Callable[[str, DrainStats], None] | None = None,
    ) -> DrainStats:
        """Process queue messages until every triggered queue stays empty (delayed ones included).

        ``on_message(queue_name, stats)`` is called after each message (for progress displays).
        """
        stats = DrainStats()
        self._on_message = on_message
        deadline = time.monotonic() + timeout
        idle = 0
        while time.monotonic() < deadline:
            worked = False
            for queue_name, function_name in self.queue_triggers.items():
                worked |= self._drain_once(queue_name, function_name, stats)
            if worked:
                idle = 0
                continue
            waiting = wait_for_delayed and any(
                int(self._queue(q).get_queue_properties().approximate_message_count or 0) > 0
                for q in self.queue_triggers
                if self._exists(q)
            )
            if not waiting:
                idle += 1
                if idle >= idle_rounds:
                    return stats
            time.sleep(0.2)
        log.warning("local host drain timed out after %.0f s", timeout)
        return stats

    def _exists(self, queue_name: str) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        try:
            self._queue(queue_name).get_queue_properties()
            return True
        except ResourceNotFoundError:
            return False

    def _drain_once(self, queue_name: str, function_name: str, stats: DrainStats) -> bool:
        from azure.core.exceptions import ResourceNotFoundError

        queue = self._queue(queue_name)
        try:
            messages = list(queue.receive_messages(max_messages=16, visibility_timeout=30))
        except ResourceNotFoundError:
            return False
        for message in messages:
            self._invoke(queue, queue_name, function_name, message, stats)
        return bool(messages)

    def _invoke(
        self, queue: Any, queue_name: str, function_name: str, message: Any, stats: DrainStats
    ) -> None:
        body = message.content.encode("utf-8") if isinstance(message.content, str) else message.content
        msg = QueueMessage(
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            expiration_time=message.expires_on,
            insertion_time=message.inserted_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        stats.calls += 1
        stats.by_queue[queue_name] = stats.by_queue.get(queue_name, 0) + 1
        try:
            self.functions[function_name](msg)
        except Exception as exc:
            stats.failed += 1
            log.warning(
                "%s failed on message %s (attempt %s): %s",
                function_name,
                message.id,
                message.dequeue_count,
                exc,
            )
            if message.dequeue_count >= self.max_dequeue_count:
                poison = self._queue(queue_name + "-poison")
                if not self._exists(queue_name + "-poison"):
                    poison.create_queue()
                poison.send_message(message.content)
                queue.delete_message(message)
                stats.poisoned += 1
            else:
                queue.update_message(message, visibility_timeout=self.retry_visibility_seconds)
            return
        stats.succeeded += 1
        queue.delete_message(message)
        if self._on_message is not None:
            self._on_message(queue_name, stats)
