"""GET /api/v1/roi/trend: a series per cohort per month, equal month by month to /api/v1/roi."""

from __future__ import annotations

import pytest

from .conftest import READER_HEADERS


def roi(client, query: str) -> dict:
    response = client.get(f"/api/v1/roi?{query}", headers=READER_HEADERS)
    assert response.status_code == 200
    return response.get_json()


def test_points_equal_each_months_report(client):
    response = client.get(
        "/api/v1/roi/trend?from=2025-12&to=2026-02&group_by=tenant&metrics=net_value,cost_per_resolved_case,requests",
        headers=READER_HEADERS,
    )
    assert response.status_code == 200
    trend = response.get_json()
    assert trend["periods"] == ["2025-12", "2026-01", "2026-02"]
    assert trend["metrics"] == ["net_value", "cost_per_resolved_case", "requests"]
    assert trend["from"] == "2025-12" and trend["to"] == "2026-02"
    for month in trend["periods"]:
        report = roi(client, f"period={month}&group_by=tenant")
        by_cohort = {tuple(c["cohort"].values()): c for c in report["cohorts"]}
        for series in trend["series"]:
            points = {point["period"]: point for point in series["points"]}
            cohort = by_cohort.get(tuple(series["cohort"].values()))
            if cohort is None:
                assert month not in points  # no data that month: no point
                continue
            for name in trend["metrics"]:
                assert points[month][name] == cohort[name]
        totals = {point["period"]: point for point in trend["totals"]}[month]
        for name in trend["metrics"]:
            assert totals[name] == report["totals"][name]


def test_a_month_without_data_still_carries_unallocated_fixed_costs(client):
    trend = client.get("/api/v1/roi/trend?from=2025-12&to=2025-12&metrics=total_cost",
                       headers=READER_HEADERS).get_json()
    assert trend["series"] == []
    assert trend["totals"] == [{"period": "2025-12", "total_cost": 150.0}]


def test_defaults_are_the_year_to_the_latest_month(client):
    trend = client.get("/api/v1/roi/trend", headers=READER_HEADERS).get_json()
    assert trend["to"] == "2026-02" and trend["from"] == "2025-03"
    assert len(trend["periods"]) == 12
    assert trend["metrics"] == ["net_value", "roi", "cost_per_resolved_case"]
    assert trend["group_by"] == ["tenant", "channel"]


def test_filters_and_from_after_to(client):
    trend = client.get("/api/v1/roi/trend?from=2026-01&to=2026-02&tenant=acme&group_by=channel",
                       headers=READER_HEADERS).get_json()
    assert trend["filters"] == {"tenant": ["acme"]}
    assert sorted(s["cohort"]["channel"] for s in trend["series"]) == ["voice", "web"]
    empty = client.get("/api/v1/roi/trend?from=2026-02&to=2026-01", headers=READER_HEADERS).get_json()
    assert empty["periods"] == [] and empty["series"] == [] and empty["totals"] == []


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("from=2026-1", "from"), ("to=soon", "to"), ("metrics=net_value,colour", "metrics"),
     ("group_by=planet", "group_by"), ("period=2026-01", "period")],
)
def test_bad_trend_parameters_are_400(client, query, parameter):
    response = client.get(f"/api/v1/roi/trend?{query}", headers=READER_HEADERS)
    assert response.status_code == 400
    assert response.get_json()["parameter"] == parameter
