"""Bands (GET /api/v1/roi?uncertainty=true), sensitivity and the change bridge over HTTP."""

from __future__ import annotations

import math

import pytest

from roi.api import create_app
from roi.domain import REPORT_METRICS
from roi.estimates import Triangular

from .conftest import READER_HEADERS, close_month, ingest_project

TRIANGLE = Triangular(low=0.5, mode=2.0, high=9.0)
RANGED_MODEL = f"""
name = "support"
description = "Test model with ranges."
currency = "USD"

[[versions]]
effective_from = 2025-01-01
value_per_resolution = {{ low = {TRIANGLE.low}, mode = {TRIANGLE.mode}, high = {TRIANGLE.high} }}
escalation_cost = 2.00
reopen_cost = 9.00
abandonment_cost = 0.50
review_cost_per_hour = 45.0
"""


@pytest.fixture
def ranged(api_project):
    api_project.write_model("support", RANGED_MODEL)
    app = create_app(api_project.settings(), version_ttl=0)
    yield app.test_client()
    app.extensions["roi"].store.engine.dispose()


def _get(client, url: str) -> dict:
    response = client.get(url, headers=READER_HEADERS)
    assert response.status_code == 200, response.data
    return response.get_json()


def _key(record: dict) -> tuple:
    return tuple(sorted(record["cohort"].items()))


def test_bands_leave_the_figures_as_they_are_and_match_the_triangular_cdf(ranged):
    plain = _get(ranged, "/api/v1/roi?period=2026-01")
    banded = _get(ranged, "/api/v1/roi?period=2026-01&uncertainty=true")
    assert banded["uncertainty"] == {"draws": 10_000, "seed": 0, "outcome_rates": False,
                                     "parameters": ["support.value_per_resolution"], "quantiles": [5, 50, 95],
                                     "basis": "current"}
    assert [_key(record) for record in banded["cohorts"]] == [_key(record) for record in plain["cohorts"]]
    checked = 0
    for before, after in zip(plain["cohorts"], banded["cohorts"], strict=True):
        assert {name: after[name] for name in REPORT_METRICS} == {name: before[name] for name in REPORT_METRICS}
        assert after["net_value_p5"] <= after["net_value_p50"] <= after["net_value_p95"]
        if after["net_resolved"] > 0:
            # net value > 0 <=> value per resolution > (total cost + failure cost) / net resolved
            breakeven = after["fully_loaded_cost_per_resolved_case"]
            expected = 1 - TRIANGLE.cdf(breakeven)
            error = 4 * math.sqrt(expected * (1 - expected) / 10_000) + 1e-12
            assert abs(after["probability_net_value_positive"] - expected) <= error
            checked += 1
    assert checked >= 2
    totals = banded["totals"]
    assert totals["net_value_p5"] <= totals["net_value_p50"] <= totals["net_value_p95"]
    # one draw for every cohort: the total too is net resolved x the triangle - its burden
    expected = 1 - TRIANGLE.cdf(plain["totals"]["fully_loaded_cost_per_resolved_case"])
    error = 4 * math.sqrt(expected * (1 - expected) / 10_000) + 1e-12
    assert abs(totals["probability_net_value_positive"] - expected) <= error
    assert "uncertainty" not in plain and "net_value_p5" not in plain["cohorts"][0]


def test_sensitivity_swings_and_break_even_are_exact(ranged):
    report = _get(ranged, "/api/v1/roi?period=2026-01")
    document = _get(ranged, "/api/v1/roi/sensitivity?period=2026-01")
    (parameter,) = document["parameters"]
    assert parameter["parameter"] == "support.value_per_resolution"
    assert parameter["versions"] == [{"effective_from": "2025-01-01", "low": 0.5, "point": 2.0, "high": 9.0}]
    net_resolved = report["totals"]["net_resolved"]
    assert parameter["net_value_low"] == pytest.approx(report["totals"]["net_value"] + net_resolved * (0.5 - 2.0))
    assert parameter["net_value_high"] == pytest.approx(report["totals"]["net_value"] + net_resolved * (9.0 - 2.0))
    assert parameter["swing"] == pytest.approx(net_resolved * 8.5)
    by_cohort = {_key(record): record for record in report["cohorts"]}
    assert len(document["cohorts"]) == len(report["cohorts"])
    for record in document["cohorts"]:
        figures = by_cohort[_key(record)]
        assert record["net_value"] == figures["net_value"]
        assert record["break_even_value_per_resolution"] == figures["fully_loaded_cost_per_resolved_case"]
        (row,) = record["tornado"]
        assert row["net_value_high"] - row["net_value_low"] == pytest.approx(figures["net_resolved"] * 8.5)


