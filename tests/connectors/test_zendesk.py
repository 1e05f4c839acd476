"""The zendesk connector against a local server that answers like the incremental ticket export."""

from __future__ import annotations

import base64
from datetime import UTC, datetime

import pytest

from .conftest import add_source, cell_totals, ingest

TOKEN = "zd-api-token-5f3a9c0e"
EXPORT = "/api/v2/incremental/tickets/cursor.json"
OPTIONS = """
email = "agent@example.com"
api_token = "${ZENDESK_TOKEN}"
page_size = 3

[sources.escalated]
tags = ["ai_handoff"]
assigned = true
ignore_assignees = ["900"]

[sources.abandoned]
fields = { "360001" = "abandoned" }
"""
DIMENSIONS = """
tenant = { field = "organization_id", lookup = { "501" = "acme", "502" = "globex" }, default = "other" }
channel = { field = "via.channel", lookup = { web = "chat", email = "email" } }
"""


def ticket(ticket_id, created, updated, org, channel, tags, *, assignee=None, status="solved", fields=None,
           reopens=0, replies=0):
    return {
        "ticket": {
            "id": ticket_id, "created_at": created, "updated_at": updated, "status": status,
            "via": {"channel": channel}, "tags": tags, "group_id": 1, "assignee_id": assignee,
            "organization_id": org, "brand_id": 1, "satisfaction_rating": {"score": "unoffered"},
            "custom_fields": [{"id": 360001, "value": (fields or {}).get(360001)}, {"id": 360002, "value": None}],
        },
        "metric_set": {"ticket_id": ticket_id, "reopens": reopens, "replies": replies,
                       "solved_at": updated, "full_resolution_time_in_minutes": {"calendar": 30, "business": 20}},
    }


# in stream order (by update); ticket 2 appears twice, its later state wins
STREAM = [
    ticket(10, "2025-11-30T22:00:00Z", "2025-12-01T07:00:00Z", 501, "web", ["ai_resolved"]),
    ticket(2, "2025-12-01T09:00:00Z", "2025-12-01T09:05:00Z", 501, "web", [], status="open"),
    ticket(1, "2025-12-01T08:00:00Z", "2025-12-01T09:10:00Z", 501, "web", ["ai_resolved"], assignee=900),
    ticket(3, "2025-12-01T10:00:00Z", "2025-12-01T10:30:00Z", 502, "email", ["ai_handoff"]),
    ticket(4, "2025-12-01T11:00:00Z", "2025-12-01T11:30:00Z", 502, "email", [], assignee=1234, replies=3),
    ticket(5, "2025-12-01T12:00:00Z", "2025-12-01T12:30:00Z", 501, "web", [], fields={360001: "abandoned"}),
    ticket(6, "2025-12-01T13:00:00Z", "2025-12-01T13:30:00Z", 501, "web", ["ai_resolved", "ai_handoff"]),
    ticket(7, "2025-12-01T14:00:00Z", "2025-12-01T14:30:00Z", 503, "web", [], status="open"),
    ticket(9, "2025-12-01T15:00:00Z", "2025-12-01T15:30:00Z", 501, "web", ["ai_resolved"], status="deleted"),
    ticket(11, "not a date", "2025-12-01T16:00:00Z", 501, "web", ["ai_resolved"]),
    ticket(8, "2025-12-02T09:00:00Z", "2025-12-02T09:30:00Z", 503, "web", ["ai_resolved"]),
    ticket(2, "2025-12-01T09:00:00Z", "2025-12-03T08:00:00Z", 501, "web", ["ai_resolved"], assignee=900, reopens=1),
]

EXPECTED = {
    # ticket 6 has both tags: resolved comes first in the default precedence
    ("2025-12-01", "acme", "chat"): {"resolved": 3, "reopened": 1, "abandoned": 1},
    ("2025-12-01", "globex", "email"): {"escalated": 2},
    ("2025-12-02", "other", "chat"): {"resolved": 1},
}


def serve_zendesk(upstream, stream, *, broken_page=None):
    expected = "Basic " + base64.b64encode(f"agent@example.com/token:{TOKEN}".encode()).decode()
    upstream.auth = lambda request: request.headers.get("Authorization") == expected

    state = {"since": ""}

    def export(request):
        assert request.args["include"] == "metric_sets"
        size = int(request.args.get("per_page", 1000))
        if "cursor" in request.args:
            offset = int(request.args["cursor"].removeprefix("c"))
        else:
            offset = 0
            since = datetime.fromtimestamp(int(request.args["start_time"]), UTC)
            state["since"] = since.strftime("%Y-%m-%dT%H:%M:%SZ")
        items = [item for item in stream if item["ticket"]["updated_at"] >= state["since"]]
        page = items[offset:offset + size]
        if broken_page is not None and offset // size + 1 == broken_page:
            return {"tickets": "unavailable", "end_of_stream": False}
        end = offset + size >= len(items)
        return {"tickets": [item["ticket"] for item in page], "metric_sets": [item["metric_set"] for item in page],
                "after_cursor": None if end else f"c{offset + size}", "before_cursor": None,
                "after_url": None, "end_of_stream": end}

    upstream.route("GET", EXPORT, export)
    upstream.route("GET", "/api/v2/users/me.json", lambda request: {"user": {"id": 42, "name": "Agent"}})


