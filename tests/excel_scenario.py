"""A two-month scenario for the workbook and closing tests, plus readers of the workbook's sheets.

February and March 2026 of a company with a support and a voice value model
(the support model changes version mid-February and mid-March; March's value per
resolution and voice's escalation cost are ranges), three fixed
costs (one by requests, one by cases on voice, one that matches no data and
stays unallocated), cohorts named like formulas, missing dimensions, a cohort
whose reopenings outnumber its resolutions, one with no cases, an unpriced
model and a quarantined row.
"""

from __future__ import annotations

import csv
import gc
import io
import json
import random
import warnings
from pathlib import Path
from typing import Any

from click.testing import CliRunner

from roi.cli import main
from roi.domain import REPORT_METRICS, display_dimension
from tests.conftest import fixture_text

# the scenario's files: {placeholders} are filled in (BASE, changed per test); literal braces are doubled
SUPPORT = fixture_text("workbook/models/support.toml")
VOICE = fixture_text("workbook/models/voice.toml")
CONFIG = fixture_text("workbook/roi.toml")
BASE = {"feb_value": 7.0, "feb_review": 45.0, "mar_value": 7.25, "voice_escalation": 3.0, "platform": 1000.0,
        "fax": 50.0}
FORMULA_TENANTS = ('=HYPERLINK("http://evil.example","click")', "+1-800-EVIL", "-minus", "@SUM(A1)", "\ttabbed")
COLUMNS = ["event_id", "ts", "tenant", "channel", "provider", "model", "input_tokens", "output_tokens",
           "cached_input_tokens", "cost_usd", "outcome", "human_review_minutes"]


def write_setup(root: Path, database_url: str, **changes: float) -> Path:
    values = {**BASE, **changes}
    (root / "models").mkdir(exist_ok=True)
    (root / "models" / "support.toml").write_text(SUPPORT.format(**values))
    (root / "models" / "voice.toml").write_text(VOICE.format(**values))
    config = root / "roi.toml"
    config.write_text(CONFIG.format(database_url=database_url, **values))
    return config


def events(month: int, seed: int, count: int = 160, prefix: str = "") -> str:
    """CSV text of one month's events (deterministic)."""
    rng = random.Random(seed)
    tenants = ["acme", "beta", "", *FORMULA_TENANTS]
    channels = ["web", "chat", "voice", ""]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    for index in range(count):
        tenant, channel = rng.choice(tenants), rng.choice(channels)
        day = rng.randint(1, 28)
        outcome = rng.choice(["", "", "resolved", "resolved", "resolved", "escalated", "abandoned", "reopened"])
        model = rng.choice(["gpt-4o-mini", "gpt-4o-mini", "mystery-llm"])
        cost = "" if model == "mystery-llm" else f"{rng.uniform(0.001, 0.2):.6f}"
        minutes = f"{rng.uniform(0, 6):.2f}" if rng.random() < 0.3 else ""
        writer.writerow([f"{prefix}m{month}-{index}", f"2026-{month:02d}-{day:02d}T{rng.randint(0, 23):02d}:15:00Z",
                         tenant, channel, "openai", model, rng.randint(100, 3000), rng.randint(20, 600), 0, cost,
                         outcome, minutes])
    # beta/chat: reopenings outnumber resolutions (net resolved < 0); acme/email: calls without cases
    writer.writerow([f"{prefix}m{month}-r1", f"2026-{month:02d}-05T10:00:00Z", "beta", "chat", "openai", "gpt-4o-mini",
                     100, 10, 0, "0.01", "reopened", ""])
    writer.writerow([f"{prefix}m{month}-r2", f"2026-{month:02d}-06T10:00:00Z", "beta", "chat", "openai", "gpt-4o-mini",
                     100, 10, 0, "0.01", "reopened", ""])
    writer.writerow([f"{prefix}m{month}-n1", f"2026-{month:02d}-07T10:00:00Z", "acme", "email", "openai", "gpt-4o-mini",
                     100, 10, 0, "0.02", "", ""])
    writer.writerow([f"{prefix}m{month}-bad", "not-a-time", "acme", "web", "openai", "gpt-4o-mini", 1, 1, 0, "", "", ""])
    return out.getvalue()


