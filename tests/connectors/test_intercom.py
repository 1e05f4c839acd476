"""The intercom connector against a local server that answers like POST /conversations/search."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from .conftest import add_source, cell_totals, ingest

TOKEN = "dG9rOmludGVyY29tLXNlY3JldC0xMjM0"
OPTIONS = """
access_token = "${INTERCOM_TOKEN}"
api_version = "2.14"
per_page = 4
{extra}
"""
DIMENSIONS = """
tenant = "custom_attributes.tenant"
channel = { field = "source.type", lookup = { conversation = "chat", email = "email" } }
"""


def unix(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp())


def conversation(conversation_id, created, tenant, source, state, *, ai=True, reopens=0):
    return {
        "type": "conversation", "id": conversation_id, "created_at": unix(created), "updated_at": unix(created) + 60,
        "state": "closed", "admin_assignee_id": None, "team_assignee_id": None,
        "source": {"type": source, "delivered_as": "customer_initiated"},
        "tags": {"type": "tag.list", "tags": [{"type": "tag", "name": "billing"}]},
        "custom_attributes": {"tenant": tenant}, "ai_agent_participated": ai,
        "ai_agent": {"source_type": "workflow", "resolution_state": state, "rating": None} if ai else None,
        "statistics": {"count_reopens": reopens, "handling_time": 120},
    }


CONVERSATIONS = [
    conversation("c1", "2025-12-01T08:00:00", "acme", "conversation", "confirmed_resolution"),
    conversation("c2", "2025-12-01T09:00:00", "acme", "conversation", "assumed_resolution"),
    conversation("c3", "2025-12-01T10:00:00", "acme", "conversation", "escalated"),           # 2.15+
    conversation("c4", "2025-12-01T11:00:00", "globex", "email", "routed_to_team"),           # 2.11-2.14
    conversation("c5", "2025-12-01T12:00:00", "globex", "email", "abandoned"),                # 2.11-2.14
    conversation("c6", "2025-12-01T13:00:00", "acme", "conversation", "negative_feedback"),   # 2.15+
    conversation("c7", "2025-12-01T14:00:00", "acme", "conversation", "procedure_handoff"),   # 2.15+
    conversation("c8", "2025-12-01T15:00:00", "acme", "conversation", "confirmed_resolution", reopens=2),
    conversation("c9", "2025-12-01T16:00:00", "acme", "conversation", None, ai=False),
    conversation("c10", "2025-12-01T17:00:00", "acme", "conversation", None),
    conversation("c12", "2025-12-01T18:00:00", "acme", "conversation", "mystery"),
    conversation("c11", "2025-12-02T00:00:00", "acme", "conversation", "assumed_resolution"),
]


def serve_intercom(upstream, conversations, *, broken_page=None):
    upstream.auth = lambda request: request.headers.get("Authorization") == f"Bearer {TOKEN}"

    def search(request):
        assert request.headers["Intercom-Version"] == "2.14"
        body = request.get_json()
        bounds = {item["operator"]: item["value"] for item in body["query"]["value"]}
        assert body["query"]["operator"] == "AND" and set(bounds) == {">", "<"}
        found = [item for item in conversations if bounds[">"] < item["created_at"] < bounds["<"]]
        size = body["pagination"]["per_page"]
        offset = int(body["pagination"].get("starting_after") or 0)
        page = offset // size + 1
        if broken_page == page:
            return {"type": "error.list", "errors": [{"code": "server_error"}]}
        pages = {"type": "pages", "page": page, "per_page": size, "total_pages": -(-len(found) // size)}
        if offset + size < len(found):
            pages["next"] = {"page": page + 1, "starting_after": str(offset + size)}
        return {"type": "conversation.list", "conversations": found[offset:offset + size],
                "total_count": len(found), "pages": pages}

    upstream.route("POST", "/conversations/search", search)
    upstream.route("GET", "/me", lambda request: {"type": "admin", "id": "1"})


@pytest.fixture
def inbox(project, upstream, monkeypatch):
    monkeypatch.setenv("INTERCOM_TOKEN", TOKEN)

    def configure(extra: str = ""):
        add_source(project, "inbox", "intercom", upstream.url, OPTIONS.replace("{extra}", extra), dimensions=DIMENSIONS)
        return project

    return configure


def test_search_pages_both_vocabularies_and_retries(inbox, upstream):
    project = inbox()
    serve_intercom(upstream, CONVERSATIONS)
    upstream.fail("POST", "/conversations/search", 429, headers={"Retry-After": "0"})
    upstream.fail("POST", "/conversations/search", 500)
    run, store = ingest(project, "inbox", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "tenant", "channel"]) == {
        ("2025-12-01", "acme", "chat"): {"resolved": 3, "reopened": 1, "escalated": 2, "abandoned": 1},
        ("2025-12-01", "globex", "email"): {"escalated": 1, "abandoned": 1},
        ("2025-12-02", "acme", "chat"): {"resolved": 1},
    }
    calls = upstream.calls("/conversations/search")
    assert len(calls) == 2 + 3 + 1
    assert [call.body["pagination"].get("starting_after") for call in calls[2:]] == [None, "4", "8", None]
    [reject] = store.quarantine("inbox")
    assert "'mystery' is not known" in reject.reason
    labels = [batch.label for batch in store.batches("inbox")]
    assert labels and all("resolved = confirmed + assumed" in label for label in labels)


def test_assumed_resolutions_can_be_left_out_of_resolved(inbox, upstream):
    project = inbox("count_assumed_as_resolved = false")
    serve_intercom(upstream, CONVERSATIONS)
    run, store = ingest(project, "inbox", "2025-12-01", "2025-12-03")
    assert run.errors == []
    assert cell_totals(store, ["day", "tenant", "channel"]) == {
        ("2025-12-01", "acme", "chat"): {"resolved": 2, "reopened": 1, "escalated": 2, "abandoned": 2},
        ("2025-12-01", "globex", "email"): {"escalated": 1, "abandoned": 1},
        ("2025-12-02", "acme", "chat"): {"abandoned": 1},
    }
    assert all("confirmed resolutions only" in batch.label for batch in store.batches("inbox"))


def test_wrong_token_names_the_source_not_the_token(inbox, upstream, monkeypatch):
    project = inbox()
    serve_intercom(upstream, CONVERSATIONS)
    monkeypatch.setenv("INTERCOM_TOKEN", "wrong-intercom-token")
    run, store = ingest(project, "inbox", "2025-12-01", "2025-12-03")
    assert run.errors and all("source 'inbox'" in error and "HTTP 401" in error for error in run.errors)
    assert not any("wrong-intercom-token" in error for error in run.errors)
    assert cell_totals(store, ["day"]) == {}


def test_a_malformed_page_stores_nothing_of_its_day(inbox, upstream):
    project = inbox()
    serve_intercom(upstream, CONVERSATIONS, broken_page=3)
    run, store = ingest(project, "inbox", "2025-12-01", "2025-12-03")
    assert run.errors and "page 3" in run.errors[0] and "no conversations list" in run.errors[0]
    assert ("2025-12-01",) not in cell_totals(store, ["day"])


def test_an_empty_range(inbox, upstream):
    project = inbox()
    serve_intercom(upstream, CONVERSATIONS)
    run, store = ingest(project, "inbox", "2025-11-01", "2025-11-03")
    assert run.errors == [] and run.batches == 2
    assert cell_totals(store, ["day"]) == {}


def test_a_payload_without_the_participation_flag_is_judged_by_its_ai_agent(inbox, upstream):
    project = inbox()
    bare = conversation("c20", "2025-12-01T08:00:00", "acme", "conversation", "confirmed_resolution")
    human = conversation("c21", "2025-12-01T09:00:00", "acme", "conversation", None, ai=False)
    del bare["ai_agent_participated"], human["ai_agent_participated"]
    serve_intercom(upstream, [bare, human])
    run, store = ingest(project, "inbox", "2025-12-01", "2025-12-02")
    assert run.errors == []
    assert cell_totals(store, ["tenant"]) == {("acme",): {"resolved": 1}}
