"""One retry policy, at one level: a pulled HTTP source against a real server on loopback,
answering 429 with Retry-After (short, too long) and 503s; every request counted."""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

import pytest

from roi import services
from roi.connectors.retry import RetryPolicy
from roi.errors import ConnectorError, TransientError
from roi.services.ingest import pull_source

from .conftest import cell_totals
from .test_litellm import EXPECTED, ROWS, gateway, serve_litellm  # noqa: F401  (gateway: a fixture)

NOW = datetime(2025, 12, 3, 12, tzinfo=UTC)
LOGS = "/spend/logs/v2"


def _pull(project, **options):
    settings = project.settings()
    store = services.store_for(settings)
    result = pull_source(settings, store, settings.source("gateway"), now=NOW, since=date(2025, 12, 1),
                         until=date(2025, 12, 2), **options)
    return result, store


def test_a_retry_after_above_the_limit_fails_the_pull_at_once_with_one_request(gateway, upstream):  # noqa: F811
    serve_litellm(upstream, ROWS)
    upstream.fail("GET", LOGS, 429, headers={"Retry-After": "3600"}, times=10)
    started = time.monotonic()
    result, store = _pull(gateway)  # real sleeps: nothing may wait
    took = time.monotonic() - started
    try:
        assert result.failed
        assert len(upstream.calls(LOGS)) == 1  # neither the client nor the pull tried again
        assert took < 2.0
        [error] = result.run.errors
        assert error.startswith("source 'gateway': GET ")
        assert error.endswith("HTTP 429 TOO MANY REQUESTS: the server asks to wait 3600s, more than "
                              "max_retry_after_seconds (300s); the next run tries again")
        assert store.batches("gateway") == []
    finally:
        store.close()


def test_a_short_retry_after_is_waited_and_503s_backed_off_then_the_days_land(gateway, upstream):  # noqa: F811
    serve_litellm(upstream, ROWS)
    upstream.fail("GET", LOGS, 429, headers={"Retry-After": "1"})
    upstream.fail("GET", LOGS, 503, times=2)
    slept: list[float] = []
    result, store = _pull(gateway, sleep=slept.append)
    try:
        assert not result.failed, result.run.errors
        assert slept == [1.0, 0.0, 0.0]  # the server's wait, then the source's backoff (0 in these tests)
        assert len(upstream.calls(LOGS)) == 3 + 3 + 1  # three refusals, three pages of Dec 1, one of Dec 2
        assert cell_totals(store, ["day", "tenant", "channel"]) == EXPECTED
    finally:
        store.close()


def test_503s_that_never_end_cost_the_sources_retries_once_not_once_per_pull_attempt(gateway, upstream):  # noqa: F811
    serve_litellm(upstream, ROWS)
    upstream.fail("GET", LOGS, 503, times=100)
    slept: list[float] = []
    result, store = _pull(gateway, sleep=slept.append)
    try:
        assert result.failed
        assert len(upstream.calls(LOGS)) == 6  # max_retries = 5: six requests, and the pull adds none
        assert len(slept) == 5
        [error] = result.run.errors
        assert error.endswith("HTTP 503 SERVICE UNAVAILABLE (gave up after 6 attempts)")
    finally:
        store.close()


def test_the_policy_retries_transient_errors_only_and_honours_retry_after():
    slept: list[float] = []
    policy = RetryPolicy(attempts=3, backoff=2.0, max_backoff=3.0, max_retry_after=10.0, sleep=slept.append)
    calls = []

    def flaky():
        calls.append(1)
        if len(calls) == 1:
            raise TransientError("busy", retry_after=7.0)
        if len(calls) == 2:
            raise TransientError("timeout")
        return "ok"

    assert policy.call(flaky) == "ok" and slept == [7.0, 3.0]  # asked, then exponential capped at 3

    def refused():
        calls.append(1)
        raise ConnectorError("HTTP 400")

    calls.clear()
    with pytest.raises(ConnectorError):
        policy.call(refused)
    assert len(calls) == 1

    def always():
        calls.append(1)
        raise TransientError("timeout")

    calls.clear()
    with pytest.raises(TransientError, match=r"^timeout \(gave up after 3 attempts\)$"):
        policy.call(always)
    assert len(calls) == 3
