"""The workbook recalculated by LibreOffice equals the JSON report to the cent, before and after an edit.

Two LibreOffice runs for the module: the workbook as written, and the same
workbook after a finance user edited assumptions in it.
"""

from __future__ import annotations

import re
import shutil
import zipfile
from datetime import date, datetime
from pathlib import Path

import pandas
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
    make_scenario,
    write_setup,
)
from libreoffice import recalculate, require_libreoffice
from openpyxl import load_workbook

from roi.domain import CELL_METRICS
from roi.reporting.workbook.figures import METRIC_TITLES


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
        if name in ("roi", "resolution_rate"):  # a change of a percentage: in percentage points
            assert_figure("Summary (change, pp)", "value", sheet.cell(row, 4).value, (now - before) * 100)
            assert "pp" in raw_format(scenario, "Summary", row, 4)
        else:
            assert_figure("Summary (change)", name, sheet.cell(row, 4).value, now - before)
    facts = {sheet.cell(row, 1).value: sheet.cell(row, 2).value for row in range(1, sheet.max_row + 1)}
    assert facts["Period"] == "2026-03"
    assert facts["Currency"] == "EUR"
    assert facts["Config hash"] == scenario["march"]["config_hash"]
    assert facts["Data fingerprint"] == scenario["march"]["data_fingerprint"]
    assert isinstance(facts["Generated at (UTC)"], datetime)
    # the hashes stand in a footer block below the key figures
    assert find_row(sheet, 1, "Config hash") > find_row(sheet, 1, "Cohort") > find_row(sheet, 1, "Key figure")
    unit = find_row(sheet, 1, METRIC_TITLES["cost_per_resolved_case"])
    assert raw_format(scenario, "Summary", unit, 2).startswith("#,##0.00 ")  # money to the cent, like the rest


def raw_format(scenario, title: str, row: int, column: int) -> str:
    return load_workbook(scenario["workbook"])[title].cell(row, column).number_format


def test_summary_lists_the_cohorts_by_net_value_largest_first(scenario):
    sheet = scenario["recalculated"]["Summary"]
    header = find_row(sheet, 1, "Cohort")
    shown = []
    for row in range(header + 1, sheet.max_row + 1):
        if sheet.cell(row, 2).value is None:
            break
        shown.append((sheet.cell(row, 1).value, sheet.cell(row, 2).value))
    ordered = sorted(scenario["march"]["cohorts"], key=lambda record: -record["net_value"])
    assert len(ordered) > 20  # so the list holds the 10 highest and the 10 lowest
    expected = ordered[:10] + ordered[-10:]
    assert sheet.cell(header - 1, 1).value == f"Net value: the 10 highest and 10 lowest of {len(ordered)} cohorts"
    assert [value for _label, value in shown] == pytest.approx([record["net_value"] for record in expected], abs=0.005)
    labels = [" / ".join(value or "(unattributed)" for value in record["cohort"].values()) for record in expected]
    assert [label for label, _value in shown] == labels


def test_trend_shows_both_months_per_cohort_as_the_json_reports_give_them(scenario):
    sheet = scenario["recalculated"]["Trend"]
    header = 4
    columns: dict[str, int] = {}
    for cell in sheet[header]:
        if cell.value:
            columns.setdefault(cell.value, cell.column)  # the net value block comes first
    # the months from the first with data: the 10 empty ones before February are left out, and it says so
    assert [value for value in columns if value.startswith("20")] == ["2026-02", "2026-03"]
    assert "No data before 2026-02" in sheet.cell(2, 1).value
    rows = {}
    for row in range(header + 1, sheet.max_row + 1):
        first = sheet.cell(row, 1).value
        if first is None or str(first).startswith("Total"):
            break
        rows[first] = row  # the whole cohort, e.g. "acme / email"
    for month in ("february", "march"):
        document = scenario[month]
        net_column = columns[document["period"]]
        unit_column = net_column + 2 + 1  # the cost-per-resolved-case block follows after a gap
        assert sheet.cell(header, unit_column).value == document["period"]
        for record in document["cohorts"]:
            row = rows[" / ".join(value or "(unattributed)" for value in record["cohort"].values())]
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
        xml = "".join(archive.read(name).decode() for name in archive.namelist()
                      if name.startswith("xl/worksheets") or name == "xl/sharedStrings.xml")
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
    assert raw.sheetnames == ["Summary", "Cohorts", "Detail", "Assumptions", "Trend", "Changes", "Risk", "Sensitivity",
                              "Data quality", "Definitions"]
    cohorts = raw["Cohorts"]
    assert cohorts.freeze_panes == "D4"
    assert cohorts.auto_filter.ref.startswith("A3:")
    columns = header_columns(cohorts, 3)
    net = cohorts.cell(4, columns["Net value"])
    assert "[Red]" in net.number_format and "EUR" in net.number_format
    assert cohorts.cell(4, columns["ROI"]).number_format == "0.0%"
    assert cohorts.cell(4, columns["Token cost"]).number_format == '#,##0.00 "EUR"'
    assert cohorts.cell(4, columns["Cost per resolved case"]).number_format == '#,##0.00 "EUR"'
    header = cohorts.cell(3, columns["Cost per resolved case"])
    assert header.alignment.wrap_text and cohorts.row_dimensions[3].height >= 30  # two lines, not cut
    assert cohorts.column_dimensions["B"].width >= len('=HYPERLINK("http://evil.example","click")')
    with zipfile.ZipFile(scenario["workbook"]) as archive:
        charts = [name for name in archive.namelist() if name.startswith("xl/charts/chart")]
    # net value by cohort (Summary), net value by month (Trend), the effects (Changes), the tornado (Sensitivity)
    assert len(charts) == 4
    with zipfile.ZipFile(scenario["workbook"]) as archive:
        trend_chart = next(archive.read(name).decode() for name in charts if b"lineChart" in archive.read(name))
    assert '<c:smooth val="1"/>' not in trend_chart  # straight lines
    # each series is named by its whole cohort (a cell of column A such as "acme / email"), never column A alone
    trend = raw["Trend"]
    names = [trend[reference.split("!")[1].replace("$", "")].value
             for reference in re.findall(r"<c:tx><c:strRef><c:f>([^<]+)</c:f>", trend_chart)]
    assert names[0] == "Total (incl. unallocated fixed cost)" and len(names) == 6
    assert all(" / " in name for name in names[1:]) and len(set(names)) == len(names)
    # the months with data only: February and March, not the ten empty months before
    assert re.findall(r"<c:cat>.*?<c:f>([^<]+)</c:f>", trend_chart, re.S)[0] == "'Trend'!$B$4:$C$4"
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


