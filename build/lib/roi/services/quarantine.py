"""Quarantined rows: what could not be read, where and why, by source and by the month their batch touched."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..domain import Period
from ..errors import NotFound
from ..store import Store

PAGE = 500


@dataclass(frozen=True, slots=True)
class QuarantinedRow:
    id: int
    batch_id: int
    source: str
    file: str
    line: int | None
    reason: str
    raw: str


def check_source(settings: Settings, store: Store, source: str) -> None:
    """NotFound unless the source is configured or has stored batches."""
    known = {item.name for item in settings.sources} | {batch.source for batch in store.batches()}
    if source not in known:
        raise NotFound(f"source: no source named {source!r} (sources: {', '.join(sorted(known)) or 'none'})")


def batches_touching(store: Store, period: Period, source: str | None = None) -> set[int]:
    """Ids of the batches whose days reach into the month (a batch that stored no day counts everywhere,
    as on the workbook's Data quality sheet)."""
    return {
        batch.id for batch in store.batches()
        if (source is None or batch.source == source)
        and (batch.first_day is None or (batch.first_day < period.end and batch.last_day >= period.start))
    }


def quarantined(settings: Settings, store: Store, *, source: str | None = None, period: Period | None = None,
                after: int = 0, limit: int = 100) -> tuple[list[QuarantinedRow], int | None]:
    """Up to `limit` quarantined rows, oldest first, after the row id `after`; and the id to pass as `after`
    for the next page (None on the last)."""
    if source is not None:
        check_source(settings, store, source)
    wanted = batches_touching(store, period, source) if period is not None else None
    found: list[QuarantinedRow] = []
    cursor = after
    while len(found) <= limit:
        page = store.quarantine(source, after_id=cursor, limit=max(PAGE, limit + 1))
        if not page:
            break
        cursor = page[-1].id
        found += [QuarantinedRow(row.id, row.batch_id, row.source, row.file, row.line, row.reason, row.raw)
                  for row in page if wanted is None or row.batch_id in wanted]
    rows = found[:limit]
    return rows, (rows[-1].id if len(found) > limit and rows else None)
