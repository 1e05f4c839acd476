"""Fuzzing the ingest (issue 12, "Keep it fixed"): valid event files damaged, invariants kept.

Each example damages one CSV, JSON Lines or Parquet file (truncation, bytes, encodings, quotes, line
endings, headers, nesting, huge and non-finite numbers, far dates, NUL; for Parquet: cut or flipped
bytes, nasty values in text or typed columns, columns dropped, renamed or of a type that is not
a value) beside untouched files
of the same source and of a second source, ingests, and checks: no traceback, exit 0 (the file
read, its bad rows quarantined) or 1 (the file refused, in one line naming it), every physical
line of the damaged file accounted for (rows read = stored + duplicates + quarantined = its
non-blank lines; a Parquet file's rows), the untouched files' figures equal to a clean ingest, and nothing
non-finite stored or reported. Runs on SQLite and PostgreSQL; bounded to a few seconds each.
"""

from __future__ import annotations

import json
import math
import os
import re
import textwrap
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from roi import services
from roi.cli import main

# examples per run on SQLite (half on PostgreSQL); ROI_FUZZ_EXAMPLES=1000 for a longer hunt
EXAMPLES = int(os.environ.get("ROI_FUZZ_EXAMPLES", "60"))
STATS = os.environ.get("ROI_FUZZ_STATS")  # a file to append what each example did to
HEADER = ["event_id", "ts", "tenant", "channel", "provider", "model", "input_tokens", "output_tokens",
          "cached_input_tokens", "cost_usd", "outcome", "human_review_minutes"]
OUTCOMES = ["resolved", "escalated", "", "abandoned", "reopened"]


def _rows(prefix: str, count: int) -> list[dict[str, str]]:
    return [{
        "event_id": f"{prefix}{n}", "ts": f"2026-01-{5 + n % 20:02d}T{n % 24:02d}:15:00Z",
        "tenant": ["acme", "beta", "gamma"][n % 3], "channel": ["web", "mail"][n % 2], "provider": "openai",
        "model": ["gpt-4o-mini", "gpt-4o"][n % 2], "input_tokens": str(100 + n), "output_tokens": str(20 + n),
        "cached_input_tokens": str(n % 7), "cost_usd": "" if n % 4 == 0 else f"0.{n + 1:03d}",
        "outcome": OUTCOMES[n % 5], "human_review_minutes": "" if n % 3 else "1.5",
    } for n in range(count)]


def csv_text(rows: list[dict[str, str]]) -> bytes:
    return ("\n".join([",".join(HEADER)] + [",".join(row[name] for name in HEADER) for row in rows]) + "\n").encode()


def jsonl_text(rows: list[dict[str, str]]) -> bytes:
    lines = []
    for row in rows:
        record = {name: value for name, value in row.items() if value != ""}
        for name in ("input_tokens", "output_tokens", "cached_input_tokens"):
            record[name] = int(record[name])
        if "cost_usd" in record:
            record["cost_usd"] = float(record["cost_usd"])
        lines.append(json.dumps(record))
    return ("\n".join(lines) + "\n").encode()


NUMBERS = ("input_tokens", "output_tokens", "cached_input_tokens")
AMOUNTS = ("cost_usd", "human_review_minutes")
ROWS = 20  # rows of a damaged file before its damage


def _typed_columns(rows: list[dict[str, str]]) -> dict[str, pa.Array]:
    """The rows as a warehouse export types them: ts a UTC timestamp, counts int64, amounts float64, blanks null."""
    columns: dict[str, pa.Array] = {}
    for name in HEADER:
        values = [row[name] for row in rows]
        if name == "ts":
            columns[name] = pa.array([datetime.fromisoformat(v.replace("Z", "+00:00")) for v in values],
                                     pa.timestamp("us", "UTC"))
        elif name in NUMBERS:
            columns[name] = pa.array([int(v) for v in values], pa.int64())
        elif name in AMOUNTS:
            columns[name] = pa.array([float(v) if v else None for v in values], pa.float64())
        else:
            columns[name] = pa.array([v or None for v in values], pa.string())
    return columns


