"""Closing a month: stored revisions served byte for byte, late data measured, revisions with a Revision changes sheet."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
import time_machine
from click.testing import CliRunner
from excel_scenario import COLUMNS, cli, find_row, json_report, label, make_scenario, write_setup
from libreoffice import recalculate, require_libreoffice
from openpyxl import load_workbook

from roi import services
from roi.cli import main
from roi.config import load_config
from roi.domain import CELL_METRICS, DIMENSIONS, Period
from roi.errors import UsageError
from roi.services import periods, reports
from roi.store import revisions

MARCH = Period(2026, 3)
LATE = [  # three rows for March that arrive after it is closed: 0.30 + 0.20 + 0.10 of token cost
    ["late-1", "2026-03-20T09:00:00Z", "acme", "web", "openai", "gpt-4o-mini", 500, 50, 0, "0.30", "resolved", ""],
    ["late-2", "2026-03-21T09:00:00Z", "zeta", "web", "openai", "gpt-4o-mini", 500, 50, 0, "0.20", "", ""],
    ["late-3", "2026-03-22T09:00:00Z", "zeta", "chat", "openai", "gpt-4o-mini", 500, 50, 0, "0.10", "escalated", ""],
]


def _add_late_data(config: Path, rows=LATE, name: str = "late.csv") -> None:
    lines = [",".join(COLUMNS)] + [",".join(str(value) for value in row) for row in rows]
    (config.parent / "data" / name).write_text("\n".join(lines) + "\n")
    cli(config, "ingest")


def _change_config(config: Path) -> None:
    url = load_config(config).service.database_url
    write_setup(config.parent, url, mar_value=9.99, platform=2500.0)


def _exports(config: Path, period: Period = MARCH) -> dict[str, reports.Export]:
    settings = load_config(config)
    store = services.store_for(settings)
    try:
        return {fmt: reports.export(settings, store, period, fmt) for fmt in reports.FORMATS}
    finally:
        store.engine.dispose()


def test_a_closed_month_is_served_byte_for_byte_after_new_data_and_a_config_change(tmp_path, database_url):
    config = make_scenario(tmp_path / "project", database_url)
    before_close = json_report(config, "2026-03")
    result = cli(config, "close", "--period", "2026-03")
    assert "closed 2026-03: revision 1" in result.stdout
    written = (config.parent / "reports" / "2026-03" / "roi-2026-03.xlsx").read_bytes()
    first = _exports(config)
    assert first["xlsx"].content == written
    assert first["xlsx"].revision == 1 and first["xlsx"].filename == "roi-2026-03-r1.xlsx"
    stored = json.loads(first["json"].content)
    assert stored["revision"] == 1 and stored["state"] == "closed"
    assert stored["cohorts"] == before_close["cohorts"] and stored["totals"] == before_close["totals"]

    _assert_trend_month_equals_json(first["xlsx"].content, json_report(config, "2026-02"))

    _add_late_data(config)
    _change_config(config)
    assert json_report(config, "2026-02")["config_hash"] != before_close["config_hash"]  # the change took
    again = _exports(config)
    for fmt in reports.FORMATS:
        assert again[fmt].content == first[fmt].content, fmt
        assert again[fmt].etag == first[fmt].etag
    assert again["xlsx"].media_type == "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"

    output = tmp_path / "again.xlsx"
    result = cli(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(output))
    assert output.read_bytes() == first["xlsx"].content
    assert "3 rows and 0.60 EUR of token cost arrived after the close" in result.stderr
    result = cli(config, "report", "--period", "2026-03")
    assert json.loads(result.stdout)["totals"] == before_close["totals"]

    settings = load_config(config)
    store = services.store_for(settings)
    states = {str(state.period): state for state in periods.list_periods(store)}
    store.engine.dispose()
    assert list(states) == ["2026-02", "2026-03"]
    assert states["2026-02"].state == "open" and states["2026-02"].revision is None
    march = states["2026-03"]
    assert (march.state, march.revision, march.late_rows) == ("closed", 1, 3)
    assert march.late_cost == pytest.approx(0.60)
    assert march.closed_at.tzinfo is not None and march.closed_at <= datetime.now(UTC)


def _assert_trend_month_equals_json(content: bytes, document: dict) -> None:
    """An earlier month on the Trend sheet (values, no recalculation needed) equals its JSON report."""
    sheet = load_workbook(io.BytesIO(content))["Trend"]
    months = [cell.value for cell in sheet[4] if cell.value and cell.value[:2] == "20"]
    column = next(cell.column for cell in sheet[4] if cell.value == document["period"])
    found = {}
    for row in range(5, sheet.max_row + 1):  # column A names the whole cohort, e.g. "acme / email"
        found[sheet.cell(row, 1).value] = (sheet.cell(row, column).value,
                                           sheet.cell(row, column + len(months) // 2 + 1).value)
    for record in document["cohorts"]:
        net, unit = found[" / ".join(value or "(unattributed)" for value in record["cohort"].values())]
        assert net == pytest.approx(record["net_value"], abs=1e-9)
        assert unit == (pytest.approx(record["cost_per_resolved_case"], abs=1e-9)
                        if record["cost_per_resolved_case"] is not None else None)
    total = found["Total (incl. unallocated fixed cost)"]
    assert total[0] == pytest.approx(document["totals"]["net_value"], abs=1e-9)


def test_roi_periods_lists_months_with_their_state(tmp_path):
    config = make_scenario(tmp_path / "project")
    cli(config, "close", "--period", "2026-02")
    cli(config, "ingest", "--force")  # the same data stored again: new batches, nothing late
    assert cli(config, "periods").stdout.splitlines()[1].split()[-2:] == ["0", "0.00"]
    _add_late_data(config, [["late-f", "2026-02-20T09:00:00Z", "acme", "web", "openai", "gpt-4o-mini",
                             10, 5, 0, "1.25", "resolved", ""]])
    lines = cli(config, "periods").stdout.splitlines()
    assert lines[0].split() == ["period", "state", "revision", "closed", "at", "(UTC)", "late", "rows", "late",
                                "cost", "(EUR)"]
    february, march = lines[1].split(), lines[2].split()
    assert february[:3] == ["2026-02", "closed", "1"]
    assert february[-2:] == ["1", "1.25"]
    assert march == ["2026-03", "open", "-", "-", "0", "0.00"]
    assert len(lines) == 3


def test_revise_issues_revision_2_with_a_changes_sheet(tmp_path):
    require_libreoffice()
    config = make_scenario(tmp_path / "project")
    cli(config, "close", "--period", "2026-03")
    old = json.loads(_exports(config)["json"].content)
    _add_late_data(config)
    _change_config(config)

    refused = CliRunner().invoke(main, ["--config", str(config), "close", "--period", "2026-03"])
    assert refused.exit_code == 1
    assert "already closed (revision 1" in refused.output and "--revise" in refused.output

    result = cli(config, "close", "--period", "2026-03", "--revise")
    assert "revision 2" in result.stdout
    exports = _exports(config)
    assert exports["xlsx"].revision == 2
    new = json.loads(exports["json"].content)
    assert new["revision"] == 2 and new["totals"] == json_report(config, "2026-03")["totals"]
    states = periods.list_periods(services.store_for(load_config(config)))
    assert [(s.revision, s.late_rows) for s in states if s.period == MARCH] == [(2, 0)]

    path = tmp_path / "r2.xlsx"
    path.write_bytes(exports["xlsx"].content)
    workbook = load_workbook(recalculate(path), data_only=True)
    assert workbook.sheetnames[:2] == ["Summary", "Revision changes"]
    sheet = workbook["Revision changes"]
    columns = {cell.value: cell.column for cell in sheet[3] if cell.value}
    old_records = {label(record["cohort"]): record for record in old["cohorts"]}
    new_records = {label(record["cohort"]): record for record in new["cohorts"]}
    assert ("zeta", "web") in new_records and ("zeta", "web") not in old_records
    for key in set(old_records) | set(new_records):
        row = find_row(sheet, 1, " / ".join(value or "(unattributed)" for value in key))
        for name, title in (("net_value", "Net value"), ("requests", "Requests"), ("total_cost", "Total cost")):
            before = old_records.get(key, {}).get(name)
            after = new_records.get(key, {}).get(name)
            got_old, got_new = (sheet.cell(row, columns[f"{title} r{n}"]).value for n in (1, 2))
            assert (got_old is None) == (before is None) and (got_new is None) == (after is None)
            assert abs((got_old or 0) - (before or 0)) < 0.005 and abs((got_new or 0) - (after or 0)) < 0.005
            change = sheet.cell(row, columns[f"{title} change"]).value
            assert abs(change - ((after or 0) - (before or 0))) < 0.005
    total = find_row(sheet, 1, "Total")
    assert abs(sheet.cell(total, columns["Net value change"]).value
               - (new["totals"]["net_value"] - old["totals"]["net_value"])) < 0.005
    summary = workbook["Summary"]
    notes = [str(cell.value) for row in summary.iter_rows() for cell in row if cell.value]
    assert any("Since revision 1" in note and "3 rows and 0.60 EUR" in note for note in notes)


def test_the_next_months_workbook_uses_the_closed_figures_and_tells_of_late_data(tmp_path):
    config = make_scenario(tmp_path / "project")
    closed_february = json_report(config, "2026-02")
    cli(config, "close", "--period", "2026-02")
    _add_late_data(config, [["late-f", "2026-02-20T09:00:00Z", "acme", "web", "openai", "gpt-4o-mini",
                             10, 5, 0, "1.25", "resolved", ""]])
    assert json_report(config, "2026-02")["totals"] == closed_february["totals"]  # served as closed
    path = tmp_path / "march.xlsx"
    cli(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(path))
    workbook = load_workbook(path)
    summary = workbook["Summary"]
    notes = [str(cell.value) for row in summary.iter_rows() for cell in row if cell.value]
    assert any(note.startswith("2026-02 is closed (revision 1") and "1 rows and 1.25 EUR" in note for note in notes)
    row = find_row(summary, 1, "Net value")
    assert summary.cell(row, 3).value == pytest.approx(closed_february["totals"]["net_value"])
    trend = workbook["Trend"]
    assert "2026-02 (r1)" in [cell.value for cell in trend[4]]


@time_machine.travel(datetime(2026, 5, 15, 12, 0, tzinfo=UTC), tick=True)  # not the wall clock: a run near midnight would straddle two days
def test_closing_refuses_an_unfinished_month_and_an_empty_one(tmp_path):
    config = make_scenario(tmp_path / "project")
    runner = CliRunner()
    today = Period.of(datetime.now(UTC).date())
    result = runner.invoke(main, ["--config", str(config), "close", "--period", str(today)])
    assert result.exit_code == 2
    assert f"{today} has not ended yet in UTC; it can be closed from {today.end.isoformat()}" in result.output
    result = runner.invoke(main, ["--config", str(config), "close", "--period", "2025-12"])
    assert result.exit_code == 1
    assert "period 2025-12: no data for this month, so there is nothing to close" in result.output
    result = runner.invoke(main, ["--config", str(config), "close", "--period", "2026-3"])
    assert result.exit_code == 2


def test_an_open_month_is_built_now_with_an_etag_that_follows_its_inputs(tmp_path):
    config = make_scenario(tmp_path / "project")
    first, second = _exports(config), _exports(config)
    for fmt in reports.FORMATS:
        assert first[fmt].revision is None
        assert first[fmt].filename == f"roi-2026-03.{fmt}"
        assert first[fmt].etag == second[fmt].etag
    assert first["csv"].media_type.startswith("text/csv")
    assert first["json"].media_type == "application/json"
    assert json.loads(first["json"].content)["totals"] == json_report(config, "2026-03")["totals"]
    _add_late_data(config)
    changed = _exports(config)
    for fmt in reports.FORMATS:
        assert changed[fmt].etag != first[fmt].etag
    settings = load_config(config)
    with pytest.raises(UsageError, match="'pdf' is not one of xlsx, csv, json"):
        reports.export(settings, services.store_for(settings), MARCH, "pdf")


def test_an_ad_hoc_grouping_of_a_closed_month_is_computed_now_and_says_so(tmp_path):
    config = make_scenario(tmp_path / "project")
    cli(config, "close", "--period", "2026-03")
    result = cli(config, "report", "--period", "2026-03", "--group-by", "channel")
    assert "this grouping is computed from today's data and config" in result.stderr
    assert json.loads(result.stdout)["group_by"] == ["channel"]


def _cells(rows: list[dict]) -> pd.DataFrame:
    full = []
    for row in rows:
        cell = {"day": row.get("day", "2026-03-01"), **{name: "" for name in DIMENSIONS},
                **{name: 0.0 for name in CELL_METRICS}}
        cell.update(row)
        full.append(cell)
    return pd.DataFrame(full)


def test_late_data_counts_rows_and_cost_against_the_snapshot():
    snapshot = revisions.encode_snapshot(_cells([
        {"tenant": "a", "requests": 5, "resolved": 2, "token_cost": 1.0},
        {"tenant": "b", "requests": 3, "token_cost": 0.5},
    ]))
    assert revisions.late_data(_cells([
        {"tenant": "a", "requests": 5, "resolved": 2, "token_cost": 1.0},
        {"tenant": "b", "requests": 3, "token_cost": 0.5},
    ]), snapshot) == (0, 0.0)
    rows, cost = revisions.late_data(_cells([
        {"tenant": "a", "requests": 7, "resolved": 3, "token_cost": 1.5},  # 2 calls, one with an outcome
        {"tenant": "b", "requests": 3, "token_cost": 0.5, "human_review_minutes": 4.0},  # a change, no new row
        {"tenant": "c", "day": "2026-03-02", "escalated": 4},  # 4 outcome-only rows
    ]), snapshot)
    assert (rows, cost) == (2 + 1 + 4, pytest.approx(0.5))
    rows, cost = revisions.late_data(_cells([{"tenant": "a", "requests": 5, "resolved": 2, "token_cost": 1.0}]),
                                     snapshot)
    assert (rows, cost) == (3, pytest.approx(-0.5))  # a batch that shrank: rows gone, cost removed


def test_a_closed_month_is_its_revision_in_the_revisions_grouping_whatever_the_config_says_now(tmp_path):
    """One rule (services.reports.report): the stored revision answers a question in its own grouping
    without filters; the month's files are always the revision's."""
    config = make_scenario(tmp_path / "project")
    cli(config, "close", "--period", "2026-03")
    stored = _exports(config)["json"].content
    config.write_text(config.read_text().replace('group_by = ["tenant", "channel"]', 'group_by = ["tenant"]'))
    result = CliRunner().invoke(main, ["--config", str(config), "report", "--period", "2026-03", "--format", "json"])
    assert result.exit_code == 0 and json.loads(result.stdout)["group_by"] == ["tenant"]
    assert "computed from today's data and config, not the revision" in result.stderr
    asked = CliRunner().invoke(main, ["--config", str(config), "report", "--period", "2026-03", "--format", "json",
                                      "--group-by", "tenant,channel"])
    assert asked.exit_code == 0 and asked.stdout.encode() == stored and "served as stored" in asked.stderr
    assert _exports(config)["json"].content == stored  # the download and the job's file stay the revision
