"""The workbook of a report frame: the month, the months before it as reported, data quality."""

from __future__ import annotations

import json
from typing import Any

from ..config import Settings
from ..domain import Period
from ..reporting.frame import ReportFrame
from ..reporting.workbook import (
    ChangeFigures,
    LateData,
    ParameterSwing,
    QuarantineSample,
    RiskFigures,
    SensitivityFigures,
    SourceQuality,
    TrendMonth,
    UnpricedModel,
    WorkbookExtras,
    render_workbook,
)
from ..store import Store, revisions
from . import risk as risks
from .periods import batch_signature, months_with_data
from .trend import DEFAULT_MONTHS, figures_of
from .valued import ValuedMonths, value_month_coarse

QUARANTINE_SAMPLES = 5


def workbook_for(settings: Settings, store: Store, frame: ReportFrame, revision: Any = None, *,
                 months: ValuedMonths | None = None) -> bytes:
    """The workbook of a report frame, with its trend, data quality and closed-month notes; its risk,
    sensitivity and change bridge come from `months` (the valued months the frame came from)."""
    trend, late = _trend_months(settings, store, frame)
    sources, samples, unpriced = _data_quality(store, frame.period)
    previous = trend[-1] if trend else None  # the month before, as Summary and Trend show it
    closed_previous = (previous.revision, float(previous.totals["net_value"])) \
        if previous is not None and previous.revision is not None else None
    risk, sensitivity, changes = _analysis(settings, store, frame, months or ValuedMonths(settings, store),
                                           closed_previous)
    extras = WorkbookExtras(trend=trend, sources=sources, quarantine=samples, unpriced=unpriced, late=late,
                            revision=revision, files_relative_to=settings.base_dir, risk=risk,
                            sensitivity=sensitivity, changes=changes)
    return render_workbook(frame, extras)


def _analysis(settings: Settings, store: Store, frame: ReportFrame, months: ValuedMonths,
              closed_previous: tuple[int, float] | None):
    """The Risk (when an assumption is a range, or outcome rates are drawn), Sensitivity (when an
    assumption is a range) and Changes sheets' figures of the frame's question."""
    group, filters, period = list(frame.group_by), frame.filters or None, frame.period

    def key(labels, index: int) -> tuple[str, ...]:
        return tuple(str(labels[name][index]) for name in group)

    tornado = risks.tornado(settings, store, period, group, filters, months=months)
    risk = sensitivity = None
    if tornado.swings or settings.uncertainty.outcome_rates:
        bands = risks.bands(settings, store, period, group, filters, months=months)
        risk = RiskFigures(bands.draws, bands.seed, bands.outcome_rates, bands.parameters,
                           {key(bands.labels, index): {name: float(values[index])
                                                       for name, values in bands.figures.items()}
                            for index in range(len(bands.figures["net_value_p50"]))}, dict(bands.totals))
    if tornado.swings:
        swings = [ParameterSwing(swing.parameter,
                                 "; ".join(f"from {start}: {low:g} / {point:g} / {high:g}"
                                           for start, low, point, high in swing.ranges),
                                 *swing.ranges[-1][1:],
                                 swing.total_low - tornado.total_net_value, swing.total_high - tornado.total_net_value)
                  for swing in tornado.swings]
        largest = {}
        for index in range(len(tornado.net_value)):
            top = tornado.swings[tornado.cohort_order(index)[0]]
            largest[key(tornado.labels, index)] = (top.parameter,
                                                   abs(float(top.net_value_high[index] - top.net_value_low[index])))
        sensitivity = SensitivityFigures(swings, largest)
    bridge = risks.change_bridge(settings, store, period, group, filters, months=months)
    previous = months.get(period.previous())
    unallocated = (0.0, 0.0) if filters else (float(sum(previous.unallocated.values())),
                                              float(sum(months.get(period).unallocated.values())))
    changes = ChangeFigures(period.previous(), tuple(risks.EFFECTS),
                            [(key(bridge.labels, index), float(bridge.previous[index]), float(bridge.current[index]),
                              {name: float(values[index]) for name, values in bridge.effects.items()})
                             for index in range(len(bridge.previous))], unallocated,
                            closed_previous)
    return risk, sensitivity, changes


