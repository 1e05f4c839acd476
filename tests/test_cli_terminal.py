"""The command line at a terminal (issue 15): tables, filters, sort and limit, `-o -`, trend, quarantine,
--version and -h, the no-data warning, refusing an unchanged revision, notes and progress."""

from __future__ import annotations

import io
import json
import os
import pty
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from openpyxl import load_workbook
from test_cli import HEADER, ROWS, errors, run

from roi.cli import main
from roi.terminal import IngestProgress, render_progress

ROI = Path(sys.executable).parent / "roi"
BROKEN = "e9,not-a-time,acme,web,openai,gpt-4o-mini,1,1,0,0.1,resolved,"


@pytest.fixture
def loaded(project, runner):
    project.write_config(extra="[[fixed_costs]]\nname = 'db'\namount = 10\nallocate_by = 'requests'\n")
    project.write_data("a.csv", "\n".join([HEADER, *ROWS, BROKEN]) + "\n")
    result = run(project, runner, "ingest")
    assert result.exit_code == 0, result.output
    return project


def on_a_terminal(project, *args: str) -> tuple[int, str, str]:
    """Run the real `roi` with stdout on a pseudo-terminal: (exit code, what the terminal showed, stderr)."""
    leader, follower = pty.openpty()
    try:
        process = subprocess.Popen([str(ROI), "--config", str(project.config_path), *args], stdout=follower,
                                   stderr=subprocess.PIPE, stdin=subprocess.DEVNULL)
        os.close(follower)
        shown = b""
        while True:
            try:
                chunk = os.read(leader, 65536)
            except OSError:  # the terminal closed: the command ended
                break
            if not chunk:
                break
            shown += chunk
        with process.stderr:
            stderr = process.stderr.read().decode()
        return process.wait(timeout=60), shown.decode().replace("\r\n", "\n"), stderr
    finally:
        os.close(leader)


def test_version_and_short_help(runner):
    from importlib.metadata import version

    result = runner.invoke(main, ["--version"])
    assert result.exit_code == 0 and result.stdout == f"roi {version('roi')}\n"
    for args in (["-h"], ["report", "-h"], ["trend", "-h"], ["quarantine", "-h"]):
        shown = runner.invoke(main, args, prog_name="roi")
        assert shown.exit_code == 0 and shown.stdout.startswith("Usage: roi"), args


def test_report_on_a_terminal_is_a_table_by_net_value_and_json_when_piped(loaded, runner):
    code, shown, _ = on_a_terminal(loaded, "report", "--period", "2026-01")
    assert code == 0, shown
    lines = shown.splitlines()
    assert lines[0] == "ROI 2026-01 by tenant, channel (USD)" and lines[1].split()[:3] == ["cohort", "cases", "resolved"]
    piped = json.loads(run(loaded, runner, "report", "--period", "2026-01").stdout)
    rows = lines[2:2 + len(piped["cohorts"])]
    net = [float(line.split()[-2].replace(",", "")) for line in rows]
    assert net == sorted(net, reverse=True) and len(net) == len(piped["cohorts"]) == 6
    total = next(line for line in lines if line.startswith("TOTAL"))
    assert float(total.split()[-2].replace(",", "")) == pytest.approx(piped["totals"]["net_value"], abs=0.005)
    assert "10.00 of fixed cost no cohort carries" not in shown  # every cell carries the db cost by requests


def test_filter_sort_and_limit(loaded, runner):
    result = run(loaded, runner, "report", "--period", "2026-01", "--filter", "tenant=acme", "--sort", "-token_cost",
                 "--format", "json")
    document = json.loads(result.stdout)
    assert [c["cohort"] for c in document["cohorts"]] == [{"tenant": "acme", "channel": "voice"},
                                                          {"tenant": "acme", "channel": "web"}]
    assert document["filters"] == {"tenant": ["acme"]}
    limited = json.loads(run(loaded, runner, "report", "--period", "2026-01", "--sort", "token_cost",
                             "--limit", "2").stdout)
    everything = json.loads(run(loaded, runner, "report", "--period", "2026-01").stdout)
    assert [c["token_cost"] for c in limited["cohorts"]] == sorted(c["token_cost"] for c in everything["cohorts"])[:2]
    assert limited["totals"] == everything["totals"]  # totals cover every cohort
    table = run(loaded, runner, "report", "--period", "2026-01", "--format", "table", "--limit", "1",
                "--filter", "channel=web,voice", "--filter", "tenant=acme")
    assert table.exit_code == 0, table.output
    assert "channel=web,voice; tenant=acme" in table.stdout.splitlines()[0]
    assert "(1 more cohorts not shown; the totals include them)" in table.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--filter", "tenant"], "error: --filter: 'tenant' is not DIM=VALUE[,VALUE], e.g. tenant=acme,globex"),
        (["--filter", "region=eu"], "error: region: not a stored dimension to filter on"),
        (["--filter", "tenant=a", "--filter", "tenant=b"], "error: --filter: tenant given twice"),
        (["--sort", "-happiness"], "error: --sort: 'happiness' is not a metric"),
        (["--sort", "roi", "--format", "csv"], "error: --sort/--limit: apply to the table and JSON"),
    ],
)
def test_bad_filter_and_sort_exit_2_with_one_line(loaded, runner, args, message):
    result = run(loaded, runner, "report", "--period", "2026-01", *args)
    assert result.exit_code == 2
    assert len(errors(result.stderr)) == 1 and errors(result.stderr)[0].startswith(message), result.stderr


