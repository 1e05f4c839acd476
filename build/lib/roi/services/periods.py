"""Months and their state: open, or closed as which revision, and data that arrived after the close."""

from __future__ import annotations

import enum
from dataclasses import dataclass
from datetime import datetime

from ..domain import Period
from ..store import Store, revisions


class MonthState(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


@dataclass(frozen=True, slots=True)
class PeriodState:
    """A month: open or closed (which revision, when), and data that arrived after its close."""

    period: Period
    state: MonthState
    revision: int | None
    closed_at: datetime | None
    late_rows: int  # rows that arrived after the close (0 for an open month)
    late_cost: float  # token cost they carry, in the base currency
    group_by: tuple[str, ...] = ()  # a closed month's: the grouping its revision was stored in

    @property
    def closed(self) -> bool:
        return self.state is MonthState.CLOSED


def _signatures(store: Store, periods) -> dict[str, str]:
    return revisions.batch_signatures(store.engine, [(str(period), period.start, period.end) for period in periods])


def _state(store: Store, period: Period, revision: revisions.Revision | None, signature: str) -> PeriodState:
    if revision is None:
        return PeriodState(period, MonthState.OPEN, None, None, 0, 0.0)
    if signature == revision.batches:
        # the batches behind the month are those of the close: nothing can have arrived
        return PeriodState(period, MonthState.CLOSED, revision.revision, revision.closed_at, 0, 0.0,
                           revision.group_by)
    snapshot = revisions.revision_snapshot(store.engine, str(period), revision.revision)
    rows, cost = revisions.late_data(store.cells(period.start, period.end), snapshot)
    return PeriodState(period, MonthState.CLOSED, revision.revision, revision.closed_at, rows, cost,
                       revision.group_by)


def months_with_data(store: Store) -> list[Period]:
    return sorted({Period.of(day) for day in store.days_with_data()})


def list_periods(store: Store) -> list[PeriodState]:
    """Months with data or closed, oldest first."""
    closed = revisions.latest_revisions(store.engine)
    months = sorted(set(months_with_data(store)) | {Period.parse(text) for text in closed})
    signatures = _signatures(store, [month for month in months if str(month) in closed])
    return [_state(store, month, closed.get(str(month)), signatures.get(str(month), "")) for month in months]


def period_state(store: Store, period: Period) -> PeriodState:
    """One month's state; cheap for a closed month nothing arrived for since (no cells are read)."""
    revision = revisions.latest_revision(store.engine, str(period))
    signature = _signatures(store, [period])[str(period)] if revision is not None else ""
    return _state(store, period, revision, signature)


def batch_signature(store: Store, period: Period) -> str:
    """What identifies the batches behind a month (a close stores it to notice later data)."""
    return _signatures(store, [period])[str(period)]


def closed_periods(store: Store) -> dict[Period, int]:
    """Every closed month and its newest revision, oldest first."""
    latest = revisions.latest_revisions(store.engine)
    return {Period.parse(text): latest[text].revision for text in sorted(latest)}
