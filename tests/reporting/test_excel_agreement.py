"""The workbook recalculated by LibreOffice equals the JSON report to the cent, before and after an edit.

Two LibreOffice runs for the module: the workbook as written, and the same
workbook after a finance user edited assumptions in it.
"""

from __future__ import annotations

import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path

import pytest
from excel_scenario import (
    FORMULA_TENANTS,
    assert_cohorts_equal_json,
    assert_figure,
    cli,
    cohort_rows,
    find_row,
    header_columns,
    json_report,
    label,
    make_scenario,
    write_setup,
)
from libreoffice import recalculate, require_libreoffice
from openpyxl import load_workbook

from roi.domain import CELL_METRICS
from roi.reporting.excel_sheets import METRIC_TITLES


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    require_libreoffice()
    root = tmp_path_factory.mktemp("workbook")
    config = make_scenario(root / "project")
    workbook = root / "march.xlsx"
    cli(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(workbook))
    return {
        "root": root,
        "config": config,
        "workbook": workbook,
        "march": json_report(config, "2026-03"),
        "february": json_report(config, "2026-02"),
        "recalculated": load_workbook(recalculate(workbook), data_only=True),
    }


def test_every_cohort_figure_and_the_totals_equal_the_json_report(scenario):
    assert_cohorts_equal_json(scenario["recalculated"], scenario["march"])


def test_summary_key_figures_equal_the_totals_of_this_and_the_previous_month(scenario):
    sheet = scenario["recalculated"]["Summary"]
    header = find_row(sheet, 1, "Key figure")
    assert [sheet.cell(header, column).value for column in (2, 3)] == ["2026-03", "2026-02"]
    for name in ("total_cost", "failure_cost", "value", "net_value", "roi", "cost_per_resolved_case",
                 "resolution_rate"):
        row = find_row(sheet, 1, METRIC_TITLES[name])
        now, before = scenario["march"]["totals"][name], scenario["february"]["totals"][name]
        assert_figure("Summary", name, sheet.cell(row, 2).value, now)
        assert_figure("Summary (previous month)", name, sheet.cell(row, 3).value, before)
        assert_figure("Summary (change)", name, sheet.cell(row, 4).value, now - before)
    facts = {sheet.cell(row, 1).value: sheet.cell(row, 2).value for row in range(4, 14)}
    assert facts["Period"] == "2026-03"
    assert facts["Currency"] == "EUR"
    assert facts["Config hash"] == scenario["march"]["config_hash"]
    assert facts["Data fingerprint"] == scenario["march"]["data_fingerprint"]
    assert isinstance(facts["Generated at (UTC)"], datetime)


def test_trend_shows_both_months_per_cohort_as_the_json_reports_give_them(scenario):
    sheet = scenario["recalculated"]["Trend"]
    header = 4
    columns: dict[str, int] = {}
    for cell in sheet[header]:
        if cell.value:
            columns.setdefault(cell.value, cell.column)  # the net value block comes first
    assert "2026-02" in columns and "2026-03" in columns and "2025-04" in columns  # 12 months
    rows = {}
    for row in range(header + 1, sheet.max_row + 1):
        first = sheet.cell(row, 1).value
        if first is None or str(first).startswith("Total"):
            break
        rows[tuple("" if sheet.cell(row, c).value == "(unattributed)" else sheet.cell(row, c).value
                   for c in (1, 2))] = row
    for month in ("february", "march"):
        document = scenario[month]
        net_column = columns[document["period"]]
        unit_column = net_column + 12 + 1  # the cost-per-resolved-case block follows after a gap
        assert sheet.cell(header, unit_column).value == document["period"]
        for record in document["cohorts"]:
            row = rows[label(record["cohort"])]
            assert_figure(f"Trend {month}", "net_value", sheet.cell(row, net_column).value, record["net_value"])
            assert_figure(f"Trend {month}", "cost_per_resolved_case", sheet.cell(row, unit_column).value,
                          record["cost_per_resolved_case"])
        total = find_row(sheet, 1, "Total (incl. unallocated fixed cost)")
        assert_figure(f"Trend {month} total", "net_value", sheet.cell(total, net_column).value,
                      document["totals"]["net_value"])