def test_dash_output_is_stdout_and_a_workbook_never_goes_to_a_terminal(loaded, runner):
    csv_text = run(loaded, runner, "report", "--period", "2026-01", "--format", "csv", "-o", "-")
    assert csv_text.exit_code == 0 and csv_text.stdout.startswith("tenant,channel,")
    assert not (Path.cwd() / "-").exists()
    piped = subprocess.run([str(ROI), "--config", str(loaded.config_path), "report", "--period", "2026-01",
                            "--format", "xlsx", "-o", "-"], capture_output=True, timeout=120, check=True)
    workbook = load_workbook(io.BytesIO(piped.stdout))
    assert "Summary" in workbook.sheetnames
    code, shown, stderr = on_a_terminal(loaded, "report", "--period", "2026-01", "--format", "xlsx", "-o", "-")
    assert code == 2 and shown == ""
    assert stderr == "error: -o -: a workbook is binary and stdout is a terminal; give -o FILE.xlsx or pipe it\n"


def test_the_format_follows_the_output_extension(loaded, runner, tmp_path):
    result = run(loaded, runner, "report", "--period", "2026-01", "-o", str(tmp_path / "jan.csv"))
    assert result.exit_code == 0 and (tmp_path / "jan.csv").read_text().startswith("tenant,channel,")


def test_a_month_without_data_warns_and_keeps_its_fixed_costs_unallocated(loaded, runner):
    result = run(loaded, runner, "report", "--period", "2025-01")
    assert result.exit_code == 0
    assert result.stderr == ("warning: 2025-01 has no data: no cohorts; its fixed costs (10.00 USD) are shown as "
                             "unallocated\n")
    document = json.loads(result.stdout)
    assert document["cohorts"] == [] and document["totals"]["unallocated_fixed_cost"] == 10
    assert run(loaded, runner, "report", "--period", "2026-01").stderr == ""


def test_trend_over_the_last_months(loaded, runner):
    result = run(loaded, runner, "trend", "--months", "3", "--format", "json")
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    assert document["periods"] == ["2025-11", "2025-12", "2026-01"]
    january = json.loads(run(loaded, runner, "report", "--period", "2026-01").stdout)
    assert document["totals"][-1]["net_value"] == pytest.approx(january["totals"]["net_value"])
    table = run(loaded, runner, "trend", "--months", "2", "--metric", "token_cost", "--format", "table")
    lines = table.stdout.splitlines()
    assert lines[0].startswith("token_cost by tenant, channel (USD), 2025-12 to 2026-01")
    assert lines[1].split() == ["cohort", "2025-12", "2026-01"]
    assert lines[-1].split()[-1] == f"{january['totals']['token_cost']:,.2f}"


def test_quarantine_lists_rows_with_their_reasons(loaded, runner):
    result = run(loaded, runner, "quarantine", "--format", "json")
    assert result.exit_code == 0, result.output
    items = json.loads(result.stdout)["items"]
    assert len(items) == 1 and items[0]["raw"] == BROKEN and items[0]["line"] == 8
    assert items[0]["source"] == "bot" and "ts" in items[0]["reason"]
    lines = run(loaded, runner, "quarantine", "--source", "bot", "--period", "2026-01", "--format", "table"
                ).stdout.splitlines()
    assert lines[0].startswith(f"#{items[0]['id']} bot ") and ":8: " in lines[0] and lines[1].strip() == BROKEN
    assert run(loaded, runner, "quarantine", "--period", "2025-06", "--format", "json").stdout.count('"id"') == 0
    missing = run(loaded, runner, "quarantine", "--source", "nope")
    assert missing.exit_code == 1 and errors(missing.stderr) == ["error: source: no source named 'nope' (sources: bot)"]


