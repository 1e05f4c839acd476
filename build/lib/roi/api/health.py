"""GET /healthz (open: is the database answering, the scheduler running?) and GET /metrics (Prometheus text)."""

from __future__ import annotations

import logging

from flask import Response

from ..services import DatabaseError
from ..services.heartbeat import STOPPED
from . import metrics
from .auth import OPEN, requires_role
from .context import Runtime, api_blueprint, dumps, runtime
from .problems import COMMON_PROBLEMS
from .schemas import Health

log = logging.getLogger("roi.api")

blueprint = api_blueprint("operations", __name__, "Health and metrics for operators.", prefix="", secured=False)


@blueprint.get(
    "/healthz",
    summary="Is the service up, its database answering and its scheduler running?",
    responses={200: Health, 503: {"description": "The database does not answer, or the scheduler is stopped.",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}},
    security=[],
)
@requires_role(OPEN)
def healthz() -> Response:
    """No token needed. 200 when a query on the database succeeds and the scheduler (if this
    server runs one) is running or starting; 503 when the database does not answer
    (`unavailable`) or the scheduler is stopped (`degraded`: the API answers, jobs do not run)."""
    state = runtime()
    scheduler = scheduler_state(state)
    try:
        state.store.ping()
    except (DatabaseError, OSError) as exc:
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return _health("unavailable", "unavailable", scheduler, 503)
    if scheduler == STOPPED:
        log.warning("health check: the scheduler is not running")
        return _health("degraded", "ok", scheduler, 503)
    return _health("ok", "ok", scheduler, 200)


def scheduler_state(state: Runtime) -> str:
    """disabled ([scheduler] enabled = false), external (this app is not served by roi serve, which
    runs the scheduler: run `roi scheduler` beside it), or the heartbeat's running, starting, stopped."""
    if not state.settings.scheduler.enabled:
        return "disabled"
    if state.scheduler_heartbeat is None:
        return "external"
    return state.scheduler_heartbeat.state()


def _health(status: str, database: str, scheduler: str, code: int) -> Response:
    document = {"status": status, "database": database, "scheduler": scheduler,
                "months_ready": runtime().months.ready}
    return Response(dumps(document), status=code, mimetype="application/json")


@blueprint.get(
    "/metrics",
    summary="Prometheus metrics: requests, latencies, cache use, job runs",
    responses={200: {"description": "Prometheus text exposition format.",
                     "content": {"text/plain": {"schema": {"type": "string"}}}},
               401: COMMON_PROBLEMS[401], 503: COMMON_PROBLEMS[503]},
    security=[{"bearer": []}],
)
def prometheus_metrics() -> Response:
    """Needs a reader token unless the config says `[api] metrics_open = true`."""
    return Response(metrics.exposition(runtime().store.job_run_summary()), content_type=metrics.CONTENT_TYPE)
