"""A month's stored cells read into Arrow, the fastest way each database offers.

Reading ~90k rows through a DB-API cursor makes a Python object of every value (about
two million of them) and costs more than valuing the month. So:

- PostgreSQL with psycopg: `COPY (SELECT ...) TO STDOUT` as CSV on the pool's connection,
  parsed by Arrow's CSV reader with the columns' types given (2-3 times faster);
- SQLite (and any other driver): the DB-API cursor, its rows turned into Arrow columns in C.
  The ADBC SQLite driver would return Arrow directly, but it carries its own copy of SQLite:
  two copies in one process ignore each other's file locks, and a reader can then miss
  committed rows (https://www.sqlite.org/howtocorrupt.html, 2.2.1); measured, it did.

Every way gives the same table: `batch_id`, `day` (date32), the dimensions (string) and the
metrics (int64 counts, float64 fractions), as stored.
"""

from __future__ import annotations

from datetime import date

import pyarrow as pa
from sqlalchemy.engine import Engine

from ..domain import CELL_METRICS, DIMENSIONS, FLOAT_METRICS
from .tables import CellRecord

CELL_READ_SCHEMA = pa.schema(
    [("batch_id", pa.int64()), ("day", pa.date32())]
    + [(name, pa.string()) for name in DIMENSIONS]
    + [(name, pa.float64() if name in FLOAT_METRICS else pa.int64()) for name in CELL_METRICS]
)
_SELECT = f"SELECT {', '.join(CELL_READ_SCHEMA.names)} FROM {CellRecord.__tablename__} WHERE day >= {{0}} AND day < {{1}}"


def read_cells(engine: Engine, start: date, end: date) -> pa.Table:
    """The stored rows with day in [start, end), one per stored cell (not summed), in no order."""
    if engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg":
        return _read_postgresql(engine, start, end)
    return _read_cursor(engine, start, end)


def _read_postgresql(engine: Engine, start: date, end: date) -> pa.Table:
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
        return CELL_READ_SCHEMA.empty_table()
    return csv.read_csv(
        pa.py_buffer(data),
        read_options=csv.ReadOptions(column_names=CELL_READ_SCHEMA.names),
        parse_options=csv.ParseOptions(newlines_in_values=True),  # a dimension may hold a line break
        convert_options=csv.ConvertOptions(
            column_types=CELL_READ_SCHEMA, strings_can_be_null=False, quoted_strings_can_be_null=False
        ),
    ).cast(CELL_READ_SCHEMA)


def _read_cursor(engine: Engine, start: date, end: date) -> pa.Table:
    """Any other database: the DB-API cursor, row by row."""
    with engine.connect() as connection:
        mark = "?" if connection.dialect.paramstyle == "qmark" else "%s"
        cursor = connection.connection.cursor()
        try:
            # SQLite holds days as ISO text (and Python's sqlite3 no longer adapts dates for us)
            bounds = (start.isoformat(), end.isoformat()) if engine.dialect.name == "sqlite" else (start, end)
            cursor.execute(_SELECT.format(mark, mark), bounds)
            rows = cursor.fetchall()
        finally:
            cursor.close()
    if not rows:
        return CELL_READ_SCHEMA.empty_table()
    columns = list(zip(*rows, strict=True))
    del rows
    arrays = [pa.array(values, type=field.type if field.name != "day" else None)
              for field, values in zip(CELL_READ_SCHEMA, columns, strict=True)]
    return pa.Table.from_arrays(arrays, names=CELL_READ_SCHEMA.names).cast(CELL_READ_SCHEMA)  # SQLite: days as text