def test_detail_rows_add_up_to_each_cohort(scenario):
    detail, cohorts = scenario["recalculated"]["Detail"], scenario["recalculated"]["Cohorts"]
    detail_columns, cohort_columns = header_columns(detail, 3), header_columns(cohorts, 3)
    sums: dict[int, dict[str, float]] = {}
    for row in range(4, detail.max_row + 1):
        number = detail.cell(row, 1).value
        for name in ("requests", "review_cost", "fixed_cost", "failure_cost", "value", "net_value"):
            column = detail_columns[METRIC_TITLES[name]]
            sums.setdefault(number, {}).setdefault(name, 0.0)
            sums[number][name] += detail.cell(row, column).value or 0.0
    assert len(sums) == len(scenario["march"]["cohorts"])
    for number, figures in sums.items():
        row = 3 + number
        for name, total in figures.items():
            assert abs(cohorts.cell(row, cohort_columns[METRIC_TITLES[name]]).value - total) < 1e-6


def test_cohort_names_crafted_as_formulas_stay_text(scenario):
    raw = load_workbook(scenario["workbook"])  # formulas, as written
    for workbook in (raw, scenario["recalculated"]):
        sheet = workbook["Cohorts"]
        names = {sheet.cell(row, 2).value for row in range(4, sheet.max_row + 1)}
        for tenant in FORMULA_TENANTS[:4]:
            assert tenant in names, f"{tenant!r} not shown as written"
            row = find_row(sheet, 2, tenant)
            assert sheet.cell(row, 2).data_type == "s"
    with zipfile.ZipFile(scenario["workbook"]) as archive:
        xml = "".join(archive.read(name).decode() for name in archive.namelist() if name.startswith("xl/worksheets"))
    assert "HYPERLINK" in xml  # the text is there ...
    assert "<f>HYPERLINK" not in xml and "<f>SUM(A1)" not in xml  # ... but never as a formula


def test_derived_figures_are_formulas_reaching_the_assumptions_and_facts_are_values(scenario):
    raw = load_workbook(scenario["workbook"])
    cohorts, detail = raw["Cohorts"], raw["Detail"]
    columns, detail_columns = header_columns(cohorts, 3), header_columns(detail, 3)
    for name in CELL_METRICS:
        value = cohorts.cell(4, columns[METRIC_TITLES[name]]).value
        assert isinstance(value, int | float), f"{name} should be a value, got {value!r}"
    for name in ("review_cost", "fixed_cost", "total_cost", "failure_cost", "value", "net_value", "roi",
                 "cost_per_resolved_case", "fully_loaded_cost_per_resolved_case"):
        assert str(cohorts.cell(4, columns[METRIC_TITLES[name]]).value).startswith("=")
    for title in ("Value per resolution", "Escalation cost", "Reopen cost", "Abandonment cost", "Review cost per hour"):
        assert str(detail.cell(4, detail_columns[title]).value).startswith("='Assumptions'!")
    assert "'Assumptions'!" in str(detail.cell(4, detail_columns["Fixed cost"]).value)
    summary = raw["Summary"]
    assert str(summary.cell(find_row(summary, 1, "Net value"), 2).value).startswith("='Cohorts'!")


def test_sheets_formats_and_charts(scenario):
    raw = load_workbook(scenario["workbook"])
    assert raw.sheetnames == ["Summary", "Cohorts", "Detail", "Assumptions", "Trend", "Data quality", "Definitions"]
    cohorts = raw["Cohorts"]
    assert cohorts.freeze_panes == "D4"
    assert cohorts.auto_filter.ref.startswith("A3:")
    columns = header_columns(cohorts, 3)
    net = cohorts.cell(4, columns["Net value"])
    assert net.style == "roi-net" and "[Red]" in net.number_format and "EUR" in net.number_format
    assert cohorts.cell(4, columns["ROI"]).style == "roi-percent"
    assert cohorts.cell(4, columns["Token cost"]).style == "roi-currency"
    assert {"roi-currency", "roi-percent", "roi-input"} <= set(raw.named_styles)
    assert cohorts.column_dimensions["B"].width >= len('=HYPERLINK("http://evil.example","click")')
    with zipfile.ZipFile(scenario["workbook"]) as archive:
        charts = [name for name in archive.namelist() if name.startswith("xl/charts/chart")]
    assert len(charts) == 2  # net value by cohort (Summary), net value by month (Trend)
    quality = scenario["recalculated"]["Data quality"]
    texts = [str(cell.value) for row in quality.iter_rows() for cell in row if cell.value is not None]
    assert "bot" in texts and "mystery-llm" in texts
    assert any("not-a-time" in text for text in texts), "the quarantine reason is shown"


