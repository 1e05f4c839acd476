"""A small scenario computed by hand (DESIGN sections 3 and 4), checked to the cent through the CLI.

Every edge the contract names is in it: a timezone month boundary (Europe/Paris),
a model version starting mid-month, a `reprice` source, an unpriced model,
outcome-only rows, a duplicate, bad rows, the `[store] dimensions` knob, a
fixed cost for each driver and one that matches nothing.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import warnings

import pytest

from roi.cli import main
from tests.conftest import fixture_text

# the scenario's config ({database_url} filled in, literal braces doubled) and value models
CONFIG = fixture_text("scenario/roi.toml")
SUPPORT = fixture_text("scenario/models/support.toml")
VOICE = fixture_text("scenario/models/voice.toml")

HEADER = "event_id,ts,tenant,channel,topic,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes"
BOT = "\n".join([
    HEADER,
    # Paris is UTC+1 in winter. Support v1 until 2026-01-14, v2 from 2026-01-15 (Paris days).
    "b1,2026-01-05T10:00:00Z,acme,web,billing,openai,gpt-4o-mini,10000,2000,4000,,resolved,",
    "b2,2026-01-05T11:00:00Z,acme,web,billing,openai,gpt-4o-mini,1000,1000,0,0.5,escalated,6",
    # 23:30Z on the 14th is 00:30 on the 15th in Paris: day 2026-01-15, support v2
    "b3,2026-01-14T23:30:00Z,acme,web,,openai,gpt-4o-mini,20000,5000,0,,resolved,",
    "b4,2026-01-20T09:05:00Z,acme,web,,,,,,,,reopened,",
    # 23:30Z on 31 January is February in Paris; 23:30Z on 31 December is January
    "b5,2026-01-31T23:30:00Z,acme,web,,openai,gpt-4o-mini,1000,1000,0,1.0,resolved,",
    "b6,2025-12-31T23:30:00Z,beta,web,,openai,gpt-4o-mini,1000,1000,0,1.0,resolved,",
    "b7,2026-01-10T10:00:00Z,beta,web,,acme,house-model,100000,10000,0,,abandoned,",
    "b8,2026-01-10T10:00:00Z,beta,,,mystery,model-x,5000,500,0,,resolved,30",
    "b8b,2026-01-10T11:00:00Z,beta,,,mystery,model-x,0,0,0,0.7,,",
    "b1,2026-01-06T10:00:00Z,acme,web,,openai,gpt-4o-mini,1,1,0,100,resolved,",  # duplicate: first wins
    "b10,yesterday,acme,web,,openai,gpt-4o-mini,1,1,0,,resolved,",
    "b11,2026-01-07T10:00:00Z,acme,web,,openai,gpt-4o-mini,-3,1,0,,resolved,",
    "b12,2026-01-07T10:00:00Z,acme,web",
    "b13,2026-01-12T10:00:00Z,+evil,web,,openai,gpt-4o-mini,0,0,0,0.1,escalated,",
]) + "\n"
VOICE_EVENTS = "\n".join([
    # reprice: cost_usd is ignored
    '{"event_id": "v1", "ts": "2026-01-15T08:00:00+01:00", "tenant": "acme", "channel": "voice", "provider": "acme", '
    '"model": "house-model", "input_tokens": 50000, "cached_input_tokens": 10000, "output_tokens": 2000, '
    '"cost_usd": 99, "outcome": "resolved", "human_review_minutes": 12}',
    '{"event_id": "v2", "ts": "2026-01-16T08:00:00Z", "tenant": "acme", "channel": "voice", "provider": "openai", '
    '"model": "gpt-4o-mini", "input_tokens": 2000, "output_tokens": 1000, "cost_usd": 5, "outcome": "escalated"}',
    '{"event_id": "v3", "ts": "2026-01-16T09:00:00Z", "tenant": "acme", "channel": "voice", "provider": "unknownco", '
    '"model": "foo", "input_tokens": 100, "output_tokens": 100, "cost_usd": 0.7, "outcome": "resolved"}',
    '{"event_id": "v4", "ts": "2026-01-17T10:00:00Z", "tenant": "acme", "channel": "voice", "outcome": "abandoned"}',
    '{"event_id": "v5", "ts": ',
]) + "\n"

# ---------------------------------------------------------------- the hand calculation
#
# Token costs (per million: gpt-4o-mini 0.15 in, 0.075 cached, 0.60 out; house-model 2 in and cached, 10 out):
#   b1 = (6000*0.15 + 4000*0.075 + 2000*0.60)/1e6 = 0.0024      b2 = 0.5 given     b3 = (3000+3000)/1e6 = 0.006
#   b6 = 1.0 given   b7 = (100000*2 + 10000*10)/1e6 = 0.3   b8 unpriced   b8b = 0.7 given   b13 = 0.1 given
#   v1 = (40000*2 + 10000*2 + 2000*10)/1e6 = 0.12 (reprice)   v2 = (2000*0.15 + 1000*0.6)/1e6 = 0.0009
#   v3 unknown model: unpriced, its 0.7 ignored (reprice)
#
# Fixed costs in January:
#   vector-db 300 by requests over web: acme/web 3 (b1 b2 b3), beta/web 2 (b6 b7), +evil/web 1 -> 50 each
#   helpdesk 110 by cases over all: 3 + 2 + 1 + 4 + 1 = 11 cases -> 10 per case
#   observability 20 by token_cost over beta: beta/web 1.3, beta/"" 0.7 -> 13 and 7
#   qa-team 60 by resolved over acme: acme/web 2, acme/voice 2 -> 30 each
#   phone-line 50: no cell has channel phone -> unallocated
ACME_WEB = {
    "requests": 3, "input_tokens": 31000, "output_tokens": 8000, "cached_input_tokens": 4000,
    "token_cost": 0.5084,  # 0.0024 + 0.5 + 0.006
    "unpriced_requests": 0, "resolved": 2, "escalated": 1, "abandoned": 0, "reopened": 1,
    "human_review_minutes": 6.0, "cases": 3, "net_resolved": 1,
    "review_cost": 4.5,  # 6 min / 60 * 45 (v1)
    "fixed_cost": 210.0,  # 150 + 30 + 30
    "total_cost": 215.0084,
    "failure_cost": 11.0,  # b2 escalated at v1: 2.00; b4 reopened at v2: 9.00
    "value": 6.5,  # v1: (1 - 0) * 6.50; v2: (1 - 1) * 8.00
    "net_value": -219.5084,  # 6.5 - 215.0084 - 11
    "roi": -219.5084 / 226.0084,
    "cost_per_resolved_case": 215.0084,
    "fully_loaded_cost_per_resolved_case": 226.0084,
    "resolution_rate": 1 / 3, "escalation_rate": 1 / 3,
}
BETA_WEB = {
    "requests": 2, "input_tokens": 101000, "output_tokens": 11000, "cached_input_tokens": 0,
    "token_cost": 1.3, "unpriced_requests": 0, "resolved": 1, "escalated": 0, "abandoned": 1, "reopened": 0,
    "human_review_minutes": 0.0, "cases": 2, "net_resolved": 1, "review_cost": 0.0,
    "fixed_cost": 133.0,  # 100 + 20 + 13
    "total_cost": 134.3,
    "failure_cost": 0.5,  # one abandoned at 0.50
    "value": 6.5,
    "net_value": -128.3,  # 6.5 - 134.3 - 0.5
    "roi": -128.3 / 134.8,
    "cost_per_resolved_case": 134.3, "fully_loaded_cost_per_resolved_case": 134.8,
    "resolution_rate": 0.5, "escalation_rate": 0.0,
}
BETA_NONE = {
    "requests": 2, "input_tokens": 5000, "output_tokens": 500, "cached_input_tokens": 0,
    "token_cost": 0.7, "unpriced_requests": 1, "resolved": 1, "escalated": 0, "abandoned": 0, "reopened": 0,
    "human_review_minutes": 30.0, "cases": 1, "net_resolved": 1,
    "review_cost": 22.5,  # 30 / 60 * 45
    "fixed_cost": 17.0,  # 10 + 7
    "total_cost": 40.2, "failure_cost": 0.0, "value": 6.5,
    "net_value": -33.7, "roi": -33.7 / 40.2,
    "cost_per_resolved_case": 40.2, "fully_loaded_cost_per_resolved_case": 40.2,
    "resolution_rate": 1.0, "escalation_rate": 0.0,
}
ACME_VOICE = {
    "requests": 3, "input_tokens": 52100, "output_tokens": 3100, "cached_input_tokens": 10000,
    "token_cost": 0.1209,  # 0.12 + 0.0009 + 0
    "unpriced_requests": 1, "resolved": 2, "escalated": 1, "abandoned": 1, "reopened": 0,
    "human_review_minutes": 12.0, "cases": 4, "net_resolved": 2,
    "review_cost": 6.0,  # 12 / 60 * 30
    "fixed_cost": 70.0,  # 40 + 30
    "total_cost": 76.1209,
    "failure_cost": 7.0,  # 5 + 2
    "value": 24.0,  # 2 * 12
    "net_value": -59.1209,
    "roi": -59.1209 / 83.1209,
    "cost_per_resolved_case": 38.06045, "fully_loaded_cost_per_resolved_case": 41.56045,
    "resolution_rate": 0.5, "escalation_rate": 0.25,
}
EVIL_WEB = {
    "requests": 1, "input_tokens": 0, "output_tokens": 0, "cached_input_tokens": 0,
    "token_cost": 0.1, "unpriced_requests": 0, "resolved": 0, "escalated": 1, "abandoned": 0, "reopened": 0,
    "human_review_minutes": 0.0, "cases": 1, "net_resolved": 0, "review_cost": 0.0,
    "fixed_cost": 60.0,  # 50 + 10
    "total_cost": 60.1, "failure_cost": 2.0, "value": 0.0, "net_value": -62.1, "roi": -1.0,
    "cost_per_resolved_case": None, "fully_loaded_cost_per_resolved_case": None,  # net_resolved is 0
    "resolution_rate": 0.0, "escalation_rate": 1.0,
}
TOTALS = {
    "requests": 11, "input_tokens": 189100, "output_tokens": 22600, "cached_input_tokens": 14000,
    "token_cost": 2.7293, "unpriced_requests": 2, "resolved": 6, "escalated": 3, "abandoned": 2, "reopened": 1,
    "human_review_minutes": 48.0, "cases": 11, "net_resolved": 5, "review_cost": 33.0,
    "fixed_cost": 540.0,  # 490 allocated + 50 unallocated
    "total_cost": 575.7293,  # 525.7293 over the cohorts + 50
    "failure_cost": 20.5, "value": 43.5,
    "net_value": -552.7293,  # 43.5 - 575.7293 - 20.5
    "roi": -552.7293 / 596.2293,
    "cost_per_resolved_case": 115.14586, "fully_loaded_cost_per_resolved_case": 119.24586,
    "resolution_rate": 5 / 11, "escalation_rate": 3 / 11,
    "unallocated_fixed_cost": 50.0,
}
EXPECTED = {
    ("+evil", "web"): EVIL_WEB,
    ("acme", "voice"): ACME_VOICE,
    ("acme", "web"): ACME_WEB,
    ("beta", ""): BETA_NONE,
    ("beta", "web"): BETA_WEB,
}


def assert_figures(found: dict, expected: dict, where: str) -> None:
    for name, value in expected.items():
        if value is None:
            assert found[name] is None, f"{where}: {name}"
        else:
            assert found[name] == pytest.approx(value, abs=1e-9), f"{where}: {name}"


def invoke(runner, args: list[str]):
    """Run the CLI; then collect the engines it leaves open (psycopg warns when it collects them)."""
    result = runner.invoke(main, args)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    return result


@pytest.fixture
def scenario(any_project, runner):
    """The scenario ingested, on SQLite and (with ROI_TEST_POSTGRES_URL) on PostgreSQL."""
    project = any_project
    project.write_config(body=CONFIG.format(database_url=project.database_url))
    project.write_model("support", SUPPORT)
    project.write_model("voice", VOICE)
    (project.root / "data" / "bot").mkdir()
    (project.root / "data" / "voice").mkdir()
    (project.root / "data" / "bot" / "jan.csv").write_text(BOT)
    (project.root / "data" / "voice" / "jan.jsonl").write_text(VOICE_EVENTS)
    result = invoke(runner, ["--config", str(project.config_path), "ingest"])
    assert result.exit_code == 0, result.output
    return project, result


def report(project, runner, *args: str) -> str:
    result = invoke(runner, ["--config", str(project.config_path), "report", *args])
    assert result.exit_code == 0, result.output
    return result.stdout


def test_ingest_counts(scenario):
    _, result = scenario
    rows = {line.split()[0]: line.split()[1:] for line in result.stdout.splitlines()[1:]}
    # files, unchanged, rows read, stored, duplicates, quarantined, unpriced
    assert rows["bot"] == ["1", "0", "14", "10", "1", "3", "1"]
    assert rows["voice"] == ["1", "0", "5", "4", "0", "1", "1"]


def test_january_json_to_the_cent(scenario, runner):
    project, _ = scenario
    document = json.loads(report(project, runner, "--period", "2026-01", "--format", "json"))
    assert document["period"] == "2026-01"
    assert document["currency"] == "USD"
    assert document["group_by"] == ["tenant", "channel"]
    assert document["config_hash"] == project.settings().config_hash
    cohorts = {(c["cohort"]["tenant"], c["cohort"]["channel"]): c for c in document["cohorts"]}
    assert sorted(cohorts) == sorted(EXPECTED)
    for key, expected in EXPECTED.items():
        assert_figures(cohorts[key], expected, f"cohort {key}")
    assert_figures(document["totals"], TOTALS, "totals")
    assert document["unallocated_fixed_costs"] == [{"name": "phone-line", "amount": 50.0}]


def test_february_holds_the_boundary_row(scenario, runner):
    project, _ = scenario
    document = json.loads(report(project, runner, "--period", "2026-02", "--format", "json"))
    (cohort,) = document["cohorts"]
    # b5 only (support v2): vector-db 300 + helpdesk 110 + qa-team 60 land on it;
    # observability (no beta token cost) and phone-line stay unallocated: 70
    assert cohort["cohort"] == {"tenant": "acme", "channel": "web"}
    assert_figures(cohort, {"requests": 1, "token_cost": 1.0, "resolved": 1, "fixed_cost": 470.0,
                            "total_cost": 471.0, "value": 8.0, "net_value": -463.0}, "february")
    assert_figures(document["totals"], {"fixed_cost": 540.0, "total_cost": 541.0, "net_value": -533.0,
                                        "unallocated_fixed_cost": 70.0}, "february totals")


def test_one_cohort_when_grouped_by_nothing_and_by_model(scenario, runner):
    project, _ = scenario
    document = json.loads(report(project, runner, "--period", "2026-01", "--group-by", "model"))
    by_model = {c["cohort"]["model"]: c for c in document["cohorts"]}
    assert sorted(by_model) == ["", "foo", "gpt-4o-mini", "house-model", "model-x"]
    # gpt-4o-mini: b1 b2 b3 b6 b13 v2 -> 0.0024 + 0.5 + 0.006 + 1.0 + 0.1 + 0.0009
    assert by_model["gpt-4o-mini"]["token_cost"] == pytest.approx(1.6093, abs=1e-9)
    assert by_model["gpt-4o-mini"]["requests"] == 6
    # outcome-only rows (b4, v4) have no model
    assert by_model[""]["requests"] == 0
    assert by_model[""]["reopened"] == 1 and by_model[""]["abandoned"] == 1
    assert_figures(document["totals"], TOTALS, "totals by model")


def _csv_place(name: str) -> float:
    """The CSV's last shown place: money to the cent, ratios to 4 decimals (docs/api.md)."""
    from roi.reporting.csv_report import places
    from roi.reporting.frame import INTEGER_METRICS

    return 0.0 if name in INTEGER_METRICS else 10.0 ** -places(name)


