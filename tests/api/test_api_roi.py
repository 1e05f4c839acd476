"""GET /api/v1/roi: the DESIGN section 7 report, equal to `roi report --format json`; filters, sort, limit, 400s."""

from __future__ import annotations

import json

import pytest

from roi.api import create_app
from roi.domain import REPORT_METRICS

from .conftest import API_CONFIG, READER_HEADERS, ingest_project, run_cli


def cli_report(runner, project, *args: str) -> dict:
    return json.loads(run_cli(runner, project, "report", "--format", "json", *args).stdout)


def without_time(document: dict) -> dict:
    document = dict(document)
    assert document.pop("generated_at")
    return document


@pytest.mark.parametrize(
    ("query", "cli_args"),
    [
        ("period=2026-01", ["--period", "2026-01"]),
        ("period=2026-02", ["--period", "2026-02"]),
        ("period=2026-01&group_by=tenant", ["--period", "2026-01", "--group-by", "tenant"]),
        ("period=2026-01&group_by=channel,topic", ["--period", "2026-01", "--group-by", "channel,topic"]),
        ("period=2026-01&group_by=", ["--period", "2026-01", "--group-by", ""]),
        ("period=2025-06", ["--period", "2025-06"]),
    ],
)
def test_figures_equal_roi_report(client, api_project, runner, query, cli_args):
    response = client.get(f"/api/v1/roi?{query}", headers=READER_HEADERS)
    assert response.status_code == 200, response.data
    assert response.mimetype == "application/json"
    assert without_time(response.get_json()) == without_time(cli_report(runner, api_project, *cli_args))


def test_the_report_has_every_metric_totals_and_config_hash(client, api_project):
    document = client.get("/api/v1/roi?period=2026-01", headers=READER_HEADERS).get_json()
    assert document["config_hash"] == api_project.settings().config_hash
    assert document["group_by"] == ["tenant", "channel"]
    assert document["currency"] == "USD"
    for cohort in document["cohorts"]:
        assert set(REPORT_METRICS) <= set(cohort)
    # the fax-line fixed cost matches no cell, so it is unallocated and in the totals
    assert document["totals"]["unallocated_fixed_cost"] == 50.0
    assert document["unallocated_fixed_costs"] == [{"name": "fax-line", "amount": 50.0}]
    cohort_total = sum(cohort["total_cost"] for cohort in document["cohorts"])
    assert document["totals"]["total_cost"] == pytest.approx(cohort_total + 50.0)
    assert {"tenant": "", "channel": "web"} in [cohort["cohort"] for cohort in document["cohorts"]]


def test_filters_on_stored_dimensions(client):
    document = client.get("/api/v1/roi?period=2026-01&tenant=acme,globex&channel=web",
                          headers=READER_HEADERS).get_json()
    assert document["filters"] == {"tenant": ["acme", "globex"], "channel": ["web"]}
    assert [cohort["cohort"] for cohort in document["cohorts"]] == [
        {"tenant": "acme", "channel": "web"},
        {"tenant": "globex", "channel": "web"},
    ]
    assert document["totals"]["requests"] == 3


def test_unattributed_filter_means_the_missing_value(client):
    document = client.get("/api/v1/roi?period=2026-01&tenant=(unattributed)", headers=READER_HEADERS).get_json()
    assert [cohort["cohort"] for cohort in document["cohorts"]] == [{"tenant": "", "channel": "web"}]
    assert document["cohorts"][0]["resolved"] == 1