@pytest.fixture
def helpdesk(project, upstream, monkeypatch):
    monkeypatch.setenv("ZENDESK_TOKEN", TOKEN)
    add_source(project, "helpdesk", "zendesk", upstream.url, OPTIONS, dimensions=DIMENSIONS)
    return project


def test_export_pages_rules_and_retries_land_as_the_tickets_imply(helpdesk, upstream):
    serve_zendesk(upstream, STREAM)
    upstream.fail("GET", EXPORT, 429, headers={"Retry-After": "0"}, body='{"error":"APIRateLimitExceeded"}')
    upstream.fail("GET", EXPORT, 500)
    run, store = ingest(helpdesk, "helpdesk", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "tenant", "channel"]) == EXPECTED
    calls = upstream.calls(EXPORT)
    assert len(calls) == 2 + 4  # the 429, the 500, then four pages of three tickets, read once for both days
    assert calls[0].args["start_time"] == [str(int(datetime.fromisoformat("2025-12-01T00:00:00+00:00").timestamp()))]
    assert [call.args.get("cursor") for call in calls[2:]] == [None, ["c3"], ["c6"], ["c9"]]
    [reject] = store.quarantine("helpdesk")
    assert "ticket 11: created_at is not an ISO 8601 timestamp" in reject.reason


def test_reopens_can_count_for_any_ticket_and_outcomes_can_require_a_status(project, upstream, monkeypatch):
    monkeypatch.setenv("ZENDESK_TOKEN", TOKEN)
    options = OPTIONS.replace("page_size = 3", 'page_size = 3\nreopens = "any"\nprecedence = ["resolved", "escalated"]')
    options += '\n[sources.resolved]\ntags = ["ai_resolved"]\nstatuses = ["solved", "closed"]\n'
    add_source(project, "helpdesk", "zendesk", upstream.url, options, dimensions=DIMENSIONS)
    stream = STREAM + [ticket(12, "2025-12-01T17:00:00Z", "2025-12-03T09:00:00Z", 502, "email", [], reopens=2,
                              status="open")]
    serve_zendesk(upstream, stream)
    run, store = ingest(project, "helpdesk", "2025-12-01", "2025-12-02")
    assert run.errors == []
    # ticket 5 counts nothing (abandoned is left out of precedence), ticket 12 only its reopen
    assert cell_totals(store, ["day", "tenant", "channel"]) == {
        ("2025-12-01", "acme", "chat"): {"resolved": 3, "reopened": 1},
        ("2025-12-01", "globex", "email"): {"escalated": 2, "reopened": 1},
    }


def test_wrong_token_names_the_source_not_the_token(helpdesk, upstream, monkeypatch):
    serve_zendesk(upstream, STREAM)
    monkeypatch.setenv("ZENDESK_TOKEN", "zd-wrong-token-000")
    run, store = ingest(helpdesk, "helpdesk", "2025-12-01", "2025-12-03")
    assert run.errors and all("source 'helpdesk'" in error and "HTTP 401" in error for error in run.errors)
    assert not any("zd-wrong-token-000" in error for error in run.errors)
    assert cell_totals(store, ["day"]) == {}


def test_a_malformed_page_fails_the_export_and_stores_nothing(helpdesk, upstream):
    serve_zendesk(upstream, STREAM, broken_page=2)
    run, store = ingest(helpdesk, "helpdesk", "2025-12-01", "2025-12-03")
    assert run.errors and "page 2" in run.errors[0] and "no tickets list" in run.errors[0]
    assert cell_totals(store, ["day"]) == {}
    assert store.batches("helpdesk") == []


def test_a_range_without_tickets_created_in_it_is_empty(helpdesk, upstream):
    serve_zendesk(upstream, STREAM)
    run, store = ingest(helpdesk, "helpdesk", "2025-12-05", "2025-12-07")
    assert run.errors == [] and run.batches == 2
    assert cell_totals(store, ["day"]) == {}


def test_default_rules_tags_then_a_human_assignee(project, upstream, monkeypatch):
    monkeypatch.setenv("ZENDESK_TOKEN", TOKEN)
    add_source(project, "helpdesk", "zendesk", upstream.url,
               'email = "agent@example.com"\napi_token = "${ZENDESK_TOKEN}"')
    serve_zendesk(upstream, [
        ticket(1, "2025-12-01T08:00:00Z", "2025-12-01T09:00:00Z", 501, "web", ["ai_resolved"], assignee=900),
        ticket(2, "2025-12-01T08:00:00Z", "2025-12-01T09:00:00Z", 501, "web", [], assignee=1234),
        ticket(3, "2025-12-01T08:00:00Z", "2025-12-01T09:00:00Z", 501, "web", ["ai_handoff"]),
        ticket(4, "2025-12-01T08:00:00Z", "2025-12-01T09:00:00Z", 501, "web", [], status="new"),
        ticket(5, "2025-12-01T08:00:00Z", "2025-12-01T09:00:00Z", 501, "email", ["ai_handoff"], reopens=1),
    ])
    run, store = ingest(project, "helpdesk", "2025-12-01", "2025-12-02")
    assert run.errors == []
    # the default mapping only fills channel; a reopen of a ticket that is not resolved is not a reversal
    assert cell_totals(store, ["channel"]) == {("web",): {"resolved": 1, "escalated": 2},
                                               ("email",): {"escalated": 1}}
