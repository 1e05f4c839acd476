"""What `roi config check` and every load refuse beyond key names: non-finite numbers, quoted numbers
and dates, duplicate keys, unknown database types, crons that never fire; and what it only warns about."""

from __future__ import annotations

import ast
import subprocess
import sys
import textwrap
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine

from roi.errors import ConfigError
from roi.services.validation import load_checked_config
from tests.test_config import CATCH_ALL, HEAD, SOURCE, check_in
from tests.test_config import write as write_config

ROOT = Path(__file__).resolve().parents[1]
MODEL = "name = 'support'\n[[versions]]\neffective_from = 2025-01-01\nvalue_per_resolution = 1\n"


def write(project, *parts: str) -> Path:
    project.write_data("day1.csv", "event_id,ts\n")  # the source matches a file: no warning
    return write_config(project, *parts)


check = check_in


def refused(project, monkeypatch, runner) -> list[str]:
    result = check(project, monkeypatch, runner)
    assert result.exit_code == 2, result.output
    assert result.stdout == ""
    return result.stderr.splitlines()


# ------------------------------------------------------------------ numbers: finite, not quoted


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[[fixed_costs]]\nname = 'db'\namount = inf\n", "fixed_costs[0].amount: inf is not allowed; give a finite number"),
        ("[[fixed_costs]]\nname = 'db'\namount = -inf\n",
         "fixed_costs[0].amount: -inf is not allowed; give a finite number"),
        ("[[fixed_costs]]\nname = 'db'\namount = nan\n", "fixed_costs[0].amount: nan is not allowed; give a finite number"),
        # a float literal too large for a double is read as inf by tomllib
        ("[[fixed_costs]]\nname = 'db'\namount = 1e400\n",
         "fixed_costs[0].amount: inf is not allowed; give a finite number"),
        ("[pricing]\nusd_exchange_rate = inf\n", "pricing.usd_exchange_rate: inf is not allowed; give a finite number"),
        ("[pricing.overrides]\n'openai/x' = { input_per_mtok = 1, output_per_mtok = inf }\n",
         "pricing.overrides.openai/x.output_per_mtok: inf is not allowed; give a finite number"),
        ("[scheduler]\nretry_wait_seconds = inf\n",
         "scheduler.retry_wait_seconds: inf is not allowed; give a finite number"),
        ("[[fixed_costs]]\nname = 'db'\namount = '10'\n",
         "fixed_costs[0].amount: '10' is a string; write a number without quotes"),
        ("[scheduler]\nretry_attempts = '3'\n",
         "scheduler.retry_attempts: '3' is a string; write a whole number without quotes"),
        ("[scheduler]\nretry_attempts = 2.5\n", "scheduler.retry_attempts: Input should be a valid integer"),
        ("[scheduler]\nenabled = 'yes'\n", "scheduler.enabled: 'yes' is a string; write true or false without quotes"),
        ("[uncertainty]\ndraws = 50\n", "uncertainty.draws: Input should be greater than or equal to 100"),
        ("[uncertainty]\nseed = '7'\n", "uncertainty.seed: '7' is a string; write a whole number without quotes"),
        ("[uncertainty]\noutcome_rate = true\n", 'uncertainty.outcome_rate: unknown key; did you mean "outcome_rates"?'),
    ],
)
def test_non_finite_and_quoted_numbers_are_refused(project, monkeypatch, runner, snippet, expected):
    write(project, HEAD, SOURCE, CATCH_ALL, snippet)
    assert refused(project, monkeypatch, runner) == [f"error: roi.toml: {expected}"]


@pytest.mark.parametrize(
    ("option", "expected"),
    [
        ("timeout_seconds = inf", "sources[1].timeout_seconds: inf is not allowed; give a finite number"),
        ("chunk_rows = '1000'", "sources[1].chunk_rows: '1000' is a string; write a whole number without quotes"),
    ],
)
def test_connector_options_are_finite_and_typed_too(project, monkeypatch, runner, option, expected):
    sql = f"""
    [[sources]]
    name = "warehouse"
    type = "sql"
    url = "sqlite:///warehouse.db"
    query = "SELECT * FROM cells WHERE ts >= :start AND ts < :end"
    {option}
    """
    write(project, HEAD, SOURCE, sql, CATCH_ALL)
    assert refused(project, monkeypatch, runner) == [f"error: roi.toml: {expected}"]