# ------------------------------------------------------------------ what readers that do not recalculate see


def _comparable(value):
    if value == "" or value is None:
        return None
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return value


def test_every_formula_carries_its_cached_result_and_it_equals_libreoffices(scenario):
    formulas = load_workbook(scenario["workbook"])
    cached = load_workbook(scenario["workbook"], data_only=True)  # the values stored next to the formulas
    recalculated = scenario["recalculated"]
    checked = 0
    for sheet in formulas.worksheets:
        for row in sheet.iter_rows():
            for cell in row:
                if cell.data_type != "f":
                    continue
                stored = _comparable(cached[sheet.title].cell(cell.row, cell.column).value)
                computed = _comparable(recalculated[sheet.title].cell(cell.row, cell.column).value)
                where = f"{sheet.title}!{cell.coordinate} {cell.value}"
                if computed is None:
                    assert stored is None, f"{where}: cached {stored!r}, LibreOffice gives a blank"
                else:
                    assert stored is not None, f"{where}: no cached value, LibreOffice gives {computed!r}"
                    assert stored == pytest.approx(computed, rel=1e-9, abs=1e-9), where
                checked += 1
    assert checked > 500


def test_a_reader_that_does_not_recalculate_shows_the_json_figures(scenario):
    # openpyxl's data_only reads the cached values, as mail previews and Quick Look show them
    cached = load_workbook(scenario["workbook"], data_only=True)
    assert_cohorts_equal_json(cached, scenario["march"])
    summary = cached["Summary"]
    for name in ("net_value", "roi", "cost_per_resolved_case"):
        assert_figure("Summary (cached)", name, summary.cell(find_row(summary, 1, METRIC_TITLES[name]), 2).value,
                      scenario["march"]["totals"][name])
    frame = pandas.read_excel(scenario["workbook"], sheet_name="Cohorts", header=2)
    total = frame[frame["Tenant"] == "Total"].iloc[0]
    for name in ("token_cost", "total_cost", "failure_cost", "value", "net_value", "roi"):
        assert_figure("pandas", name, total[METRIC_TITLES[name]], scenario["march"]["totals"][name])
    assert frame["Net value"].notna().all()


def test_every_sheet_prints_landscape_to_the_width_with_repeated_headers_and_numbered_pages(scenario):
    from roi.reporting.workbook.render import PAPER_A4

    raw = load_workbook(scenario["workbook"])
    expected_titles = {"Cohorts": ("$3:$3", "$A:$C"), "Detail": ("$3:$3", "$A:$C"), "Trend": ("$4:$4", "$A:$A"),
                       "Assumptions": (None, "$A:$A")}
    for sheet in raw.worksheets:
        setup = sheet.page_setup
        assert setup.orientation == "landscape", sheet.title
        assert int(setup.paperSize) == PAPER_A4, sheet.title
        assert sheet.sheet_properties.pageSetUpPr.fitToPage, sheet.title
        assert int(setup.fitToHeight) == 0, f"{sheet.title}: as many pages tall as it needs, not one page"
        footer = sheet.oddFooter
        assert "2026-03" in footer.left.text and "&P" in footer.right.text and "&N" in footer.right.text
        if sheet.title in expected_titles:
            rows, columns = expected_titles[sheet.title]
            assert (sheet.print_title_rows, sheet.print_title_cols) == (rows, columns), sheet.title
    # narrow sheets fit one page wide; Cohorts (27 columns) and Detail go across pages at a readable scale
    assert raw["Definitions"].print_title_rows == "$3:$3"
    assert int(raw["Summary"].page_setup.fitToWidth or 1) == 1
    assert int(raw["Definitions"].page_setup.fitToWidth or 1) == 1
    assert int(raw["Cohorts"].page_setup.fitToWidth) >= 2
    assert int(raw["Detail"].page_setup.fitToWidth) >= 2
