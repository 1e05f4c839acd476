"""The workbook as data (the layout) and the renderer's guarantees, without LibreOffice."""

from __future__ import annotations

import csv
import io
import json
import zipfile

import pytest
from openpyxl import load_workbook

from roi import services
from roi.cli import main
from roi.domain import Period
from roi.reporting.csv_report import render_csv
from roi.reporting.json_report import render_json
from roi.reporting.workbook import LateData, WorkbookExtras, build_layout, render_layout, render_workbook
from roi.reporting.workbook.layout import Formula, column_letter, ref
from roi.reporting.workbook.render import PAGE_CHARACTERS, READABLE_SCALE, pages_across
from roi.services import reports

EVENTS = """
event_id,ts,tenant,channel,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes
e1,2026-01-10T10:00:00Z,acme,web,openai,gpt-4o-mini,1000,200,0,0.25,resolved,3
e2,2026-01-11T10:00:00Z,=1+2,web,openai,gpt-4o-mini,1000,200,0,0.35,escalated,
e3,2026-01-12T10:00:00Z,@cmd,,openai,gpt-4o-mini,1000,200,0,0.10,reopened,
"""
FIXED = """
[[fixed_costs]]
name = "hosting"
amount = 400.0
allocate_by = "requests"

[[fixed_costs]]
name = "voice-line"
amount = 120.0
allocate_by = "cases"
match = { channel = "voice" }
"""


@pytest.fixture
def frame_of(project, runner):
    project.write_config(FIXED)
    project.write_data("a.csv", EVENTS)
    assert runner.invoke(main, ["--config", str(project.config_path), "ingest"]).exit_code == 0
    settings = project.settings()
    store = services.store_for(settings)

    def build(period: str = "2026-01", group_by=None, filters=None):
        return reports.build_report(settings, store, Period.parse(period), group_by, filters)

    yield build
    store.engine.dispose()


def _cells(layout, title: str) -> list[list]:
    return [[cell.value if cell is not None else None for cell in row] for row in layout.sheet(title).rows]


def test_layout_holds_the_sheets_in_reading_order_with_named_styles(frame_of):
    layout = build_layout(frame_of())
    assert [sheet.title for sheet in layout.sheets] == [
        "Summary", "Cohorts", "Detail", "Assumptions", "Trend", "Data quality", "Definitions"]
    names = {style.name for style in layout.styles}
    assert {"roi-currency", "roi-percent", "roi-net", "roi-input", "roi-total-currency"} <= names
    used = {cell.style for sheet in layout.sheets for row in sheet.rows for cell in row if cell is not None}
    assert used - {None} <= names, "every style a cell names is defined"


def test_cohorts_rows_sum_the_detail_and_the_total_row_adds_the_unallocated_cost(frame_of):
    frame = frame_of()
    layout = build_layout(frame)
    rows = _cells(layout, "Cohorts")
    header = rows[2]
    fixed = header.index("Fixed cost")
    first = rows[3]
    assert first[fixed].startswith("=SUMIF('Detail'!$A$4:$A$6,$A4,'Detail'!")
    unallocated = next(row for row in rows if "(unallocated fixed cost)" in row)
    voice_line = 1 + next(number for number, row in enumerate(_cells(layout, "Assumptions")) if row[:1] == ["voice-line"])
    assert unallocated[fixed] == f"='Assumptions'!$B${voice_line}"  # voice-line: no voice cases this month
    total = next(row for row in rows if "Total" in row)
    letter = column_letter(fixed + 1)
    assert total[fixed] == f"=SUM({letter}4:{letter}7)"  # three cohorts and the unallocated row
    assert all(isinstance(value, Formula) for value in total[3:] if value is not None)


def test_data_text_is_text_and_only_our_formulas_are_formulas(frame_of):
    layout = build_layout(frame_of())
    values = [cell.value for sheet in layout.sheets for row in sheet.rows for cell in row if cell is not None]
    assert "=1+2" in values and "@cmd" in values
    assert not any(isinstance(value, Formula) and ("1+2" in value or "cmd" in value) for value in values)
    workbook = load_workbook(io.BytesIO(render_layout(layout)))
    cohorts = workbook["Cohorts"]
    cell = next(c for row in cohorts.iter_rows() for c in row if c.value == "=1+2")
    assert cell.data_type == "s" and cell.quotePrefix


def test_control_characters_in_data_do_not_break_the_workbook(frame_of):
    frame = frame_of()
    frame.cohorts.loc[0, "tenant"] = "bad\x00name\x1f"
    frame.detail.loc[frame.detail["tenant"] == frame.detail["tenant"].iloc[0], "tenant"] = "bad\x00name\x1f"
    workbook = load_workbook(io.BytesIO(render_workbook(frame)))
    names = [cell.value for row in workbook["Cohorts"].iter_rows(min_col=2, max_col=2) for cell in row]
    assert "bad\ufffdname\ufffd" in names


