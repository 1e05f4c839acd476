"""The litellm connector against a local server that answers like the LiteLLM proxy's spend logs."""

from __future__ import annotations

import json
import logging
import math

import pytest

from roi.config import load_config
from roi.connectors import registry
from roi.errors import ConnectorError

from .conftest import add_source, cell_totals, ingest

KEY = "sk-litellm-master-8c1f2e9d"
PRICING = """
[pricing.overrides]
"openai/gpt-4o-mini" = { input_per_mtok = 0.15, output_per_mtok = 0.60, cached_input_per_mtok = 0.075 }
"""
DIMENSIONS = """
tenant = "end_user"
channel = { field = "request_tags", prefix = "channel:" }
"""


def log_row(request_id, start, end_user, tags, spend, prompt, completion, *, status="success", metadata=None):
    return {
        "request_id": request_id, "call_type": "acompletion", "api_key": "hashed", "spend": spend,
        "prompt_tokens": prompt, "completion_tokens": completion,
        "total_tokens": (prompt if isinstance(prompt, int) else 0) + completion,
        "startTime": start, "endTime": start, "model": "gpt-4o-mini", "model_group": "gpt-4o-mini",
        "custom_llm_provider": "openai", "user": "", "end_user": end_user, "team_id": "team-1",
        "organization_id": None, "session_id": None, "status": status, "request_tags": tags,
        "metadata": metadata if metadata is not None else {"user_api_key_alias": "support-bot"},
    }


ROWS = [
    log_row("r1", "2025-12-01T10:00:00.000Z", "acme", ["channel:chat"], 0.01, 1000, 200),
    log_row("r2", "2025-12-01T11:00:00.000Z", "acme", ["channel:chat"], 0.02, 2000, 100,
            metadata=json.dumps({"additional_usage_values": {"prompt_tokens_details": {"cached_tokens": 500}}})),
    log_row("r3", "2025-12-01T12:00:00.000Z", "globex", ["channel:email"], 0.005, 300, 50),
    log_row("r4", "2025-12-01T13:00:00.000Z", "globex", ["channel:email"], 0.0, 400, 0, status="failure"),
    log_row("r5", "2025-12-01T14:00:00.000Z", "acme", ["channel:chat"], None, 1_000_000, 1_000_000),
    log_row("r6", "2025-12-01T15:00:00.000Z", "acme", [], 0.03, 10, 10),
    log_row("r9", "2025-12-01T16:00:00.000Z", "acme", ["channel:chat"], 0.01, "lots", 10),
    log_row("r7", "2025-12-01T23:59:59.000Z", "globex", ["channel:chat"], 0.04, 100, 100),
    log_row("r8", "2025-12-02T00:00:00.000Z", "acme", ["channel:chat"], 0.5, 1, 1),
]

EXPECTED = {
    ("2025-12-01", "acme", "chat"): {"requests": 3, "input_tokens": 1_003_000, "output_tokens": 1_000_300,
                                     "cached_input_tokens": 500, "token_cost": 0.78},
    ("2025-12-01", "globex", "email"): {"requests": 2, "input_tokens": 300, "output_tokens": 50,
                                       "token_cost": 0.005},
    ("2025-12-01", "acme", ""): {"requests": 1, "input_tokens": 10, "output_tokens": 10, "token_cost": 0.03},
    ("2025-12-01", "globex", "chat"): {"requests": 1, "input_tokens": 100, "output_tokens": 100, "token_cost": 0.04},
    ("2025-12-02", "acme", "chat"): {"requests": 1, "input_tokens": 1, "output_tokens": 1, "token_cost": 0.5},
}


def _within(rows, start, end):
    """The proxy's filter: startTime >= start and <= end (both inclusive), newest first."""
    def stamp(row):
        return row["startTime"][:19].replace("T", " ")
    return sorted((row for row in rows if start <= stamp(row) <= end), key=stamp, reverse=True)


def serve_litellm(upstream, rows, *, broken_page=None, paged=True):
    upstream.auth = lambda request: request.headers.get("Authorization") == f"Bearer {KEY}"

    def spend_logs_v2(request):
        page, size = int(request.args["page"]), int(request.args["page_size"])
        found = _within(rows, request.args["start_date"], request.args["end_date"])
        if broken_page == (request.args["start_date"][:10], page):
            return {"data": "internal error", "total": len(found)}
        return {"data": found[(page - 1) * size: page * size], "total": len(found), "page": page,
                "page_size": size, "total_pages": math.ceil(len(found) / size)}

    def spend_logs(request):
        assert request.args["summarize"] == "false"
        return _within(rows, request.args["start_date"], request.args["end_date"] + " 00:00:00")

    if paged:
        upstream.route("GET", "/spend/logs/v2", spend_logs_v2)
    upstream.route("GET", "/spend/logs", spend_logs)


