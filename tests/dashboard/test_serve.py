"""The dashboard under `roi serve --workers 2` (granian, separate processes): a session signed by one
worker is good at the other, as is its CSRF token, since both derive the same secret from the tokens;
a session signed out at one worker is dead at the other, since both look it up in the store."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

from tests.api.test_api_server import start_serve  # noqa: F401 - the fixture

from .conftest import READER, Server, csrf_of, ingest_project, write_dashboard_project

COHORTS = "/cohorts?period=2026-02&group_by=channel"


def workers_that_answered(log: Path, request: str) -> set[int]:
    """The pids of the worker processes whose access log lines (JSON, one a line) hold `request`."""
    pids = set()
    for line in log.read_text().splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if record.get("logger") == "roi.access" and request in record.get("message", ""):
            pids.add(record["pid"])
    return pids


def at_both_workers(log: Path, request: str, ask: Callable[[], None]) -> None:
    """`ask` (which makes `request` on a new connection) 16 times, and on until both workers have
    answered it (granian shares the connections out, not strictly in turn), at most 96 times."""
    for count in range(1, 97):
        ask()
        if count >= 16 and len(workers_that_answered(log, request)) == 2:
            return
    raise AssertionError(f"one worker answered every {request}: {workers_that_answered(log, request)}")


def test_a_session_holds_and_ends_across_the_workers_of_roi_serve(project, start_serve):  # noqa: F811
    write_dashboard_project(project)
    ingest_project(project)
    port, log, stop = start_serve(workers=2)
    server = Server(f"http://127.0.0.1:{port}", project)
    assert server.get("/")[0] == 302
    cookie = server.sign_in(READER)

    def signed_in() -> None:
        status, _, body = server.get(COHORTS, cookie=cookie)
        assert status == 200 and b"<data" in body

    at_both_workers(log, f'"GET {COHORTS} HTTP/1.1" 200 ', signed_in)
    status, _, body = server.get("/assumptions", cookie=cookie)
    token = csrf_of(body)  # the sign-out form's
    status, headers, _ = server.request("POST", "/sign-out", headers={"Cookie": cookie}, data={"csrf_token": token})
    assert status == 303

    def signed_out() -> None:  # signed out at one worker, the kept cookie is no session at any
        status, headers, body = server.get(COHORTS, cookie=cookie)
        assert status == 302 and headers["Location"].startswith("/sign-in?next=") and b"<data" not in body
        status, _, body = server.get("/cohorts.csv?period=2026-02&group_by=channel", cookie=cookie)
        assert status == 302 and b"web" not in body

    at_both_workers(log, f'"GET {COHORTS} HTTP/1.1" 302 ', signed_out)
    for _ in range(4):  # signing out again, at either worker, with the form's CSRF token made by one
        status, headers, _ = server.request("POST", "/sign-out", headers={"Cookie": cookie},
                                            data={"csrf_token": token})
        assert status == 303
    assert server.api("/api/v1/roi?period=2026-02")["period"] == "2026-02"
    stop()
    logged = log.read_text()
    assert READER not in logged