def _trend_months(settings: Settings, store: Store, frame: ReportFrame) -> tuple[list[TrendMonth], list[LateData]]:
    """The months before the frame's, as reported: a closed month in the frame's grouping as its
    revision shows it, any other month as valued now; and the data that arrived after each close."""
    closed = revisions.latest_revisions(store.engine)
    with_data = set(months_with_data(store))
    earlier: list[Period] = []
    period = frame.period
    for _ in range(DEFAULT_MONTHS - 1):
        period = period.previous()
        earlier.insert(0, period)
    group = list(frame.group_by)
    months: list[TrendMonth] = []
    late: list[LateData] = []
    for month in earlier:
        revision = closed.get(str(month))
        if revision is not None:
            rows, cost = 0, 0.0
            if batch_signature(store, month) != revision.batches:  # else its data is as it was at the close
                snapshot = revisions.revision_snapshot(store.engine, str(month), revision.revision)
                rows, cost = revisions.late_data(store.cells(month.start, month.end), snapshot)
            late.append(LateData(month, revision.revision, revision.closed_at, rows, cost))
            if not frame.filters and revision.group_by == frame.group_by:
                document = json.loads(revisions.revision_content(store.engine, str(month), revision.revision, "json"))
                cohorts = {tuple(str(record["cohort"][name]) for name in group):
                           (record["net_value"], record["cost_per_resolved_case"]) for record in document["cohorts"]}
                months.append(TrendMonth(month, cohorts, document["totals"], revision.revision))
                continue
        if month not in with_data:
            months.append(TrendMonth(month, {}, {}))
            continue
        valued = value_month_coarse(settings, store, month, [*group, *frame.filters])
        figures = figures_of(valued, month, group, frame.filters or None)
        cohorts = {key: (record["net_value"], record["cost_per_resolved_case"])
                   for key, record in figures.cohorts.items()}
        months.append(TrendMonth(month, cohorts, figures.totals))
    return months, late


def _data_quality(store: Store, period: Period) -> tuple[list, list, list]:
    """Per source: the batches touching the month, the first quarantine reasons, unpriced requests by model."""
    touching: dict[str, list] = {}
    for batch in store.batches():
        if batch.first_day is None or (batch.first_day < period.end and batch.last_day >= period.start):
            touching.setdefault(batch.source, []).append(batch)
    sources, samples = [], []
    for source, batches in sorted(touching.items()):
        finished = [batch.finished_at for batch in batches if batch.finished_at is not None]
        sources.append(SourceQuality(
            source=source, batches=len(batches), rows_read=sum(batch.rows_read for batch in batches),
            rows_stored=sum(batch.rows_stored for batch in batches),
            duplicates=sum(batch.duplicates for batch in batches),
            quarantined=sum(batch.quarantined for batch in batches), unpriced=sum(batch.unpriced for batch in batches),
            last_ingest=max(finished) if finished else None,
        ))
        if not any(batch.quarantined for batch in batches):
            continue
        ids = {batch.id for batch in batches}
        after, scanned, found = 0, 0, []
        while len(found) < QUARANTINE_SAMPLES and scanned < 5_000:
            page = store.quarantine(source, after_id=after, limit=500)
            if not page:
                break
            scanned += len(page)
            after = page[-1].id
            found += [QuarantineSample(source, row.file, row.line, row.reason) for row in page if row.batch_id in ids]
        samples += found[:QUARANTINE_SAMPLES]
    unpriced = [UnpricedModel(*row) for row in store.unpriced_by_model(period.start, period.end)]
    return sources, samples, unpriced
