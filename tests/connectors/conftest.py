"""A real HTTP server on 127.0.0.1 that plays an upstream API, and helpers to ingest from it."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd
import pytest
from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from roi import services
from roi.connectors import Window
from roi.domain import CELL_METRICS
from roi.services import batches

Handler = Callable[[Request], Any]


@dataclass
class Seen:
    method: str
    path: str
    args: dict[str, list[str]]
    headers: dict[str, str]
    body: Any


@dataclass
class Upstream:
    """Routes (method, path) -> handler; queued failures are answered first, once each."""

    url: str = ""
    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    failures: dict[tuple[str, str], list[Response]] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    auth: Callable[[Request], bool] | None = None

    def route(self, method: str, path: str, handler: Handler) -> None:
        self.routes[(method, path)] = handler

    def fail(self, method: str, path: str, status: int, *, body: str = "", headers: dict[str, str] | None = None,
             times: int = 1) -> None:
        for _ in range(times):
            self.failures.setdefault((method, path), []).append(Response(body, status, headers=headers))

    def calls(self, path: str) -> list[Seen]:
        return [seen for seen in self.seen if seen.path == path]

    def wsgi(self, environ, start_response):
        request = Request(environ)
        body = request.get_json(silent=True) if request.data else None
        self.seen.append(Seen(request.method, request.path, request.args.to_dict(flat=False),
                              dict(request.headers), body))
        key = (request.method, request.path)
        if self.auth is not None and not self.auth(request):
            response = Response(json.dumps({"error": "unauthorized", "echo": request.headers.get("Authorization")}),
                                401, mimetype="application/json")
        elif self.failures.get(key):
            response = self.failures[key].pop(0)
        elif key in self.routes:
            result = self.routes[key](request)
            response = result if isinstance(result, Response) else Response(json.dumps(result), 200,
                                                                             mimetype="application/json")
        else:
            response = Response(json.dumps({"detail": "Not Found"}), 404, mimetype="application/json")
        return response(environ, start_response)


@pytest.fixture
def upstream() -> Iterator[Upstream]:
    fake = Upstream()
    server = make_server("127.0.0.1", 0, fake.wsgi, threaded=True)
    fake.url = f"http://127.0.0.1:{server.server_port}"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield fake
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def paged(items: list[Any], size: int) -> list[list[Any]]:
    return [items[index:index + size] for index in range(0, len(items), size)] or [[]]


def ingest(project, name: str, start: str, end: str) -> tuple[services.SourceRun, Any]:
    """Ingest one source of the project's config over [start, end) (UTC ISO dates)."""
    settings = project.settings()
    store = services.store_for(settings)
    window = Window(pd.Timestamp(start, tz="UTC").to_pydatetime(), pd.Timestamp(end, tz="UTC").to_pydatetime())
    run = batches.ingest_source(settings, store, settings.source(name), window=window)
    return run, store


def cell_totals(store, by: list[str], start: str = "2000-01-01", end: str = "2100-01-01") -> dict[tuple, dict]:
    """Stored cells summed by the given columns (day and/or dimensions), zero metrics dropped."""
    cells = store.cells(date.fromisoformat(start), date.fromisoformat(end))
    if not len(cells):
        return {}
    cells["day"] = cells["day"].astype(str)
    summed = cells.groupby(by)[list(CELL_METRICS)].sum()
    found = {}
    for key, row in summed.iterrows():
        values = {name: (round(float(value), 9) if name in ("token_cost", "human_review_minutes") else int(value))
                  for name, value in row.items() if value}
        found[key if isinstance(key, tuple) else (key,)] = values
    return found


SOURCE_BLOCK = """
[[sources]]
name = "{name}"
type = "{kind}"
base_url = "{url}"
backoff_seconds = 0.0
max_backoff_seconds = 0.0
{options}
"""


def add_source(project, name: str, kind: str, url: str, options: str = "", *, dimensions: str = "",
               store_dimensions: str | None = None) -> None:
    """Append a pulled source to the project's config (retries without waiting, so tests stay quick)."""
    block = SOURCE_BLOCK.format(name=name, kind=kind, url=url, options=options.strip())
    if dimensions:
        block += f"[sources.dimensions]\n{dimensions.strip()}\n"
    extra = block
    if store_dimensions is not None:
        text = project.config_path.read_text()
        text = text.replace("[report]", f"[store]\ndimensions = {store_dimensions}\n\n[report]", 1)
        project.config_path.write_text(text)
    project.config_path.write_text(project.config_path.read_text() + "\n" + extra)