def test_csv_report(scenario, runner):
    project, _ = scenario
    text = report(project, runner, "--period", "2026-01", "--format", "csv")
    rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["tenant"], row["channel"]) for row in rows] == [
        ("'+evil", "web"),  # a formula-like name is neutralised
        ("acme", "voice"),
        ("acme", "web"),
        ("beta", "(unattributed)"),
        ("beta", "web"),
        ("(total)", ""),
    ]
    labels = {("+evil", "web"): 0, ("acme", "voice"): 1, ("acme", "web"): 2, ("beta", ""): 3, ("beta", "web"): 4}
    for key, position in labels.items():
        for name, value in EXPECTED[key].items():
            cell = rows[position][name]
            if value is None:
                assert cell == "", f"{key} {name}"
            else:
                assert float(cell) == pytest.approx(value, abs=_csv_place(name)), f"{key} {name}"
    total = rows[-1]
    for name, value in TOTALS.items():
        # the total is the unrounded total rounded half away from zero to its place
        assert float(total[name]) == pytest.approx(value, abs=_csv_place(name) / 2 + 1e-9), name
    # the cohort rows carry no unallocated amount; the total row carries it
    assert {row["unallocated_fixed_cost"] for row in rows[:-1]} == {""}


def test_reingest_changes_nothing(scenario, runner):
    project, _ = scenario
    before = report(project, runner, "--period", "2026-01", "--format", "csv")
    again = invoke(runner, ["--config", str(project.config_path), "ingest"])
    assert again.exit_code == 0
    forced = invoke(runner, ["--config", str(project.config_path), "ingest", "--force"])
    assert forced.exit_code == 0
    assert report(project, runner, "--period", "2026-01", "--format", "csv") == before