def test_revise_refuses_a_month_nothing_changed_in_unless_forced(loaded, runner):
    with time_machine.travel(datetime(2026, 3, 1, tzinfo=UTC), tick=False):
        assert run(loaded, runner, "close", "--period", "2026-01").exit_code == 0
        same = run(loaded, runner, "close", "--period", "2026-01", "--revise")
        assert same.exit_code == 1
        assert errors(same.stderr) == [
            next(line for line in same.stderr.splitlines() if line.startswith("error: period 2026-01: nothing changed "
                                                                             "since revision 1"))]
        assert "add --force to issue revision 2 anyway" in same.stderr
        assert run(loaded, runner, "periods").stdout.splitlines()[1].split()[:3] == ["2026-01", "closed", "1"]
        forced = run(loaded, runner, "close", "--period", "2026-01", "--revise", "--force")
        assert forced.exit_code == 0 and "revision 2" in forced.stdout
        assert run(loaded, runner, "close", "--period", "2026-01", "--force").exit_code == 2


def test_ingest_since_on_a_file_source_says_it_does_not_apply(loaded, runner):
    result = run(loaded, runner, "ingest", "--since", "2026-01-01")
    assert result.exit_code == 0
    assert "note: bot reads files whole, not by day: --since/--until do not apply to it" in result.stderr


def test_progress_line_shows_rows_rate_and_eta():
    assert render_progress("bot: a.csv", 12_000, 4.0) == "bot: a.csv 12,000 rows, 3,000 rows/s, 0:04 elapsed"
    line = render_progress("shop: 2026-01-03", 500, 10.0, (2, 10), width=10)
    assert line == "shop: 2026-01-03 [##--------] 2/10 days, 500 rows, 50 rows/s, ETA 0:40, 0:10 elapsed"
    ticks = iter([0.0, 0.05, 1.0, 2.0, 3.0])
    stream = io.StringIO()
    bar = IngestProgress(stream, interval=0.2, clock=lambda: next(ticks))
    bar.rows("bot", "a.csv", 100)  # drawn (first)
    bar.rows("bot", "a.csv", 200)  # 0.05 s later: not redrawn
    bar.batch("bot", "file:a.csv", 1, 31)  # a batch read: drawn
    bar.rows("bot", "b.csv", 50)  # rows add up across the source's batches
    bar.finish()
    frames = stream.getvalue().split("\r\033[K")[1:]
    assert len(frames) == 3
    assert frames[0].startswith("bot: a.csv 100 rows") and frames[1].startswith("bot: a.csv 200 rows")
    assert frames[2].startswith("bot: b.csv 250 rows, 125 rows/s") and frames[2].endswith("\n")


def test_ingest_on_a_terminal_draws_progress_on_stderr(project):
    project.write_data("a.csv", "\n".join([HEADER, *ROWS]) + "\n")
    leader, follower = pty.openpty()
    try:
        process = subprocess.run([str(ROI), "--config", str(project.config_path), "ingest"], stderr=follower,
                                 stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, timeout=120)
        os.close(follower)
        shown = os.read(leader, 65536).decode()
    finally:
        os.close(leader)
    assert process.returncode == 0
    assert "\r\033[Kbot: " in shown and " rows, " in shown and " elapsed" in shown
    assert process.stdout.decode().splitlines()[0].split()[:2] == ["source", "files"]


def test_a_file_read_shows_its_share_and_time_left_estimated_from_its_size(tmp_path):
    from roi.terminal import estimate_rows

    path = tmp_path / "events.csv"
    path.write_text("header\n" + "".join(f"row-{index:05d}\n" for index in range(999)))  # 10 bytes a row
    assert estimate_rows(str(path)) == pytest.approx(999, abs=2)
    assert estimate_rows(str(tmp_path / "day 2026-01-02")) is None
    ticks = iter([0.0, 2.0])
    stream = io.StringIO()
    bar = IngestProgress(stream, interval=0.0, clock=lambda: next(ticks))
    bar.rows("bot", str(path), 0)
    bar.rows("bot", str(path), 250)
    last = stream.getvalue().split("\r\033[K")[-1]
    assert last.startswith("bot: events.csv [######------------------] ~25%, 250 rows, 125 rows/s, ETA ~0:06")