def test_sort_descending_with_null_ratios_last_and_limit(client):
    response = client.get("/api/v1/roi?period=2026-01&group_by=tenant&sort=-roi", headers=READER_HEADERS)
    document = response.get_json()
    rois = [cohort["roi"] for cohort in document["cohorts"]]
    assert rois[-1] is None  # the unattributed tenant has no cost, so no ROI
    numbers = [value for value in rois if value is not None]
    assert numbers == sorted(numbers, reverse=True) and len(numbers) == 3
    ascending = client.get("/api/v1/roi?period=2026-01&group_by=tenant&sort=roi", headers=READER_HEADERS).get_json()
    assert [cohort["roi"] for cohort in ascending["cohorts"]] == sorted(numbers) + [None]
    limited = client.get("/api/v1/roi?period=2026-01&group_by=tenant&sort=-roi&limit=2", headers=READER_HEADERS)
    assert [cohort["roi"] for cohort in limited.get_json()["cohorts"]] == numbers[:2]
    assert limited.headers["X-Total-Count"] == "4"
    # totals still cover every cohort the filters keep
    assert limited.get_json()["totals"] == document["totals"]


def test_sort_by_net_value(client):
    document = client.get("/api/v1/roi?period=2026-01&sort=-net_value", headers=READER_HEADERS).get_json()
    values = [cohort["net_value"] for cohort in document["cohorts"]]
    assert values == sorted(values, reverse=True)


@pytest.mark.parametrize(
    ("query", "parameter", "words"),
    [
        ("period=2026-13", "period", "YYYY-MM"),
        ("period=26-01", "period", "YYYY-MM"),
        ("period=0000-01", "period", "1900"),
        ("", "period", "missing"),
        ("period=2026-01&group_by=tenant,colour", "group_by", "tenant, channel"),
        ("period=2026-01&group_by=tenant;drop", "group_by", "stored dimensions"),
        ("period=2026-01&tenant=,", "tenant", "at least one value"),
        ("period=2026-01&colour=red", "colour", "unknown query parameter"),
        ("period=2026-01&limit=0", "limit", "greater than or equal to 1"),
        ("period=2026-01&limit=ten", "limit", "integer"),
        ("period=2026-01&sort=colour", "sort", "one metric"),
        ("period=2026-01&period=2026-02", "period", "once"),
    ],
)
def test_bad_parameters_are_problem_json_400(client, query, parameter, words):
    response = client.get(f"/api/v1/roi?{query}", headers=READER_HEADERS)
    assert response.status_code == 400
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert set(problem) == {"type", "title", "status", "detail", "parameter"}
    assert problem["status"] == 400 and problem["parameter"] == parameter
    assert words in problem["detail"], problem["detail"]


def test_group_by_outside_the_stored_dimensions_is_400(api_project):
    config = api_project.config_path
    config.write_text(config.read_text().replace(
        "[report]", '[store]\ndimensions = ["tenant", "channel", "provider", "model"]\n\n[report]'))
    ingest_project(api_project)
    client = create_app(api_project.settings(), version_ttl=0).test_client()
    for query, parameter in (("group_by=topic", "group_by"), ("topic=billing", "topic")):
        response = client.get(f"/api/v1/roi?period=2026-01&{query}", headers=READER_HEADERS)
        assert response.status_code == 400, query
        problem = response.get_json()
        assert problem["parameter"] == parameter
        assert "tenant, channel, provider, model" in problem["detail"]


def test_a_new_batch_changes_the_answer(app, api_project):
    client = app.test_client()
    url = "/api/v1/roi?period=2026-02&group_by="
    before = client.get(url, headers=READER_HEADERS)
    assert before.get_json()["cohorts"][0]["requests"] == 2
    api_project.write_data("more.csv", """
        event_id,ts,tenant,channel,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome
        m1,2026-02-20T10:00:00Z,acme,web,openai,gpt-4o-mini,1000,200,0,0.25,resolved
        """)
    ingest_project(api_project)
    after = client.get(url, headers=READER_HEADERS)
    assert after.get_json()["cohorts"][0]["requests"] == 3
    assert after.headers["ETag"] != before.headers["ETag"]


