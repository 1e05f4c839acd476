"""Closing a month: a stored revision of its report, served byte for byte from then on.

`roi close --period YYYY-MM` stores revision 1: the workbook, JSON and CSV
bytes, the config hash, the data fingerprint and a snapshot of the month's
cells. Later data or config changes never touch it; data that arrives after
the close is measured against the snapshot and reported (`late_rows`,
`late_cost`), and `--revise` issues the next revision with a Changes sheet.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib.metadata import version
from zoneinfo import ZoneInfo

from . import services
from .config import Settings
from .domain import Period
from .errors import NotFound, RoiError, UsageError
from .reporting.csv_report import render_csv
from .reporting.excel import MEDIA_TYPE as XLSX_MEDIA_TYPE
from .reporting.frame import data_fingerprint
from .reporting.json_report import render_json, report_document
from .reporting.workbook_layout import LateData, PriorRevision, RevisionInfo
from .store import Store, revisions

FORMATS = ("xlsx", "csv", "json")
MEDIA_TYPES = {"xlsx": XLSX_MEDIA_TYPE, "csv": "text/csv; charset=utf-8", "json": "application/json"}


class AlreadyClosed(RoiError):
    """Closing a month that already has a revision, without asking for a new one."""


@dataclass(frozen=True, slots=True)
class PeriodState:
    """A month: open or closed (which revision, when), and data that arrived after its close."""

    period: Period
    state: str  # "open" | "closed"
    revision: int | None
    closed_at: datetime | None
    late_rows: int  # rows that arrived after the close (0 for an open month)
    late_cost: float  # token cost they carry, in the base currency

    @property
    def closed(self) -> bool:
        return self.state == "closed"


@dataclass(frozen=True, slots=True)
class Export:
    """One month's report in one format, ready to send or write."""

    content: bytes
    media_type: str
    filename: str
    etag: str  # unquoted entity tag: use response.set_etag(export.etag)
    revision: int | None  # the closed revision served, None for an open month built now


def _signatures(store: Store, periods) -> dict[str, str]:
    return revisions.batch_signatures(store.engine, [(str(period), period.start, period.end) for period in periods])


def _state(store: Store, period: Period, revision: revisions.Revision | None, signature: str) -> PeriodState:
    if revision is None:
        return PeriodState(period, "open", None, None, 0, 0.0)
    if signature == revision.batches:
        # the batches behind the month are those of the close: nothing can have arrived
        return PeriodState(period, "closed", revision.revision, revision.closed_at, 0, 0.0)
    snapshot = revisions.revision_snapshot(store.engine, str(period), revision.revision)
    rows, cost = revisions.late_data(store.cells(period.start, period.end), snapshot)
    return PeriodState(period, "closed", revision.revision, revision.closed_at, rows, cost)


def list_periods(settings: Settings, store: Store) -> list[PeriodState]:
    """Months with data or closed, oldest first."""
    closed = revisions.latest_revisions(store.engine)
    months = sorted({Period.of(day) for day in store.days_with_data()} | {Period.parse(text) for text in closed})
    signatures = _signatures(store, [month for month in months if str(month) in closed])
    return [_state(store, month, closed.get(str(month)), signatures.get(str(month), "")) for month in months]


def period_state(settings: Settings, store: Store, period: Period) -> PeriodState:
    """One month's state; cheap for a closed month nothing arrived for since (no cells are read)."""
    revision = revisions.latest_revision(store.engine, str(period))
    signature = _signatures(store, [period])[str(period)] if revision is not None else ""
    return _state(store, period, revision, signature)


def _check_format(fmt: str) -> None:
    if fmt not in FORMATS:
        raise UsageError(f"format: {fmt!r} is not one of {', '.join(FORMATS)}", "format")


