"""The use-cases, as thin glue between the layers: ingest, build a report."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path

import numpy as np

from .config import Settings, SourceConfig
from .connectors import Window, registry
from .domain import UNATTRIBUTED, Period
from .errors import ConnectorError, RoiError, UsageError
from .ingestion import CellBuilder
from .pricing import Pricer
from .reporting.csv_report import render_csv
from .reporting.frame import ReportFrame, data_fingerprint, make_frame
from .reporting.json_report import render_json
from .store import Store, open_store
from .valuation import Valuation, value_cells

log = logging.getLogger("roi")


@dataclass(slots=True)
class SourceRun:
    """What one source's ingest did."""

    source: str
    files: int = 0
    batches: int = 0
    unchanged: int = 0
    rows_read: int = 0
    stored: int = 0
    duplicates: int = 0
    quarantined: int = 0
    unpriced: int = 0
    errors: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def store_for(settings: Settings) -> Store:
    return open_store(settings.service.database_url)


def _ingest_fingerprint(settings: Settings, source: SourceConfig, batch_fingerprint: str) -> str:
    """A batch is unchanged only if its content and everything that shapes its cells are."""
    shaping = {
        "batch": batch_fingerprint,
        "dimensions": list(settings.dimensions),
        "timezone": settings.service.timezone,
        "reprice": source.reprice,
        "pricing": settings.pricing.model_dump(mode="json"),
        "genai_prices": version("genai-prices"),
    }
    return hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:32]


def ingest_source(
    settings: Settings,
    store: Store,
    source: SourceConfig,
    *,
    window: Window | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> SourceRun:
    run = SourceRun(source.name)
    pricer = Pricer(settings.pricing.overrides)
    try:
        connector = registry.create(source, settings.base_dir)
        batches = connector.batches(window or Window())
        for batch in batches:
            run.files += batch.files
            fingerprint = _ingest_fingerprint(settings, source, batch.fingerprint)
            if not force and store.batch_fingerprint(source.name, batch.key) == fingerprint:
                run.unchanged += 1
                continue
            started = datetime.now(UTC)
            builder = CellBuilder(
                dimensions=settings.dimensions,
                timezone=settings.service.timezone,
                pricer=pricer,
                reprice=source.reprice,
            )
            rejects = []
            try:
                for chunk in batch.read():
                    builder.add(chunk)
                    rejects.extend(chunk.rejects)
                    if progress:
                        progress(f"{source.name}: {batch.label}: {builder.result.rows_read:,} rows")
            except ConnectorError as exc:
                # this batch cannot be read at all: nothing of it is stored, the others go on
                run.errors.append(str(exc))
                log.error("source %s: %s", source.name, exc)
                continue
            result = builder.result
            store.replace_batch(
                source=source.name,
                key=batch.key,
                label=batch.label,
                fingerprint=fingerprint,
                started_at=started,
                cells=builder.cells(),
                rejects=rejects,
                result=result,
            )
            run.batches += 1
            run.rows_read += result.rows_read
            run.stored += result.rows_stored
            run.duplicates += result.duplicates
            run.quarantined += result.quarantined
            run.unpriced += result.unpriced
    except ConnectorError as exc:
        run.errors.append(str(exc))
        log.error("source %s: %s", source.name, exc)
    return run


def ingest(
    settings: Settings,
    store: Store,
    source_name: str | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[SourceRun]:
    if source_name is not None:
        sources = [settings.source(source_name)]
    else:
        sources = [source for source in settings.sources if source.enabled]
    if not sources:
        raise RoiError(f"{settings.path}: no sources to ingest; add a [[sources]] table")
    return [ingest_source(settings, store, source, force=force, progress=progress) for source in sources]


# ------------------------------------------------------------------ reports


def parse_filters(settings: Settings, raw: dict[str, str] | None) -> dict[str, list[str]]:
    """`{dimension: "a,b"}` into value lists; every dimension must be stored."""
    filters: dict[str, list[str]] = {}
    for name, text in (raw or {}).items():
        if name not in settings.dimensions:
            raise UsageError(
                f"{name}: not a stored dimension to filter on; allowed: {', '.join(settings.dimensions)}", name
            )
        values = [part.strip() for part in str(text).split(",")]
        if not any(values) and text != "":
            raise UsageError(f"{name}: {text!r} names no value", name)
        filters[name] = ["" if value == UNATTRIBUTED else value for value in values]
    return filters


def value_month(settings: Settings, store: Store, period: Period) -> tuple[Valuation, str]:
    cells = store.cells(period.start, period.end)
    valuation = value_cells(
        cells, models=settings.value_models, assignments=settings.assignments, fixed_costs=settings.fixed_costs
    )
    return valuation, data_fingerprint(cells)


def build_report(
    settings: Settings,
    store: Store,
    period: Period,
    group_by: list[str] | tuple[str, ...] | None = None,
    filters: dict[str, list[str]] | None = None,
) -> ReportFrame:
    """One month's report frame, the single source of the JSON, CSV and workbook."""
    group = tuple(settings.report.group_by if group_by is None else group_by)
    for name in group:
        if name not in settings.dimensions:
            raise UsageError(
                f"group_by: {name!r} is not a stored dimension; allowed: {', '.join(settings.dimensions)}", "group_by"
            )
    valuation, fingerprint = value_month(settings, store, period)
    if filters:
        mask = np.ones(len(valuation.cells), dtype=bool)
        for name, values in filters.items():
            mask &= valuation.cells[name].isin(values).to_numpy()
        valuation = Valuation(valuation.cells.loc[mask].reset_index(drop=True), valuation.unallocated,
                              valuation.fixed_costs)
    return make_frame(
        valuation,
        period=period,
        group_by=group,
        currency=settings.service.currency,
        timezone=settings.service.timezone,
        config_hash=settings.config_hash,
        models=settings.value_models,
        generated_at=datetime.now(UTC),
        fingerprint=fingerprint,
        filters=filters,
    )


def latest_period(store: Store, timezone: str | None = None) -> Period | None:
    days = store.days_with_data()
    return Period.of(days[-1]) if days else None


def default_report_path(settings: Settings, period: Period, extension: str) -> Path:
    return Path(settings.service.reports_dir) / str(period) / f"roi-{period}.{extension}"


def render(frame: ReportFrame, fmt: str, *, settings: Settings | None = None, store: Store | None = None) -> str | bytes:
    """The frame in one of the export formats."""
    if fmt == "json":
        return render_json(frame)
    if fmt == "csv":
        return render_csv(frame)
    if fmt == "xlsx":
        from .reporting.excel import render_workbook

        return render_workbook(frame)
    raise UsageError(f"format: {fmt!r} is not one of json, csv, xlsx", "format")
