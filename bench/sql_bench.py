"""The `sql` source on 10M raw events in PostgreSQL: PostgreSQL's GROUP BY alone vs `roi ingest`.

Generates the events inside PostgreSQL (INSERT ... SELECT generate_series) in a
dedicated database that is dropped afterwards, then times:

1. PostgreSQL alone: the source's query for each UTC day of the month, rows fetched;
2. the full pull of the `sql` source (queries, validation, cells, the store), as
   `roi ingest --source wh --since ... --until ...` runs it, into a SQLite store.

The difference is roi's overhead. Environment: ROI_BENCH_POSTGRES_URL (else
ROI_TEST_POSTGRES_URL, else postgresql+psycopg://postgres@127.0.0.1:5432/postgres),
ROI_SQL_BENCH_ROWS (default 10,000,000).
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import psycopg
from sqlalchemy.engine import make_url

from roi.connectors.sql import EVENTS_TABLE_QUERY

QUERY = EVENTS_TABLE_QUERY

# Events of January 2026 in time order (as a log grows), with deterministic variety.
GENERATE = """
CREATE UNLOGGED TABLE events (
    event_id text NOT NULL, ts timestamptz NOT NULL,
    tenant text, channel text, topic text, language text, plan_tier text, provider text, model text,
    input_tokens bigint NOT NULL, output_tokens bigint NOT NULL, cached_input_tokens bigint NOT NULL,
    cost_usd numeric, outcome text, human_review_minutes double precision
);
INSERT INTO events
SELECT 'e' || g,
       timestamptz '2026-01-01 00:00:00+00' + make_interval(secs => (g * 2678400.0 / {rows})),
       'tenant-' || ((g * 7919) % 40),
       (ARRAY['web', 'voice', 'email'])[1 + (g * 31) % 3],
       (ARRAY['billing', 'shipping', 'returns', 'account'])[1 + (g * 17) % 4],
       (ARRAY['en', 'de', 'fr'])[1 + (g * 13) % 3],
       (ARRAY['free', 'pro', 'enterprise'])[1 + (g * 11) % 3],
       (ARRAY['openai', 'anthropic', 'acme'])[1 + (g * 5) % 3],
       (ARRAY['gpt-4o-mini', 'claude-3-5-haiku', 'mystery-1'])[1 + (g * 5) % 3],
       (g * 37) % 4000,
       1 + (g * 53) % 800,
       ((g * 37) % 4000) / 4,
       CASE WHEN (g * 5) % 3 = 2 THEN NULL ELSE ((g * 97) % 10000) / 1000000.0 END,
       NULLIF((ARRAY['', '', '', 'resolved', 'escalated', 'abandoned', 'reopened'])[1 + (g * 19) % 7], ''),
       CASE WHEN g % 20 = 0 THEN (g % 100) / 10.0 END
FROM generate_series(1::bigint, {rows}) AS g;
CREATE INDEX events_ts ON events (ts);
ANALYZE events;
"""


def _base_url() -> str:
    return (os.environ.get("ROI_BENCH_POSTGRES_URL") or os.environ.get("ROI_TEST_POSTGRES_URL")
            or "postgresql+psycopg://postgres@127.0.0.1:5432/postgres")


def _dsn(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def _days(first: date, count: int) -> list[datetime]:
    start = datetime(first.year, first.month, first.day, tzinfo=UTC)
    return [start + timedelta(days=offset) for offset in range(count + 1)]


def _postgres_alone(url: str, days: list[datetime]) -> tuple[float, int]:
    """The source's daily queries on one connection, through the same driver, rows fetched."""
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    rows = 0
    try:
        with engine.connect() as connection:
            started = time.perf_counter()
            for start, end in zip(days, days[1:], strict=False):
                rows += len(connection.execute(text(QUERY), {"timezone": "UTC", "start": start, "end": end}).all())
            return time.perf_counter() - started, rows
    finally:
        engine.dispose()


