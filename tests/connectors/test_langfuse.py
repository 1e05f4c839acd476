"""The langfuse connector against a local server that answers like Langfuse's v2 metrics and observations."""

from __future__ import annotations

import base64
import json
from collections import defaultdict

import pytest

from .conftest import add_source, cell_totals, ingest

PUBLIC, SECRET = "pk-lf-1234abcd", "sk-lf-9f8e7d6c5b4a"
PRICING = """
[pricing.overrides]
"anthropic/claude-3-5-sonnet" = { input_per_mtok = 3.0, output_per_mtok = 15.0, cached_input_per_mtok = 0.3 }
"""


def observation(obs_id, start, kind, model, user, usage, cost, environment="production"):
    return {"id": obs_id, "traceId": f"tr_{obs_id}", "type": kind, "startTime": start, "userId": user,
            "environment": environment, "providedModelName": model, "tags": ["support-bot"], "metadata": {},
            "usageDetails": usage, "costDetails": {"total": cost} if cost is not None else {}, "totalCost": cost}


OBSERVATIONS = [
    observation("o1", "2025-12-01T10:00:00.000Z", "GENERATION", "gpt-4o", "cust_42",
                {"input": 1200, "input_cached_tokens": 800, "output": 350, "total": 2350}, 0.0075),
    observation("o2", "2025-12-01T11:00:00.000Z", "GENERATION", "gpt-4o", "cust_42",
                {"input": "100", "output": "50", "output_reasoning_tokens": 25}, "0.001"),
    observation("o3", "2025-12-01T12:00:00.000Z", "SPAN", None, "cust_42", {}, None),
    observation("o4", "2025-12-01T13:00:00.000Z", "GENERATION", "claude-3-5-sonnet", "cust_7",
                {"input": 10, "cache_read_input_tokens": 90, "cache_creation_input_tokens": 5, "output": 20}, None),
    observation("o5", "2025-12-01T14:00:00.000Z", "EMBEDDING", "text-embedding-3-small", "cust_42",
                {"input": 500}, 0.00001),
    observation("o6", "2025-12-02T09:00:00.000Z", "GENERATION", "gpt-4o", "cust_7",
                {"input": 1000, "output": 100}, 0.005),
]
MALFORMED = observation("o7", "2025-12-01T15:00:00.000Z", "GENERATION", "gpt-4o", "cust_42", {"input": -5}, 0.1)


def _sum_keys(usage: dict, word: str) -> float:
    return sum(float(value) for key, value in usage.items() if word in key.lower())


def serve_langfuse(upstream, observations, *, broken_page=None):
    expected = "Basic " + base64.b64encode(f"{PUBLIC}:{SECRET}".encode()).decode()
    upstream.auth = lambda request: request.headers.get("Authorization") == expected

    def metrics(request):
        query = json.loads(request.args["query"])
        assert query["view"] == "observations" and query["timeDimension"] == {"granularity": "day"}
        fields = [item["field"] for item in query["dimensions"]]
        types = query["filters"][0]["value"]
        groups: dict[tuple, dict] = defaultdict(lambda: {"count": 0, "input": 0.0, "output": 0.0, "cost": None})
        for item in observations:
            if not query["fromTimestamp"] <= item["startTime"] <= query["toTimestamp"] or item["type"] not in types:
                continue
            group = groups[(*[item.get(field) for field in fields], item["startTime"][:10])]
            group["count"] += 1
            group["input"] += _sum_keys(item["usageDetails"], "input")
            group["output"] += _sum_keys(item["usageDetails"], "output")
            if item["totalCost"] is not None:
                group["cost"] = (group["cost"] or 0.0) + float(item["totalCost"])
        rows = []
        for key, group in groups.items():
            row = dict(zip(fields, key[:-1], strict=True))
            row.update(time_dimension=key[-1], count_count=str(group["count"]),
                       sum_inputTokens=str(int(group["input"])), sum_outputTokens=str(int(group["output"])),
                       sum_totalCost=None if group["cost"] is None else str(group["cost"]))
            rows.append(row)
        return {"data": rows[: query["config"]["row_limit"]]}

    def listing(request):
        found = [item for item in observations
                 if request.args["fromStartTime"] <= item["startTime"] < request.args["toStartTime"]]
        size = int(request.args["limit"])
        offset = int(base64.b64decode(request.args["cursor"]).decode()) if "cursor" in request.args else 0
        if broken_page is not None and offset // size + 1 == broken_page:
            return {"message": "Internal Server Error"}
        meta = {}
        if offset + size < len(found):
            meta["cursor"] = base64.b64encode(str(offset + size).encode()).decode()
        return {"data": found[offset:offset + size], "meta": meta}

    upstream.route("GET", "/api/public/v2/metrics", metrics)
    upstream.route("GET", "/api/public/v2/observations", listing)
    upstream.route("GET", "/api/public/projects", lambda request: {"data": [{"id": "p1", "name": "support"}]})


@pytest.fixture
def traces(project, upstream, monkeypatch):
    monkeypatch.setenv("LANGFUSE_SECRET", SECRET)
    project.config_path.write_text(project.config_path.read_text() + PRICING)

    def configure(options: str, dimensions: str):
        add_source(project, "traces", "langfuse", upstream.url,
                   f'public_key = "{PUBLIC}"\nsecret_key = "${{LANGFUSE_SECRET}}"\n{options}', dimensions=dimensions)
        return project

    return configure


