"""The openai_usage connector against a local server that answers like OpenAI's usage and costs APIs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from .conftest import add_source, cell_totals, ingest

KEY = "sk-admin-0a1b2c3d4e5f"
USAGE, COSTS = "/v1/organization/usage/completions", "/v1/organization/costs"
PRICING = """
[pricing.overrides]
"openai/gpt-4o-mini-2024-07-18" = { input_per_mtok = 0.15, output_per_mtok = 0.60, cached_input_per_mtok = 0.075 }
"openai/gpt-4o-2024-08-06" = { input_per_mtok = 2.5, output_per_mtok = 10.0, cached_input_per_mtok = 1.25 }
"""
DIMENSIONS = 'tenant = { field = "project_id", lookup = { proj_abc = "acme" }, default = "other" }'
MINI, FOUR = "gpt-4o-mini-2024-07-18", "gpt-4o-2024-08-06"


def usage(project, model, input_tokens, cached, output, requests):
    return {"object": "organization.usage.completions.result", "input_tokens": input_tokens,
            "input_cached_tokens": cached, "output_tokens": output, "num_model_requests": requests,
            "project_id": project, "user_id": None, "api_key_id": None, "model": model, "batch": None,
            "service_tier": None}


def cost(project, line_item, value):
    return {"object": "organization.costs.result", "amount": {"value": value, "currency": "usd"},
            "line_item": line_item, "project_id": project, "quantity": None, "quantity_unit": None}


USAGE_BY_DAY = {
    "2025-12-01": [usage("proj_abc", MINI, 5000, 1800, 1000, 5), usage("proj_abc", FOUR, 2000, 0, 500, 2),
                   usage("proj_def", MINI, 1_000_000, 0, 0, 10), usage("proj_abc", MINI, "x", 0, 1, 1)],
    "2025-12-02": [usage("proj_abc", MINI, 100, 0, 10, 1)],
}
COSTS_BY_DAY = {
    "2025-12-01": [cost("proj_abc", f"{MINI}, input", 0.0009), cost("proj_abc", f"{MINI}, output", 0.0006),
                   cost("proj_abc", f"{FOUR}, input", 0.005), cost("proj_def", f"{MINI}, input", 0.15),
                   cost("proj_abc", "web search tool calls", 0.01)],
    "2025-12-02": [cost("proj_abc", f"{MINI}, output", 0.02)],
}


def serve_openai(upstream, *, per_page=2, broken=None):
    upstream.auth = lambda request: request.headers.get("Authorization") == f"Bearer {KEY}"

    def answer(by_day, kind):
        def handler(request):
            start = datetime.fromtimestamp(int(request.args["start_time"]), UTC)
            end = start + timedelta(days=1)
            if "end_time" in request.args:  # optional in the API; the connector's day reads always send it
                end = datetime.fromtimestamp(int(request.args["end_time"]), UTC)
            assert request.args["bucket_width"] == "1d" and end - start == timedelta(days=1)
            results = by_day.get(start.date().isoformat(), [])
            page = int(request.args.get("page", "page_0").removeprefix("page_"))
            if broken == (kind, start.date().isoformat(), page):
                return {"object": "page", "data": None, "has_more": False}
            chunk = results[page * per_page:(page + 1) * per_page]
            more = (page + 1) * per_page < len(results)
            bucket = {"object": "bucket", "start_time": int(start.timestamp()), "end_time": int(end.timestamp()),
                      "results": chunk}
            return {"object": "page", "data": [bucket], "has_more": more,
                    "next_page": f"page_{page + 1}" if more else None}
        return handler

    upstream.route("GET", USAGE, answer(USAGE_BY_DAY, "usage"))
    upstream.route("GET", COSTS, answer(COSTS_BY_DAY, "costs"))


@pytest.fixture
def org(project, upstream, monkeypatch):
    monkeypatch.setenv("OPENAI_ADMIN_KEY", KEY)
    project.config_path.write_text(project.config_path.read_text() + PRICING)

    def configure(options: str = ""):
        add_source(project, "openai", "openai_usage", upstream.url,
                   f'admin_key = "${{OPENAI_ADMIN_KEY}}"\n{options}', dimensions=DIMENSIONS)
        return project

    return configure


def test_billed_costs_and_usage_tokens_count_once(org, upstream):
    project = org()
    serve_openai(upstream)
    upstream.fail("GET", USAGE, 429, headers={"Retry-After": "0"})
    upstream.fail("GET", COSTS, 500)
    run, store = ingest(project, "openai", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "tenant", "model"]) == {
        ("2025-12-01", "acme", MINI): {"requests": 5, "input_tokens": 5000, "cached_input_tokens": 1800,
                                      "output_tokens": 1000, "token_cost": 0.0015},
        ("2025-12-01", "acme", FOUR): {"requests": 2, "input_tokens": 2000, "output_tokens": 500,
                                      "token_cost": 0.005},
        ("2025-12-01", "other", MINI): {"requests": 10, "input_tokens": 1_000_000, "token_cost": 0.15},
        ("2025-12-01", "acme", "web search tool calls"): {"token_cost": 0.01},
        ("2025-12-02", "acme", MINI): {"requests": 1, "input_tokens": 100, "output_tokens": 10, "token_cost": 0.02},
    }
    assert cell_totals(store, ["provider"]) .keys() == {("openai",)}
    usage_calls = upstream.calls(USAGE)
    assert len(usage_calls) == 1 + 2 + 1  # the 429, two pages of Dec 1, one of Dec 2
    assert usage_calls[1].args["group_by"] == ["project_id", "model"]
    assert [call.args.get("page") for call in usage_calls[1:]] == [None, ["page_1"], None]
    assert len(upstream.calls(COSTS)) == 1 + 3 + 1
    [reject] = store.quarantine("openai")
    assert "input_tokens is not a whole number >= 0 (got 'x')" in reject.reason
    assert all("cost = billed" in batch.label for batch in store.batches("openai"))


def test_priced_mode_prices_tokens_and_never_reads_costs(org, upstream):
    project = org('cost = "priced"')
    serve_openai(upstream)
    run, store = ingest(project, "openai", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert {key: value["token_cost"] for key, value in cell_totals(store, ["day", "tenant", "model"]).items()} == {
        ("2025-12-01", "acme", MINI): 0.001215,
        ("2025-12-01", "acme", FOUR): 0.01,
        ("2025-12-01", "other", MINI): 0.15,
        ("2025-12-02", "acme", MINI): 0.000021,
    }
    assert upstream.calls(COSTS) == []


def test_wrong_key_names_the_source_not_the_key(org, upstream, monkeypatch):
    project = org()
    serve_openai(upstream)
    monkeypatch.setenv("OPENAI_ADMIN_KEY", "sk-admin-wrong-999")
    run, store = ingest(project, "openai", "2025-12-01", "2025-12-03")
    assert run.errors and all("source 'openai'" in error and "HTTP 401" in error for error in run.errors)
    assert not any("sk-admin-wrong-999" in error for error in run.errors)
    assert cell_totals(store, ["day"]) == {}


def test_a_malformed_costs_page_stores_nothing_of_its_day(org, upstream):
    project = org()
    serve_openai(upstream, broken=("costs", "2025-12-01", 1))
    run, store = ingest(project, "openai", "2025-12-01", "2025-12-03")
    assert run.errors and "page 2" in run.errors[0] and "no data list" in run.errors[0]
    # the usage of that day was read, but is not stored without its costs
    assert ("2025-12-01",) not in cell_totals(store, ["day"])


def test_an_empty_range(org, upstream):
    project = org()
    serve_openai(upstream)
    run, store = ingest(project, "openai", "2025-11-01", "2025-11-03")
    assert run.errors == [] and run.batches == 2
    assert cell_totals(store, ["day"]) == {}


def test_without_a_costs_endpoint_billed_mode_prices_the_tokens(org, upstream):
    project = org()
    serve_openai(upstream)
    del upstream.routes[("GET", COSTS)]
    run, store = ingest(project, "openai", "2025-12-01", "2025-12-02")
    assert run.errors == []
    assert cell_totals(store, ["tenant", "model"])[("acme", MINI)]["token_cost"] == 0.001215
