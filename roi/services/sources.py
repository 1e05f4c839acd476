"""Each source as operations reads it: its batches, rows, quarantined and unpriced, freshness, watermark
and failure streak (the API's /sources and the dashboard's Operations page)."""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from ..config import Settings
from ..store import Store
from .jobs import source_states


def utc(moment: datetime | None) -> str | None:
    """RFC 3339 with an offset; SQLite hands back naive datetimes that were stored as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.isoformat()


def _day(value: Any) -> str | None:
    if value is None:
        return None
    return value.isoformat() if isinstance(value, date) else date.fromisoformat(str(value)).isoformat()


def source_documents(settings: Settings, store: Store) -> list[dict[str, Any]]:
    """Each configured source (and any source still in the store but no longer configured)."""
    batches = store.batches()
    configured = {source.name: source for source in settings.sources}
    names = list(configured) + sorted({batch.source for batch in batches} - set(configured))
    now = datetime.now(UTC)
    pulls = source_states(store)
    found = []
    for name in names:
        pull = pulls.get(name)
        mine = [batch for batch in batches if batch.source == name]
        source = configured.get(name)
        last = max(mine, key=lambda batch: (_aware(batch.finished_at), batch.id or 0)) if mine else None
        days = [batch.last_day for batch in mine if batch.last_day is not None]
        found.append(
            {
                "name": name,
                "type": source.type if source else None,
                "enabled": bool(source.enabled) if source else False,
                "schedule": source.schedule if source else None,
                "batches": len(mine),
                "rows_read": sum(batch.rows_read for batch in mine),
                "rows_stored": sum(batch.rows_stored for batch in mine),
                "duplicates": sum(batch.duplicates for batch in mine),
                "quarantined": sum(batch.quarantined for batch in mine),
                "unpriced": sum(batch.unpriced for batch in mine),
                "last_batch": _batch_document(last) if last else None,
                "last_day": _day(max(days)) if days else None,
                "freshness_seconds": (now - _aware(last.finished_at)).total_seconds() if last else None,
                "status": _status(pull, bool(mine)),
                "watermark": utc(pull.watermark) if pull and pull.watermark else None,
                "last_success_at": utc(pull.last_success_at) if pull and pull.last_success_at else None,
                "last_failure_at": utc(pull.last_failure_at) if pull and pull.last_failure_at else None,
                "last_error": pull.last_error if pull else None,
                "consecutive_failures": pull.consecutive_failures if pull else 0,
            }
        )
    return found


def _status(pull, has_batches: bool) -> str:
    """failing while the latest pulls failed; ok once one succeeded; never_run before any."""
    if pull is not None and pull.consecutive_failures:
        return "failing"
    if has_batches or (pull is not None and pull.last_success_at):
        return "ok"
    return "never_run"


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _batch_document(batch) -> dict[str, Any]:
    return {
        "label": batch.label,
        "started_at": utc(batch.started_at),
        "finished_at": utc(batch.finished_at),
        "rows_read": batch.rows_read,
        "rows_stored": batch.rows_stored,
        "duplicates": batch.duplicates,
        "quarantined": batch.quarantined,
        "unpriced": batch.unpriced,
        "first_day": _day(batch.first_day),
        "last_day": _day(batch.last_day),
    }
