"""HTTP API (function key): health, drift for dashboards, read-only verification, queued remediation."""

from __future__ import annotations

import json
import logging
import uuid
from typing import Any

import azure.functions as func

from shared.errors import ConfigError
from shared.settings import Settings

bp = func.Blueprint()
log = logging.getLogger(__name__)


def _json(body: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(body, default=str), status_code=status, mimetype="application/json")


def _problem(status: int, message: str) -> func.HttpResponse:
    return _json({"error": message}, status)


@bp.route(route="health", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def health(req: func.HttpRequest) -> func.HttpResponse:
    try:
        settings = Settings.from_env()
    except ConfigError as exc:
        return _json({"status": "misconfigured", "problem": str(exc)}, 503)
    return _json(
        {
            "status": "ok",
            "mode": settings.mode,
            "remediate_cluster": settings.remediate_cluster,
            "subscriptions": len(settings.subscriptions),
            "ledger": settings.storage.configured,
        }
    )


@bp.route(route="drift", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def drift(req: func.HttpRequest) -> func.HttpResponse:
    from shared import orchestration

    svc = orchestration.services()
    if svc.ledger is None:
        return _problem(503, "no ledger: storage is not configured")
    states = svc.ledger.list_current()
    return _json({"targets": [s.to_dict() for s in states], "count": len(states)})


@bp.route(route="drift/{*target}", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def drift_target(req: func.HttpRequest) -> func.HttpResponse:
    from shared import ids, orchestration

    wanted = "/" + (req.route_params.get("target") or "").strip("/")
    svc = orchestration.services()
    if svc.ledger is None:
        return _problem(503, "no ledger: storage is not configured")
    states = [
        s
        for s in svc.ledger.list_current()
        if s.target_key.lower() == wanted.lower().lstrip("/")
        or ids.same(s.cluster_id, wanted)
        or s.target_key.lower() == wanted.lower()
    ]
    if not states:
        return _problem(404, "no such target in the ledger (pass a cluster id or a target key)")
    body = []
    for state in states:
        entry = state.to_dict()
        if req.params.get("history", "").lower() in ("1", "true", "yes"):
            entry["history"] = [h.to_dict() for h in svc.ledger.history(state.target_key, limit=200)]
        body.append(entry)
    return _json({"targets": body})


def _cluster_from_body(req: func.HttpRequest) -> str | func.HttpResponse:
    """The ``cluster_id`` of a JSON body, exactly an AKS cluster id; else a 400 saying why."""
    from shared import ids

    try:
        body = req.get_json()
    except ValueError:
        return _problem(400, 'body must be JSON: {"cluster_id": "<AKS cluster resource id>"}')
    cluster_id = body.get("cluster_id") if isinstance(body, dict) else None
    if not isinstance(cluster_id, str) or not ids.is_shaped(cluster_id.strip(), "cluster"):
        return _problem(
            400,
            "cluster_id must be exactly an AKS cluster resource id: /subscriptions/<guid>/resourceGroups/"
            "<name>/providers/Microsoft.ContainerService/managedClusters/<name>, no dot segments or extras",
        )
    return cluster_id.strip()


@bp.route(route="verify", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def verify(req: func.HttpRequest) -> func.HttpResponse:
    """Read-only: verify the cluster's targets now and return the findings. Writes nothing, in
    ARM or in the ledger, whatever GUARD_MODE says (remediation on demand: POST /api/remediate)."""
    from shared import ids, orchestration
    from shared.discovery import targets_for_cluster
    from shared.gather.reader import ArmReader
    from shared.verification import verify_one

    cluster_id = _cluster_from_body(req)
    if isinstance(cluster_id, func.HttpResponse):
        return cluster_id
    svc = orchestration.services()
    if not svc.settings.watches(ids.subscription_of(cluster_id)):
        return _problem(403, "the cluster's subscription is not in GUARD_SUBSCRIPTIONS")
    reader = ArmReader.for_settings(svc.clients, svc.settings)
    found = targets_for_cluster(reader, cluster_id)
    if not found.targets:
        return _problem(
            404, "; ".join(found.problems) or "the cluster is not a target (no backup instance or vault tag)"
        )
    results = []
    for target in found.targets:
        checked = verify_one(target, reader, incluster_checks=svc.settings.incluster_checks)
        results.append({**target.to_dict(), "findings": [f.to_dict() for f in checked.findings]})
    return _json({"targets": results, "problems": list(found.problems)})


@bp.route(route="remediate", methods=["POST"], auth_level=func.AuthLevel.FUNCTION)
def remediate(req: func.HttpRequest) -> func.HttpResponse:
    """Queue a reconcile of the cluster's targets through the normal debounced queue: 202 with the
    work items (the queue worker re-reads everything and applies only consented fixes)."""
    from shared import ids, orchestration
    from shared.discovery import targets_for_cluster
    from shared.gather.reader import ArmReader
    from shared.model import Trigger

    cluster_id = _cluster_from_body(req)
    if isinstance(cluster_id, func.HttpResponse):
        return cluster_id
    svc = orchestration.services()
    if svc.queue is None or svc.work is None:
        return _problem(503, "no queue: storage is not configured")
    if not svc.settings.watches(ids.subscription_of(cluster_id)):
        return _problem(403, "the cluster's subscription is not in GUARD_SUBSCRIPTIONS")
    found = targets_for_cluster(ArmReader.for_settings(svc.clients, svc.settings), cluster_id)
    if not found.targets:
        return _problem(
            404, "; ".join(found.problems) or "the cluster is not a target (no backup instance or vault tag)"
        )
    trigger = Trigger(
        "http", req.headers.get("x-ms-client-request-id") or uuid.uuid4().hex, "POST /api/remediate"
    )
    queued = orchestration.enqueue_targets(svc, found.targets, trigger)
    return _json(
        {
            "enqueued": [json.loads(item.to_json()) for item in queued.enqueued],
            "coalesced": queued.coalesced,
            "delay_seconds": svc.settings.debounce_seconds,
        },
        202,
    )


@bp.route(route="report", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def report(req: func.HttpRequest) -> func.HttpResponse:
    """The HTML report (shared.report.html) of every target in the ledger, with recent history."""
    from shared import orchestration
    from shared.report.ledger_page import render_ledger_page

    svc = orchestration.services()
    if svc.ledger is None:
        return _problem(503, "no ledger: storage is not configured")
    page = render_ledger_page(svc.ledger)
    return func.HttpResponse(page, status_code=200, mimetype="text/html", charset="utf-8")
