"""What roi shows a person at a terminal: a report as a table, and a progress bar on stderr."""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from .domain import CELL_METRICS, FLOAT_METRICS, VALUED_METRICS, display_dimension

LABEL_WIDTH = 34
MONEY = {"review_cost", "fixed_cost", "total_cost", "failure_cost", "value", "net_value", "token_cost"}
COUNT_METRICS = {name for name in (*CELL_METRICS, *VALUED_METRICS) if name not in MONEY} - set(FLOAT_METRICS)


def cohort_label(cohort: dict[str, str]) -> str:
    return " / ".join(display_dimension(value) for value in cohort.values()) or "(all)"


def report_table(document: dict[str, Any], *, shown: int | None = None, warning: str | None = None) -> str:
    """A report document (as the JSON renders it) as a table: its cohorts in the order given, the totals
    (over every cohort the filters keep, `shown` or not) and the fixed cost no cohort carries."""
    currency = document["currency"]
    group = ", ".join(document["group_by"]) or "all"
    title = f"ROI {document['period']} by {group} ({currency})"
    if document.get("filters"):
        title += "; " + "; ".join(f"{name}={','.join(values) or '(none)'}"
                                  for name, values in document["filters"].items())
    if document.get("state") == "closed":
        title += f"; closed, revision {document['revision']}"
    lines = [
        title,
        f"{'cohort':<{LABEL_WIDTH}} {'cases':>7} {'resolved':>8} {'cost/resolved':>13} {'failure cost':>12} "
        f"{'net value':>11} {'ROI':>7}",
    ]
    cohorts = document["cohorts"]
    for record in cohorts:
        lines.append(_row(cohort_label(record["cohort"]), record))
    if shown is not None and shown > len(cohorts):
        lines.append(f"  ({shown - len(cohorts):,} more cohorts not shown; the totals include them)")
    if warning:
        lines.append(f"  ({warning})")
    totals = document["totals"]
    lines.append(_row("TOTAL", totals))
    unallocated = totals.get("unallocated_fixed_cost") or 0
    if unallocated:
        names = ", ".join(f"{item['name']} {item['amount']:,.2f}" for item in document.get("unallocated_fixed_costs", []))
        lines.append(f"  (totals include {unallocated:,.2f} of fixed cost no cohort carries: {names})")
    return "\n".join(lines)


def _row(label: str, record: dict[str, Any]) -> str:
    cpr = record["cost_per_resolved_case"]
    roi = record["roi"]
    rate = record["resolution_rate"]
    return (
        f"{label[:LABEL_WIDTH]:<{LABEL_WIDTH}} {record['cases']:>7,} {('' if rate is None else f'{rate:.0%}'):>8} "
        f"{('' if cpr is None else f'{cpr:,.2f}'):>13} {record['failure_cost']:>12,.2f} "
        f"{record['net_value']:>11,.2f} {('' if roi is None else f'{roi:.0%}'):>7}"
    )


class IngestProgress:
    """One line on stderr while sources are read, redrawn at most every `interval` seconds: per source
    the rows read, their rate, and for a pulled window a bar of its days with the time left.
    `clock` is injectable for tests."""

    def __init__(self, stream: TextIO, *, interval: float = 0.2, clock: Callable[[], float] = time.monotonic):
        self.stream = stream
        self.interval = interval
        self.clock = clock
        self._started: dict[str, float] = {}
        self._rows_before: dict[str, int] = {}  # rows of the source's batches already read
        self._rows: dict[str, int] = {}
        self._steps: dict[str, tuple[int, int]] = {}
        self._estimates: dict[str, int | None] = {}  # per file label: its rows, estimated from its size
        self._drawn = float("-inf")
        self._file_label: str | None = None
        self._file_started = 0.0
        self.visible = False

    def rows(self, source: str, label: str, rows: int) -> None:
        """`rows` read so far in the batch `label` (a file, a day)."""
        self._rows[source] = self._rows_before.get(source, 0) + rows
        if label not in self._estimates:
            self._estimates[label] = estimate_rows(label)
        self._draw(source, label, file_rows=(rows, self._estimates[label]))

    def batch(self, source: str, key: str, done: int, total: int) -> None:
        """A batch read whole: `done` of `total` when they are the days of a pulled window."""
        self._rows_before[source] = self._rows.get(source, 0)
        kind, _, name = key.partition(":")
        if kind == "day":
            self._steps[source] = (done, total)
        self._draw(source, name, force=True)

    def _draw(self, source: str, label: str, *, force: bool = False,
              file_rows: tuple[int, int | None] | None = None) -> None:
        now = self.clock()
        started = self._started.setdefault(source, now)
        if file_rows is not None:
            self._file_started = self._file_started if self._file_label == label else now
            self._file_label = label
        if not force and now - self._drawn < self.interval:
            return
        self._drawn = now
        estimate = None
        if file_rows is not None and file_rows[1] and source not in self._steps:
            estimate = (file_rows[0], file_rows[1], now - self._file_started)
        line = render_progress(f"{source}: {Path(label).name if estimate else label}", self._rows.get(source, 0),
                               now - started, self._steps.get(source), file_estimate=estimate)
        self.stream.write("\r\033[K" + line)
        self.stream.flush()
        self.visible = True

    def finish(self) -> None:
        if self.visible:
            self.stream.write("\n")
            self.stream.flush()
            self.visible = False


