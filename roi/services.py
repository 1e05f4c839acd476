"""The use-cases, as thin glue between the layers: ingest, build a report."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Settings, SourceConfig
from .connectors import Window, registry
from .domain import UNATTRIBUTED, Period
from .errors import ConnectorError, UsageError
from .ingestion import CellBuilder
from .pricing import Pricer
from .runtime import paused_gc
from .store import Store, open_store

if TYPE_CHECKING:  # reporting and valuation (pandas) load when a report is built, not for an ingest
    from .reporting.frame import ReportFrame
    from .valuation import Valuation

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
    windowed: bool = False  # pulled in day batches (so it has a watermark)

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


DAY_BATCH = "day:"


def _read_batch(settings: Settings, source: SourceConfig, batch, pricer: Pricer,
                progress: Callable[[str], None] | None) -> tuple[CellBuilder, list]:
    """Read one batch whole into cells; raises ConnectorError with nothing kept."""
    builder = CellBuilder(
        dimensions=settings.dimensions, timezone=settings.service.timezone, pricer=pricer, reprice=source.reprice,
        usd_rate=settings.pricing.usd_exchange_rate or 1.0,
    )
    rejects = []
    try:
        with paused_gc():  # millions of acyclic objects: nothing for the collector to find
            for chunk in batch.read():
                builder.add(chunk)
                rejects.extend(chunk.rejects)
                if progress:
                    progress(f"{source.name}: {batch.label}: {builder.rows_read:,} rows")
    except BaseException:
        builder.close()  # its temporary files close now, not when a reference cycle is collected
        raise
    return builder, rejects


def _cells_of(builder: CellBuilder):
    table = builder.cell_table()
    return table if table is not None else builder.cells()


def ingest_source(
    settings: Settings,
    store: Store,
    source: SourceConfig,
    *,
    window: Window | None = None,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
    retry: Callable[[Callable[[], Any]], Any] | None = None,
    on_batch: Callable[[str], None] | None = None,
) -> SourceRun:
    """Ingest a source's batches. File batches land one by one; the day batches of a pulled
    window land together, and only when every one of them was read (a failed pull stores nothing).
    `retry` wraps each batch read (the pull use-case retries transient errors with it)."""
    run = SourceRun(source.name)
    pricer = Pricer(settings.pricing.overrides)
    staged: list[dict] = []
    try:
        connector = registry.create(source, settings.base_dir)
        connector.timezone = settings.service.timezone
        batches = connector.batches(window or Window())
        for batch in batches:
            day_batch = batch.key.startswith(DAY_BATCH)
            run.windowed = run.windowed or day_batch
            run.files += batch.files
            stored = None if force else store.batch_fingerprint(source.name, batch.key)
            started = datetime.now(UTC)
            builder = None
            try:
                if stored is not None:
                    fingerprint = _ingest_fingerprint(settings, source, batch.content_fingerprint())
                    if fingerprint == stored:
                        run.unchanged += 1
                        continue
                    taken = None
                else:
                    # nothing to compare with: the content's hash (a pass over a whole file) is taken
                    # beside the read, on the core the read leaves idle
                    taken = _beside(batch.content_fingerprint)
                builder, rejects = (retry or _once)(
                    lambda batch=batch: _read_batch(settings, source, batch, pricer, progress)
                )
                if taken is not None:
                    fingerprint = _ingest_fingerprint(settings, source, taken())
            except BaseException as exc:
                if builder is not None:  # read, then its fingerprint failed or the run was interrupted
                    builder.close()
                if not isinstance(exc, ConnectorError):
                    raise
                run.errors.append(str(exc))
                log.info("source %s: %s", source.name, exc)
                if day_batch:
                    break  # the window fails as a whole: no point reading its other days
                continue  # this file cannot be read: nothing of it is stored, the others go on
            try:
                if on_batch:
                    on_batch(batch.key)
                item = dict(source=source.name, key=batch.key, label=batch.label, fingerprint=fingerprint,
                            started_at=started, cells=_cells_of(builder), rejects=rejects, result=builder.result)
            finally:
                builder.close()  # done with (cells taken) or given up: its worker and files end here
            if day_batch:
                staged.append(item)
            else:
                _store_batch(store, run, item)
            builder = item = rejects = None  # this batch goes now, not after the next batch is read
    except ConnectorError as exc:
        run.errors.append(str(exc))
        log.info("source %s: %s", source.name, exc)
    if not run.failed:
        for item in staged:
            _store_batch(store, run, item)
    return run


def _once(read: Callable[[], Any]) -> Any:
    return read()


def _beside(work: Callable[[], str]) -> Callable[[], str]:
    """Start `work` in a thread now; the returned callable waits for its result (or raises its error)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roi-fingerprint")
    try:
        return pool.submit(work).result
    finally:
        pool.shutdown(wait=False)  # the thread ends with the work


def _store_batch(store: Store, run: SourceRun, item: dict) -> None:
    with paused_gc():
        store.replace_batch(**item)
    result = item["result"]
    run.batches += 1
    run.rows_read += result.rows_read
    run.stored += result.rows_stored
    run.duplicates += result.duplicates
    run.quarantined += result.quarantined
    run.unpriced += result.unpriced


