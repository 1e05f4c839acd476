"""The dashboard under `roi serve --workers 2` (granian, separate processes): a session signed by one
worker is good at the other, as is its CSRF token, since both derive the same secret from the tokens."""

from __future__ import annotations

from tests.api.test_api_server import start_serve  # noqa: F401 - the fixture

from .conftest import READER, Server, csrf_of, ingest_project, write_dashboard_project


def test_a_session_holds_across_the_workers_of_roi_serve(project, start_serve):  # noqa: F811
    write_dashboard_project(project)
    ingest_project(project)
    port, log, stop = start_serve(workers=2)
    server = Server(f"http://127.0.0.1:{port}", project)
    assert server.get("/")[0] == 302
    cookie = server.sign_in(READER)
    for _ in range(16):  # granian hands connections to both workers
        status, headers, body = server.get("/cohorts?period=2026-02&group_by=channel", cookie=cookie)
        assert status == 200 and b"<data" in body
    status, _, body = server.get("/assumptions", cookie=cookie)
    for _ in range(4):  # the sign-out form's CSRF token, made by one worker, is good at either
        status, headers, _ = server.request("POST", "/sign-out", headers={"Cookie": cookie},
                                            data={"csrf_token": csrf_of(body)})
        assert status == 303
    assert server.api("/api/v1/roi?period=2026-02")["period"] == "2026-02"
    stop()
    logged = log.read_text()
    assert READER not in logged
    assert "/cohorts?period=2026-02" in logged
