"""The otlp connector on real OTLP/JSON Lines trace files."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

from roi import services
from roi.services import batches

from .conftest import cell_totals

PRICING = """
[pricing.overrides]
"openai/gpt-4o-mini-2024-07-18" = { input_per_mtok = 0.15, output_per_mtok = 0.60, cached_input_per_mtok = 0.075 }
"openai/gpt-4o-mini" = { input_per_mtok = 0.15, output_per_mtok = 0.60 }
"anthropic/claude-3-5-sonnet" = { input_per_mtok = 3.0, output_per_mtok = 15.0, cached_input_per_mtok = 0.3 }

[[sources]]
name = "otel"
type = "otlp"
path = "traces/*.jsonl"
outcome_attribute = "app.outcome"

[sources.dimensions]
tenant = "resource.tenant.id"
channel = { value = "chat" }
"""


def nanos(text: str, as_number: bool = False):
    value = int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp()) * 10**9 + 120_000_000
    return value if as_number else str(value)


def attr(key, value):
    if isinstance(value, bool):
        return {"key": key, "value": {"boolValue": value}}
    if isinstance(value, int):
        return {"key": key, "value": {"intValue": str(value)}}
    if isinstance(value, float):
        return {"key": key, "value": {"doubleValue": value}}
    return {"key": key, "value": {"stringValue": value}}


def span(span_id, start, attributes, *, trace_id="5b8efff798038103d269b633813fc60c"):
    return {"traceId": trace_id, "spanId": span_id, "name": "span", "kind": 3, "startTimeUnixNano": start,
            "endTimeUnixNano": start, "attributes": attributes, "status": {}}


def request(tenant, spans):
    return {"resourceSpans": [{
        "resource": {"attributes": [attr("service.name", "support-bot"), attr("tenant.id", tenant)]},
        "scopeSpans": [{"scope": {"name": "opentelemetry.instrumentation.openai"}, "spans": spans}],
    }]}


B64_TRACE = base64.b64encode(bytes.fromhex("0af7651916cd43dd8448eb211c80319c")).decode()
B64_SPAN = base64.b64encode(bytes.fromhex("b7ad6b7169203331")).decode()
LINES = [
    json.dumps(request("acme", [
        span("eee19b7ec3c1b174", nanos("2025-12-01T10:00:00"), [
            attr("gen_ai.operation.name", "chat"), attr("gen_ai.provider.name", "openai"),
            attr("gen_ai.request.model", "gpt-4o-mini"), attr("gen_ai.response.model", "gpt-4o-mini-2024-07-18"),
            attr("gen_ai.usage.input_tokens", 1200), {"key": "gen_ai.usage.output_tokens", "value": {"intValue": 300}},
            attr("gen_ai.usage.cache_read.input_tokens", 200)]),
        span("eee19b7ec3c1b175", nanos("2025-12-01T10:00:05"), [
            attr("gen_ai.operation.name", "invoke_agent"), attr("gen_ai.usage.input_tokens", 1200)]),
        span("eee19b7ec3c1b176", nanos("2025-12-01T10:00:06"), [attr("gen_ai.operation.name", "execute_tool")]),
        span(B64_SPAN, nanos("2025-12-01T11:00:00", as_number=True), [
            attr("gen_ai.system", "openai"), attr("gen_ai.request.model", "gpt-4o-mini"),
            attr("gen_ai.usage.prompt_tokens", 100), attr("gen_ai.usage.completion_tokens", 50)],
             trace_id=B64_TRACE),
    ])),
    "this line is not JSON",
    json.dumps(request("globex", [
        span("aaa19b7ec3c1b174", nanos("2025-12-02T09:00:00"), [
            attr("gen_ai.operation.name", "chat"), attr("gen_ai.system", "anthropic"),
            attr("gen_ai.request.model", "claude-3-5-sonnet"), attr("gen_ai.usage.input_tokens", 10),
            attr("gen_ai.usage.cache_read.input_tokens", 90), attr("gen_ai.usage.output_tokens", 20)]),
        span("not-an-id", nanos("2025-12-02T09:01:00"), [
            attr("gen_ai.operation.name", "chat"), attr("gen_ai.usage.input_tokens", 5)]),
        span("aaa19b7ec3c1b176", nanos("2025-12-02T09:02:00"), [attr("app.outcome", "resolved")]),
    ])),
    "",
]


def _exported(project):
    """The config with the otel source, and its export of LINES: (settings, store)."""
    project.config_path.write_text(project.config_path.read_text() + PRICING)
    (project.root / "traces").mkdir()
    (project.root / "traces" / "export.jsonl").write_text("\n".join(LINES) + "\n")
    settings = project.settings()
    return settings, services.store_for(settings)


def test_genai_spans_become_requests_with_deprecated_names_and_both_id_forms(project):
    settings, store = _exported(project)
    run = batches.ingest_source(settings, store, settings.source("otel"))
    assert run.errors == [] and run.batches == 1
    assert cell_totals(store, ["day", "tenant", "provider", "model"]) == {
        ("2025-12-01", "acme", "openai", "gpt-4o-mini-2024-07-18"): {
            "requests": 1, "input_tokens": 1200, "cached_input_tokens": 200, "output_tokens": 300,
            "token_cost": 0.000345},
        ("2025-12-01", "acme", "openai", "gpt-4o-mini"): {"requests": 1, "input_tokens": 100, "output_tokens": 50,
                                                          "token_cost": 0.000045},
        # Anthropic-style: cache reads beside input_tokens are added back
        ("2025-12-02", "globex", "anthropic", "claude-3-5-sonnet"): {
            "requests": 1, "input_tokens": 100, "cached_input_tokens": 90, "output_tokens": 20,
            "token_cost": 0.000357},
        ("2025-12-02", "globex", "", ""): {"resolved": 1},
    }
    rejects = sorted((reject.line, reject.reason) for reject in store.quarantine("otel"))
    assert rejects[0][0] == 2 and "not an OTLP/JSON export request" in rejects[0][1]
    assert rejects[1][0] == 3 and "span 2: spanId 'not-an-id' is neither 16 hex digits" in rejects[1][1]
    again = batches.ingest_source(settings, store, settings.source("otel"))
    assert again.unchanged == 1
    assert cell_totals(store, ["day"])[("2025-12-01",)]["requests"] == 2


def test_a_changed_mapping_reads_an_unchanged_file_again(project):
    """The connector's options shape the cells: changing one is a new batch, not an unchanged file."""
    settings, store = _exported(project)
    batches.ingest_source(settings, store, settings.source("otel"))
    project.config_path.write_text(project.config_path.read_text().replace('{ value = "chat" }',
                                                                           '{ value = "voice" }'))
    settings = project.settings()
    again = batches.ingest_source(settings, store, settings.source("otel"))
    assert (again.unchanged, again.batches) == (0, 1)
    assert set(cell_totals(store, ["channel"])) == {("voice",)}