def ingest(
    settings: Settings,
    store: Store,
    source_name: str | None = None,
    *,
    force: bool = False,
    progress: Callable[[str], None] | None = None,
) -> list[SourceRun]:
    """Every enabled source (or one) once now; pulled sources over their window (see pulling)."""
    from .pulling import pull  # the windowed pull builds on ingest_source above

    return [result.run for result in pull(settings, store, source_name, force=force, progress=progress)]


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
    from .reporting.frame import data_fingerprint
    from .valuation import value_cells

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
    *,
    valued: tuple[Valuation, str] | None = None,
) -> ReportFrame:
    """One month's report frame, the single source of the JSON, CSV and workbook.

    `valued`: the month as value_month returned it, when the caller keeps it (the API caches it)."""
    from .reporting.frame import make_frame
    from .valuation import Valuation, filter_cells

    group = tuple(settings.report.group_by if group_by is None else group_by)
    for name in group:
        if name not in settings.dimensions:
            raise UsageError(
                f"group_by: {name!r} is not a stored dimension; allowed: {', '.join(settings.dimensions)}", "group_by"
            )
    valuation, fingerprint = valued if valued is not None else value_month(settings, store, period)
    if filters:
        valuation = Valuation(filter_cells(valuation.cells, filters), valuation.unallocated, valuation.fixed_costs)
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


def default_report_path(settings: Settings, period: Period, extension: str) -> Path:
    return Path(settings.service.reports_dir) / str(period) / f"roi-{period}.{extension}"


def render(frame: ReportFrame, fmt: str, *, settings: Settings | None = None, store: Store | None = None) -> str | bytes:
    """The frame in one of the export formats."""
    from .reporting.csv_report import render_csv
    from .reporting.json_report import render_json

    if fmt == "json":
        return render_json(frame)
    if fmt == "csv":
        return render_csv(frame)
    if fmt == "xlsx":
        if settings is not None and store is not None:
            return workbook_for(settings, store, frame)
        from .reporting.excel import render_workbook

        return render_workbook(frame)
    raise UsageError(f"format: {fmt!r} is not one of json, csv, xlsx", "format")


# ------------------------------------------------------------------ the workbook

TREND_MONTHS = 12
QUARANTINE_SAMPLES = 5


def build_workbook(settings: Settings, store: Store, period: Period) -> bytes:
    """The workbook of a month as it stands now (closed months are served by closing.export_report)."""
    return workbook_for(settings, store, build_report(settings, store, period))


def workbook_for(settings: Settings, store: Store, frame: ReportFrame, revision: Any = None) -> bytes:
    """The workbook of a report frame, with its trend, data quality and closed-month notes."""
    from .reporting.excel import render_workbook
    from .reporting.workbook_layout import WorkbookExtras

    trend, late = _trend_months(settings, store, frame)
    sources, samples, unpriced = _data_quality(store, frame.period)
    extras = WorkbookExtras(trend=trend, sources=sources, quarantine=samples, unpriced=unpriced, late=late,
                            revision=revision)
    return render_workbook(frame, extras)


def _trend_months(settings: Settings, store: Store, frame: ReportFrame) -> tuple[list, list]:
    """The months before the frame's (figures as reported), and late data of the closed ones."""
    from .reporting.workbook_layout import LateData, TrendMonth
    from .store import revisions
    from .valuation import filter_cells, summarize, totals, value_cells

    closed = revisions.latest_revisions(store.engine)
    with_data = {Period.of(day) for day in store.days_with_data()}
    months: list[TrendMonth] = []
    late: list[LateData] = []
    period = frame.period
    earlier = []
    for _ in range(TREND_MONTHS - 1):
        period = period.previous()
        earlier.insert(0, period)
    group = list(frame.group_by)
    # valuing cells summed over every other dimension (and over days within a version) gives the same
    # cohort figures, from far fewer rows
    shaping = {*group, *frame.filters}
    for rule in [*settings.assignments, *settings.fixed_costs]:
        shaping.update(rule.match)
    signatures = revisions.batch_signatures(
        store.engine, [(str(month), month.start, month.end) for month in earlier if str(month) in closed])
    for month in earlier:
        revision = closed.get(str(month))
        if revision is not None:
            rows, cost = 0, 0.0
            if signatures[str(month)] != revision.batches:  # else the month's data is as it was at the close
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
        valuation = value_cells(
            store.cells_by(month.start, month.end, shaping, _version_changes(settings, month)),
            models=settings.value_models, assignments=settings.assignments, fixed_costs=settings.fixed_costs,
        )
        cells = valuation.cells
        unallocated = valuation.unallocated_total
        if frame.filters:
            cells = filter_cells(cells, frame.filters)
            unallocated = 0.0
        summary = summarize(cells, group)
        keys = summary[group].astype(str).itertuples(index=False, name=None) if group else [()] * len(summary)
        cohorts = {tuple(key): (net, unit) for key, net, unit in
                   zip(keys, summary["net_value"], summary["cost_per_resolved_case"], strict=True)}
        months.append(TrendMonth(month, cohorts, totals(cells, unallocated)))
    return months, late


def _version_changes(settings: Settings, period: Period) -> list:
    return [version.effective_from for model in settings.value_models.values() for version in model.versions
            if period.start < version.effective_from < period.end]


def _data_quality(store: Store, period: Period) -> tuple[list, list, list]:
    """Per source: the batches touching the month, the first quarantine reasons, unpriced requests by model."""
    from .reporting.workbook_layout import QuarantineSample, SourceQuality, UnpricedModel

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


def write_reports(settings: Settings, store: Store, period: Period) -> list[Path]:
    """Write a month's JSON, CSV and workbook to reports/YYYY-MM/ (a closed month: its stored revision)."""
    from .closing import export_report  # closing builds on this module

    written = []
    for extension in ("json", "csv", "xlsx"):
        path = default_report_path(settings, period, extension)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(export_report(settings, store, period, extension).content)
        written.append(path)
    return written