@pytest.mark.parametrize(
    ("version", "expected"),
    [
        ("effective_from = 2025-01-01\nvalue_per_resolution = inf\n",
         "versions[0].value_per_resolution: inf is not allowed; give a finite number"),
        ("effective_from = 2025-01-01\nvalue_per_resolution = 1\nescalation_cost = -inf\n",
         "versions[0].escalation_cost: -inf is not allowed; give a finite number"),
        ('effective_from = "2026-01-01"\nvalue_per_resolution = 1\n',
         "versions[0].effective_from: '2026-01-01' is a string; write a TOML date without quotes, e.g. 2026-01-01"),
        ("effective_from = 2026-01-01T00:00:00\nvalue_per_resolution = 1\n",
         "versions[0].effective_from: 2026-01-01 00:00:00 is not a date; write a TOML date such as 2026-01-01"),
    ],
)
def test_value_model_numbers_are_finite_and_dates_are_toml_dates(project, monkeypatch, runner, version, expected):
    model = project.write_model("support", "name = 'support'\n[[versions]]\n" + version)
    write(project, HEAD, SOURCE, CATCH_ALL)
    assert refused(project, monkeypatch, runner) == [f"error: {model}: {expected}"]


# ------------------------------------------------------------------ did you mean


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        # a connector's own option, and an option every source has
        (SOURCE + "formatt = 'csv'\n", 'sources[0].formatt: unknown key; did you mean "format"?'),
        (SOURCE + "schedul = '0 6 * * *'\n", 'sources[0].schedul: unknown key; did you mean "schedule"?'),
        ("[servce]\ncurrency = 'USD'\n" + SOURCE, 'servce: unknown key; did you mean "service"?'),
        (SOURCE + "[api]\ntokens = [{ name = 'f', token = '0123456789abcdef', rol = 'reader' }]\n",
         'api.tokens[0].rol: unknown key; did you mean "role"?'),
        # nothing close: no guess
        (SOURCE + "[api]\nzzz = 1\n", "api.zzz: unknown key"),
    ],
)
def test_a_typo_gets_a_suggestion(project, monkeypatch, runner, snippet, expected):
    write(project, HEAD, snippet, CATCH_ALL)
    assert refused(project, monkeypatch, runner) == [f"error: roi.toml: {expected}"]


def test_a_typo_in_a_value_model_gets_a_suggestion(project, monkeypatch, runner):
    model = project.write_model("support", MODEL + "escalaton_cost = 2\n")
    write(project, HEAD, SOURCE, CATCH_ALL)
    assert refused(project, monkeypatch, runner) == [
        f'error: {model}: versions[0].escalaton_cost: unknown key; did you mean "escalation_cost"?'
    ]


# ------------------------------------------------------------------ duplicate keys


@pytest.mark.parametrize(
    ("snippet", "expected"),
    [
        ("[[fixed_costs]]\nname = 'a'\namount = 1\n[[fixed_costs]]\nname = 'b'\namount = 1\namount = 2\n",
         "fixed_costs[1].amount: not valid TOML: defined twice (at line 23, column 11)"),
        ("[report]\ngroup_by = ['tenant']\n'group_by' = ['channel']\n",
         "report.group_by: not valid TOML: defined twice (at line 19, column 25)"),
        ("[report]\n[report]\n", "report: not valid TOML: defined twice (at line 18, column 8)"),
        # an inline table: tomllib names the key itself
        ("[[fixed_costs]]\nname = 'a'\namount = 1\nmatch = { tenant = 'x', tenant = 'y' }\n",
         "not valid TOML: Duplicate inline table key 'tenant' (at line 20, column 37)"),
    ],
)
def test_a_duplicate_toml_key_is_named(project, monkeypatch, runner, snippet, expected):
    write(project, HEAD, SOURCE, CATCH_ALL, snippet)
    assert refused(project, monkeypatch, runner) == [f"error: roi.toml: {expected}"]


def test_a_duplicate_key_in_a_value_model_is_named(project):
    model = project.write_model("support", MODEL + "value_per_resolution = 2\n")
    path = write(project, HEAD, SOURCE, CATCH_ALL)
    with pytest.raises(ConfigError) as caught:
        load_checked_config(path)
    assert caught.value.problems == [
        f"{model}: versions[0].value_per_resolution: not valid TOML: defined twice (at line 5, column 25)"
    ]


