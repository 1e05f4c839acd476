"""Bearer tokens: 401 without or with a wrong token, 403 for too small a role; /healthz open; never logged."""

from __future__ import annotations

import logging

import pytest

from roi.api import create_app
from roi.store import make_engine

from .conftest import ADMIN, ADMIN_HEADERS, READER, READER_HEADERS

ENDPOINTS = [
    "/api/v1/roi?period=2026-01",
    "/api/v1/roi/trend",
    "/api/v1/periods",
    "/api/v1/cohorts",
    "/api/v1/models",
    "/api/v1/sources",
    "/api/v1/quarantine",
    "/api/v1/reports/2026-01.csv",
    "/api/v1/openapi.json",
    "/metrics",
    "/api/v1/no-such-thing",
]


@pytest.mark.parametrize("url", ENDPOINTS)
def test_every_endpoint_but_healthz_needs_a_token(client, url):
    response = client.get(url)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"
    assert response.headers["WWW-Authenticate"] == 'Bearer realm="roi"'
    problem = response.get_json()
    assert problem["status"] == 401 and problem["type"].endswith("unauthorized")
    assert "bearer token" in problem["detail"]


@pytest.mark.parametrize(
    "header",
    [f"Bearer {READER}x", f"Bearer {READER[:-1]}", "Bearer ", f"Basic {READER}", READER, "Bearer wrong-token"],
)
def test_a_wrong_token_is_401(client, header):
    response = client.get("/api/v1/models", headers={"Authorization": header})
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_healthz_is_open_and_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200
    # not served by roi serve: no scheduler of its own to report on
    assert response.get_json() == {"status": "ok", "database": "ok", "scheduler": "external",
                                     "months_ready": True}


def test_a_database_that_does_not_answer_is_503(api_project, tmp_path):
    app = create_app(api_project.settings(), version_ttl=0)
    # point the app's engine at a database file that cannot be opened
    app.extensions["roi"].store.engine = make_engine(f"sqlite:///{tmp_path / 'missing-dir' / 'x.db'}")
    client = app.test_client()
    health = client.get("/healthz")
    assert health.status_code == 503
    assert health.get_json()["status"] == "unavailable"
    report = client.get("/api/v1/roi?period=2026-01", headers=READER_HEADERS)
    assert report.status_code == 503 and report.mimetype == "application/problem+json"
    assert report.headers["Retry-After"] == "5"


def test_reader_cannot_read_quarantine_but_admin_can(client):
    response = client.get("/api/v1/quarantine", headers=READER_HEADERS)
    assert response.status_code == 403
    problem = response.get_json()
    assert problem["type"].endswith("forbidden")
    assert "admin" in problem["detail"] and "finance" in problem["detail"]
    assert client.get("/api/v1/quarantine", headers=ADMIN_HEADERS).status_code == 200


def test_admin_can_read_what_a_reader_can(client):
    assert client.get("/api/v1/roi?period=2026-01", headers=ADMIN_HEADERS).status_code == 200


def test_any_configured_token_is_accepted(client):
    for headers in (READER_HEADERS, ADMIN_HEADERS):
        assert client.get("/api/v1/models", headers=headers).status_code == 200


def test_metrics_needs_a_token_unless_configured_open(api_project):
    closed = create_app(api_project.settings()).test_client()
    assert closed.get("/metrics").status_code == 401
    assert closed.get("/metrics", headers=READER_HEADERS).status_code == 200
    config = api_project.config_path
    config.write_text(config.read_text().replace("[api]\n", "[api]\nmetrics_open = true\n"))
    opened = create_app(api_project.settings()).test_client()
    response = opened.get("/metrics")
    assert response.status_code == 200
    assert b"roi_http_requests_total" in response.data
    assert opened.get("/api/v1/models").status_code == 401


def test_no_tokens_configured_means_401_everywhere(project, caplog):
    project.write_config()
    with caplog.at_level(logging.WARNING, logger="roi.api"):
        app = create_app(project.settings())
    assert "no [api] tokens" in caplog.text
    assert app.test_client().get("/api/v1/models", headers=READER_HEADERS).status_code == 401


def test_tokens_never_reach_the_log(client, caplog):
    with caplog.at_level(logging.DEBUG):
        client.get("/api/v1/roi?period=2026-01", headers=READER_HEADERS)
        client.get("/api/v1/quarantine", headers=READER_HEADERS)
        client.get("/api/v1/roi?period=bad", headers={"Authorization": f"Bearer {ADMIN}"})
        client.get("/api/v1/models", headers={"Authorization": "Bearer not-a-real-token-at-all"})
    assert READER not in caplog.text and ADMIN not in caplog.text
    assert "not-a-real-token-at-all" not in caplog.text


def test_the_fast_path_checks_tokens_too(client):
    url = "/api/v1/roi?period=2026-01&group_by=tenant"
    first = client.get(url, headers=READER_HEADERS)
    assert first.status_code == 200
    # the same raw request is now answered from the cache; a missing or wrong token still gets 401
    assert client.get(url).status_code == 401
    assert client.get(url, headers={"Authorization": "Bearer wrong-token-wrong-token"}).status_code == 401
    again = client.get(url, headers=READER_HEADERS)
    assert again.status_code == 200 and again.data == first.data


def test_metrics_count_requests_and_job_runs(app, client):
    from datetime import UTC, datetime

    from roi.store import pulls_and_jobs

    engine = app.extensions["roi"].store.engine
    run = pulls_and_jobs.claim_firing(engine, "source:bot", datetime(2026, 2, 1, 6, 0, tzinfo=UTC), "cli")
    pulls_and_jobs.finish_run(engine, run, "succeeded", batches=1, rows=14)
    pulls_and_jobs.claim_firing(engine, "report:monthly", datetime(2026, 2, 2, 6, 0, tzinfo=UTC), "schedule",
                       status="failed", error="disk full")
    client.get("/api/v1/roi?period=2026-01", headers=READER_HEADERS)
    text = client.get("/metrics", headers=READER_HEADERS).get_data(as_text=True)
    assert 'roi_job_runs_total{job="source:bot",status="succeeded"} 1.0' in text
    assert 'roi_job_runs_total{job="report:monthly",status="failed"} 1.0' in text
    assert 'roi_job_last_finished_timestamp_seconds{job="source:bot",status="succeeded"}' in text
    assert 'roi_http_requests_total{endpoint="/api/v1/roi",method="GET",status="200"}' in text
    assert "roi_http_request_duration_seconds_bucket" in text
