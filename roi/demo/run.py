"""`roi demo`: build the demo company in a folder, ingest it, write the latest month's reports."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from ..domain import Period, display_dimension
from ..services import store_for
from ..services.files import write_atomically
from ..services.ingest import ingest
from ..services.reports import build_report, write_reports
from ..services.validation import load_checked_config
from .company import DAYS, DEMO_CONFIG, FIRST_DAY, _models_source, write_data
from .upstreams import serve_upstreams


def run_demo(folder: Path, echo: Callable[[str], None] = print, *, upstreams: bool = False) -> Path:
    """Create the demo company in `folder`, ingest it and write the latest month's reports.

    `upstreams`: also pull a LiteLLM proxy (cost) and a Zendesk account (outcomes) of two more
    brands, played by servers on 127.0.0.1 for the run (demo_upstreams), and show them joined."""
    folder.mkdir(parents=True, exist_ok=True)
    for stale in ("roi.db", "roi.db-wal", "roi.db-shm"):
        (folder / stale).unlink(missing_ok=True)
    shutil.copytree(_models_source(), folder / "models", dirs_exist_ok=True)
    period = Period.of(FIRST_DAY + timedelta(days=DAYS - 1))
    with ExitStack() as servers:
        served = None
        if upstreams:
            served = servers.enter_context(serve_upstreams(period))
        config = served.config(DEMO_CONFIG) if served else DEMO_CONFIG
        write_atomically(folder / "roi.toml", config.encode("utf-8"))
        counts = write_data(folder)
        echo(f"Northwind Commerce demo in {folder}/: {counts['customer']:,} support events, "
             f"{counts['internal']:,} knowledge-assistant events")

        settings = load_checked_config(folder / "roi.toml")
        store = store_for(settings)
        for run in ingest(settings, store):
            echo(f"  ingested {run.source}: {run.files} files, {run.rows_read:,} rows read, {run.stored:,} stored, "
                 f"{run.duplicates} duplicates, {run.quarantined} quarantined, {run.unpriced:,} unpriced")
        if served:
            served.pull(settings, store, echo)
    frame = build_report(settings, store, period)
    written = write_reports(settings, store, period)
    echo("")
    echo(summary_table(frame))
    if served:
        echo("")
        echo(served.joined_table(frame))
    echo("")
    for path in written:
        echo(f"wrote {path}")
    echo(f"next: roi --config {folder / 'roi.toml'} report --period {period} --group-by topic")
    return folder


def summary_table(frame) -> str:
    """A readable cohort summary of a report frame."""
    currency = frame.currency
    lines = [
        f"ROI {frame.period} by {', '.join(frame.group_by) or 'all'} ({currency})",
        f"{'cohort':<34} {'cases':>7} {'resolved':>8} {'cost/resolved':>13} {'failure cost':>12} "
        f"{'net value':>11} {'ROI':>7}",
    ]

    def row(label: str, record: dict) -> str:
        cpr = record["cost_per_resolved_case"]
        roi = record["roi"]
        rate = record["resolution_rate"]
        return (
            f"{label[:34]:<34} {record['cases']:>7,} {('' if rate is None else f'{rate:.0%}'):>8} "
            f"{('' if cpr is None else f'{cpr:,.2f}'):>13} {record['failure_cost']:>12,.2f} "
            f"{record['net_value']:>11,.2f} {('' if roi is None else f'{roi:.0%}'):>7}"
        )

    for record in frame.cohort_records():
        label = " / ".join(display_dimension(value) for value in record["cohort"].values()) or "(all)"
        lines.append(row(label, record))
    totals = frame.totals_record()
    lines.append(row("TOTAL", totals))
    if totals["unallocated_fixed_cost"]:
        lines.append(f"  (totals include {totals['unallocated_fixed_cost']:,.2f} of fixed cost no cohort carries)")
    return "\n".join(lines)