def parquet_bytes(columns: dict[str, pa.Array]) -> bytes:
    sink = pa.BufferOutputStream()
    pq.write_table(pa.table(columns), sink)
    return sink.getvalue().to_pybytes()


# typed values that have broken, or could break, a reader of a typed column
NASTY_TYPED = {
    "integer": [-1, 2**63 - 1, -(2**63), 0, None],
    "float": [math.nan, math.inf, -math.inf, -0.0, 1e308, -1.5, 5e-324, None],
    "timestamp": [datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, 59, tzinfo=UTC),
                  datetime(1677, 9, 21, tzinfo=UTC), datetime(2262, 4, 12, tzinfo=UTC), None],
}


def _parquet_damage(draw, rows: list[dict[str, str]]) -> Damage:
    typed = _typed_columns(rows)
    data = parquet_bytes(typed)
    kind = draw(st.sampled_from(["truncate", "byte", "text value", "typed value", "schema"]))
    if kind == "truncate":
        return Damage(kind, data[: draw(st.integers(0, len(data) - 1))])
    if kind == "byte":
        at = draw(st.integers(0, len(data) - 1))
        return Damage(kind, data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :])
    line = draw(st.integers(0, len(rows) - 1))
    if kind == "text value":  # every column text, as a CSV twin: one value nasty
        name = draw(st.sampled_from(HEADER))
        text = {n: pa.array([row[n] for row in rows], pa.string()) for n in HEADER}
        values = text[name].to_pylist()
        values[line] = draw(st.sampled_from(NASTY_VALUES))
        text[name] = pa.array(values, pa.string())
        return Damage(f"{kind} {name}", parquet_bytes(text))
    if kind == "typed value":
        name = draw(st.sampled_from(("ts", *NUMBERS, *AMOUNTS)))
        family = "timestamp" if name == "ts" else "integer" if name in NUMBERS else "float"
        values = typed[name].to_pylist()
        values[line] = draw(st.sampled_from(NASTY_TYPED[family]))
        typed[name] = pa.array(values, typed[name].type)
        return Damage(f"{kind} {name}", parquet_bytes(typed))
    name = draw(st.sampled_from(HEADER))
    change = draw(st.sampled_from(["drop", "rename", "list", "struct", "naive ts", "ts as text", "binary",
                                   "dictionary", "int32", "decimal"]))
    column = typed[name]
    if change == "drop":
        del typed[name]
    elif change == "rename":
        typed = {(n.upper() if n == name else n): c for n, c in typed.items()}
    elif change == "list":
        typed[name] = pa.array([[value] for value in column.to_pylist()])
    elif change == "struct":
        typed[name] = pa.array([{"v": value} for value in column.to_pylist()])
    elif change == "naive ts":
        typed["ts"] = typed["ts"].cast(pa.timestamp("us"))
    elif change == "ts as text":
        typed["ts"] = pa.array([row["ts"] for row in rows], pa.string())
    elif change == "binary" and pa.types.is_string(column.type):
        typed[name] = column.cast(pa.binary())
    elif change == "dictionary" and pa.types.is_string(column.type):
        typed[name] = column.dictionary_encode()
    elif change == "int32" and name in NUMBERS:
        typed[name] = column.cast(pa.int32())
    elif change == "decimal" and name in AMOUNTS:
        typed[name] = pa.array([None if v is None else round(v, 6) for v in column.to_pylist()]).cast(
            pa.decimal128(18, 6))
    return Damage(f"schema {change}", parquet_bytes(typed))


UNTOUCHED = {"b.csv": csv_text(_rows("b", 15)), "c.jsonl": jsonl_text(_rows("c", 12))}
OTHER = {"d.csv": csv_text(_rows("d", 10))}

