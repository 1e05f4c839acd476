"""The `sql` connector: the user's query, run where the data lives, returns daily cells.

The warehouse does the heavy aggregation, so raw events at any scale never leave it:
the query gets ``:start`` and ``:end`` (timezone-aware, end exclusive; one UTC day per
batch) and optionally ``:timezone`` (the configured one), and returns cells: a ``day``
column (the day in the configured timezone), dimension columns, and metric columns
named as in DESIGN section 3. Rows that cannot be cells are quarantined with their row
number and the reason; the others land.
"""

from __future__ import annotations

import contextlib
import hashlib
import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
from pydantic import Field, field_validator
from sqlalchemy import create_engine, text
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, NoSuchModuleError, SQLAlchemyError

from ..domain import (
    AMOUNT_LIMIT,
    CELL_METRICS,
    COUNT_LIMIT,
    COUNT_METRICS,
    DIMENSIONS,
    FLOAT_METRICS,
    too_large,
)
from ..errors import ConnectorError, TransientError
from ..store import database_url_problem
from .base import Batch, Chunk, Connector, ConnectorOptions, Reject, Window, register

# counts arrive here as float64 (a query's columns may be any numeric type): exact below 2^53, so
# 10^15 rather than the events format's 10^18
_COUNT_LIMIT = min(COUNT_LIMIT, 10**15)
_BIND = re.compile(r"(?<![:\w]):(\w+)")
_COUNTS = COUNT_METRICS
# what a cell's metric becomes in the canonical frame (token_cost is the frame's cost)
_FRAME_NAME = {"token_cost": "cost"}

# The query for a table in the events format (one row per call or outcome, DESIGN section 3):
# it returns the cells the `events` connector makes of the same rows. docs/scheduling.md shows
# it, and a test checks both facts (same cells on a million events; the docs quote it verbatim).
EVENTS_TABLE_QUERY = """
SELECT (ts AT TIME ZONE :timezone)::date AS day,
       tenant, channel, topic, language, plan_tier, provider, model,
       count(*) FILTER (WHERE input_tokens + output_tokens > 0 OR cost_usd IS NOT NULL) AS requests,
       sum(input_tokens) AS input_tokens,
       sum(output_tokens) AS output_tokens,
       sum(cached_input_tokens) AS cached_input_tokens,
       coalesce(sum(cost_usd), 0) AS token_cost,
       count(*) FILTER (WHERE cost_usd IS NULL AND input_tokens + output_tokens > 0) AS unpriced_requests,
       count(*) FILTER (WHERE outcome = 'resolved') AS resolved,
       count(*) FILTER (WHERE outcome = 'escalated') AS escalated,
       count(*) FILTER (WHERE outcome = 'abandoned') AS abandoned,
       count(*) FILTER (WHERE outcome = 'reopened') AS reopened,
       coalesce(sum(human_review_minutes), 0) AS human_review_minutes
FROM events
WHERE ts >= :start AND ts < :end
GROUP BY 1, 2, 3, 4, 5, 6, 7, 8
"""


class SqlOptions(ConnectorOptions):
    url: str = Field(description="SQLAlchemy URL of the database that holds the events.")
    query: str = Field(description="SELECT returning daily cells, with :start and :end bound.")
    chunk_rows: int = Field(default=100_000, ge=1)
    timeout_seconds: float = Field(default=600.0, gt=0)

    @field_validator("url")
    @classmethod
    def _url(cls, value: str) -> str:
        try:
            make_url(value)
        except ArgumentError:
            raise ValueError("not a SQLAlchemy URL, e.g. postgresql+psycopg://user@host/db") from None
        problem = database_url_problem(value)  # an unknown database type or a missing driver, without connecting
        if problem:
            raise ValueError(problem)
        return value

    @field_validator("query")
    @classmethod
    def _binds(cls, value: str) -> str:
        names = set(_BIND.findall(value))
        missing = [name for name in ("start", "end") if name not in names]
        if missing:
            raise ValueError(
                f"the query must use {' and '.join(':' + name for name in missing)} "
                "(WHERE ts >= :start AND ts < :end), or every day would count all the data"
            )
        unknown = sorted(names - {"start", "end", "timezone"})
        if unknown:
            raise ValueError(f"unknown parameter :{unknown[0]}; the query may use :start, :end and :timezone")
        return value