def export_report(settings: Settings, store: Store, period: Period, fmt: str) -> Export:
    """A month's report: a closed month's stored bytes (identical every time), an open month built now."""
    _check_format(fmt)
    revision = revisions.latest_revision(store.engine, str(period))
    if revision is not None:
        content = revisions.revision_content(store.engine, str(period), revision.revision, fmt)
        etag = hashlib.sha256(content).hexdigest()[:32]
        return Export(content, MEDIA_TYPES[fmt], f"roi-{period}-r{revision.revision}.{fmt}", etag, revision.revision)
    frame = services.build_report(settings, store, period)
    if fmt == "xlsx":
        content = services.workbook_for(settings, store, frame)
    elif fmt == "json":
        content = render_json(frame).encode()
    else:
        content = render_csv(frame).encode()
    return Export(content, MEDIA_TYPES[fmt], f"roi-{period}.{fmt}", _open_etag(store, frame, fmt), None)


def _open_etag(store: Store, frame, fmt: str) -> str:
    """What an open month's export depends on, hashed (its bytes differ by the generation time alone).

    The workbook also shows earlier months (closed ones as stored) and the ingest log, so those are in too.
    """
    parts = [fmt, str(frame.period), ",".join(frame.group_by), frame.config_hash, frame.data_fingerprint,
             version("roi")]
    if fmt == "xlsx":
        parts += [f"{key}:{item.revision}" for key, item in sorted(revisions.latest_revisions(store.engine).items())]
        parts += [f"{batch.id}:{batch.finished_at}" for batch in store.batches()]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]


def _today(settings: Settings):
    return datetime.now(ZoneInfo(settings.service.timezone)).date()


def close_period(settings: Settings, store: Store, period: Period, *, revise: bool = False) -> PeriodState:
    """Store the next revision of a month that has ended; AlreadyClosed unless `revise` when it has one."""
    previous = revisions.latest_revision(store.engine, str(period))
    if previous is not None and not revise:
        raise AlreadyClosed(
            f"period {period} is already closed (revision {previous.revision}, "
            f"{previous.closed_at:%Y-%m-%d %H:%M} UTC); roi close --period {period} --revise issues revision "
            f"{previous.revision + 1}"
        )
    today = _today(settings)
    if today < period.end:
        raise UsageError(
            f"period: {period} has not ended yet in {settings.service.timezone}; it can be closed from "
            f"{period.end.isoformat()}", "period",
        )
    for _attempt in range(3):
        # the signature first: a batch stored after it only makes a later check read the cells
        signature = _signatures(store, [period])[str(period)]
        cells = store.cells(period.start, period.end)
        frame = services.build_report(settings, store, period)
        # an ingest between the two reads would make the snapshot disagree with the figures: read again
        if data_fingerprint(cells) == frame.data_fingerprint:
            break
    else:
        raise RoiError(f"period {period}: data kept changing while closing; try again when ingests are done")
    if not len(cells):
        raise NotFound(f"period {period}: no data for this month, so there is nothing to close")
    number = previous.revision + 1 if previous is not None else 1
    closed_at = datetime.now(UTC)
    prior, late = None, None
    if previous is not None:
        document = json.loads(revisions.revision_content(store.engine, str(period), previous.revision, "json"))
        prior = PriorRevision(previous.revision, previous.closed_at, previous.config_hash,
                              previous.data_fingerprint, previous.group_by, document["cohorts"], document["totals"])
        snapshot = revisions.revision_snapshot(store.engine, str(period), previous.revision)
        rows, cost = revisions.late_data(cells, snapshot)
        late = LateData(period, previous.revision, previous.closed_at, rows, cost)
    info = RevisionInfo(number, closed_at, prior, late)
    document = report_document(frame)
    document.update({"state": "closed", "revision": number, "closed_at": closed_at.isoformat()})
    contents = {
        "xlsx": services.workbook_for(settings, store, frame, revision=info),
        "json": (json.dumps(document, indent=2, allow_nan=False) + "\n").encode(),
        "csv": render_csv(frame).encode(),
    }
    try:
        stored = revisions.add_revision(
            store.engine, period=str(period), revision=number, closed_at=closed_at, config_hash=frame.config_hash,
            data_fingerprint=frame.data_fingerprint, group_by=frame.group_by, batches=signature, contents=contents,
            snapshot=revisions.encode_snapshot(cells),
        )
    except revisions.RevisionConflict as exc:
        raise AlreadyClosed(str(exc)) from None
    return PeriodState(period, "closed", stored.revision, stored.closed_at, 0, 0.0)
