"""Queue triggers: reconcile one target per message; record poison messages as unknown."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.workqueue import POISON_QUEUE, TARGETS_QUEUE

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("guard_worker")
@bp.queue_trigger(arg_name="msg", queue_name=TARGETS_QUEUE, connection="AzureWebJobsStorage")
def guard_worker(msg: func.QueueMessage) -> None:
    from shared import orchestration
    from shared.workqueue import MalformedMessage, WorkItem

    try:
        item = WorkItem.from_json(msg.get_body())
    except MalformedMessage as exc:
        log.error("dropped a malformed work item %s: %s", msg.id, exc)
        return
    log.info(
        "verifying %s (attempt %s, %s %s)",
        item.target.key,
        msg.dequeue_count,
        item.trigger.kind,
        item.trigger.id,
    )
    orchestration.process(item, orchestration.services())


@bp.function_name("guard_poison")
@bp.queue_trigger(arg_name="msg", queue_name=POISON_QUEUE, connection="AzureWebJobsStorage")
def guard_poison(msg: func.QueueMessage) -> None:
    from shared import orchestration

    orchestration.handle_poison(msg.get_body(), orchestration.services())
