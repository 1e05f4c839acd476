"""Closing a month: a stored revision of its report, served byte for byte from then on.

A close completes or leaves nothing: its files (the workbook `roi close` writes, the
reports the monthly job writes) are staged on disk first, the revision is stored, and
only then are the files renamed into place; a file that cannot be written stores no
revision, and a rename that fails takes the revision back.

`roi close --period YYYY-MM` stores revision 1: the workbook, JSON and CSV
bytes, the config hash, the data fingerprint and a snapshot of the month's
cells. Later data or config changes never touch it; data that arrives after
the close is measured against the snapshot and reported (`late_rows`,
`late_cost`), and `--revise` issues the next revision with a Revision changes sheet.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from zoneinfo import ZoneInfo

from ..config import Settings
from ..domain import Period
from ..errors import NotFound, RoiError, UsageError
from ..reporting.csv_report import render_csv
from ..reporting.json_report import document_json, report_document
from ..reporting.workbook import LateData, PriorRevision, RevisionInfo
from ..store import Store, revisions
from ..valuation.fingerprint import data_fingerprint
from .files import stage
from .periods import MonthState, PeriodState, batch_signature
from .reports import build_report
from .valued import ValuedMonths
from .workbook import workbook_for


class AlreadyClosed(RoiError):
    """Closing a month that already has a revision, without asking for a new one."""


class NothingChanged(RoiError):
    """A revision asked for when neither the month's data nor the config changed since the last one."""


def _today(settings: Settings):
    return datetime.now(ZoneInfo(settings.service.timezone)).date()


def close_period(
    settings: Settings, store: Store, period: Period, *, revise: bool = False, force: bool = False,
    outputs: Mapping[Path, str] | None = None,
) -> PeriodState:
    """Store the next revision of a month that has ended; AlreadyClosed unless `revise` when it has one;
    NothingChanged, unless `force`, when its data fingerprint and config hash equal the latest revision's.

    `outputs` maps files to write to the format each holds (xlsx, json, csv): the revision is stored
    only if every one of them can be written, and they are in place when it returns."""
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
        signature = batch_signature(store, period)
        cells = store.cells(period.start, period.end)
        # valued here, from the cells read now: a revision never rests on a cached file
        months = ValuedMonths(settings, store, files=False)
        frame = build_report(settings, store, period, months=months)
        # an ingest between the two reads would make the snapshot disagree with the figures: read again
        if data_fingerprint(cells) == frame.data_fingerprint:
            break
    else:
        raise RoiError(f"period {period}: data kept changing while closing; try again when ingests are done")
    if not len(cells):
        raise NotFound(f"period {period}: no data for this month, so there is nothing to close")
    if (previous is not None and not force and previous.data_fingerprint == frame.data_fingerprint
            and previous.config_hash == frame.config_hash):
        raise NothingChanged(
            f"period {period}: nothing changed since revision {previous.revision} (same data fingerprint "
            f"{frame.data_fingerprint[:12]} and config hash {frame.config_hash[:12]}); add --force to issue "
            f"revision {previous.revision + 1} anyway"
        )
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
        "xlsx": workbook_for(settings, store, frame, revision=info, months=months),
        "json": document_json(document),
        "csv": render_csv(frame).encode(),
    }
    staged = stage({Path(path): contents[fmt] for path, fmt in (outputs or {}).items()})
    try:
        stored = revisions.add_revision(
            store.engine, period=str(period), revision=number, closed_at=closed_at, config_hash=frame.config_hash,
            data_fingerprint=frame.data_fingerprint, group_by=frame.group_by, batches=signature, contents=contents,
            snapshot=revisions.encode_snapshot(cells),
        )
    except BaseException as exc:
        for item in staged:
            item.discard()
        if isinstance(exc, revisions.RevisionConflict):
            raise AlreadyClosed(str(exc)) from None
        raise
    try:
        for item in staged:
            item.commit()
    except BaseException:
        for item in staged:
            item.discard()
        revisions.remove_revision(store.engine, str(period), number)
        raise
    return PeriodState(period, MonthState.CLOSED, stored.revision, stored.closed_at, 0, 0.0, frame.group_by)
