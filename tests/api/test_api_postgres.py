"""The API on PostgreSQL (skipped unless ROI_TEST_POSTGRES_URL is set): same figures as `roi report`."""

from __future__ import annotations

import json

import pytest

from roi.api import create_app

from .conftest import ADMIN_HEADERS, READER_HEADERS, close_month, ingest_project, run_cli, write_api_project

pytestmark = pytest.mark.parametrize("database_url", ["postgresql"], indirect=True)


@pytest.fixture
def pg_client(any_project):
    write_api_project(any_project)
    ingest_project(any_project)
    app = create_app(any_project.settings(), version_ttl=0)
    yield app.test_client()
    app.extensions["roi"].store.engine.dispose()


def test_figures_equal_roi_report_on_postgresql(pg_client, any_project, runner):
    for month, group_by in (("2026-01", None), ("2026-02", "tenant"), ("2026-01", "channel,topic")):
        args = ["report", "--period", month]
        query = f"period={month}"
        if group_by is not None:
            args += ["--group-by", group_by]
            query += f"&group_by={group_by}"
        expected = json.loads(run_cli(runner, any_project, *args).stdout)
        answer = pg_client.get(f"/api/v1/roi?{query}", headers=READER_HEADERS).get_json()
        expected.pop("generated_at"), answer.pop("generated_at")
        assert answer == expected


def test_catalog_quarantine_and_downloads_on_postgresql(pg_client, any_project):
    assert pg_client.get("/healthz").status_code == 200
    cohorts = pg_client.get("/api/v1/cohorts?group_by=tenant", headers=READER_HEADERS).get_json()
    assert cohorts["dimensions"]["tenant"] == ["", "acme", "globex", "initech"]
    first = pg_client.get("/api/v1/quarantine?limit=3", headers=ADMIN_HEADERS).get_json()
    rest = pg_client.get(f"/api/v1/quarantine?limit=3&cursor={first['next_cursor']}", headers=ADMIN_HEADERS)
    assert len(first["items"]) == 3 and len(rest.get_json()["items"]) == 2
    (source,) = pg_client.get("/api/v1/sources", headers=READER_HEADERS).get_json()["sources"]
    assert source["quarantined"] == 5 and source["last_batch"]["finished_at"].endswith("+00:00")
    close_month(any_project, "2026-01")
    periods = pg_client.get("/api/v1/periods", headers=READER_HEADERS).get_json()["periods"]
    assert periods[0]["state"] == "closed"
    download = pg_client.get("/api/v1/reports/2026-01.csv", headers=READER_HEADERS)
    assert download.status_code == 200 and download.headers["X-Roi-Revision"] == "1"
    again = pg_client.get("/api/v1/reports/2026-01.csv",
                          headers={**READER_HEADERS, "If-None-Match": download.headers["ETag"]})
    assert again.status_code == 304
    trend = pg_client.get("/api/v1/roi/trend?from=2026-01&to=2026-02&group_by=", headers=READER_HEADERS)
    assert [point["period"] for point in trend.get_json()["totals"]] == ["2026-01", "2026-02"]
