"""The sql source: the warehouse's GROUP BY as cells, validated like any batch."""

from __future__ import annotations

import sqlite3
import textwrap
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from roi import services
from roi.connectors.sql import EVENTS_TABLE_QUERY, SqlConnector, SqlOptions
from roi.domain import CELL_METRICS, DIMENSIONS
from roi.errors import ConfigError, ConnectorError, TransientError
from roi.services import ingest as ingesting
from roi.services.ingest import pull_source
from roi.services.validation import load_checked_config as load_config
from roi.store import pulls_and_jobs
from tests.conftest import BASE_MODEL, PG_URL

SQLITE_QUERY = """
SELECT day, tenant, channel, requests, input_tokens, token_cost, resolved
FROM cells WHERE at >= :start AND at < :end
"""


def _config(root: Path, source: str, *, timezone: str = "UTC", database: str | None = None) -> Path:
    (root / "models").mkdir(exist_ok=True)
    (root / "models" / "support.toml").write_text(textwrap.dedent(BASE_MODEL))
    url = database or f"sqlite:///{root / 'roi.db'}"
    path = root / "roi.toml"
    path.write_text(textwrap.dedent(f"""
        [service]
        database_url = "{url}"
        timezone = "{timezone}"

        [[assignments]]
        match = {{}}
        model = "support"
        """) + textwrap.dedent(source))
    return path


def _warehouse(path: Path, rows: list[tuple]) -> str:
    """A SQLite 'warehouse' of pre-aggregated rows: (at, day, tenant, channel, requests, tokens, cost, resolved)."""
    with sqlite3.connect(path) as connection:
        connection.execute("CREATE TABLE cells (at TEXT, day TEXT, tenant TEXT, channel TEXT, requests, "
                           "input_tokens, token_cost, resolved)")
        connection.executemany("INSERT INTO cells VALUES (?, ?, ?, ?, ?, ?, ?, ?)", rows)
    return f"sqlite:///{path}"


def _sql_source(url: str, query: str = SQLITE_QUERY) -> str:
    body = textwrap.indent(textwrap.dedent(query).strip(), "    ")
    return f'\n[[sources]]\nname = "wh"\ntype = "sql"\nurl = "{url}"\nquery = """\n{body}\n"""\n'


def test_the_query_must_bind_start_and_end(tmp_path):
    path = _config(tmp_path, _sql_source("sqlite:///x.db", "SELECT day, requests FROM cells WHERE at >= :start"))
    with pytest.raises(ConfigError) as caught:
        load_config(path)
    assert caught.value.problems == [
        f"{path}: sources[0].query: the query must use :end (WHERE ts >= :start AND ts < :end), "
        "or every day would count all the data"
    ]
    with pytest.raises(ValueError, match="unknown parameter :tenant"):
        SqlOptions(url="sqlite://", query="SELECT 1 WHERE :start < :end AND t = :tenant")


def test_cells_land_per_day_and_bad_rows_are_quarantined_with_row_and_reason(tmp_path):
    url = _warehouse(tmp_path / "wh.db", [
        ("2026-03-01T10:00:00Z", "2026-03-01", "acme", "web", 10, 1000, 0.5, 3),
        ("2026-03-01T11:00:00Z", "2026-03-01", None, "web", 2, 50, None, 0),  # no cost: unpriced
        ("2026-03-01T12:00:00Z", "2026-03-01", "beta", "voice", -1, 10, 0.1, 0),  # negative
        ("2026-03-01T13:00:00Z", "March 1st", "beta", "voice", 1, 10, 0.1, 0),  # not a date
        ("2026-03-01T14:00:00Z", "2026-02-11", "beta", "voice", 1, 10, 0.1, 0),  # outside the window
        ("2026-03-01T15:00:00Z", "2026-03-01", "beta", "voice", 1.5, "many", 0.1, 0),
        ("2026-03-01T16:00:00Z", "2026-03-01", "beta", "voice", 1, 1e19, 1e300, 0),  # beyond int64 and 10^12
        ("2026-03-02T09:00:00Z", "2026-03-02", "acme", "web", 4, 400, 0.25, 1),
    ])
    settings = load_config(_config(tmp_path, _sql_source(url)))
    store = services.store_for(settings)
    result = pull_source(settings, store, settings.source("wh"), since=date(2026, 3, 1), until=date(2026, 3, 2))
    assert not result.failed and result.run.batches == 2
    assert (result.run.rows_read, result.run.quarantined) == (8, 5)

    cells = store.cells(date(2026, 3, 1), date(2026, 3, 3)).sort_values(["day", "tenant"]).reset_index(drop=True)
    assert cells[["day", "tenant", "channel"]].values.tolist() == [
        [date(2026, 3, 1), "", "web"], [date(2026, 3, 1), "acme", "web"], [date(2026, 3, 2), "acme", "web"]]
    assert cells["requests"].tolist() == [2, 10, 4]
    assert cells["token_cost"].tolist() == [0.0, 0.5, 0.25]
    assert cells["unpriced_requests"].tolist() == [2, 0, 0]
    assert cells["resolved"].tolist() == [0, 3, 1]

    reasons = {(row.file, row.line): row.reason for row in store.quarantine("wh")}
    assert reasons == {
        ("wh 2026-03-01", 3): "requests is not a finite number >= 0",
        ("wh 2026-03-01", 4): "day is not a date (YYYY-MM-DD)",
        ("wh 2026-03-01", 5): "day is outside the window pulled (2026-03-01 to 2026-03-01): "
                              "does the query filter on :start and :end?",
        ("wh 2026-03-01", 6): "requests is not a whole number; input_tokens is not a number",
        ("wh 2026-03-01", 7): "input_tokens is too large (accepted: below 10^15); "
                              "token_cost is too large (accepted: below 10^12)",
    }
    assert "tenant=beta" in store.quarantine("wh")[0].raw
    store.engine.dispose()