# ------------------------------------------------------------------ database URL


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("nosuchdb://x", "nosuchdb://x: no database type 'nosuchdb'"),
        # the password is never shown
        ("postgresql+nosuch://roi:s3cret@db.internal/roi", "postgresql+nosuch://roi:***@db.internal/roi: "
         "no database type 'postgresql+nosuch'"),
        ("mysql+mysqldb://db.internal/roi", "mysql+mysqldb://db.internal/roi: the driver for 'mysql+mysqldb' is not "
         "installed (No module named 'MySQLdb')"),
        ("not a url", "not a database URL"),
    ],
)
def test_a_database_url_roi_cannot_open_is_refused_without_connecting(project, monkeypatch, runner, url, expected):
    write(project, HEAD.replace("sqlite:///roi.db", url), SOURCE, CATCH_ALL)
    hint = "e.g. sqlite:///roi.db or postgresql+psycopg://user@host/db"
    assert refused(project, monkeypatch, runner) == [f"error: roi.toml: service.database_url: {expected}; {hint}"]


# ------------------------------------------------------------------ crons that never fire


@time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=False)
def test_a_cron_that_never_fires_is_refused(project, monkeypatch, runner):
    write(project, HEAD, "[report]\nschedule = '0 6 30 2 *'\n",
          SOURCE + "schedule = '0 6 31 4 *'\n", CATCH_ALL)
    assert refused(project, monkeypatch, runner) == [
        'error: roi.toml: report.schedule: "0 6 30 2 *" never fires: no date matches it',
        'error: roi.toml: sources[0].schedule: "0 6 31 4 *" never fires: no date matches it',
    ]


@time_machine.travel(datetime(2029, 3, 1, 12, 0, tzinfo=UTC), tick=False)
def test_a_cron_that_fires_only_on_29_february_is_accepted(project, monkeypatch, runner):
    write(project, HEAD, "[report]\nschedule = '0 6 29 2 *'\n", SOURCE, CATCH_ALL)
    result = check(project, monkeypatch, runner)
    assert result.exit_code == 0, result.output
    assert "schedule 0 6 29 2 *" in result.stdout


# ------------------------------------------------------------------ warnings


def test_a_file_source_matching_no_file_is_a_warning(project, monkeypatch, runner):
    project.write_config(body=textwrap.dedent(HEAD + SOURCE + CATCH_ALL))
    result = check(project, monkeypatch, runner)
    assert result.exit_code == 0, result.output
    assert result.stderr == "warning: roi.toml: sources[0].path: 'data/*.csv' matches no files yet\n"
    assert result.stdout.startswith("config roi.toml: ok")


def test_a_disabled_source_matching_no_file_is_not_warned_about(project, monkeypatch, runner):
    project.write_config(body=textwrap.dedent(HEAD + SOURCE + "enabled = false\n" + CATCH_ALL))
    result = check(project, monkeypatch, runner)
    assert result.exit_code == 0, result.output
    assert result.stderr == ""


# ------------------------------------------------------------------ the config module stands alone


def test_config_imports_neither_the_scheduler_nor_the_connectors():
    """Not at import time, and not inside a function either: those checks live in roi.services.validation."""
    for module in ("config.py", "config_problems.py"):
        tree = ast.parse((ROOT / "roi" / module).read_text())
        imported = {node.module or "" for node in ast.walk(tree) if isinstance(node, ast.ImportFrom)}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}
        assert not {name for name in imported if "scheduler" in name or "connectors" in name or "apscheduler" in name}
    loaded = subprocess.run(
        [sys.executable, "-c", "import sys, roi.config; print(sorted(m for m in sys.modules if m.startswith('roi.')))"],
        capture_output=True, text=True, check=True, cwd=ROOT,
    ).stdout
    assert "roi.scheduler" not in loaded and "roi.connectors" not in loaded and "roi.config" in loaded


def test_a_sql_source_url_roi_cannot_open_is_refused_the_same_way(project, monkeypatch, runner):
    sql = """
    [[sources]]
    name = "warehouse"
    type = "sql"
    url = "nosuchdb://reader:hunter2@warehouse/analytics"
    query = "SELECT * FROM cells WHERE ts >= :start AND ts < :end"
    """
    write(project, HEAD, SOURCE, sql, CATCH_ALL)
    assert refused(project, monkeypatch, runner) == [
        "error: roi.toml: sources[1].url: nosuchdb://reader:***@warehouse/analytics: no database type 'nosuchdb'; "
        "e.g. sqlite:///roi.db or postgresql+psycopg://user@host/db"
    ]