# values that have broken, or could break, a reader: far dates, huge and non-finite numbers, NUL, quotes
NASTY_VALUES = [
    "0001-01-01T00:00:00Z", "9999-12-31T23:59:59-12:00", "2300-06-01T00:00:00Z", "1500-01-01T00:00:00Z",
    "1677-09-21T00:12:43.145224191Z", "2262-04-11T23:47:16.854775808Z", "1e400", "-1e400", "inf", "-inf", "NaN",
    "nan", "Infinity", "99999999999999999999", "9223372036854775808", "-0", "0x10", "1_000", " 5 ", "",
    '"', '""', '"a', 'a"', "a\x00b", "\x00", "\ufeff", "\u2028", "é", "\U0001f600", "=cmd()", "\\ud800",
]
NASTY_BYTES = [b'"', b"\r", b"\n", b"\r\n", b"\x00", b"\xff", b"\xc3", b"\xed\xa0\x80", b",", b'"""', b"\xef\xbb\xbf",
               b"\t", b"\\", b"{", b"[", b"]"]


@dataclass
class Damage:
    name: str
    data: bytes
    bounded: bool = True  # every physical line is exactly one row read (no damage can join two lines)


@st.composite
def damaged(draw) -> tuple[str, Damage]:
    fmt = draw(st.sampled_from(["csv", "jsonl", "parquet"]))
    rows = _rows("a", ROWS)
    if fmt == "parquet":
        return fmt, _parquet_damage(draw, rows)
    data = csv_text(rows) if fmt == "csv" else jsonl_text(rows)
    kind = draw(st.sampled_from(["truncate", "byte", "insert", "splice", "endings", "encoding", "header",
                                 "value", "nesting", "surrogate"]))
    at = draw(st.integers(0, len(data) - 1))
    if kind == "truncate":
        return fmt, Damage(kind, data[:at])
    if kind == "byte":
        return fmt, Damage(kind, data[:at] + bytes([draw(st.integers(0, 255))]) + data[at + 1 :])
    if kind == "insert":
        return fmt, Damage(kind, data[:at] + draw(st.sampled_from(NASTY_BYTES)) + data[at:])
    if kind == "splice":  # arbitrary bytes: quotes and line breaks together may make a legal quoted value
        return fmt, Damage(kind, data[:at] + draw(st.binary(min_size=1, max_size=40)) + data[at:], bounded=False)
    if kind == "endings":
        ending = draw(st.sampled_from([b"\r", b"\r\n", b"\n\n", b"\r\r\n"]))
        return fmt, Damage(kind, data.replace(b"\n", ending))
    if kind == "encoding":
        text = data.decode().replace("acme", "acmé", 1)
        codec = draw(st.sampled_from(["utf-16", "latin-1", "cp1252", "utf-8-sig", "utf-32"]))
        return fmt, Damage(kind, text.encode(codec))
    if kind == "header" and fmt == "csv":
        names = list(HEADER)
        change = draw(st.sampled_from(["repeat", "drop", "swap", "upper", "pad", "quote", "empty"]))
        index = draw(st.integers(0, len(names) - 1))
        if change == "repeat":
            names.append(names[index])
        elif change == "drop":
            names.pop(index)
        elif change == "swap":
            other = draw(st.integers(0, len(names) - 1))
            names[index], names[other] = names[other], names[index]
        elif change == "upper":
            names[index] = names[index].upper()
        elif change == "pad":
            names[index] = f"  {names[index]} "
        elif change == "quote":
            names[index] = f'"{names[index]}"'
        else:
            names = []
        lines = data.split(b"\n")
        return fmt, Damage(f"header {change}", b"\n".join([",".join(names).encode(), *lines[1:]]))
    if kind == "nesting" and fmt == "jsonl":
        depth = draw(st.integers(500, 5000))
        line = draw(st.integers(0, len(rows) - 1))
        lines = data.split(b"\n")
        lines[line] = b'{"event_id":"n","ts":"2026-01-10T10:00:00Z","tenant":' + b"[" * depth + b"]" * depth + b"}"
        return fmt, Damage(kind, b"\n".join(lines))
    if kind == "surrogate" and fmt == "jsonl":
        line = draw(st.integers(0, len(rows) - 1))
        lines = data.split(b"\n")
        lines[line] = lines[line].replace(b'"tenant": "', b'"tenant": "\\ud800', 1)
        return fmt, Damage(kind, b"\n".join(lines))
    # a value replaced in one row
    line = draw(st.integers(0, len(rows) - 1))
    name = draw(st.sampled_from(HEADER))
    value = draw(st.sampled_from(NASTY_VALUES))
    if fmt == "csv":
        rows[line] = dict(rows[line], **{name: value})
        return fmt, Damage(f"value {name}", csv_text(rows))
    number = {"input_tokens", "output_tokens", "cached_input_tokens", "cost_usd", "human_review_minutes"}
    raw = value if name in number and re.fullmatch(r"-?(\d+(\.\d*)?(e\d+)?|Infinity|NaN)", value) else json.dumps(value)
    lines = jsonl_text(rows).split(b"\n")
    record = json.loads(lines[line])
    record.pop(name, None)
    lines[line] = json.dumps(record)[:-1].encode() + f', "{name}": {raw}}}'.encode()
    return fmt, Damage(f"value {name}", b"\n".join(lines))