def make_scenario(root: Path, database_url: str | None = None) -> Path:
    """Config, models and February + March data in `root`, ingested. Returns the config path."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    config = write_setup(root, database_url or f"sqlite:///{root / 'roi.db'}")
    (root / "data" / "feb.csv").write_text(events(2, seed=2))
    (root / "data" / "mar.csv").write_text(events(3, seed=3))
    cli(config, "ingest")
    return config


def cli(config: Path, *args: str) -> Any:
    """Run the CLI, which leaves its engine open: collected here, quietly (psycopg warns on collection)."""
    result = CliRunner().invoke(main, ["--config", str(config), *args], catch_exceptions=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert result.exit_code == 0, result.output
    return result


def json_report(config: Path, period: str) -> dict[str, Any]:
    return json.loads(cli(config, "report", "--period", period, "--format", "json").stdout)


# ------------------------------------------------------------------ reading a workbook


def header_columns(sheet, header_row: int) -> dict[str, int]:
    return {cell.value: cell.column for cell in sheet[header_row] if cell.value is not None}


def find_row(sheet, column: int, text: str) -> int:
    for row in range(1, sheet.max_row + 1):
        if sheet.cell(row, column).value == text:
            return row
    raise AssertionError(f"{sheet.title}: no row with {text!r} in column {column}")


def cohort_rows(sheet, dims: list[str]) -> dict[tuple[str, ...], int]:
    """Cohorts sheet: row number per cohort (dimension values as in JSON: '' for unattributed)."""
    rows = {}
    row = 4
    while sheet.cell(row, 1).value is not None:
        key = tuple("" if sheet.cell(row, 2 + index).value == "(unattributed)" else sheet.cell(row, 2 + index).value
                    for index in range(len(dims)))
        rows[key] = row
        row += 1
    return rows


def label(cohort: dict[str, str]) -> tuple[str, ...]:
    return tuple(cohort.values())


def shown(value: Any) -> float | None:
    """A workbook figure as a number; blank and "" (a null) as None."""
    if value is None or value == "":
        return None
    return float(value)


def assert_figure(where: str, name: str, got: Any, expected: Any) -> None:
    got = shown(got)
    if expected is None:
        assert got is None, f"{where} {name}: {got} in the workbook, null in JSON"
        return
    assert got is not None, f"{where} {name}: blank in the workbook, {expected} in JSON"
    tolerance = 1e-9 if name not in ("token_cost",) and name in ("roi", "resolution_rate", "escalation_rate") else 0.005
    assert abs(got - float(expected)) < tolerance, f"{where} {name}: {got} in the workbook, {expected} in JSON"


def assert_cohorts_equal_json(workbook, document: dict[str, Any]) -> None:
    """Every cohort figure, the totals and the unallocated fixed cost equal the JSON report to the cent."""
    sheet = workbook["Cohorts"]
    columns = header_columns(sheet, 3)
    from roi.reporting.workbook.figures import METRIC_TITLES

    dims = document["group_by"]
    rows = cohort_rows(sheet, dims)
    assert set(rows) == {label(record["cohort"]) for record in document["cohorts"]}
    for record in document["cohorts"]:
        row = rows[label(record["cohort"])]
        for name in REPORT_METRICS:
            where = f"cohort {'/'.join(display_dimension(v) for v in label(record['cohort']))}"
            assert_figure(where, name, sheet.cell(row, columns[METRIC_TITLES[name]]).value, record[name])
    total = find_row(sheet, 2, "Total")
    for name in REPORT_METRICS:
        assert_figure("totals", name, sheet.cell(total, columns[METRIC_TITLES[name]]).value, document["totals"][name])
    unallocated = document["totals"]["unallocated_fixed_cost"]
    if unallocated:
        row = find_row(sheet, 2, "(unallocated fixed cost)")
        assert_figure("unallocated", "fixed_cost", sheet.cell(row, columns["Fixed cost"]).value, unallocated)