def test_a_query_returning_other_columns_fails_the_pull_and_stores_nothing(tmp_path):
    url = _warehouse(tmp_path / "wh.db", [("2026-03-01T10:00:00Z", "2026-03-01", "acme", "web", 1, 1, 0.5, 0)])
    query = "SELECT day, tenant AS customer, requests FROM cells WHERE at >= :start AND at < :end"
    settings = load_config(_config(tmp_path, _sql_source(url, query)))
    store = services.store_for(settings)
    result = pull_source(settings, store, settings.source("wh"), since=date(2026, 3, 1), until=date(2026, 3, 1))
    assert result.failed
    assert "the query returns unknown columns customer" in result.run.errors[0]
    assert store.batches("wh") == [] and pulls_and_jobs.watermark(store.engine, "wh") is None
    store.engine.dispose()


def test_a_query_error_names_the_source_and_hides_the_password(tmp_path):
    url = _warehouse(tmp_path / "wh.db", [])
    connector = SqlConnector("wh", SqlOptions(url=url, query="SELECT nope FROM missing WHERE :start < :end"))
    batch = next(connector.batches(_window("2026-03-01", "2026-03-02")))
    with pytest.raises(ConnectorError, match=r"source 'wh': the query failed \(sqlite:///.*wh.db\): .*missing"):
        list(batch.read())
    refused = SqlConnector("wh", SqlOptions(url="postgresql+psycopg://roi:s3cret-pw@127.0.0.1:9/warehouse",
                                            query="SELECT 1 WHERE :start < :end"))
    with pytest.raises(TransientError) as caught:
        list(next(refused.batches(_window("2026-03-01", "2026-03-02"))).read())
    assert "s3cret-pw" not in str(caught.value) and "roi:***@127.0.0.1:9" in str(caught.value)


def _window(start: str, end: str):
    from datetime import datetime

    from roi.connectors import Window

    return Window(datetime.fromisoformat(start + "T00:00:00+00:00"), datetime.fromisoformat(end + "T00:00:00+00:00"))


# ------------------------------------------------------ the same events, two ways

EVENTS_QUERY = EVENTS_TABLE_QUERY

EVENTS_TABLE = """
CREATE TABLE events (
    event_id text NOT NULL, ts timestamptz NOT NULL,
    tenant text, channel text, topic text, language text, plan_tier text, provider text, model text,
    input_tokens bigint NOT NULL, output_tokens bigint NOT NULL, cached_input_tokens bigint NOT NULL,
    cost_usd numeric, outcome text, human_review_minutes double precision
)
"""


def write_events(path: Path, count: int, seed: int = 7) -> None:
    """Events of January 2026 in the events format, in time order like a log: known models carry
    their cost, an unknown one has none (unpriced), some rows are outcome-only, some dimensions
    are missing."""
    rng = np.random.default_rng(seed)
    seconds = np.sort(rng.integers(0, 31 * 86_400, count))
    moments = np.datetime64("2026-01-01T00:00:00", "s") + seconds
    which = rng.choice(3, count, p=[0.6, 0.3, 0.1])
    provider = np.array(["openai", "anthropic", "acme"], dtype=object)[which]
    model = np.array(["gpt-4o-mini", "claude-3-5-haiku", "mystery-1"], dtype=object)[which]
    input_tokens = rng.integers(0, 4000, count)
    outcome_only = rng.random(count) < 0.08
    input_tokens[outcome_only] = 0
    output_tokens = np.where(outcome_only, 0, rng.integers(1, 800, count))
    cached = (input_tokens * rng.random(count) * 0.5).astype(np.int64)
    cost = pd.Series(np.round(rng.random(count) * 0.01, 6))
    cost[outcome_only | (which == 2)] = np.nan  # blank: the events connector prices it (mystery-1: it cannot)

    def choose(values, blank=0.0):
        chosen = np.array(values, dtype=object)[rng.integers(0, len(values), count)]
        chosen[rng.random(count) < blank] = ""
        return chosen

    frame = pd.DataFrame({
        "event_id": np.char.add("e", np.arange(count).astype(str)),
        "ts": np.char.add(np.datetime_as_string(moments, unit="s"), "Z"),
        "tenant": choose([f"tenant-{i}" for i in range(8)], blank=0.02),
        "channel": choose(["web", "voice", "email"]),
        "topic": choose(["billing", "shipping", "returns", "account"], blank=0.05),
        "language": choose(["en", "de"]),
        "plan_tier": choose(["free", "pro", "enterprise"]),
        "provider": provider,
        "model": model,
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_input_tokens": cached,
        "cost_usd": cost,
        "outcome": choose(["", "", "", "resolved", "escalated", "abandoned", "reopened"]),
        "human_review_minutes": np.where(rng.random(count) < 0.05, np.round(rng.random(count) * 10, 2), np.nan),
    })
    frame.to_csv(path, index=False)


