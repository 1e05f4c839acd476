"""A WSGI layer in front of Flask that answers repeated report queries from the cache.

When the full Flask path has answered a GET with a cached JSON answer, the raw
request (path and query string) is remembered with its cache key. The same raw
request later is answered here, after the same bearer-token check, if the answer
for the store's current data version is still cached. Anything else (no or a bad
token, a changed store, a request never seen) goes to Flask, which also makes
every error answer, so the two paths cannot disagree.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable

from . import metrics
from .auth import allows, bearer_token
from .context import Runtime

_STATUS = {200: "200 OK", 304: "304 Not Modified"}


class CachedReplies:
    def __init__(self, app: Callable, state: Runtime):
        self.app = app
        self.state = state

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        if environ.get("REQUEST_METHOD") == "GET":
            route = self.state.cache.routes.get((environ.get("PATH_INFO", ""), environ.get("QUERY_STRING", "")))
            if route is not None:
                answered = self._answer(environ, start_response, route)
                if answered is not None:
                    return answered
        return self.app(environ, start_response)

    def _answer(self, environ: dict, start_response: Callable, route: tuple) -> Iterable[bytes] | None:
        started = time.perf_counter()
        route_key, rule, role, mimetype = route
        presented = bearer_token(environ.get("HTTP_AUTHORIZATION", ""))
        if presented is None or not allows(self.state.authenticator.identify(presented), role):
            return None
        try:
            version = self.state.version.current()
        except Exception:  # noqa: BLE001 - Flask's path reports it properly
            return None
        rendered = self.state.cache.peek((*route_key, version))
        if rendered is None:
            return None
        status, headers, body = rendered.reply(environ.get("HTTP_IF_NONE_MATCH", ""),
                                               environ.get("HTTP_ACCEPT_ENCODING", ""))
        if status == 200:
            headers.append(("Content-Type", mimetype))
        start_response(_STATUS[status], headers)
        metrics.record_cache(hit=True)
        metrics.record_request("GET", rule, status, time.perf_counter() - started)
        return [body]