def test_changes_add_up_to_the_change_between_the_two_reports(ranged):
    now = _get(ranged, "/api/v1/roi?period=2026-02&group_by=tenant")
    before = _get(ranged, "/api/v1/roi?period=2026-01&group_by=tenant")
    document = _get(ranged, "/api/v1/roi/changes?period=2026-02&group_by=tenant")
    assert document["previous_period"] == "2026-01"
    assert document["effects"] == ["volume", "outcome_mix", "unit_cost", "assumptions", "fixed_cost_share"]
    current = {_key(record): record["net_value"] for record in now["cohorts"]}
    previous = {_key(record): record["net_value"] for record in before["cohorts"]}
    assert {_key(record) for record in document["cohorts"]} == set(current) | set(previous)
    for record in document["cohorts"]:
        assert record["net_value"] == pytest.approx(current.get(_key(record), 0.0), abs=1e-9)
        assert record["net_value_previous"] == pytest.approx(previous.get(_key(record), 0.0), abs=1e-9)
        assert sum(record[name] for name in document["effects"]) == pytest.approx(record["change"], abs=1e-9)
    totals = document["totals"]
    assert totals["net_value"] == pytest.approx(now["totals"]["net_value"])
    assert totals["net_value_previous"] == pytest.approx(before["totals"]["net_value"])
    assert sum(totals[name] for name in document["effects"]) == pytest.approx(totals["change"], abs=1e-9)


@pytest.mark.parametrize(("url", "parameter"), [
    ("/api/v1/roi?period=2026-01&uncertainty=maybe", "uncertainty"),
    ("/api/v1/roi/sensitivity?period=2026-01&draws=5", "draws"),
    ("/api/v1/roi/sensitivity", "period"),
    ("/api/v1/roi/changes?period=2026-13", "period"),
    ("/api/v1/roi/changes?period=2026-02&group_by=colour", "group_by"),
    ("/api/v1/roi/changes?period=2026-02&sort=net_value", "sort"),
])
def test_bad_parameters_are_400_naming_the_parameter(ranged, url, parameter):
    response = ranged.get(url, headers=READER_HEADERS)
    assert response.status_code == 400, response.data
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["parameter"] == parameter and problem["detail"], problem


@pytest.mark.parametrize("url", ["/api/v1/roi?period=2026-01&uncertainty=true",
                                 "/api/v1/roi/sensitivity?period=2026-01", "/api/v1/roi/changes?period=2026-01"])
def test_a_token_is_required(ranged, url):
    response = ranged.get(url)
    assert response.status_code == 401
    assert response.mimetype == "application/problem+json"


def test_the_new_paths_are_documented(ranged):
    spec = _get(ranged, "/api/v1/openapi.json")
    assert {"/api/v1/roi/sensitivity", "/api/v1/roi/changes"} <= set(spec["paths"])
    names = [parameter["name"] for parameter in spec["paths"]["/api/v1/roi"]["get"]["parameters"]]
    assert "uncertainty" in names


def test_models_show_a_range_as_its_table(ranged):
    (model,) = _get(ranged, "/api/v1/models")["models"]
    version = model["versions"][0]
    assert version["value_per_resolution"] == {"low": 0.5, "mode": 2.0, "high": 9.0}
    assert version["escalation_cost"] == 2.0


LATE = """event_id,ts,tenant,channel,topic,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes
late1,2026-01-20T10:00:00Z,acme,web,billing,openai,gpt-4o-mini,1000,200,0,0.40,resolved,1
late2,2026-01-21T10:00:00Z,acme,web,billing,openai,gpt-4o-mini,1000,200,0,0.35,escalated,
"""


def test_a_closed_months_bands_surround_todays_figures_not_the_revisions(api_project):
    """Late rows after the close: the stored revision stays as it was, and the report that carries
    bands is built from today's data, as the bands and the sensitivity are (one basis)."""
    api_project.write_model("support", RANGED_MODEL)
    ingest_project(api_project)
    close_month(api_project, "2026-01")
    api_project.write_data("late.csv", LATE)
    ingest_project(api_project)
    app = create_app(api_project.settings(), version_ttl=0)
    client = app.test_client()
    try:
        revision = _get(client, "/api/v1/roi?period=2026-01")
        banded = _get(client, "/api/v1/roi?period=2026-01&uncertainty=true")
        sensitivity = _get(client, "/api/v1/roi/sensitivity?period=2026-01")
    finally:
        app.extensions["roi"].store.engine.dispose()
    assert revision["state"] == "closed" and "revision" not in banded
    assert banded["uncertainty"]["basis"] == "current"
    assert banded["totals"]["net_value"] == pytest.approx(sensitivity["totals"]["net_value"], abs=1e-9)
    assert banded["totals"]["requests"] == revision["totals"]["requests"] + 2  # the late rows are in it
    by_cohort = {_key(record): record["net_value"] for record in sensitivity["cohorts"]}
    assert {_key(record): record["net_value"] for record in banded["cohorts"]} == pytest.approx(by_cohort, abs=1e-9)
