"""The JSON API: `create_app(settings)` builds a Flask app (flask and flask-openapi3 live only in this package).

Every resource is a blueprint in its own module; add one to BLUEPRINTS to serve it.
"""

from __future__ import annotations

import logging
import time
from importlib.metadata import version

from flask import Flask, Response, g, request
from flask_openapi3 import Info, OpenAPI

from ..config import Settings
from ..services import Store, store_for
from ..services.heartbeat import Heartbeat
from ..services.valued import ValuedMonths
from . import catalog, docs, downloads, health, jobs, metrics, quarantine, roi, spec
from .auth import Authenticator, check_request
from .cached_replies import CachedReplies
from .context import DataVersion, Runtime
from .parameters import refuse_bad_parameters
from .problems import install_error_handlers, validation_error_response
from .schemas import Problem

log = logging.getLogger("roi.api")

# One line per resource module; the order is the order of the OpenAPI document.
BLUEPRINTS = [
    roi.blueprint,
    catalog.blueprint,
    quarantine.blueprint,
    downloads.blueprint,
    jobs.blueprint,
    spec.blueprint,
    health.blueprint,
]

DESCRIPTION = """What production AI systems cost and what they are worth, per cohort and per month.

Every endpoint but `/healthz` needs `Authorization: Bearer <token>` with a token from the
config's `[api] tokens` (roles: reader < admin). Errors are `application/problem+json`.
"""


def create_app(settings: Settings, *, store: Store | None = None, version_ttl: float = 1.0,
               warm: bool = False, scheduler_heartbeat: Heartbeat | None = None) -> Flask:
    """The app for `settings`; opens the store (one engine per app, so one per worker process).
    `roi serve` passes the heartbeat of its scheduler, for /healthz.

    Answers are cached per data version of the store, which is asked at most every
    `version_ttl` seconds: a new batch shows within that time (0: on every request). `warm`:
    value the newest months in the background now and after each new data version (roi serve's
    workers), so questions find them ready."""
    app = OpenAPI(
        __name__,
        info=Info(title="roi", version=version("roi"), description=DESCRIPTION),
        security_schemes={"bearer": {"type": "http", "scheme": "bearer"}},
        validation_error_status=400,
        validation_error_model=Problem,
        validation_error_callback=validation_error_response,
        doc_ui=False,
    )
    app.json.sort_keys = False
    metrics.prepare()  # what the threads of a worker share is made before it serves
    if not settings.api.tokens:
        log.warning("no [api] tokens in %s: every endpoint but /healthz answers 401", settings.path or "the config")
    open_endpoints = {"operations.prometheus_metrics"} if settings.api.metrics_open else set()
    store = store or store_for(settings)
    months = ValuedMonths(settings, store)
    state = Runtime(
        settings=settings,
        store=store,
        authenticator=Authenticator(settings.api.tokens),
        version=DataVersion(store, version_ttl, on_change=months.warm if warm else None),
        months=months,
        open_endpoints=frozenset(open_endpoints),
        scheduler_heartbeat=scheduler_heartbeat,
    )
    app.extensions["roi"] = state
    app.wsgi_app = CachedReplies(app.wsgi_app, state)  # type: ignore[method-assign]
    install_error_handlers(app)
    app.before_request(_start_timer)
    app.before_request(check_request)
    app.before_request(refuse_bad_parameters)
    app.after_request(_record_request)
    for blueprint in BLUEPRINTS:
        app.register_api(blueprint)
    app.register_blueprint(docs.blueprint)  # the browsable documentation: not an operation of the API
    if warm:
        months.warm()
    return app


def _start_timer() -> None:
    g.roi_started = time.perf_counter()


def _record_request(response: Response) -> Response:
    started = g.get("roi_started")
    if started is not None:
        endpoint = request.url_rule.rule if request.url_rule is not None else "(unmatched)"
        metrics.record_request(request.method, endpoint, response.status_code, time.perf_counter() - started)
    return response
