"""A month's stored cells read as columns, the fastest way each database offers.

Reading ~90k rows through a DB-API cursor makes a Python object of every value (about
two million of them) and costs more than valuing the month. So:

- PostgreSQL with psycopg: `COPY (SELECT ...) TO STDOUT` as CSV on the pool's connection,
  parsed by Arrow's CSV reader with the columns' types given (2-3 times faster); each
  distinct day and dimension value then becomes one Python object, shared by its cells;
- SQLite (and any other driver): the DB-API cursor, its rows turned into columns in C.
  The ADBC SQLite driver would return Arrow directly, but it carries its own copy of SQLite:
  two copies in one process ignore each other's file locks, and a reader can then miss
  committed rows (https://www.sqlite.org/howtocorrupt.html, 2.2.1); measured, it did.

Every way gives the same columns: `batch_id` (int64), `day` (date objects), the dimensions
(str objects) and the metrics (float64), as stored, one entry per stored row.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from sqlalchemy.engine import Engine

from ..domain import CELL_METRICS, DIMENSIONS, FLOAT_METRICS
from .tables import CellRecord

COLUMNS = ("batch_id", "day", *DIMENSIONS, *CELL_METRICS)
_SELECT = f"SELECT {', '.join(COLUMNS)} FROM {CellRecord.__tablename__} WHERE day >= {{0}} AND day < {{1}}"
_CSV_TYPES = pa.schema(
    [("batch_id", pa.int64()), ("day", pa.date32())]
    + [(name, pa.string()) for name in DIMENSIONS]
    + [(name, pa.float64() if name in FLOAT_METRICS else pa.int64()) for name in CELL_METRICS]
)


def read_cells(engine: Engine, start: date, end: date) -> dict[str, np.ndarray]:
    """The stored rows with day in [start, end), one per stored cell (not summed), in no order."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return _read_postgresql(engine, start, end)
    return _read_cursor(engine, start, end)


def _read_postgresql(engine: Engine, start: date, end: date) -> dict[str, np.ndarray]:
    import pyarrow.csv as csv

    query = _SELECT.format("%s", "%s")
    parts: list[bytes] = []
    with engine.connect() as connection:
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor:
            cursor.execute("SET LOCAL extra_float_digits = 3")  # every float as stored, whatever the server's default
            with cursor.copy(f"COPY ({query}) TO STDOUT (FORMAT csv)", (start, end)) as copy:
                parts.extend(bytes(data) for data in copy)
    data = b"".join(parts)
    if not data:
        return _no_cells()
    table = csv.read_csv(
        pa.py_buffer(data),
        read_options=csv.ReadOptions(column_names=list(COLUMNS)),
        parse_options=csv.ParseOptions(newlines_in_values=True),  # a dimension may hold a line break
        convert_options=csv.ConvertOptions(
            column_types=_CSV_TYPES, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    )
    columns = {"batch_id": table.column("batch_id").to_numpy()}
    for name in ("day", *DIMENSIONS):
        columns[name] = _objects(table.column(name))
    for name in CELL_METRICS:
        columns[name] = table.column(name).to_numpy().astype(np.float64)
    return columns


def _objects(column: pa.ChunkedArray) -> np.ndarray:
    """A column as an object array of Python values (dates, str), one object per distinct value."""
    encoded = pc.dictionary_encode(column.combine_chunks())
    distinct = np.empty(len(encoded.dictionary), dtype=object)
    distinct[:] = encoded.dictionary.to_pylist()
    return distinct[encoded.indices.to_numpy(zero_copy_only=False)]


def _read_cursor(engine: Engine, start: date, end: date) -> dict[str, np.ndarray]:
    """Any other database: the DB-API cursor, row by row."""
    sqlite = engine.dialect.name == "sqlite"
    with engine.connect() as connection:
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        cursor = connection.connection.cursor()
        try:
            # SQLite holds days as ISO text (and Python's sqlite3 no longer adapts dates for us)
            cursor.execute(_SELECT.format(mark, mark), (start.isoformat(), end.isoformat()) if sqlite else (start, end))
            rows = cursor.fetchall()
        finally:
            cursor.close()
    if not rows:
        return _no_cells()
    values = list(zip(*rows, strict=True))
    del rows
    columns = {"batch_id": np.asarray(values[0], dtype=np.int64)}
    days = {value: value if isinstance(value, date) else date.fromisoformat(str(value)) for value in set(values[1])}
    columns["day"] = np.asarray([days[value] for value in values[1]], dtype=object)
    for index, name in enumerate((*DIMENSIONS, *CELL_METRICS), start=2):
        columns[name] = np.asarray(values[index], dtype=object if name in DIMENSIONS else np.float64)
    return columns


def _no_cells() -> dict[str, np.ndarray]:
    return {name: np.array([], dtype=np.int64 if name == "batch_id" else np.float64 if name in CELL_METRICS
                           else object) for name in COLUMNS}