def safe_url(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _transient(exc: DBAPIError) -> bool:
    """Connection-level failures may work on a second try; errors in the query never will."""
    return bool(exc.connection_invalidated) or exc.__class__.__name__ == "OperationalError"


@register("sql")
class SqlConnector(Connector):
    """Daily cells from a query on any SQLAlchemy database (the engine may be handed in)."""

    Options = SqlOptions
    options: SqlOptions

    def __init__(self, name: str, options: SqlOptions, engine: Engine | None = None):
        super().__init__(name, options)
        self._engine = engine
        self._owns_engine = False
        self._open: Connection | None = None

    @property
    def engine(self) -> Engine:
        if self._engine is None:
            try:
                self._engine = create_engine(self.options.url, pool_pre_ping=True)
                self._owns_engine = True
            except (ArgumentError, NoSuchModuleError, ImportError) as exc:
                raise ConnectorError(f"source {self.name!r}: cannot use {safe_url(self.options.url)}: {exc}") from None
        return self._engine

    def check(self) -> None:
        try:
            with self.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
        except DBAPIError as exc:
            raise self._error("cannot connect", exc) from None

    def _error(self, what: str, exc: SQLAlchemyError) -> ConnectorError:
        detail = str(getattr(exc, "orig", None) or exc).strip().splitlines()[0][:500]
        message = f"source {self.name!r}: {what} ({safe_url(self.options.url)}): {detail}"
        if isinstance(exc, DBAPIError) and _transient(exc):
            return TransientError(message)
        return ConnectorError(message)

    def batches(self, window: Window) -> Iterator[Batch]:
        if window.start is None or window.end is None:
            raise ConnectorError(f"source {self.name!r}: a sql source is pulled over a window of days")
        pulled = datetime.now(UTC).isoformat()
        day = window.start.astimezone(UTC)
        try:
            while day < window.end:
                end = min(day + timedelta(days=1), window.end)
                # the warehouse can change a day after it was read: every pull reads it again
                fingerprint = hashlib.sha256(f"{day.isoformat()}|{pulled}".encode()).hexdigest()[:32]
                yield Batch.of_day(
                    day.date(), f"{self.name} {day:%Y-%m-%d}", fingerprint,
                    lambda start=day, end=end: self.read_window(start, end),
                )
                day = end
        finally:
            # one connection serves the whole pull; none is left open after it
            self._drop_connection()
            if self._owns_engine and self._engine is not None:
                self._engine.dispose()
                self._engine = None

    def read_window(self, start: datetime, end: datetime) -> Iterator[Chunk]:
        """The query's cells for [start, end), in chunks of rows."""
        names = set(_BIND.findall(self.options.query))
        params: dict[str, Any] = {"start": start, "end": end}
        if "timezone" in names:
            params["timezone"] = self.timezone
        label = f"{self.name} {start:%Y-%m-%d}"
        first_day, last_day = self._local_days(start, end)
        connection = self._connection()
        try:
            # A day's cells are few (the warehouse aggregated them), so a plain client-side cursor:
            # a server-side one makes PostgreSQL plan for the first rows and run the GROUP BY slower.
            result = connection.execute(text(self.options.query), params)
            columns = [str(name) for name in result.keys()]  # noqa: SIM118 - a Result, not a dict
            self._check_columns(columns)
            row_number = 0
            for rows in result.partitions(self.options.chunk_rows):
                frame = pd.DataFrame.from_records(rows, columns=columns, coerce_float=False)
                yield to_cells_chunk(frame, row_number, label, first_day, last_day)
                row_number += len(frame)
        except SQLAlchemyError as exc:
            self._drop_connection()  # a retry starts on a fresh connection
            raise self._error("the query failed", exc) from None
        else:
            connection.rollback()  # end the read's transaction; the connection serves the next day

    def _connection(self) -> Connection:
        """One connection serves every day of a pull (the driver may prepare the query once)."""
        if self._open is None or self._open.closed or self._open.invalidated:
            try:
                self._open = self.engine.connect()
            except DBAPIError as exc:
                raise self._error("cannot connect", exc) from None
        return self._open

    def _drop_connection(self) -> None:
        if self._open is not None:
            with contextlib.suppress(SQLAlchemyError):
                self._open.close()
            self._open = None

    def _local_days(self, start: datetime, end: datetime) -> tuple[date, date]:
        """Local days a [start, end) UTC range touches: a cell outside them means the query
        ignores :start/:end, and storing it would count that day once per batch."""
        zone = ZoneInfo(self.timezone)
        return start.astimezone(zone).date(), (end - timedelta(microseconds=1)).astimezone(zone).date()

    def _check_columns(self, columns: list[str]) -> None:
        allowed = {"day", *DIMENSIONS, *CELL_METRICS}
        unknown = [name for name in columns if name not in allowed]
        if "day" not in columns or unknown:
            problem = f"returns unknown columns {', '.join(unknown)}" if unknown else "returns no day column"
            raise ConnectorError(
                f"source {self.name!r}: the query {problem}; it returns cells: day, any of "
                f"{', '.join(DIMENSIONS)}, and metrics among {', '.join(CELL_METRICS)}"
            )
        if len(set(columns)) != len(columns):
            raise ConnectorError(f"source {self.name!r}: the query returns a column twice: {', '.join(columns)}")
        if not any(name in CELL_METRICS for name in columns):
            raise ConnectorError(f"source {self.name!r}: the query returns no metric column ({', '.join(CELL_METRICS)})")


def _days(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Dates (as datetime64[D]) and a mask of values that are not a date."""
    items = values.tolist()
    if all(type(value) is date for value in items):  # the usual answer of a ::date column
        return np.array(items, dtype="datetime64[D]"), np.zeros(len(items), dtype=bool)
    parsed = np.full(len(items), np.datetime64("NaT"), dtype="datetime64[D]")
    bad = np.zeros(len(items), dtype=bool)
    for index, value in enumerate(items):
        if isinstance(value, datetime):
            parsed[index] = np.datetime64(value.date(), "D")
        elif isinstance(value, date):
            parsed[index] = np.datetime64(value, "D")
        else:
            try:
                parsed[index] = np.datetime64(date.fromisoformat(str(value).strip()), "D")
            except ValueError:
                bad[index] = True
    return parsed, bad


def _as_number(value: Any) -> Any:
    if value is None:
        return np.nan
    if isinstance(value, bool):
        return "not a number"
    if isinstance(value, int | float | Decimal):
        return float(value)
    return value


def _numbers(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Floats (NaN where missing), and a mask of values given but not numbers."""
    if pd.api.types.is_numeric_dtype(values.dtype) and not pd.api.types.is_bool_dtype(values.dtype):
        array = values.to_numpy(dtype=np.float64)
        return array, np.zeros(len(array), dtype=bool)
    array = pd.to_numeric(values.map(_as_number), errors="coerce").to_numpy(dtype=np.float64)
    return array, values.notna().to_numpy() & np.isnan(array)


def to_cells_chunk(frame: pd.DataFrame, first_row: int, label: str, first_day: date, last_day: date) -> Chunk:
    """Validate the query's rows (row numbers from 1); good rows become a canonical frame of cells."""
    count = len(frame)
    reasons: list[list[str]] = [[] for _ in range(count)]

    def flag(mask: np.ndarray, reason: str) -> None:
        for index in np.flatnonzero(mask):
            reasons[index].append(reason)

    days, bad_day = _days(frame["day"])
    flag(bad_day, "day is not a date (YYYY-MM-DD)")
    low, high = np.datetime64(first_day, "D"), np.datetime64(last_day, "D")
    outside = ~bad_day & ((days < low) | (days > high))
    flag(outside, f"day is outside the window pulled ({first_day} to {last_day}): does the query filter on :start and :end?")

    data: dict[str, Any] = {"day": days}
    for name in DIMENSIONS:
        if name in frame:
            data[name] = frame[name].fillna("").astype(str).str.strip().to_numpy(dtype=object)
        else:
            data[name] = np.full(count, "", dtype=object)
    unreadable = {name: np.zeros(count, dtype=bool) for name in CELL_METRICS}  # flagged: compared with nothing
    for name in CELL_METRICS:
        if name not in frame:
            values = np.zeros(count) if name != "token_cost" else np.full(count, np.nan)
            data[_FRAME_NAME.get(name, name)] = values
            continue
        values, not_number = _numbers(frame[name])
        checks = [(not_number, f"{name} is not a number"),
                  (~np.isnan(values) & ((values < 0) | ~np.isfinite(values)), f"{name} is not a finite number >= 0")]
        limit = AMOUNT_LIMIT if name in FLOAT_METRICS else _COUNT_LIMIT
        checks.append((np.isfinite(values) & (values >= limit), too_large(name, limit)))
        if name in _COUNTS:
            checks.append((~np.isnan(values) & np.isfinite(values) & (values != np.floor(values)),
                           f"{name} is not a whole number"))
        for mask, reason in checks:
            flag(mask, reason)
            unreadable[name] |= mask
        data[_FRAME_NAME.get(name, name)] = values
    requests = np.nan_to_num(data["requests"], nan=0.0)
    flag(~unreadable["cached_input_tokens"] & ~unreadable["input_tokens"]
         & (np.nan_to_num(data["cached_input_tokens"]) > np.nan_to_num(data["input_tokens"])),
         "cached_input_tokens exceeds input_tokens (input_tokens includes the cached ones)")
    if "unpriced_requests" in frame:
        flag(~unreadable["unpriced_requests"] & ~unreadable["requests"]
             & (np.nan_to_num(data["unpriced_requests"]) > requests), "unpriced_requests exceeds requests")
    bad = np.array([bool(found) for found in reasons], dtype=bool)

    # No token_cost (NULL or no column): those requests are unpriced, unless the query says how many.
    cost = data.pop("cost")
    no_cost = np.isnan(cost)
    if "unpriced_requests" not in frame:
        data["unpriced_requests"] = np.where(no_cost, requests, 0.0)
    out = pd.DataFrame(data)
    out["cost"] = np.where(no_cost, 0.0, cost)
    for name in _COUNTS:
        values = out[name].to_numpy(dtype=np.float64)
        # a quarantined row's values are never cast (one beyond int64 would wrap): it is dropped below
        out[name] = np.where(bad | ~np.isfinite(values), 0.0, values).astype(np.int64)
    out["human_review_minutes"] = np.nan_to_num(out["human_review_minutes"].to_numpy(dtype=np.float64), nan=0.0)
    out["day"] = pd.to_datetime(out["day"])
    rejects = [
        Reject(label, first_row + index + 1, "; ".join(found), _raw(frame, index))
        for index, found in enumerate(reasons)
        if found
    ]
    if bad.any():
        out = out.loc[~bad].reset_index(drop=True)
    return Chunk.of_pandas(out, rejects, count)


def _raw(frame: pd.DataFrame, index: int) -> str:
    row = frame.iloc[index]
    return ",".join(f"{name}={'' if value is None else value}" for name, value in row.items())[:2000]