@pytest.fixture
def gateway(project, upstream, monkeypatch):
    monkeypatch.setenv("LITELLM_KEY", KEY)
    project.config_path.write_text(project.config_path.read_text() + PRICING)
    add_source(project, "gateway", "litellm", upstream.url, 'api_key = "${LITELLM_KEY}"\npage_size = 3',
               dimensions=DIMENSIONS)
    return project


def test_pages_retries_and_rows_land_as_the_payload_implies(gateway, upstream, caplog):
    serve_litellm(upstream, ROWS)
    upstream.fail("GET", "/spend/logs/v2", 429, headers={"Retry-After": "0"})
    upstream.fail("GET", "/spend/logs/v2", 500)
    with caplog.at_level(logging.INFO):
        run, store = ingest(gateway, "gateway", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "tenant", "channel"]) == EXPECTED
    calls = upstream.calls("/spend/logs/v2")
    assert len(calls) == 2 + 3 + 1  # the 429, the 500, three pages of Dec 1, one of Dec 2
    assert [call.args["page"] for call in calls[2:]] == [["1"], ["2"], ["3"], ["1"]]
    assert calls[-1].args["start_date"] == ["2025-12-02 00:00:00"]
    assert calls[-1].args["end_date"] == ["2025-12-03 00:00:00"]
    assert run.quarantined == 1
    [reject] = store.quarantine("gateway")
    assert "prompt_tokens is not a whole number >= 0 (got 'lots')" in reject.reason
    assert KEY not in caplog.text


def test_reingesting_the_same_window_replaces_it(gateway, upstream):
    serve_litellm(upstream, ROWS)
    ingest(gateway, "gateway", "2025-12-01", "2025-12-03")
    run, store = ingest(gateway, "gateway", "2025-12-01", "2025-12-03")
    assert run.errors == [] and run.batches == 2
    assert cell_totals(store, ["day", "tenant", "channel"]) == EXPECTED


def test_an_older_proxy_without_the_paged_endpoint_is_read_unpaged(gateway, upstream):
    serve_litellm(upstream, ROWS, paged=False)
    run, store = ingest(gateway, "gateway", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "tenant", "channel"]) == EXPECTED
    assert len(upstream.calls("/spend/logs/v2")) == 1  # the 404 is learnt once
    assert [call.args["start_date"] for call in upstream.calls("/spend/logs")] == [["2025-12-01"], ["2025-12-02"]]


def test_wrong_key_fails_every_day_naming_the_source_not_the_key(gateway, upstream, monkeypatch):
    serve_litellm(upstream, ROWS)
    monkeypatch.setenv("LITELLM_KEY", "sk-wrong-key-123456")
    run, store = ingest(gateway, "gateway", "2025-12-01", "2025-12-03")
    assert run.errors  # a pull stops at its first failed day
    for error in run.errors:
        assert "source 'gateway'" in error and "HTTP 401" in error
        assert "sk-wrong-key-123456" not in error
    assert cell_totals(store, ["day"]) == {}
    settings = load_config(gateway.config_path)
    connector = registry.create(settings.source("gateway"), settings.base_dir)
    with pytest.raises(ConnectorError, match="credentials were refused") as caught:
        connector.check()
    assert "sk-wrong-key-123456" not in str(caught.value)
    assert "sk-wrong-key-123456" not in repr(connector.options)


def test_a_malformed_page_fails_its_day_and_stores_nothing_of_it(gateway, upstream):
    serve_litellm(upstream, ROWS, broken_page=("2025-12-01", 2))
    run, store = ingest(gateway, "gateway", "2025-12-01", "2025-12-03")
    assert len(run.errors) == 1 and "page 2" in run.errors[0] and "no data list" in run.errors[0]
    assert ("2025-12-01",) not in cell_totals(store, ["day"])
    assert "day:2025-12-01" not in [batch.batch_key for batch in store.batches("gateway")]
    assert store.quarantine("gateway") == []  # not even the rejects of the pages read before


def test_an_empty_range_stores_empty_days(gateway, upstream):
    serve_litellm(upstream, ROWS)
    run, store = ingest(gateway, "gateway", "2025-11-01", "2025-11-03")
    assert run.errors == [] and run.batches == 2 and run.stored == 0
    assert cell_totals(store, ["day"]) == {}


def test_pages_continue_while_full_when_the_proxy_gives_no_page_count(gateway, upstream):
    serve_litellm(upstream, ROWS)
    handler = upstream.routes[("GET", "/spend/logs/v2")]
    upstream.route("GET", "/spend/logs/v2", lambda request: {"data": handler(request)["data"]})
    run, store = ingest(gateway, "gateway", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "tenant", "channel"]) == EXPECTED
