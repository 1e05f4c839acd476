"""Signing out ends the session for good: a copy of the signed-out cookie gets no data, on SQLite and
PostgreSQL, while the token's other sessions go on (one session ends, not every session of a token)."""

from __future__ import annotations

import pytest
import time_machine

from roi.services import store_for
from roi.services.signed_out_sessions import session_signed_out, sign_out_session

from .conftest import ADMIN, READER, Server, csrf_of, serving

DATA_PAGES = ["/", "/cohorts?period=2026-02&group_by=channel", "/cohort?group_by=tenant&tenant=tenant-01",
              "/assumptions", "/operations", "/cohorts.csv?period=2026-02&group_by=channel", "/cohorts.xlsx"]


@pytest.fixture
def served(any_project):
    with serving(any_project) as server:
        yield server


def sign_out(server: Server, cookie: str) -> tuple[str, str]:
    """POST the sign-out form of a page; the cookie the server sets in answer, and the form's CSRF token."""
    status, _, page = server.get("/assumptions", cookie=cookie)
    assert status == 200
    status, headers, _ = server.request("POST", "/sign-out", headers={"Cookie": cookie},
                                        data={"csrf_token": csrf_of(page)})
    assert status == 303 and headers["Location"] == "/sign-in"
    return (headers.get_all("Set-Cookie") or [""])[-1], csrf_of(page)


def assert_no_session(server: Server, cookie: str) -> None:
    for path in DATA_PAGES:
        status, headers, body = server.get(path, cookie=cookie)
        assert status == 302 and headers["Location"].startswith("/sign-in?next="), (path, status)
        assert b"<data" not in body and b"$" not in body and b"web" not in body, path


def test_a_signed_out_cookie_gets_no_data(served):
    cookie = served.sign_in(READER)
    other = served.sign_in(READER)  # the same token in another browser
    status, _, csv = served.get("/cohorts.csv?period=2026-02&group_by=channel", cookie=cookie)
    assert status == 200 and b"channel" in csv and b"web" in csv
    cleared, token = sign_out(served, cookie)
    assert cleared.startswith("roi_session=;")  # the browser forgets it...
    assert_no_session(served, cookie)  # ...and a copy kept of it is no session either
    # signing out again (another tab, a repeated POST) is harmless and changes nothing
    status, _, _ = served.request("POST", "/sign-out", headers={"Cookie": cookie}, data={"csrf_token": token})
    assert status == 303
    assert_no_session(served, cookie)
    # the token's other session goes on
    status, _, body = served.get("/cohorts?period=2026-02&group_by=channel", cookie=other)
    assert status == 200 and b"<data" in body


def test_a_signed_out_admin_cookie_cannot_act(served):
    cookie = served.sign_in(ADMIN)
    _, _, page = served.get("/operations/close?period=2026-03", cookie=cookie)
    token = csrf_of(page)  # the confirmation's form, taken before signing out
    sign_out(served, cookie)
    for path, data in (("/operations/close", {"period": "2026-03"}), ("/operations/run", {"job": "source:bot"})):
        status, _, body = served.request("POST", path, headers={"Cookie": cookie}, data={"csrf_token": token, **data})
        assert status == 401, (path, status, body[:200])
    assert served.api("/api/v1/periods")["periods"][-1]["state"] == "open"
    assert served.api("/api/v1/jobs?job=source:bot")["runs"] == []


def test_signing_in_again_ends_the_session_it_replaces(served):
    first = served.sign_in(READER)
    _, _, page = served.get("/sign-in", cookie=first)
    status, headers, _ = served.request("POST", "/sign-in", headers={"Cookie": first},
                                        data={"csrf_token": csrf_of(page), "token": ADMIN, "next": "/operations"})
    assert status == 303
    second = headers.get_all("Set-Cookie")[-1].split(";", 1)[0]
    status, _, body = served.get("/operations", cookie=second)
    assert status == 200 and b"Run now" in body
    assert_no_session(served, first)


def test_signed_out_sessions_are_forgotten_once_they_would_have_expired(any_project):
    store = store_for(any_project.settings())
    try:
        with time_machine.travel("2026-04-10T12:00:00Z", tick=False) as clock:
            now = 1_775_822_400  # 2026-04-10T12:00:00Z
            sign_out_session(store, "first", now + 3600)
            sign_out_session(store, "first", now + 3600)  # twice: recorded once, no error
            assert session_signed_out(store, "first") and not session_signed_out(store, "second")
            clock.move_to("2026-04-10T14:00:00Z")  # "first" has expired: the next sign-out drops its row
            assert session_signed_out(store, "first")
            sign_out_session(store, "second", now + 4 * 3600)
            assert not session_signed_out(store, "first") and session_signed_out(store, "second")
            sign_out_session(store, "stale", now)  # expired already: nothing to remember
            assert not session_signed_out(store, "stale")
    finally:
        store.engine.dispose()
