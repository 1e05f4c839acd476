"""The Risk, Sensitivity and Changes sheets, recalculated by LibreOffice, equal `roi report --uncertainty`."""

from __future__ import annotations

import json
import zipfile

import pytest
from click.testing import CliRunner
from excel_scenario import cli, events, find_row, header_columns, make_scenario
from libreoffice import recalculate, require_libreoffice
from openpyxl import load_workbook

from roi.cli import main
from roi.domain import display_dimension


@pytest.fixture(scope="module")
def scenario(tmp_path_factory) -> dict:
    require_libreoffice()
    root = tmp_path_factory.mktemp("risk")
    config = make_scenario(root / "project")
    workbook = root / "march.xlsx"
    cli(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(workbook))
    document = json.loads(cli(config, "report", "--period", "2026-03", "--format", "json", "--uncertainty").stdout)
    return {"config": config, "workbook": workbook, "json": document,
            "february": json.loads(cli(config, "report", "--period", "2026-02", "--format", "json").stdout),
            "recalculated": load_workbook(recalculate(workbook), data_only=True)}


def _label(cohort: dict[str, str]) -> str:
    return " / ".join(display_dimension(value) for value in cohort.values())


def _rows(sheet, header: int) -> dict[str, int]:
    rows, row = {}, header + 1
    while sheet.cell(row, 1).value not in (None, "Total", "Total (incl. unallocated fixed cost)"):
        rows[sheet.cell(row, 1).value] = row
        row += 1
    return rows


def test_the_json_carries_bands_sensitivity_and_changes(scenario):
    document = scenario["json"]
    assert document["uncertainty"]["parameters"] == ["support.value_per_resolution", "voice.escalation_cost"]
    for record in [*document["cohorts"], document["totals"]]:
        assert record["net_value_p5"] <= record["net_value_p50"] <= record["net_value_p95"]
        assert 0 <= record["probability_net_value_positive"] <= 1
    assert [item["parameter"] for item in document["sensitivity"]["parameters"]] == \
        sorted((item["parameter"] for item in document["sensitivity"]["parameters"]),
               key=lambda name: -next(p["swing"] for p in document["sensitivity"]["parameters"]
                                      if p["parameter"] == name))
    changes = document["changes"]
    assert changes["totals"]["net_value"] == pytest.approx(document["totals"]["net_value"])
    assert changes["totals"]["net_value_previous"] == pytest.approx(scenario["february"]["totals"]["net_value"])
    assert sum(changes["totals"][name] for name in changes["effects"]) == pytest.approx(changes["totals"]["change"])


def test_risk_sheet_bands_are_the_json_bands(scenario):
    sheet = scenario["recalculated"]["Risk"]
    header = find_row(sheet, 1, "Cohort")
    columns = header_columns(sheet, header)
    rows = _rows(sheet, header)
    document = scenario["json"]
    assert set(rows) == {_label(record["cohort"]) for record in document["cohorts"]}
    for record in document["cohorts"]:
        row = rows[_label(record["cohort"])]
        assert sheet.cell(row, columns["Net value (EUR)"]).value == pytest.approx(record["net_value"], abs=0.005)
        for name, title in (("net_value_p5", "Net value p5"), ("net_value_p95", "Net value p95"),
                            ("probability_net_value_positive", "P(net value > 0)"), ("roi_p50", "ROI p50")):
            got = sheet.cell(row, columns[title]).value
            assert (got is None) if record[name] is None else got == pytest.approx(record[name], rel=1e-12)
    total = find_row(sheet, 1, "Total (incl. unallocated fixed cost)")
    assert sheet.cell(total, columns["Net value p50"]).value == pytest.approx(document["totals"]["net_value_p50"])
    notes = [str(cell.value) for row in sheet.iter_rows() for cell in row if cell.value]
    assert any("stored values" in text for text in notes)


