"""Timer trigger: the scheduled drift scan (``%DRIFT_SCAN_SCHEDULE%``, 6-field NCRONTAB)."""

from __future__ import annotations

import logging

import azure.functions as func

bp = func.Blueprint()
log = logging.getLogger(__name__)


@bp.function_name("guard_scan")
@bp.timer_trigger(arg_name="timer", schedule="%DRIFT_SCAN_SCHEDULE%", run_on_startup=False, use_monitor=True)
def guard_scan(timer: func.TimerRequest) -> None:
    from shared import orchestration

    if timer.past_due:
        log.warning("the drift scan timer is past due; scanning now")
    report = orchestration.start_scan(orchestration.services())
    log.info("scan %s started: %s targets", report.scan_id, report.enqueued)
