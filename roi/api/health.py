"""GET /healthz (open: is the database answering?) and GET /metrics (Prometheus text)."""

from __future__ import annotations

import logging

from flask import Response

from ..services import DatabaseError
from . import metrics
from .auth import OPEN, requires_role
from .context import api_blueprint, dumps, runtime
from .problems import COMMON_PROBLEMS
from .schemas import Health

log = logging.getLogger("roi.api")

blueprint = api_blueprint("operations", __name__, "Health and metrics for operators.", prefix="", secured=False)


@blueprint.get(
    "/healthz",
    summary="Is the service up and its database answering?",
    responses={200: Health, 503: {"description": "The database does not answer.",
                                  "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Health"}}}}},
    security=[],
)
@requires_role(OPEN)
def healthz() -> Response:
    """No token needed. 200 when a query on the database succeeds, 503 when it does not."""
    try:
        runtime().store.ping()
    except (DatabaseError, OSError) as exc:
        log.warning("health check: database unavailable: %s", type(exc).__name__)
        return Response(dumps({"status": "unavailable", "database": "unavailable"}), status=503,
                        mimetype="application/json")
    document = {"status": "ok", "database": "ok", "months_ready": runtime().months.ready}
    return Response(dumps(document), mimetype="application/json")


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
