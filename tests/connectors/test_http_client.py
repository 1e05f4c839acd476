"""The HTTP client: retries (Retry-After, backoff with a cap), errors, redaction — against a real local server."""

from __future__ import annotations

import logging
import socket
from datetime import UTC, date, datetime

import pytest
import requests
from werkzeug.wrappers import Response

from roi.connectors.base import Window
from roi.connectors.http_client import HttpClient, HttpError, Redactor, basic_auth, window_days
from roi.errors import ConnectorError, TransientError

TOKEN = "sk-secret-token-0123456789"


def roi_log(caplog) -> str:
    """What roi itself logged (the test server's own access log is not roi's)."""
    return "\n".join(record.getMessage() for record in caplog.records if record.name.startswith("roi"))


def client_for(url: str, sleeps: list[float], **kwargs) -> HttpClient:
    session = requests.Session()
    return HttpClient(session, source="upstream-x", base_url=url, headers={"Authorization": f"Bearer {TOKEN}"},
                      secrets=[TOKEN], sleep=sleeps.append, **kwargs)


def test_429_honours_retry_after_then_succeeds(upstream):
    upstream.route("GET", "/things", lambda request: {"ok": True})
    upstream.fail("GET", "/things", 429, headers={"Retry-After": "7"})
    sleeps: list[float] = []
    client = client_for(upstream.url, sleeps)
    assert client.get_json("/things") == {"ok": True}
    assert sleeps == [7.0]
    assert len(upstream.calls("/things")) == 2


def test_5xx_backs_off_exponentially_with_a_cap(upstream):
    upstream.route("GET", "/things", lambda request: [1, 2])
    upstream.fail("GET", "/things", 500, times=2)
    upstream.fail("GET", "/things", 503, times=2)
    sleeps: list[float] = []
    client = client_for(upstream.url, sleeps, backoff=1.0, max_backoff=3.0)
    assert client.get_json("/things") == [1, 2]
    assert sleeps == [1.0, 2.0, 3.0, 3.0]


def test_exhausted_retries_raise_a_transient_error_naming_the_source(upstream):
    upstream.fail("GET", "/things", 502, times=10)
    sleeps: list[float] = []
    client = client_for(upstream.url, sleeps, max_retries=2, backoff=0.0)
    with pytest.raises(TransientError) as caught:
        client.get_json("/things")
    assert "upstream-x" in str(caught.value) and "HTTP 502" in str(caught.value)
    assert "3 attempts" in str(caught.value)
    assert len(upstream.calls("/things")) == 3


def test_retry_after_beyond_the_limit_fails_at_once(upstream):
    upstream.fail("GET", "/things", 429, headers={"Retry-After": "3600"})
    client = client_for(upstream.url, [], max_retry_after=60)
    with pytest.raises(TransientError, match="asks to wait 3600s"):
        client.get_json("/things")


def test_unreachable_server_is_retried_then_reported():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleeps: list[float] = []
    client = client_for(f"http://127.0.0.1:{port}", sleeps, max_retries=1, backoff=0.5, timeout=2)
    with pytest.raises(TransientError, match="cannot reach the server"):
        client.get_json("/x")
    assert sleeps == [0.5]


def test_a_password_in_base_url_is_never_shown(caplog):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = client_for(f"http://user:PassInUrl-123@127.0.0.1:{port}", [], max_retries=1, backoff=0.0, timeout=2)
    with caplog.at_level(logging.DEBUG), pytest.raises(TransientError) as caught:
        client.get_json("/x")
    assert "cannot reach the server" in str(caught.value) and "user:***@" in str(caught.value)
    assert "retrying" in roi_log(caplog)
    assert "PassInUrl-123" not in str(caught.value) and "PassInUrl-123" not in roi_log(caplog)


def test_refused_credentials_name_the_source_never_the_secret(upstream, caplog):
    upstream.auth = lambda request: False  # the server echoes the Authorization header back
    client = client_for(upstream.url, [])
    with caplog.at_level(logging.DEBUG), pytest.raises(HttpError) as caught:
        client.get_json("/things")
    message = str(caught.value)
    assert caught.value.status == 401
    assert "upstream-x" in message and "credentials were refused" in message
    assert TOKEN not in message and TOKEN not in roi_log(caplog)


def test_an_echoed_secret_is_redacted_from_errors_and_logs(upstream, caplog):
    upstream.route("GET", "/things", lambda request: Response(f"bad key {TOKEN}", 400))
    upstream.fail("GET", "/things", 500, body=f"oops {TOKEN}")
    client = client_for(upstream.url, [])
    with caplog.at_level(logging.DEBUG), pytest.raises(HttpError) as caught:
        client.get_json("/things")
    assert "bad key ***" in str(caught.value)
    assert "retrying" in roi_log(caplog)
    assert TOKEN not in str(caught.value) and TOKEN not in roi_log(caplog)


def test_a_page_that_is_not_json_is_a_connector_error(upstream):
    upstream.route("GET", "/things", lambda request: Response("<html>maintenance</html>", 200))
    client = client_for(upstream.url, [])
    with pytest.raises(ConnectorError, match="not JSON"):
        client.get_json("/things")


def test_redactor_hides_basic_credentials_too():
    header = basic_auth("pk-lf-1", "sk-lf-2222")
    redact = Redactor(["sk-lf-2222", header.split(" ", 1)[1]])
    assert redact(f"Authorization: {header} key sk-lf-2222") == "Authorization: Basic *** key ***"


def test_window_days_cover_whole_utc_days():
    window = Window(datetime(2025, 12, 1, 10, tzinfo=UTC), datetime(2025, 12, 3, 0, 0, tzinfo=UTC))
    assert window_days(window, 30) == [date(2025, 12, 1), date(2025, 12, 2)]
    window = Window(datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 3, 0, 1, tzinfo=UTC))
    assert window_days(window, 30)[-1] == date(2025, 12, 3)
    assert window_days(Window(datetime(2025, 12, 3, tzinfo=UTC), datetime(2025, 12, 3, tzinfo=UTC)), 30) == []
    now = datetime(2025, 12, 10, 6, tzinfo=UTC)
    assert window_days(Window(None, None), 2, now=now) == [date(2025, 12, 8), date(2025, 12, 9), date(2025, 12, 10)]


def test_retry_after_as_an_http_date(upstream):
    from datetime import timedelta
    from email.utils import format_datetime

    when = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    upstream.route("GET", "/things", lambda request: {"ok": 1})
    upstream.fail("GET", "/things", 503, headers={"Retry-After": when})
    sleeps: list[float] = []
    assert client_for(upstream.url, sleeps).get_json("/things") == {"ok": 1}
    assert len(sleeps) == 1 and 25 <= sleeps[0] <= 30