def estimate_rows(label: str, sample_bytes: int = 1 << 18) -> int | None:
    """A file's rows, estimated from its size and the lines in its first `sample_bytes`; None when the
    label is not a file (a day of a pulled source) or holds no line."""
    try:
        size = os.path.getsize(label)
        with open(label, "rb") as handle:
            sample = handle.read(sample_bytes)
    except (OSError, ValueError):
        return None
    lines = sample.count(b"\n")
    if not lines:
        return None
    return max(1, round(size / (len(sample) / lines)) - 1)  # less the header line


def render_progress(label: str, rows: int, elapsed: float, days: tuple[int, int] | None = None,
                    width: int = 24, file_estimate: tuple[int, int, float] | None = None) -> str:
    """`label [####----] 12/92 days, 1,200 rows, 600 rows/s, ETA 0:05, 0:02 elapsed` (a pulled window);
    a file (`file_estimate`: its rows read, its rows estimated from its size, the seconds spent on it):
    `label [##------] ~25%, 1,200 rows, 600 rows/s, ETA ~0:06, 0:02 elapsed`."""
    parts = []
    if file_estimate is not None:
        done, total, spent = file_estimate
        share = min(done / total, 1.0)
        filled = int(width * share)
        parts.append(f"[{'#' * filled}{'-' * (width - filled)}] ~{share:.0%}")
    if days:
        done, total = days
        filled = width * min(done, total) // max(total, 1)
        parts.append(f"[{'#' * filled}{'-' * (width - filled)}] {done:,}/{total:,} days")
    parts.append(f"{rows:,} rows")
    if elapsed > 0:
        parts.append(f"{rows / elapsed:,.0f} rows/s")
        if days and 0 < days[0] < days[1]:
            parts.append(f"ETA {_clock(elapsed / days[0] * (days[1] - days[0]))}")
        elif file_estimate is not None and 0 < file_estimate[0] < file_estimate[1] and file_estimate[2] > 0:
            done, total, spent = file_estimate
            parts.append(f"ETA ~{_clock(spent / done * (total - done))}")
    parts.append(f"{_clock(elapsed)} elapsed")
    return f"{label} " + ", ".join(parts)


def _clock(seconds: float) -> str:
    seconds = int(round(seconds))
    hours, rest = divmod(seconds, 3600)
    minutes, seconds = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{seconds:02d}" if hours else f"{minutes}:{seconds:02d}"


def trend_table(document: dict[str, Any], metric: str) -> str:
    """A trend (services.trend) as a table: a row per cohort, a column per month, one metric."""
    periods = document["periods"]
    ratio = metric in ("roi", "resolution_rate", "escalation_rate")
    count = metric in COUNT_METRICS
    lines = [f"{metric} by {', '.join(document['group_by']) or 'all'} ({document['currency']}), "
             f"{document['from']} to {document['to']}" if document["from"] else "no months with data",
             f"{'cohort':<{LABEL_WIDTH}}" + "".join(f" {period:>11}" for period in periods)]

    def cell(value: Any) -> str:
        if value is None:
            return f" {'':>11}"
        if ratio:
            return f" {value:>11.1%}"
        return f" {value:>11,.0f}" if count else f" {value:>11,.2f}"

    for series in document["series"]:
        by_period = {point["period"]: point.get(metric) for point in series["points"]}
        lines.append(f"{cohort_label(series['cohort'])[:LABEL_WIDTH]:<{LABEL_WIDTH}}"
                     + "".join(cell(by_period.get(period)) for period in periods))
    totals = {point["period"]: point.get(metric) for point in document["totals"]}
    lines.append(f"{'TOTAL':<{LABEL_WIDTH}}" + "".join(cell(totals.get(period)) for period in periods))
    return "\n".join(lines)
