"""Reading one source's batches into cells and storing each as a unit (the ingest use case's core)."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from importlib.metadata import version
from typing import Any

from ..config import Settings, SourceConfig
from ..connectors import Window, registry
from ..connectors.base import Batch, FileConnector, contained, file_identity
from ..connectors.retry import RetryPolicy
from ..errors import ConnectorError
from ..ingestion import CellBuilder
from ..pricing import Pricer
from ..process_tuning import paused_gc
from ..store import Store
from .file_moves import Hashed, follow_moves

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
    moved: list[str] = field(default_factory=list)  # "old label -> new label": files renamed or moved
    windowed: bool = False  # pulled in day batches (so it has a watermark)

    @property
    def failed(self) -> bool:
        return bool(self.errors)


def _ingest_fingerprint(settings: Settings, source: SourceConfig, batch: Batch, content: str) -> str:
    """A batch is unchanged only if its content and everything that shapes its cells are.

    Stored as "<hash of both>/<the content's>": the content's alone finds a renamed file's batch
    (services.file_moves). A batch stored by an earlier version has the hash alone (_unchanged
    compares the hashes)."""
    shaping = {
        "batch": content,
        "dimensions": list(settings.dimensions),
        "timezone": settings.service.timezone,
        "reprice": source.reprice,
        "pricing": settings.pricing.model_dump(mode="json"),
        "genai_prices": version("genai-prices"),
    }
    if batch.shape:  # a file's options as they apply to it (its format, an OTLP file's mapping, ...)
        shaping["shape"] = batch.shape
    return f"{hashlib.sha256(json.dumps(shaping, sort_keys=True).encode()).hexdigest()[:32]}/{content}"


def _unchanged(stored: str, fingerprint: str) -> bool:
    return stored.partition("/")[0] == fingerprint.partition("/")[0]


# progress(source, batch label, rows read so far in the batch): called after each chunk read
Progress = Callable[[str, str, int], None]


def _read_batch(settings: Settings, source: SourceConfig, batch, pricer: Pricer,
                progress: Progress | None) -> tuple[CellBuilder, list]:
    """Read one batch whole into cells; raises ConnectorError with nothing kept."""
    builder = CellBuilder(
        dimensions=settings.dimensions, timezone=settings.service.timezone, pricer=pricer, reprice=source.reprice,
        usd_rate=settings.pricing.usd_exchange_rate or 1.0, label=batch.label,
    )
    rejects = []
    try:
        with paused_gc():  # millions of acyclic objects: nothing for the collector to find
            # any failure of one batch's read is that batch's: one line naming it, never a traceback
            for chunk in contained(batch.label, batch.read):
                builder.add(chunk)
                rejects.extend(chunk.rejects)
                if progress:
                    progress(source.name, batch.label, builder.rows_read)
            builder.result  # noqa: B018 - waits for the cell sums: an error of theirs is this batch's too
    except BaseException:
        builder.close()  # its temporary files close now, not when a reference cycle is collected
        raise
    return builder, rejects


def ingest_source(
    settings: Settings,
    store: Store,
    source: SourceConfig,
    *,
    window: Window | None = None,
    force: bool = False,
    progress: Progress | None = None,
    sleep: Callable[[float], None] | None = None,
    on_batch: Callable[[str], None] | None = None,
) -> SourceRun:
    """Ingest a source's batches. File batches land one by one; the day batches of a pulled
    window land together, and only when every one of them was read (a failed pull stores nothing).

    Transient errors are retried by the one policy (connectors.retry), at one level: an HTTP
    connector retries each request itself (its options); any other source's batch read is
    retried whole as [scheduler] retry_* say. `sleep` is how the waits pass (tests: no wait)."""
    run = SourceRun(source.name)
    pricer = Pricer(settings.pricing.overrides)
    staged: list[dict] = []
    try:  # whatever ends it, the staged day batches' cells (a spilled batch's temporary file) close here
        try:
            connector = registry.create(source, settings.base_dir)
            connector.timezone = settings.service.timezone
            if sleep is not None and hasattr(connector, "sleep"):
                connector.sleep = sleep
            retry = _once if connector.retries_requests else partial(
                _batch_policy(settings, sleep).call, where=f"source {source.name!r}")
            hashes: dict[str, Hashed] = {}  # batch key: its content's hash, where following moves took it
            listed: dict[str, str] = {}  # a file source's batch keys and their files
            if isinstance(connector, FileConnector):
                connector.check()
                listed = connector.listed()
                run.moved = follow_moves(store, source.name, listed, hashes)
                batches = connector.file_batches(listed)
            else:
                batches = connector.batches(window or Window())
            for batch in batches:
                day_batch = batch.day is not None
                run.windowed = run.windowed or day_batch
                run.files += batch.files
                stored = store.batch_fingerprint(source.name, batch.key)
                started = datetime.now(UTC)
                builder = None
                try:
                    hashed = hashes.get(batch.key)
                    content = hashed.content if hashed else None
                    if stored is not None and not force:
                        content = content or batch.content_fingerprint()
                        fingerprint = _ingest_fingerprint(settings, source, batch, content)
                        if _unchanged(stored, fingerprint):
                            if stored != fingerprint:  # stored by an earlier version: now with its content's
                                store.upgrade_batch_fingerprint(source.name, batch.key, fingerprint)
                            run.unchanged += 1
                            continue
                    taken = None
                    if content is None:
                        # nothing to compare with: the content's hash (a pass over a whole file) is taken
                        # beside the read, on the core the read leaves idle
                        taken = _beside(batch.content_fingerprint)
                    builder, rejects = retry(
                        lambda batch=batch: _read_batch(settings, source, batch, pricer, progress)
                    )
                    if hashed is not None and _replaced(listed[batch.key], hashed):
                        content = f"unsettled:{content}"  # what was read may not be what was hashed: read again next time
                    fingerprint = _ingest_fingerprint(settings, source, batch, taken() if taken else content)
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
                                started_at=started, cells=builder.cell_tables(), rejects=rejects, result=builder.result)
                finally:
                    builder.close()  # done with (cells taken) or given up: its worker and files end here
                if day_batch:
                    staged.append(item)
                else:
                    try:
                        _store_batch(store, run, item)
                    finally:
                        item["cells"].close()  # a spilled batch's temporary file goes now
                builder = item = rejects = None  # this batch goes now, not after the next batch is read
        except ConnectorError as exc:
            run.errors.append(str(exc))
            log.info("source %s: %s", source.name, exc)
        if not run.failed:
            for item in staged:
                _store_batch(store, run, item)
    finally:
        for item in staged:  # stored, or not to be
            item["cells"].close()
    return run


def _replaced(path: str, hashed: Hashed) -> bool:
    """Whether the file changed, or another took its name, since it was hashed (before its read)."""
    try:
        return file_identity(os.stat(path)) != hashed.identity
    except OSError:
        return True


def _once(read: Callable[[], Any]) -> Any:
    return read()


def _batch_policy(settings: Settings, sleep: Callable[[float], None] | None) -> RetryPolicy:
    policy = settings.scheduler
    return RetryPolicy(attempts=policy.retry_attempts, backoff=policy.retry_wait_seconds,
                       max_backoff=policy.retry_max_wait_seconds, sleep=sleep or time.sleep)


def _beside(work: Callable[[], str]) -> Callable[[], str]:
    """Start `work` in a thread now; the returned callable waits for its result (or raises its error)."""
    pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="roi-fingerprint")
    try:
        return pool.submit(work).result
    finally:
        pool.shutdown(wait=False)  # the thread ends with the work


def _store_batch(store: Store, run: SourceRun, item: dict) -> None:
    with paused_gc():
        stored = store.replace_batch(**item)
    if stored is None:  # another ingest stored the same content meanwhile (the store said so)
        run.unchanged += 1
        return
    result = item["result"]
    run.batches += 1
    run.rows_read += result.rows_read
    run.stored += result.rows_stored
    run.duplicates += result.duplicates
    run.quarantined += result.quarantined
    run.unpriced += result.unpriced
