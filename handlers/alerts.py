"""Alert delivery on its own triggers: a nudge queue (prompt) and a timer (retries, digests)."""

from __future__ import annotations

import logging

import azure.functions as func

from shared.workqueue import ALERTS_QUEUE

bp = func.Blueprint()
log = logging.getLogger(__name__)
DRAIN_SCHEDULE = "0 */2 * * * *"


def _drain() -> None:
    from shared import orchestration

    result = orchestration.deliver_alerts(orchestration.services())
    if result is not None and (result.delivered or result.dead):
        log.info(
            "alerts: %s delivered, %s retried, %s dead-lettered",
            result.delivered,
            result.retried,
            result.dead,
        )


@bp.function_name("guard_alerts")
@bp.queue_trigger(arg_name="msg", queue_name=ALERTS_QUEUE, connection="AzureWebJobsStorage")
def guard_alerts(msg: func.QueueMessage) -> None:
    _drain()


@bp.function_name("guard_alerts_timer")
@bp.timer_trigger(arg_name="timer", schedule=DRAIN_SCHEDULE, run_on_startup=False, use_monitor=True)
def guard_alerts_timer(timer: func.TimerRequest) -> None:
    _drain()
