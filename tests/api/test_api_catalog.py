"""GET /api/v1/cohorts, /models, /sources and /quarantine (paginated)."""

from __future__ import annotations

from .conftest import ADMIN_HEADERS, READER_HEADERS


def test_cohorts_lists_known_values(client):
    document = client.get("/api/v1/cohorts?group_by=tenant,channel", headers=READER_HEADERS).get_json()
    assert document == {
        "group_by": ["tenant", "channel"],
        "dimensions": {"tenant": ["", "acme", "globex", "initech"], "channel": ["voice", "web"]},
    }
    every = client.get("/api/v1/cohorts", headers=READER_HEADERS).get_json()
    assert every["group_by"] == ["tenant", "channel", "topic", "language", "plan_tier", "provider", "model"]
    assert every["dimensions"]["topic"] == ["", "billing", "returns"]


def test_models_lists_versions_rules_and_fixed_costs(client, api_project):
    document = client.get("/api/v1/models", headers=READER_HEADERS).get_json()
    assert document["config_hash"] == api_project.settings().config_hash
    (model,) = document["models"]
    assert model["name"] == "support"
    assert model["versions"][0]["effective_from"] == "2025-01-01"
    assert model["versions"][0]["value_per_resolution"] == 6.5
    assert document["assignments"] == [{"match": {}, "model": "support"}]
    assert [cost["name"] for cost in document["fixed_costs"]] == ["platform", "fax-line"]


def test_sources_tell_rows_quarantine_and_freshness(client):
    (source,) = client.get("/api/v1/sources", headers=READER_HEADERS).get_json()["sources"]
    assert source["name"] == "bot" and source["type"] == "events" and source["enabled"] is True
    assert source["batches"] == 1
    assert source["rows_read"] == 14 and source["quarantined"] == 5
    assert source["last_batch"]["label"].endswith("events.csv")
    assert source["last_batch"]["finished_at"].endswith("+00:00")
    assert source["last_day"] == "2026-02-04"
    assert 0 <= source["freshness_seconds"] < 3600


def test_quarantine_pages_through_every_row_once(client):
    seen = []
    cursor = None
    pages = 0
    while True:
        url = "/api/v1/quarantine?limit=2" + (f"&cursor={cursor}" if cursor else "")
        page = client.get(url, headers=ADMIN_HEADERS).get_json()
        pages += 1
        seen.extend(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert pages == 3
    assert len(seen) == 5 and len({row["id"] for row in seen}) == 5
    reasons = " ".join(row["reason"] for row in seen)
    assert "ts" in reasons and "exploded" in reasons
    assert all(row["source"] == "bot" and row["file"].endswith("events.csv") for row in seen)
    assert [row["line"] for row in seen] == sorted(row["line"] for row in seen)


def test_quarantine_by_source(client):
    page = client.get("/api/v1/quarantine?source=bot&limit=10", headers=ADMIN_HEADERS).get_json()
    assert len(page["items"]) == 5 and page["next_cursor"] is None
    missing = client.get("/api/v1/quarantine?source=nope", headers=ADMIN_HEADERS)
    assert missing.status_code == 404
    assert missing.mimetype == "application/problem+json"
    assert "bot" in missing.get_json()["detail"]
    bad = client.get("/api/v1/quarantine?cursor=abc", headers=ADMIN_HEADERS)
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "cursor"
    big = client.get("/api/v1/quarantine?limit=5000", headers=ADMIN_HEADERS)
    assert big.status_code == 400 and big.get_json()["parameter"] == "limit"


def test_sources_show_a_failing_pull_until_one_succeeds(client, app):
    from datetime import UTC, datetime

    from roi.store import pulls_and_jobs

    (source,) = client.get("/api/v1/sources", headers=READER_HEADERS).get_json()["sources"]
    assert source["status"] == "ok" and source["consecutive_failures"] == 0 and source["last_error"] is None
    engine = app.extensions["roi"].store.engine
    pulls_and_jobs.record_pull_failure(engine, "bot", "upstream answered 503", datetime(2026, 3, 1, tzinfo=UTC))
    pulls_and_jobs.record_pull_failure(engine, "bot", "upstream answered 503", datetime(2026, 3, 1, 0, 15, tzinfo=UTC))
    (source,) = client.get("/api/v1/sources", headers=READER_HEADERS).get_json()["sources"]
    assert source["status"] == "failing" and source["consecutive_failures"] == 2
    assert source["last_error"] == "upstream answered 503"
    assert source["last_failure_at"] == "2026-03-01T00:15:00+00:00"
    pulls_and_jobs.record_pull_success(engine, "bot", None, datetime(2026, 3, 1, 0, 30, tzinfo=UTC))
    (source,) = client.get("/api/v1/sources", headers=READER_HEADERS).get_json()["sources"]
    assert source["status"] == "ok" and source["consecutive_failures"] == 0