class _QueryClock:
    """Time spent in PostgreSQL executing the events query, whichever engine runs it."""

    def __init__(self) -> None:
        self.seconds = 0.0
        self._started: float | None = None

    def install(self) -> None:
        from sqlalchemy import event
        from sqlalchemy.engine import Engine

        event.listen(Engine, "before_cursor_execute", self._before)
        event.listen(Engine, "after_cursor_execute", self._after)

    def _before(self, _connection, _cursor, statement, *_args) -> None:
        self._started = time.perf_counter() if "FROM events" in statement else None

    def _after(self, *_args) -> None:
        if self._started is not None:
            self.seconds += time.perf_counter() - self._started


def _roi_pull(url: str, folder: Path, first: date, last: date):
    from roi import services
    from roi.config import load_config
    from roi.services.ingest import pull_source

    (folder / "models").mkdir()
    (folder / "models" / "support.toml").write_text(textwrap.dedent("""
        name = "support"
        [[versions]]
        effective_from = 2025-01-01
        value_per_resolution = 6.5
        """))
    body = textwrap.indent(QUERY.strip(), "    ")
    (folder / "roi.toml").write_text(textwrap.dedent(f"""
        [service]
        database_url = "sqlite:///{folder / 'roi.db'}"

        [[assignments]]
        match = {{}}
        model = "support"
        """) + f'\n[[sources]]\nname = "wh"\ntype = "sql"\nurl = "{url}"\nquery = """\n{body}\n"""\n')
    settings = load_config(folder / "roi.toml")
    # warm up (imports, first connection) on a store thrown away, as the GROUP BY was warmed
    warm = services.store_for(settings.model_copy(update={"service": settings.service.model_copy(
        update={"database_url": f"sqlite:///{folder / 'warm.db'}"})}))
    pull_source(settings, warm, settings.source("wh"), since=first, until=first)
    warm.engine.dispose()
    store = services.store_for(settings)
    clock = _QueryClock()
    clock.install()
    started = time.perf_counter()
    result = pull_source(settings, store, settings.source("wh"), since=first, until=last)
    took = time.perf_counter() - started
    store.engine.dispose()
    if result.failed:
        raise SystemExit(f"the pull failed: {result.run.errors}")
    return took, clock.seconds, result


def main() -> None:
    rows = int(os.environ.get("ROI_SQL_BENCH_ROWS", "10000000"))
    base = _base_url()
    name = f"roi_sql_bench_{uuid.uuid4().hex[:10]}"
    admin = _dsn(base)
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    try:
        started = time.perf_counter()
        with psycopg.connect(_dsn(url), autocommit=True) as connection:
            for statement in GENERATE.format(rows=rows).split(";"):
                if statement.strip():
                    connection.execute(statement)
        print(f"sql source bench: {rows:,} raw events generated in PostgreSQL in {time.perf_counter() - started:.1f}s")
        first, last = date(2026, 1, 1), date(2026, 1, 31)
        days = _days(first, (last - first).days + 1)
        _postgres_alone(url, days[:2])  # warm the cache once, for both measurements alike
        alone, cells = _postgres_alone(url, days)
        with tempfile.TemporaryDirectory() as folder:
            full, in_pull, result = _roi_pull(url, Path(folder), first, last)
        own = full - in_pull
        print(f"  PostgreSQL GROUP BY alone (31 daily queries, one connection): {alone:.2f}s -> {cells:,} cells "
              f"({rows / alone:,.0f} events/s)")
        print(f"  roi ingest of the sql source: {full:.2f}s, of which the same queries in PostgreSQL "
              f"{in_pull:.2f}s -> {result.run.rows_read:,} rows read, {result.run.batches} batches, "
              f"{result.run.quarantined} quarantined")
        print(f"  overhead (roi's validation, cells, store; full minus its queries): {own:.2f}s "
              f"({own / in_pull:.0%} of the GROUP BY; {own / max(cells, 1) * 1e6:.0f} us per cell, "
              f"{own / result.run.batches * 1e3:.0f} ms per day)")
    finally:
        with psycopg.connect(admin, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


if __name__ == "__main__":
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    main()
