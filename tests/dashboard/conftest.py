"""The dashboard's scenario: three months of a support bot (32 tenants, two channels, a model nobody
prices, quarantined rows, a fixed cost no cell carries, a model version change mid-February), the
API and the dashboard served together (roi.serving.create_site) on a loopback port, the clock
pinned to 10 April 2026."""

from __future__ import annotations

import json
import re
import threading
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
import time_machine
from werkzeug.serving import make_server

from roi.serving import create_site
from tests.conftest import Project, fixture_text, ingest_project

READER = "dash-reader-token-0123456789"
ADMIN = "dash-admin-token-0123456789"
NOW = "2026-04-10T12:00:00Z"
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts" / "dashboard"


def write_dashboard_project(project: Project) -> None:
    project.write_model("support", fixture_text("dashboard/support.toml"))
    project.write_config(fixture_text("dashboard/config.toml").format(READER=READER, ADMIN=ADMIN))
    project.write_data("events.csv", fixture_text("dashboard/events.csv"))


@dataclass
class Server:
    base: str
    project: Project

    def get(self, path: str, *, headers: dict | None = None, token: str | None = None,
            cookie: str | None = None) -> tuple[int, Message, bytes]:
        """GET without following redirects."""
        headers = dict(headers or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if cookie:
            headers["Cookie"] = cookie
        return self.request("GET", path, headers=headers)

    def request(self, method: str, path: str, *, headers: dict | None = None,
                data: dict | None = None) -> tuple[int, Message, bytes]:
        body = urllib.parse.urlencode(data).encode() if data is not None else None
        request = urllib.request.Request(self.base + path, data=body, method=method, headers=headers or {})
        opener = urllib.request.build_opener(_NoRedirect)
        try:
            with opener.open(request, timeout=60) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as error:
            return error.code, error.headers, error.read()

    def api(self, path: str, token: str = READER) -> dict:
        status, _, body = self.get(path, token=token)
        assert status == 200, body
        return json.loads(body)

    def sign_in(self, token: str) -> str:
        """A signed-in session's cookie header, as a browser gets it (the form's CSRF token first)."""
        status, headers, body = self.get("/sign-in")
        assert status == 200
        cookie = _cookie(headers)
        csrf = re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()
        status, headers, body = self.request("POST", "/sign-in", headers={"Cookie": cookie},
                                             data={"csrf_token": csrf, "token": token, "next": "/"})
        assert status == 303, body
        cookie = _cookie(headers)
        # the first page after signing in gives the session its CSRF token (a new cookie)
        status, headers, _ = self.get("/assumptions", cookie=cookie)
        assert status == 200
        return _cookie(headers) if headers.get_all("Set-Cookie") else cookie


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


def _cookie(headers: Message) -> str:
    found = [value.split(";", 1)[0] for value in headers.get_all("Set-Cookie") or []]
    assert found, "no cookie set"
    return found[-1]


def csrf_of(body: bytes) -> str:
    return re.search(rb'name="csrf_token" value="([^"]+)"', body).group(1).decode()


@contextmanager
def serving(project: Project) -> Iterator[Server]:
    """The scenario ingested into the project's store and served (API and dashboard) on a loopback port."""
    write_dashboard_project(project)
    with time_machine.travel(NOW, tick=True):
        ingest_project(project)
        site = create_site(project.settings(), version_ttl=0)
        server = make_server("127.0.0.1", 0, site, threaded=True)
        thread = threading.Thread(target=server.serve_forever, name="dashboard-test-server", daemon=True)
        thread.start()
        try:
            yield Server(f"http://127.0.0.1:{server.server_port}", project)
        finally:
            server.shutdown()
            thread.join(10)
            server.server_close()
            site.api.extensions["roi"].store.engine.dispose()


@pytest.fixture(scope="module")
def dashboard_server(tmp_path_factory) -> Iterator[Server]:
    root = tmp_path_factory.mktemp("dashboard")
    with serving(Project(root, f"sqlite:///{root / 'roi.db'}")) as server:
        yield server