def test_an_empty_month_still_makes_a_workbook_with_its_unallocated_costs(frame_of):
    frame = frame_of("2025-06")
    layout = build_layout(frame)
    rows = _cells(layout, "Cohorts")
    assert rows[3][1] == "(unallocated fixed cost)"
    assert rows[4][1] == "Total"
    assert "(no data in 2025-06, so no value model version is in use)" in _cells(layout, "Assumptions")[5]
    workbook = load_workbook(io.BytesIO(render_layout(layout)), data_only=True)
    assert workbook["Cohorts"]["B5"].value == "Total"
    # said as such, in a banner on Summary and a line on Cohorts, with the fixed costs it carries unallocated
    assert not frame.has_data and json.loads(render_json(frame))["no_data"] is True
    banner = ("No data: nothing is stored for 2025-06, so there are no cohorts. The figures are only the fixed "
              "costs the month carries (520.00 USD), all unallocated; this is not a measured loss.")
    summary = workbook["Summary"]
    assert summary["A3"].value == banner and summary["A3"].fill.fgColor.rgb.endswith("C00000")
    assert banner in [row[0] for row in _cells(layout, "Cohorts") if row]
    unallocated = next(row for row in workbook["Cohorts"].iter_rows(values_only=True) if row[1] == "Total")
    assert unallocated[header_index(workbook["Cohorts"], "Fixed cost")] == 520.0


def header_index(sheet, title: str) -> int:
    return [cell.value for cell in sheet[3]].index(title)


def test_a_month_with_data_is_not_flagged_and_a_filter_matching_nothing_is_not_no_data(frame_of):
    assert frame_of().has_data and json.loads(render_json(frame_of()))["no_data"] is False
    nothing = frame_of(filters={"tenant": ["nobody"]})
    assert nothing.has_data and not len(nothing.cohorts)


def test_no_grouping_is_one_cohort_and_a_filtered_report_has_no_unallocated_row(frame_of):
    rows = _cells(build_layout(frame_of(group_by=[])), "Cohorts")
    assert rows[2][:2] == ["#", "Cohort"] and rows[3][1] == "(all)"
    filtered = frame_of(filters={"tenant": ["acme"]})
    rows = _cells(build_layout(filtered), "Cohorts")
    assert not any("(unallocated fixed cost)" in row for row in rows)
    summary = _cells(build_layout(filtered), "Summary")
    assert ["Filters", "tenant = acme"] in [row[:2] for row in summary]


def test_summary_says_when_a_closed_month_received_late_data(frame_of):
    from datetime import UTC, datetime

    late = LateData(Period(2025, 12), 2, datetime(2026, 1, 3, 6, 0, tzinfo=UTC), 12, 3.5)
    rows = _cells(build_layout(frame_of(), WorkbookExtras(late=[late])), "Summary")
    notes = [row[0] for row in rows if row and isinstance(row[0], str)]
    assert ("2025-12 is closed (revision 2, 2026-01-03 06:00 UTC): 12 rows and 3.50 USD of token cost arrived "
            "after the close and are not in its figures; roi close --period 2025-12 --revise includes them.") in notes


def test_references_quote_sheet_names():
    assert ref("Data quality", 2, 5) == "'Data quality'!$B$5"
    assert ref("Cohorts", 1, 4, 3, 9) == "'Cohorts'!$A$4:$C$9"
    assert [column_letter(n) for n in (1, 26, 27, 52, 703)] == ["A", "Z", "AA", "AZ", "AAA"]


def test_the_workbook_is_a_valid_package_with_two_charts(frame_of):
    content = render_workbook(frame_of())
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        names = archive.namelist()
    assert "xl/styles.xml" in names and sum(name.startswith("xl/charts/chart") for name in names) == 2
    workbook = load_workbook(io.BytesIO(content))
    assert workbook.properties.title == "AI ROI report 2026-01"


def test_csv_export_writes_formula_like_labels_as_text(frame_of):
    rows = list(csv.reader(io.StringIO(render_csv(frame_of()))))
    labels = [row[0] for row in rows[1:]]
    assert "'=1+2" in labels and "'@cmd" in labels and "acme" in labels
    assert not any(label.startswith(("=", "+", "-", "@")) for label in labels)


def test_render_without_a_store_makes_the_workbook_without_trend_or_quality(frame_of):
    content = render_workbook(frame_of())
    workbook = load_workbook(io.BytesIO(content))
    assert workbook["Trend"]["B4"].value == "2026-01"
    assert workbook["Data quality"]["A6"].value == "(no batches ingested for 2026-01)"


def test_sheets_print_one_page_wide_unless_that_would_be_unreadable(frame_of):
    layout = build_layout(frame_of())
    assert pages_across(layout.sheet("Summary")) == 1
    assert pages_across(layout.sheet("Definitions")) == 1
    cohorts = layout.sheet("Cohorts")
    pages = pages_across(cohorts)
    assert pages >= 2
    # at that many pages the scale stays readable: the columns, and the label columns again on each further page
    width = sum(cohorts.widths.values())
    repeated = sum(cohorts.widths[column] for column in range(1, cohorts.repeat_columns + 1))
    scale = pages * PAGE_CHARACTERS / (width + (pages - 1) * repeated)
    assert scale * 100 >= READABLE_SCALE
    workbook = load_workbook(io.BytesIO(render_layout(layout)))
    assert int(workbook["Cohorts"].page_setup.fitToWidth) == pages


def test_file_paths_on_data_quality_are_relative_to_the_config_folder(frame_of, tmp_path):
    from roi.reporting.workbook import QuarantineSample

    extras = WorkbookExtras(quarantine=[QuarantineSample("bot", str(tmp_path / "data" / "a.csv"), 3, "bad ts")],
                            files_relative_to=tmp_path)
    rows = _cells(build_layout(frame_of(), extras), "Data quality")
    row = next(row for row in rows if row and row[0] == "bot" and row[2] is None)
    assert row[1] == "data/a.csv"
    assert not any(isinstance(value, str) and str(tmp_path) in value for row in rows for value in row)
