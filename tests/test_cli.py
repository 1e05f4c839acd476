"""The command line (DESIGN section 6): `roi report` options, output, exit codes and one-line reasons."""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal

import pytest

from roi.cli import main

HEADER = "event_id,ts,tenant,channel,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes"
ROWS = [
    "e1,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,100,20,0,0.1,resolved,",
    "e2,2026-01-11T10:00:00Z,acme,voice,openai,gpt-4o-mini,100,20,0,0.2,escalated,",
    "e3,2026-01-12T10:00:00Z,,web,openai,gpt-4o-mini,100,20,0,0.4,resolved,",
    "e4,2026-01-12T10:00:00Z,=HYPERLINK(1),web,openai,gpt-4o-mini,0,0,0,0.8,abandoned,",
    "e5,2026-01-12T10:00:00Z,@sum,-web,openai,gpt-4o-mini,0,0,0,1.6,,",
    "e6,2026-01-12T10:00:00Z,+1,-1,openai,gpt-4o-mini,0,0,0,3.2,,",
]


@pytest.fixture
def loaded(project, runner):
    project.write_data("a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    result = runner.invoke(main, ["--config", str(project.config_path), "ingest"])
    assert result.exit_code == 0, result.output
    return project


def run(project, runner, *args: str):
    return runner.invoke(main, ["--config", str(project.config_path), *args])


def errors(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if line.startswith("error:")]


def test_help_lists_the_commands(runner):
    result = runner.invoke(main, ["--help"])
    assert result.exit_code == 0
    for command in ("config", "ingest", "report", "demo"):
        assert command in result.stdout


def test_report_json_to_stdout_with_the_default_group_by(loaded, runner):
    result = run(loaded, runner, "report", "--period", "2026-01")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["group_by"] == ["tenant", "channel"]
    assert document["period"] == "2026-01"
    assert document["config_hash"] == loaded.settings().config_hash
    keys = [(c["cohort"]["tenant"], c["cohort"]["channel"]) for c in document["cohorts"]]
    # missing values are "" in JSON; names are never altered there
    assert ("", "web") in keys and ("=HYPERLINK(1)", "web") in keys and ("+1", "-1") in keys
    # figures are unrounded: 0.1 + 0.2 + 0.4 + 0.8 + 1.6 + 3.2 in floating point
    assert document["totals"]["token_cost"] == pytest.approx(6.3, abs=1e-12)
    every = {"requests", "token_cost", "cases", "net_value", "roi", "cost_per_resolved_case", "escalation_rate",
             "fully_loaded_cost_per_resolved_case", "unallocated_fixed_cost", "human_review_minutes"}
    assert every <= set(document["totals"])
    assert every - {"unallocated_fixed_cost"} <= set(document["cohorts"][0])


def test_report_group_by_option(loaded, runner):
    document = json.loads(run(loaded, runner, "report", "--period", "2026-01", "--group-by", "channel,model").stdout)
    assert document["group_by"] == ["channel", "model"]
    assert {tuple(c["cohort"]) for c in document["cohorts"]} == {("channel", "model")}
    whole = json.loads(run(loaded, runner, "report", "--period", "2026-01", "--group-by", "").stdout)
    assert whole["group_by"] == []
    (cohort,) = whole["cohorts"]
    assert cohort["cohort"] == {} and cohort["requests"] == 6


def test_report_csv(loaded, runner):
    result = run(loaded, runner, "report", "--period", "2026-01", "--format", "csv", "--group-by", "tenant,channel")
    assert result.exit_code == 0
    rows = list(csv.reader(io.StringIO(result.stdout)))
    assert rows[0][:3] == ["tenant", "channel", "requests"]
    assert rows[0][-1] == "unallocated_fixed_cost"
    labels = [tuple(row[:2]) for row in rows[1:]]
    # people read "(unattributed)"; formula-like text is neutralised with an apostrophe
    assert set(labels[:-1]) == {("(unattributed)", "web"), ("'+1", "'-1"), ("'=HYPERLINK(1)", "web"),
                                ("'@sum", "'-web"), ("acme", "voice"), ("acme", "web")}
    assert labels[-1] == ("(total)", "")
    assert len(rows) == 8
    header = rows[0]
    total = dict(zip(header, rows[-1], strict=True))
    assert total["token_cost"] == "6.30"  # money to the cent
    assert int(total["requests"]) == 6
    # the total row is the sum of the cohort rows (and the unallocated fixed cost), to the cent
    unallocated = Decimal(total["unallocated_fixed_cost"])
    for name, sign in (("requests", 0), ("token_cost", 0), ("value", 0), ("net_value", -1), ("total_cost", 1)):
        column = header.index(name)
        assert Decimal(total[name]) == sum(Decimal(row[column]) for row in rows[1:-1]) + sign * unallocated
    # a null ratio is an empty cell
    evil = dict(zip(header, rows[1 + labels.index(("'@sum", "'-web"))], strict=True))
    assert evil["resolution_rate"] == "" and evil["cost_per_resolved_case"] == ""


def test_report_to_a_file(loaded, runner, tmp_path):
    target = tmp_path / "out" / "deep" / "jan.csv"
    result = run(loaded, runner, "report", "--period", "2026-01", "--format", "csv", "-o", str(target))
    assert result.exit_code == 0
    assert result.stdout == ""
    assert f"wrote {target}" in result.stderr
    assert target.read_text().startswith("tenant,channel,requests,")
    json_target = tmp_path / "jan.json"
    assert run(loaded, runner, "report", "--period", "2026-01", "--output", str(json_target)).exit_code == 0
    assert json.loads(json_target.read_text())["period"] == "2026-01"


def test_a_backfill_day_the_calendar_cannot_hold_is_a_usage_error(loaded, runner):
    result = run(loaded, runner, "ingest", "--since", "0001-01-01")
    assert result.exit_code == 2
    assert result.stderr == "error: --since: 0001-01-01 is out of range; give a day in the years 1900 to 2999\n"


def test_an_output_that_cannot_be_written_exits_1_with_a_reason(loaded, runner, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    target = blocker / "jan.json"  # a folder that is a file: cannot be created
    result = run(loaded, runner, "report", "--period", "2026-01", "-o", str(target))
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert errors(result.stderr) == [f"error: {target}: cannot write: File exists"]


def test_a_config_that_is_a_folder_exits_2(tmp_path, runner):
    result = runner.invoke(main, ["--config", str(tmp_path), "config", "check"])
    assert result.exit_code == 2
    assert result.stderr == f"error: {tmp_path}: cannot read the file: Is a directory\n"


def test_a_month_without_data_reports_fixed_costs_unallocated(project, runner):
    project.write_config(extra="[[fixed_costs]]\nname = 'db'\namount = 99.5\n")
    result = run(project, runner, "report", "--period", "2030-05")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["cohorts"] == []
    assert document["totals"]["unallocated_fixed_cost"] == 99.5
    assert document["totals"]["total_cost"] == 99.5
    assert document["totals"]["net_value"] == -99.5
    assert document["unallocated_fixed_costs"] == [{"name": "db", "amount": 99.5}]

NOT_A_MONTH = "is not a month; expected YYYY-MM (years 1900 to 2999), e.g. 2026-03"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--period", "2026-13"], f"error: period: '2026-13' {NOT_A_MONTH}"),
        (["--period", "2026-1"], f"error: period: '2026-1' {NOT_A_MONTH}"),
        # years the calendar cannot hold (or whose next month it cannot): a usage error, not a traceback
        (["--period", "0000-01"], f"error: period: '0000-01' {NOT_A_MONTH}"),
        (["--period", "9999-12"], f"error: period: '9999-12' {NOT_A_MONTH}"),
        (["--period", "2026-01", "--group-by", "region"],
         "error: --group-by: 'region' is not a stored dimension; allowed: tenant, channel, topic, language, "
         "plan_tier, provider, model"),
        (["--period", "2026-01", "--group-by", "tenant,tenant"], "error: --group-by: 'tenant,tenant' names a dimension twice"),
    ],
)
def test_bad_report_usage_exits_2_with_one_line(loaded, runner, args, message):
    result = run(loaded, runner, "report", *args)
    assert result.exit_code == 2
    assert result.stdout == ""
    assert result.stderr == message + "\n"