def physical_rows(data: bytes, fmt: str) -> int:
    """The rows roi must account for: non-empty lines after the header (CSV), non-blank lines (JSONL);
    LF, CRLF and a lone CR end a line; a Parquet file that could be read holds its rows, damaged or not."""
    if fmt == "parquet":
        return ROWS
    lines = re.split(rb"\r\n|\r|\n", data)
    if fmt == "csv":
        return sum(1 for line in lines[1:] if line)
    if data.startswith(b"\xef\xbb\xbf"):
        lines[0] = lines[0][3:]
    return sum(1 for line in lines if line.decode("utf-8", "surrogateescape").strip())


CONFIG = """
[service]
database_url = "{url}"
currency = "USD"
timezone = "UTC"
models_dir = "models"
reports_dir = "reports"

[[sources]]
name = "{bot}"
type = "events"
path = "data/{folder}/*.*"

[[sources]]
name = "{other}"
type = "events"
path = "other/{folder}/*.csv"

[[assignments]]
match = {{}}
model = "support"
"""


def _write_example(project, folder: str, files: dict[str, bytes], names: tuple[str, str]) -> None:
    for subfolder, content in (("data", files), ("other", OTHER)):
        target = project.root / subfolder / folder
        target.mkdir(parents=True, exist_ok=True)
        for name, data in content.items():
            (target / name).write_bytes(data)
    project.config_path.write_text(textwrap.dedent(CONFIG.format(
        url=project.database_url, bot=names[0], other=names[1], folder=folder)))


def _per_batch(engine, sources: tuple[str, ...]) -> dict[tuple[str, str], tuple]:
    """Each batch's counts and cell sums, by (source, file name)."""
    query = sa.text(
        "SELECT b.source, b.batch_key, b.rows_read, b.rows_stored, b.duplicates, b.quarantined, b.unpriced,"
        " count(c.id), coalesce(sum(c.requests), 0), coalesce(sum(c.input_tokens), 0),"
        " coalesce(sum(c.output_tokens), 0), coalesce(sum(c.cached_input_tokens), 0),"
        " coalesce(sum(c.resolved), 0), coalesce(sum(c.escalated), 0), coalesce(sum(c.reopened), 0),"
        " coalesce(sum(c.token_cost), 0), coalesce(sum(c.human_review_minutes), 0)"
        " FROM roi_batches b LEFT JOIN roi_cells c ON c.batch_id = b.id"
        " WHERE b.source IN :sources GROUP BY b.id, b.source, b.batch_key, b.rows_read, b.rows_stored,"
        " b.duplicates, b.quarantined, b.unpriced"
    ).bindparams(sa.bindparam("sources", expanding=True))
    with engine.connect() as connection:
        found = connection.execute(query, {"sources": list(sources)}).all()
    return {(row[0], row[1].rsplit("/", 1)[-1]): (*row[2:15], round(row[15], 9), round(row[16], 9)) for row in found}


