"""The dashboard's edge states (no data at all, a month without data), one cohort's fixed-cost shares,
and the assumptions' comments, with the app's test client on the scenario project."""

from __future__ import annotations

import re

import pytest
import time_machine

from roi.domain import Period
from roi.services import store_for
from roi.services.assumptions import value_models
from roi.services.cohort_profile import cohort_profile
from roi.services.valued import ValuedMonths
from roi.serving import create_site

from .conftest import NOW, READER, ingest_project, write_dashboard_project

BEARER = {"Authorization": f"Bearer {READER}"}


@pytest.fixture
def scenario(project):
    write_dashboard_project(project)
    return project


@pytest.fixture
def site_of():
    made = []

    def make(project):
        site = create_site(project.settings(), version_ttl=0)
        made.append(site)
        return site.dashboard.test_client()

    yield make
    for site in made:
        site.api.extensions["roi"].store.engine.dispose()


def test_no_data_yet(scenario, site_of):
    client = site_of(scenario)
    for path in ("/", "/cohorts", "/cohort?group_by=tenant&tenant=x"):
        page = client.get(path, headers=BEARER)
        assert page.status_code == 200
        assert b"No data yet" in page.data and b"<data" not in page.data, path


def test_a_month_without_data_says_so_and_shows_its_fixed_costs_unallocated(scenario, site_of):
    with time_machine.travel(NOW, tick=False):
        ingest_project(scenario)
        client = site_of(scenario)
        page = client.get("/?period=2025-06", headers=BEARER)
    assert page.status_code == 200
    assert b'id="no-data"' in page.data and b"2025-06 has no data" in page.data
    # its fixed costs (400 + 50) are the unallocated figure, the net value their loss
    assert re.search(rb'data-metric="unallocated_fixed_cost" value="450.0">\$450.00<', page.data)
    assert re.search(rb'data-metric="net_value" value="-450.0">-\$450.00<', page.data)


def test_a_cohorts_fixed_cost_shares_add_up_to_its_fixed_cost(scenario):
    with time_machine.travel(NOW, tick=False):
        settings = ingest_project(scenario)
        store = store_for(settings)
        try:
            months = ValuedMonths(settings, store, files=False)
            profile = cohort_profile(settings, store, months, Period(2026, 2), ("tenant", "channel"),
                                     {"tenant": "tenant-03", "channel": "web"})
        finally:
            store.engine.dispose()
    assert profile.figures is not None and profile.figures["fixed_cost"] > 0
    assert sum(item.carried for item in profile.fixed_shares) == pytest.approx(profile.figures["fixed_cost"], abs=1e-9)
    assert {item.name for item in profile.fixed_shares} == {"platform", "fax-line"}
    # February has two versions of the value model: the days each valued
    versions = sorted((item.effective_from, item.first_day.day, item.last_day.day) for item in profile.versions)
    assert [item[0] for item in versions] == ["2025-01-01", "2026-02-15"]
    assert versions[0][2] < 15 <= versions[1][1]
    # its trend: twelve months to February, a point for each month it has data in
    assert profile.trend["periods"][0] == "2025-03" and profile.trend["periods"][-1] == "2026-02"
    points = [point["period"] for point in profile.trend["series"][0]["points"]]
    assert points[-1] == "2026-02" and set(points) <= {"2026-01", "2026-02"}
    assert profile.trend["series"][0]["points"][-1]["net_value"] == profile.figures["net_value"]


def test_each_figure_carries_the_comment_of_its_model_file(scenario):
    model = value_models(scenario.settings())[0]
    assert model.name == "support" and model.file == "support.toml"
    assert model.comment == "The support bot of the dashboard's scenario: value is agent time saved."
    first, second = model.versions
    said = {figure.name: figure.comment for figure in first.figures}
    assert said["value_per_resolution"] == "10 minutes of an agent at $39/h."
    assert said["reopen_cost"] == "a reopened ticket costs a full agent handling"
    assert said["abandonment_cost"] == ""
    assert first.until.isoformat() == "2026-02-15" and second.until is None
    assert second.notes == "Wage round of February 2026."
    assert {figure.name: figure.value for figure in second.figures}["value_per_resolution"] == 7.0