def test_observations_page_by_cursor_and_add_cached_tokens_back(traces, upstream):
    project = traces('mode = "observations"\npage_size = 2', """
tenant = { field = "userId", lookup = { cust_42 = "acme", cust_7 = "globex" } }
provider = { value = "anthropic" }
""")
    serve_langfuse(upstream, OBSERVATIONS + [MALFORMED])
    upstream.fail("GET", "/api/public/v2/observations", 429, headers={"Retry-After": "0"})
    upstream.fail("GET", "/api/public/v2/observations", 500)
    run, store = ingest(project, "traces", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "tenant", "model"]) == {
        ("2025-12-01", "acme", "gpt-4o"): {"requests": 2, "input_tokens": 2100, "cached_input_tokens": 800,
                                          "output_tokens": 425, "token_cost": 0.0085},
        ("2025-12-01", "globex", "claude-3-5-sonnet"): {"requests": 1, "input_tokens": 105,
                                                       "cached_input_tokens": 90, "output_tokens": 20,
                                                       "token_cost": 0.000372},
        ("2025-12-01", "acme", "text-embedding-3-small"): {"requests": 1, "input_tokens": 500, "token_cost": 1e-05},
        ("2025-12-02", "globex", "gpt-4o"): {"requests": 1, "input_tokens": 1000, "output_tokens": 100,
                                            "token_cost": 0.005},
    }
    calls = upstream.calls("/api/public/v2/observations")
    assert len(calls) == 2 + 3 + 1  # 429, 500, three pages of Dec 1 (six observations by two), one of Dec 2
    assert calls[2].args["fromStartTime"] == ["2025-12-01T00:00:00.000Z"]
    assert calls[2].args["toStartTime"] == ["2025-12-02T00:00:00.000Z"]
    [reject] = store.quarantine("traces")
    assert "usageDetails.input is not a whole number >= 0 (got -5)" in reject.reason


def test_metrics_by_day_split_when_the_row_limit_is_reached(traces, upstream):
    project = traces("row_limit = 2", """
channel = { field = "environment", lookup = { production = "chat" } }
provider = { value = "anthropic" }
""")
    serve_langfuse(upstream, OBSERVATIONS)
    run, store = ingest(project, "traces", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "channel", "model"]) == {
        ("2025-12-01", "chat", "gpt-4o"): {"requests": 2, "input_tokens": 2100, "output_tokens": 425,
                                          "token_cost": 0.0085},
        # the metrics API cannot tell cached tokens apart: priced as uncached input
        ("2025-12-01", "chat", "claude-3-5-sonnet"): {"requests": 1, "input_tokens": 105, "output_tokens": 20,
                                                     "token_cost": 0.000615},
        ("2025-12-01", "chat", "text-embedding-3-small"): {"requests": 1, "input_tokens": 500, "token_cost": 1e-05},
        ("2025-12-02", "chat", "gpt-4o"): {"requests": 1, "input_tokens": 1000, "output_tokens": 100,
                                          "token_cost": 0.005},
    }
    queries = [json.loads(call.args["query"][0]) for call in upstream.calls("/api/public/v2/metrics")]
    assert queries[0]["fromTimestamp"] == "2025-12-01T00:00:00.000Z"
    assert queries[0]["toTimestamp"] == "2025-12-01T23:59:59.999Z"
    assert len(queries) > 2  # Dec 1 was split
    assert [item["field"] for item in queries[0]["dimensions"]] == ["environment", "providedModelName", "type"]


def test_metrics_mode_refuses_fields_it_cannot_group_by(traces, project):
    traces("", 'tenant = "userId"')
    from roi.errors import ConfigError

    with pytest.raises(ConfigError, match="'userId' cannot be grouped by the metrics API"):
        project.settings()


def test_wrong_keys_name_the_source_not_the_secret(traces, upstream, monkeypatch):
    project = traces('mode = "observations"', "")
    serve_langfuse(upstream, OBSERVATIONS)
    monkeypatch.setenv("LANGFUSE_SECRET", "sk-lf-wrong-000000")
    run, store = ingest(project, "traces", "2025-12-01", "2025-12-03")
    assert run.errors and all("source 'traces'" in error and "HTTP 401" in error for error in run.errors)
    assert not any("sk-lf-wrong-000000" in error for error in run.errors)
    assert cell_totals(store, ["day"]) == {}


def test_a_malformed_page_stores_nothing_of_its_day(traces, upstream):
    project = traces('mode = "observations"\npage_size = 2', "")
    serve_langfuse(upstream, OBSERVATIONS, broken_page=2)
    run, store = ingest(project, "traces", "2025-12-01", "2025-12-03")
    assert run.errors and "page 2" in run.errors[0] and "no data list" in run.errors[0]
    assert ("2025-12-01",) not in cell_totals(store, ["day"])


def test_an_empty_range(traces, upstream):
    project = traces("", "")
    serve_langfuse(upstream, OBSERVATIONS)
    run, store = ingest(project, "traces", "2025-11-01", "2025-11-03")
    assert run.errors == [] and run.batches == 2
    assert cell_totals(store, ["day"]) == {}