def test_etag_and_if_none_match(client):
    url = "/api/v1/roi?period=2026-01"
    first = client.get(url, headers=READER_HEADERS)
    etag = first.headers["ETag"]
    assert etag.startswith('"')
    again = client.get(url, headers={**READER_HEADERS, "If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    other = client.get(url, headers={**READER_HEADERS, "If-None-Match": '"something-else"'})
    assert other.status_code == 200 and other.data == first.data


def test_gzip_when_the_client_accepts_it(client):
    import gzip

    url = "/api/v1/roi?period=2026-01&group_by=tenant,channel,topic"
    plain = client.get(url, headers=READER_HEADERS)
    packed = client.get(url, headers={**READER_HEADERS, "Accept-Encoding": "gzip"})
    assert packed.headers["Content-Encoding"] == "gzip"
    assert gzip.decompress(packed.data) == plain.data


def test_fast_path_and_flask_path_give_the_same_answer(app):
    client = app.test_client()
    url = "/api/v1/roi?period=2026-01&group_by=tenant&sort=-net_value"
    first = client.get(url, headers=READER_HEADERS)
    assert app.extensions["roi"].cache.routes  # remembered for the fast path
    second = client.get(url, headers=READER_HEADERS)
    assert second.data == first.data
    assert second.headers["ETag"] == first.headers["ETag"]
    assert second.headers["X-Total-Count"] == first.headers["X-Total-Count"]
    assert second.mimetype == first.mimetype == "application/json"


def test_data_before_a_models_first_version_is_a_422_naming_model_and_day(api_project):
    from tests.conftest import BASE_MODEL

    api_project.write_model("support", BASE_MODEL.replace("2025-01-01", "2026-01-07"))
    app = create_app(api_project.settings(), version_ttl=0)
    try:
        response = app.test_client().get("/api/v1/roi?period=2026-01", headers=READER_HEADERS)
    finally:
        app.extensions["roi"].store.engine.dispose()
    assert response.status_code == 422
    assert response.mimetype == "application/problem+json"
    problem = response.get_json()
    assert problem["status"] == 422
    assert "'support'" in problem["detail"] and "2026-01-05" in problem["detail"]


def test_a_filter_value_holding_a_comma_is_written_with_a_backslash(project, runner):
    """`\\,` is a comma inside a value (docs/api.md), on the API and the command line alike; `\\\\` a backslash."""
    project.write_config(API_CONFIG)
    project.write_data("events.csv", "event_id,ts,tenant,channel,outcome\n"
                       'e1,2026-01-10T10:00:00Z,"Acme, Inc.",web,resolved\n'
                       "e2,2026-01-11T10:00:00Z,Acme,web,resolved\n"
                       "e3,2026-01-12T10:00:00Z,Inc.,web,escalated\n"
                       'e4,2026-01-12T11:00:00Z,"back\\slash,",chat,resolved\n')
    settings = ingest_project(project)
    app = create_app(settings, version_ttl=0)
    try:
        client = app.test_client()
        escaped = client.get("/api/v1/roi?period=2026-01&group_by=tenant&tenant=Acme%5C%2C%20Inc.,Inc.",
                             headers=READER_HEADERS).get_json()
        assert escaped["filters"] == {"tenant": ["Acme, Inc.", "Inc."]}
        assert [cohort["cohort"]["tenant"] for cohort in escaped["cohorts"]] == ["Acme, Inc.", "Inc."]
        assert (escaped["totals"]["resolved"], escaped["totals"]["escalated"]) == (1, 1)
        plain = client.get("/api/v1/roi?period=2026-01&group_by=tenant&tenant=Acme,%20Inc.",
                           headers=READER_HEADERS).get_json()
        assert [cohort["cohort"]["tenant"] for cohort in plain["cohorts"]] == ["Acme", "Inc."]  # two values
        backslash = client.get("/api/v1/roi?period=2026-01&group_by=tenant&tenant=back%5C%5Cslash%5C,",
                               headers=READER_HEADERS).get_json()
        assert [cohort["cohort"]["tenant"] for cohort in backslash["cohorts"]] == ["back\\slash,"]
    finally:
        app.extensions["roi"].store.engine.dispose()
    document = cli_report(runner, project, "--period", "2026-01", "--group-by", "tenant",
                          "--filter", "tenant=Acme\\, Inc.,Inc.")
    assert without_time(document) == without_time(escaped)