@pytest.fixture
def warehouse_url():
    if not PG_URL:
        pytest.skip("ROI_TEST_POSTGRES_URL is not set: the PostgreSQL warehouse test is skipped")
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    from tests.conftest import _fresh_pg_database

    url, name = _fresh_pg_database()
    yield url
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _load(url: str, csv_path: Path) -> None:
    import psycopg
    from sqlalchemy.engine import make_url

    dsn = make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)
    with psycopg.connect(dsn) as connection, connection.cursor() as cursor:
        cursor.execute(EVENTS_TABLE)
        with open(csv_path, "rb") as handle, cursor.copy(
            "COPY events FROM STDIN WITH (FORMAT csv, HEADER true)"
        ) as copy:
            while block := handle.read(1 << 20):
                copy.write(block)
        cursor.execute("CREATE INDEX events_ts ON events (ts)")
        cursor.execute("ANALYZE events")


def test_a_million_events_in_postgresql_give_the_cells_the_events_connector_gives(tmp_path, warehouse_url):
    csv_path = tmp_path / "events.csv"
    write_events(csv_path, 1_000_000)
    _load(warehouse_url, csv_path)
    timezone = "America/New_York"  # local days straddle UTC days: batches of UTC days must still add up

    by_events = tmp_path / "events"
    by_events.mkdir()
    events_settings = load_config(_config(by_events, f'[[sources]]\nname = "bot"\ntype = "events"\npath = "{csv_path}"\n',
                                          timezone=timezone))
    events_store = services.store_for(events_settings)
    (run,) = ingesting.ingest(events_settings, events_store)
    assert not run.failed and run.rows_read == 1_000_000 and run.quarantined == 0

    by_sql = tmp_path / "sql"
    by_sql.mkdir()
    sql_settings = load_config(_config(by_sql, _sql_source(warehouse_url, EVENTS_QUERY), timezone=timezone))
    sql_store = services.store_for(sql_settings)
    pulled = pull_source(sql_settings, sql_store, sql_settings.source("wh"), since=date(2025, 12, 31),
                         until=date(2026, 1, 31))
    assert not pulled.failed and pulled.run.quarantined == 0 and pulled.run.batches == 33

    keys = ["day", *DIMENSIONS]
    first, last = date(2025, 12, 1), date(2026, 3, 1)
    expected = events_store.cells(first, last).sort_values(keys).reset_index(drop=True)
    found = sql_store.cells(first, last).sort_values(keys).reset_index(drop=True)
    assert len(expected) > 10_000 and len(found) == len(expected)
    assert found[keys].equals(expected[keys])
    for name in CELL_METRICS:
        if name in ("token_cost", "human_review_minutes"):
            np.testing.assert_allclose(found[name], expected[name], rtol=1e-9, atol=1e-12, err_msg=name)
        else:
            assert found[name].astype(np.int64).tolist() == expected[name].astype(np.int64).tolist(), name
    assert expected["unpriced_requests"].sum() > 0 and expected["token_cost"].sum() > 0
    events_store.engine.dispose()
    sql_store.engine.dispose()


def test_the_docs_show_the_events_table_query_that_is_tested():
    docs = (Path(__file__).resolve().parents[2] / "docs" / "scheduling.md").read_text()
    assert EVENTS_TABLE_QUERY.strip() in docs


def test_a_metric_that_is_no_number_is_compared_with_nothing():
    """An unreadable count is one reason; "exceeds" is said only of two numbers that can be read."""
    import pandas as pd

    from roi.connectors.sql import to_cells_chunk

    frame = pd.DataFrame({
        "day": ["2026-03-01"] * 4,
        "requests": ["x", 1, 2, 1],
        "unpriced_requests": [1, 0, 3, 0],
        "input_tokens": [10, "many", 10, 2],
        "cached_input_tokens": [0, 5, 0, 3],
    })
    chunk = to_cells_chunk(frame, 0, "wh 2026-03-01", date(2026, 3, 1), date(2026, 3, 1))
    assert [(reject.line, reject.reason) for reject in chunk.rejects] == [
        (1, "requests is not a number"),
        (2, "input_tokens is not a number"),
        (3, "unpriced_requests exceeds requests"),
        (4, "cached_input_tokens exceeds input_tokens (input_tokens includes the cached ones)"),
    ]