def _refuse(constant: str) -> None:
    raise AssertionError(f"{constant} in a report")


def _ingest(project, runner):
    return runner.invoke(main, ["--config", str(project.config_path), "ingest"])


def test_damaged_event_files_are_contained(any_project, runner):
    store = services.store_for(any_project.settings())
    engine = store.engine if hasattr(store, "engine") else store._engine
    try:
        _write_example(any_project, "ref", UNTOUCHED, ("ref", "refo"))
        assert _ingest(any_project, runner).exit_code == 0
        clean = _per_batch(engine, ("ref", "refo"))
        assert len(clean) == 3
        counter = iter(range(1_000_000))

        @settings(max_examples=EXAMPLES if "sqlite" in any_project.database_url else EXAMPLES // 2, deadline=None,
                  database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
        @given(damaged())
        def one(example: tuple[str, Damage]) -> None:
            fmt, damage = example
            n = next(counter)
            names = (f"bot{n}", f"other{n}")
            victim = f"a.{fmt}"
            _write_example(any_project, f"x{n}", {**UNTOUCHED, victim: damage.data}, names)
            result = _ingest(any_project, runner)
            event(f"{fmt} {damage.name.split()[0]}: exit {result.exit_code}")
            if STATS:
                with open(STATS, "a") as log:
                    log.write(json.dumps([fmt, damage.name, result.exit_code, result.stderr[-300:]]) + "\n")
            assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
            assert "Traceback" not in result.output, result.output
            errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
            found = _per_batch(engine, names)
            # the untouched files and the other source: as a clean ingest
            for (source, name), figures in clean.items():
                assert found[(names[0] if source == "ref" else names[1], name)] == figures, (damage.name, name)
            if result.exit_code == 1:
                assert len(errors) == 1 and f"x{n}/{victim}:" in errors[0], result.stderr
                assert errors[0].isprintable()
                assert (names[0], victim) not in found
                return
            assert result.exit_code == 0 and not errors, (damage.name, result.output)
            if not damage.data.strip():
                return  # an empty file holds no rows yet
            read, stored, duplicates, quarantined = found[(names[0], victim)][:4]
            assert read == stored + duplicates + quarantined, damage.name
            expected = physical_rows(damage.data, fmt)
            assert read == expected if damage.bounded else read <= expected, (damage.name, read, expected)

        one()
        with engine.connect() as connection:
            sums = connection.execute(sa.text(
                "SELECT token_cost, human_review_minutes FROM roi_cells")).all()
            days = sorted({row[0] for row in connection.execute(sa.text("SELECT day FROM roi_cells")).all()})
        assert all(math.isfinite(value) for row in sums for value in row)
        months = sorted({(day if isinstance(day, date) else date.fromisoformat(str(day))).strftime("%Y-%m")
                         for day in days})
        assert "2026-01" in months and all("1900-01" <= month <= "2261-12" for month in months)
        for month in sorted(set(months[:3]) | {"2026-01"}):
            report = runner.invoke(main, ["--config", str(any_project.config_path), "report", "--period", month])
            if month < "2025-01":  # a damaged year (1926, say): the value model's first version is of 2025
                assert report.exit_code == 1 and "has no version effective on" in report.stderr, report.output
                continue
            assert report.exit_code == 0, report.output
            json.loads(report.stdout, parse_constant=_refuse)
    finally:
        store.close()