def test_sensitivity_sheet_is_the_json_tornado_and_break_even(scenario):
    sheet = scenario["recalculated"]["Sensitivity"]
    header = find_row(sheet, 1, "Parameter")
    columns = header_columns(sheet, header)
    parameters = scenario["json"]["sensitivity"]["parameters"]
    for offset, item in enumerate(parameters):
        row = header + 1 + offset
        assert sheet.cell(row, 1).value == item["parameter"]
        assert sheet.cell(row, columns["Net value at low"]).value == pytest.approx(item["net_value_low"], abs=1e-6)
        assert sheet.cell(row, columns["Net value at high"]).value == pytest.approx(item["net_value_high"], abs=1e-6)
        assert sheet.cell(row, columns["Swing"]).value == pytest.approx(item["swing"], abs=1e-6)
    table = find_row(sheet, 1, "Break-even per cohort") + 2
    columns = header_columns(sheet, table)
    rows = _rows(sheet, table)
    assert len(rows) == len(scenario["json"]["cohorts"]) > 5
    for record in scenario["json"]["sensitivity"]["cohorts"]:
        got = sheet.cell(rows[_label(record["cohort"])], columns["Break-even value per resolution"]).value
        expected = record["break_even_value_per_resolution"]
        assert got in (None, "") if expected is None else got == pytest.approx(expected, rel=1e-9)
    with zipfile.ZipFile(scenario["workbook"]) as archive:
        charts = [archive.read(name).decode() for name in archive.namelist() if name.startswith("xl/charts/")]
    tornado = next(chart for chart in charts if "Sensitivity" in chart)
    assert '<c:barDir val="bar"/>' in tornado and '<c:overlap val="100"/>' in tornado


def test_changes_sheet_adds_up_and_equals_the_json_bridge(scenario):
    sheet = scenario["recalculated"]["Changes"]
    header = find_row(sheet, 1, "Cohort")
    columns = header_columns(sheet, header)
    rows = _rows(sheet, header)
    changes = scenario["json"]["changes"]
    assert len(rows) == len(changes["cohorts"]) + 1 and "(unallocated fixed cost)" in rows  # fax-gateway
    titles = {"volume": "Volume", "outcome_mix": "Outcome mix", "unit_cost": "Unit cost",
              "assumptions": "Assumptions", "fixed_cost_share": "Fixed-cost share"}
    for record in changes["cohorts"]:
        row = rows[_label(record["cohort"])]
        assert sheet.cell(row, columns["Change"]).value == pytest.approx(record["change"], abs=1e-6)
        for name, title in titles.items():
            assert sheet.cell(row, columns[title]).value == pytest.approx(record[name], abs=1e-6)
    total = find_row(sheet, 1, "Total")
    assert sheet.cell(total, columns["Change"]).value == pytest.approx(changes["totals"]["change"], abs=1e-6)
    for name, title in titles.items():
        assert sheet.cell(total, columns[title]).value == pytest.approx(changes["totals"][name], abs=1e-6)


def test_uncertainty_is_for_json_only(scenario):
    result = CliRunner().invoke(main, ["--config", str(scenario["config"]), "report", "--period", "2026-03",
                                       "--format", "csv", "--uncertainty"])
    assert result.exit_code == 2
    assert "--uncertainty: only with --format json" in result.stderr


def test_changes_restates_a_closed_previous_month_to_the_revision_summary_shows(tmp_path):
    """February closed, then late February rows: the bridge starts from today's February, and two rows
    below its total give February's revision (Summary's and Trend's figure) and the restatement, which
    LibreOffice recalculates to today's February less the revision."""
    require_libreoffice()
    config = make_scenario(tmp_path / "project")
    cli(config, "close", "--period", "2026-02")
    closed = json.loads(cli(config, "report", "--period", "2026-02", "--format", "json").stdout)
    (tmp_path / "project" / "data" / "late.csv").write_text(events(2, seed=22, count=40, prefix="late-"))
    cli(config, "ingest")
    document = json.loads(cli(config, "report", "--period", "2026-03", "--format", "json", "--uncertainty").stdout)
    workbook = tmp_path / "march.xlsx"
    cli(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(workbook))
    sheet = load_workbook(recalculate(workbook), data_only=True)["Changes"]
    today = document["changes"]["totals"]["net_value_previous"]
    assert today != pytest.approx(closed["totals"]["net_value"])  # the late rows moved February
    total = find_row(sheet, 1, "Total")
    assert sheet.cell(total, 2).value == pytest.approx(today, abs=0.005)
    row = find_row(sheet, 1, f"2026-02 as closed (revision {closed['revision']}), as Summary and Trend show it")
    assert row == total + 1
    assert sheet.cell(row, 2).value == pytest.approx(closed["totals"]["net_value"], abs=0.005)
    assert sheet.cell(row + 1, 2).value == pytest.approx(today - closed["totals"]["net_value"], abs=0.005)


def test_changes_has_no_restatement_when_the_previous_month_is_open(scenario):
    sheet = scenario["recalculated"]["Changes"]
    assert not any(str(cell.value or "").startswith("2026-02 as closed") for cell in sheet["A"])
