"""What every view shares: the app's runtime (settings, store, caches) and how answers are sent."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any

import orjson
from flask import Response as FlaskResponse
from flask import current_app, g, request
from flask_openapi3 import APIBlueprint, Tag

from ..config import Settings
from ..services import Store
from ..services.heartbeat import Heartbeat
from ..services.valued import ValuedMonths
from . import metrics
from .auth import Authenticator, required_role
from .cache import ApiCache, RenderedBody
from .problems import COMMON_PROBLEMS

log = logging.getLogger("roi.api")

API_PREFIX = "/api/v1"
SECURITY = [{"bearer": []}]


class DataVersion:
    """The store's data version, asked at most once per `ttl` seconds per process.

    The query costs a database round trip (about 0.5 ms on PostgreSQL, far more when the
    database stalls), more than answering from the cache. A version younger than `ttl` is
    used as it is. Up to twice `ttl` old (steady traffic), the request is answered with it
    while one background thread asks anew, so busy workers never wait on the database for
    it. Older than that (after a quiet spell, or while the database fails), the request asks
    in line and gets the answer, or the error (a 503). So answers lag a new batch by at most
    about 2 x `ttl`. With `ttl` 0 every request asks, in line.
    """

    def __init__(self, store: Store, ttl: float, clock: Callable[[], float] = time.monotonic,
                 on_change: Callable[[], object] | None = None):
        self._store = store
        self._on_change = on_change  # called (in the asking thread) when a new version is seen
        self._ttl = ttl
        self._clock = clock
        self._value: str | None = None
        self._fresh = 0.0  # when the query that gave _value started
        self._lock = threading.Lock()
        self._refresh: threading.Thread | None = None
        self._failing = False

    def current(self) -> str:
        now = self._clock()
        age = now - self._fresh
        if self._value is None or self._ttl <= 0 or age >= 2 * self._ttl:
            self._seen(self._store.data_version(), now)
            return self._value
        if age >= self._ttl:
            with self._lock:
                if self._refresh is None or not self._refresh.is_alive():
                    self._refresh = threading.Thread(target=self._ask, name="roi-data-version", daemon=True)
                    self._refresh.start()
        return self._value

    def _ask(self) -> None:
        started = self._clock()
        try:
            value = self._store.data_version()
        except Exception as exc:  # noqa: BLE001 - a background thread: log it; requests ask in line soon
            if not self._failing:
                log.warning("could not read the data version: %s", exc)
            self._failing = True
            return
        self._failing = False
        self._seen(value, started)

    def _seen(self, value: str, at: float) -> None:
        changed = self._value is not None and value != self._value
        self._value, self._fresh = value, at
        if changed and self._on_change is not None:
            self._on_change()

    def wait(self, timeout: float | None = None) -> None:
        """Until a background refresh (if any) is done (for tests)."""
        refresh = self._refresh
        if refresh is not None:
            refresh.join(timeout)


@dataclass(slots=True)
class Runtime:
    """One per app, so one engine per process under `roi serve`."""

    settings: Settings
    store: Store
    authenticator: Authenticator
    version: DataVersion
    months: ValuedMonths
    cache: ApiCache = field(default_factory=ApiCache)
    open_endpoints: frozenset[str] = frozenset()
    document: dict[str, Any] | None = None
    scheduler_heartbeat: Heartbeat | None = None  # under roi serve: its scheduler's beats


def runtime() -> Runtime:
    return current_app.extensions["roi"]


def data_version() -> str:
    """The store's data version, asked once per request."""
    version = g.get("roi_data_version")
    if version is None:
        version = g.roi_data_version = runtime().version.current()
    return version


def api_blueprint(name: str, import_name: str, description: str, *, prefix: str = API_PREFIX,
                  secured: bool = True) -> APIBlueprint:
    """A blueprint whose operations are documented with the common problems and bearer security."""
    return APIBlueprint(
        name,
        import_name,
        url_prefix=prefix,
        abp_tags=[Tag(name=name, description=description)],
        abp_security=SECURITY if secured else None,
        abp_responses=dict(COMMON_PROBLEMS) if secured else {400: COMMON_PROBLEMS[400]},
    )


def dumps(document: Any) -> bytes:
    """Compact JSON. Figures reach here through domain.json_number, so none is NaN or infinite."""
    return orjson.dumps(document)


def send_body(rendered: RenderedBody, *, mimetype: str = "application/json") -> FlaskResponse:
    status, headers, body = rendered.reply(
        request.headers.get("If-None-Match", ""), request.headers.get("Accept-Encoding", "")
    )
    if status == 304:
        return FlaskResponse(status=304, headers=headers)
    return FlaskResponse(body, status=status, mimetype=mimetype, headers=headers)


def cached_answer(key: Hashable, render: Callable[[], Any], *, headers: Callable[[Any], dict] | None = None,
                  mimetype: str = "application/json") -> FlaskResponse:
    """Serve the JSON answer of `render()` for `key` at the current data version, rendering it once.

    The raw request is remembered, so the same request next time is answered by the
    fast path (cached_replies.py) without going through Flask."""
    state = runtime()
    route_key = (request.endpoint, key, state.settings.config_hash)
    made = False

    def make() -> RenderedBody:
        nonlocal made
        made = True
        document = render()
        extra = headers(document) if headers else None  # may take private keys out of the document
        return RenderedBody.of(dumps(document), extra)

    rendered = state.cache.answers.get_or_make((*route_key, data_version()), make)
    metrics.record_cache(hit=not made)
    environ = request.environ
    view = current_app.view_functions[request.endpoint]
    state.cache.remember_route(
        (environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")),
        (route_key, request.url_rule.rule, required_role(view), mimetype),
    )
    return send_body(rendered, mimetype=mimetype)
