"""OpenTelemetry through azure-monitor-opentelemetry, only when APPLICATIONINSIGHTS_CONNECTION_STRING is set.

A span per reconcile (target, trigger, failing checks), counters for drift and remediations.
Without the setting nothing is imported or exported (a fast cold start, nothing to configure).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.reconcile import ReconcileResult

log = logging.getLogger(__name__)
_state: dict[str, Any] = {"configured": False, "tracer": None, "drift": None, "remediations": None}


def configure() -> bool:
    """Set up Azure Monitor export once per process; True when telemetry is on."""
    if _state["configured"]:
        return _state["tracer"] is not None
    _state["configured"] = True
    if not os.environ.get("APPLICATIONINSIGHTS_CONNECTION_STRING"):
        return False
    from azure.monitor.opentelemetry import configure_azure_monitor
    from opentelemetry import metrics, trace

    configure_azure_monitor(logger_name="shared")
    _state["tracer"] = trace.get_tracer("aks-backup-guard")
    meter = metrics.get_meter("aks-backup-guard")
    _state["drift"] = meter.create_counter("guard.drift", description="failing checks found per reconcile")
    _state["remediations"] = meter.create_counter("guard.remediations", description="remediation outcomes")
    log.info("telemetry to Application Insights enabled")
    return True


@contextmanager
def span(name: str, **attributes: str) -> Iterator[Any]:
    tracer = _state["tracer"]
    if tracer is None:
        yield None
        return
    with tracer.start_as_current_span(name, attributes={f"guard.{k}": v for k, v in attributes.items()}) as s:
        yield s


def annotate(current: Any, result: ReconcileResult) -> None:
    """Attach the reconcile's findings to its span and count drift and remediations."""
    if current is None:
        return
    failing = sorted(f.check for f in result.after_findings if str(f.status) == "fail")
    current.set_attribute("guard.failing_checks", failing)
    current.set_attribute("guard.writes", result.writes)
    target = {"guard.subscription": result.target.subscription_id}
    if failing and _state["drift"] is not None:
        _state["drift"].add(len(failing), target)
    for outcome in result.outcomes:
        if _state["remediations"] is not None and outcome.result != "skipped":
            _state["remediations"].add(
                1, {**target, "guard.result": outcome.result, "guard.check": outcome.check}
            )