def test_group_by_a_dimension_the_store_drops(project, runner):
    project.write_config(body=project.config_path.read_text()
                         .replace("[report]", '[store]\ndimensions = ["tenant", "channel"]\n[report]'))
    result = run(project, runner, "report", "--period", "2026-01", "--group-by", "model")
    assert result.exit_code == 2
    assert result.stderr == "error: --group-by: 'model' is not a stored dimension; allowed: tenant, channel\n"


def test_click_usage_errors_exit_2(loaded, runner):
    assert run(loaded, runner, "report").exit_code == 2  # --period is required
    assert run(loaded, runner, "report", "--period", "2026-01", "--format", "xml").exit_code == 2
    assert run(loaded, runner, "nonsense").exit_code == 2


def test_a_missing_config_exits_2(tmp_path, runner, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("ROI_CONFIG", raising=False)
    for args in (["config", "check"], ["ingest"], ["report", "--period", "2026-01"]):
        result = runner.invoke(main, args)
        assert result.exit_code == 2, args
        assert result.stderr == "error: roi.toml: file not found\n"


def test_a_bad_config_stops_ingest_and_report(project, runner):
    project.write_config(extra="[[fixed_costs]]\nname = 'db'\namount = -1.0\n")
    for args in (["ingest"], ["report", "--period", "2026-01"]):
        result = run(project, runner, *args)
        assert result.exit_code == 2
        assert result.stderr == (
            f"error: {project.config_path}: fixed_costs[0].amount: Input should be greater than or equal to 0\n"
        )


def test_a_failure_exits_1_with_a_one_line_reason(project, runner):
    # the only value model starts in 2025: a cell from 2024 cannot be valued
    project.write_data("a.csv", HEADER + "\ne1,2024-06-01T10:00:00Z,acme,web,openai,gpt-4o-mini,1,1,0,0.1,resolved,\n")
    assert run(project, runner, "ingest").exit_code == 0
    result = run(project, runner, "report", "--period", "2024-06")
    assert result.exit_code == 1
    assert result.stderr == (
        "error: value model 'support' has no version effective on 2024-06-01 (its first version starts 2025-01-01)\n"
    )
    assert result.stdout == ""


def test_no_sources_to_ingest_exits_1(project, runner):
    project.write_config(body=project.config_path.read_text().replace("[[sources]]", "[[sources]]\nenabled = false"))
    result = run(project, runner, "ingest")
    assert result.exit_code == 1
    assert errors(result.stderr) == [f"error: {project.config_path}: no sources to ingest; add a [[sources]] table"]


def test_config_check_never_prints_secrets(project, runner, monkeypatch):
    monkeypatch.setenv("ROI_TEST_LF_SECRET", "sk-lf-do-not-print-0123")
    project.write_config(extra="""
        [[sources]]
        name = "traces"
        type = "langfuse"
        public_key = "pk-lf-1"
        secret_key = "${ROI_TEST_LF_SECRET}"
        """)
    result = run(project, runner, "config", "check")
    assert result.exit_code == 0, result.output
    assert "traces: langfuse" in result.stdout
    assert "sk-lf-do-not-print-0123" not in result.output


def test_config_check_never_prints_a_password_inside_a_url(project, runner):
    project.write_config(extra="""
        [[sources]]
        name = "warehouse"
        type = "sql"
        url = "postgresql+psycopg://bob:Do-Not-Print-42@db.example:5432/events"
        query = "SELECT day FROM cells WHERE ts >= :start AND ts < :end"
        """)
    result = run(project, runner, "config", "check")
    assert result.exit_code == 0, result.output
    assert "url=postgresql+psycopg://bob:***@db.example:5432/events" in result.stdout
    assert "Do-Not-Print-42" not in result.output


def test_a_command_imports_its_own_module_only(loaded):
    """The root group loads a command's module when that command runs (roi.cli.COMMANDS): `roi report`
    does not import the serving, scheduler, jobs, ingest or demo commands' modules."""
    import subprocess
    import sys

    script = (
        "import sys\n"
        "from roi.cli import main\n"
        f"main(['--config', {str(loaded.config_path)!r}, 'report', '--period', '2026-01', '--format', 'json'],"
        " standalone_mode=False)\n"
        "print(sorted(name for name in sys.modules if name.startswith('roi.cli.')),"
        " file=sys.stderr)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    loaded_modules = result.stderr.strip().splitlines()[-1]
    assert "roi.cli.reports" in loaded_modules and json.loads(result.stdout)["period"] == "2026-01"
    for other in ("roi.cli.processes", "roi.cli.jobs", "roi.cli.demo", "roi.cli.ingest", "roi.cli.periods"):
        assert other not in loaded_modules, loaded_modules