# ------------------------------------------------------------------ a finance user edits assumptions

EDITS = {
    # (model, effective from, column title): (old, new); the TOML changes below say the same
    ("support", date(2026, 3, 10), "Value per resolution"): (7.25, 11.0),
    ("support", date(2026, 2, 15), "Review cost per hour"): (45.0, 61.5),
    ("voice", date(2025, 6, 1), "Escalation cost"): (3.0, 4.75),
}
AMOUNTS = {"platform": (1000.0, 1750.0), "fax-gateway": (50.0, 80.0)}  # fax-gateway is unallocated


@pytest.fixture(scope="module")
def edited(scenario) -> dict:
    workbook = load_workbook(scenario["workbook"])
    sheet = workbook["Assumptions"]
    header = find_row(sheet, 1, "Value model")
    columns = header_columns(sheet, header)
    for (model, effective, title), (old, new) in EDITS.items():
        row = next(row for row in range(header + 1, sheet.max_row + 1)
                   if sheet.cell(row, 1).value == model and sheet.cell(row, 2).value.date() == effective)
        cell = sheet.cell(row, columns[title])
        assert cell.value == old
        cell.value = new
    for name, (old, new) in AMOUNTS.items():
        cell = sheet.cell(find_row(sheet, 1, name), 2)
        assert cell.value == old
        cell.value = new
    path = scenario["root"] / "edited.xlsx"
    workbook.save(path)
    # the same change made in the TOML, on a copy of the project
    copy = scenario["root"] / "edited-project"
    shutil.copytree(scenario["config"].parent, copy)
    config = write_setup(copy, f"sqlite:///{copy / 'roi.db'}", mar_value=11.0, feb_review=61.5,
                         voice_escalation=4.75, platform=1750.0, fax=80.0)
    return {"recalculated": load_workbook(recalculate(path), data_only=True),
            "march": json_report(config, "2026-03")}


def test_edited_assumptions_move_every_dependent_figure_to_what_the_json_gives(edited, scenario):
    assert edited["march"]["totals"]["net_value"] != scenario["march"]["totals"]["net_value"]
    assert_cohorts_equal_json(edited["recalculated"], edited["march"])


def test_edited_assumptions_move_nothing_else(edited, scenario):
    before, after = scenario["recalculated"], edited["recalculated"]
    # facts, and the earlier months of the trend, stay as they were
    cohorts = header_columns(before["Cohorts"], 3)
    rows = cohort_rows(before["Cohorts"], ["tenant", "channel"])
    for row in rows.values():
        for name in CELL_METRICS:
            column = cohorts[METRIC_TITLES[name]]
            assert after["Cohorts"].cell(row, column).value == before["Cohorts"].cell(row, column).value
    trend_before, trend_after = before["Trend"], after["Trend"]
    february = next(cell.column for cell in trend_before[4] if cell.value == "2026-02")
    for row in range(5, trend_before.max_row + 1):
        assert trend_after.cell(row, february).value == trend_before.cell(row, february).value
    summary = after["Summary"]
    row = find_row(summary, 1, "Net value")
    assert_figure("Summary", "net_value", summary.cell(row, 2).value, edited["march"]["totals"]["net_value"])
    assert_figure("Summary", "net_value", summary.cell(row, 3).value,
                  before["Summary"].cell(find_row(before["Summary"], 1, "Net value"), 3).value)


def test_workbook_files_are_written_where_the_cli_says(scenario, tmp_path):
    config = scenario["config"]
    result = cli(config, "report", "--period", "2026-03", "--format", "xlsx")
    default = Path(config.parent / "reports" / "2026-03" / "roi-2026-03.xlsx")
    assert default.exists() and zipfile.is_zipfile(default)
    assert str(default) in result.output
