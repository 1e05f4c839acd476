"""GET /api/v1/periods and /api/v1/reports/{YYYY-MM}.{fmt}: open and closed months, ETag and 304."""

from __future__ import annotations

import io
import json

import pytest
from openpyxl import load_workbook

from .conftest import READER_HEADERS, close_month, ingest_project, run_cli


def test_periods_lists_open_and_closed_months(client, api_project):
    before = client.get("/api/v1/periods", headers=READER_HEADERS).get_json()["periods"]
    assert [(p["period"], p["state"], p["revision"]) for p in before] == [("2026-01", "open", None),
                                                                          ("2026-02", "open", None)]
    close_month(api_project, "2026-01")
    after = client.get("/api/v1/periods", headers=READER_HEADERS).get_json()["periods"]
    january = after[0]
    assert january["state"] == "closed" and january["revision"] == 1
    assert january["closed_at"].endswith("+00:00")
    assert january["late_rows"] == 0 and january["late_cost"] == 0.0


@pytest.mark.parametrize(
    ("fmt", "media"),
    [("json", "application/json"), ("csv", "text/csv; charset=utf-8"),
     ("xlsx", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")],
)
def test_download_with_etag_and_304(client, fmt, media):
    url = f"/api/v1/reports/2026-01.{fmt}"
    response = client.get(url, headers=READER_HEADERS)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == media  # one charset, not two
    assert f'filename="roi-2026-01.{fmt}"' in response.headers["Content-Disposition"]
    etag = response.headers["ETag"]
    assert etag.startswith('"') and len(etag) > 10
    unchanged = client.get(url, headers={**READER_HEADERS, "If-None-Match": etag})
    assert unchanged.status_code == 304 and unchanged.data == b""
    assert unchanged.headers["ETag"] == etag
    if fmt == "xlsx":
        assert load_workbook(io.BytesIO(response.data)).sheetnames
    if fmt == "json":
        assert json.loads(response.data)["period"] == "2026-01"


def test_a_closed_month_serves_its_stored_revision(client, api_project, runner):
    close_month(api_project, "2026-01")
    first = client.get("/api/v1/reports/2026-01.json", headers=READER_HEADERS)
    assert first.headers["X-Roi-Revision"] == "1"
    assert 'filename="roi-2026-01-r1.json"' in first.headers["Content-Disposition"]
    # more data for January after the close: the download does not change
    api_project.write_data("late.csv", """
        event_id,ts,tenant,channel,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome
        late1,2026-01-20T10:00:00Z,acme,web,openai,gpt-4o-mini,1000,200,0,0.25,resolved
        """)
    ingest_project(api_project)
    second = client.get("/api/v1/reports/2026-01.json", headers=READER_HEADERS)
    assert second.data == first.data and second.headers["ETag"] == first.headers["ETag"]
    # /roi serves the revision too, as `roi report` does
    result = run_cli(runner, api_project, "report", "--period", "2026-01")
    roi = client.get("/api/v1/roi?period=2026-01", headers=READER_HEADERS).get_json()
    assert roi == json.loads(result.stdout)
    assert roi["state"] == "closed" and roi["revision"] == 1
    periods = client.get("/api/v1/periods", headers=READER_HEADERS).get_json()["periods"]
    assert periods[0]["late_rows"] == 1 and periods[0]["late_cost"] == pytest.approx(0.25)


def test_a_month_without_data_is_the_no_data_report_like_roi_and_bad_names_are_400(client):
    missing = client.get("/api/v1/reports/2025-07.json", headers=READER_HEADERS)
    assert missing.status_code == 200 and missing.headers["X-Roi-Data"] == "none"
    document = missing.get_json()
    assert document["period"] == "2025-07" and document["cohorts"] == []
    assert document["totals"]["unallocated_fixed_cost"] == document["totals"]["fixed_cost"] > 0
    roi = client.get("/api/v1/roi?period=2025-07", headers=READER_HEADERS).get_json()
    assert {key: value for key, value in roi.items() if key != "generated_at"} == \
        {key: value for key, value in document.items() if key != "generated_at"}
    workbook = client.get("/api/v1/reports/2025-07.xlsx", headers=READER_HEADERS)
    assert workbook.status_code == 200 and workbook.headers["X-Roi-Data"] == "none"
    load_workbook(io.BytesIO(workbook.data))
    with_data = client.get("/api/v1/reports/2026-01.json", headers=READER_HEADERS)
    assert with_data.status_code == 200 and "X-Roi-Data" not in with_data.headers
    bad = client.get("/api/v1/reports/2026-13.csv", headers=READER_HEADERS)
    assert bad.status_code == 400 and bad.get_json()["parameter"] == "period"
    wrong = client.get("/api/v1/reports/2026-01.pdf", headers=READER_HEADERS)
    assert wrong.status_code == 400 and wrong.get_json()["parameter"] == "fmt"
