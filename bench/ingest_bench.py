"""Ingest benchmark: `roi ingest` on a generated events file vs DuckDB's GROUP BY on the same file.

Every line compares whole processes, alternating, medians of --runs runs (timings here vary by 15-30%
from run to run): `roi ingest` into a fresh SQLite, cells stored, against DuckDB's query in a fresh
interpreter with its cells taken out as an Arrow table (its fastest way out). It prints roi's rows/s,
CPU and peak memory (maximum RSS); DuckDB's wall, CPU and peak, and its query's own seconds (after
`import duckdb`); the speed ratio against both; and, from one more run, how roi's time splits into
imports, reading the batch (parse, check, deduplicate, price, sum) and storing its cells; and a ceiling:
SQLite's own floor for storing the same cells (INSERT ... SELECT from the run's database, no Python), and
the best ratio a reader as fast as DuckDB's whole process could reach with that floor added.

The 40-tenant shape (a month of UTC days) at each --rows size, and after the first its Parquet twin (the
same rows with typed columns, as pandas or a warehouse export writes them). After the biggest size (when
there are several), the same file with 30% of its rows carrying the event id of a random earlier row
(deduplication's hard case: repeats far apart). A last line ingests the first size's file repeated to the
last size, with new event ids: as many rows as the big file, as many cells as the small one, so that
what memory does with rows shows apart from what it does with cells.
Then the wide shape (issue 14's: 200 tenants x 4 channels x 40 topics x 8 languages x 8 models over
3 months, 18 columns, about 259k cells per 1M rows, days in America/New_York): CSV at each --wide-rows
size, and the first size's Parquet, JSON Lines and multi-line CSV twins.
Run alone: .venv/bin/python bench/ingest_bench.py [--rows 1000000 5000000] [--wide-rows 1000000 10000000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

HERE = Path(__file__).resolve().parent
ROI = Path(sys.executable).with_name("roi")

CHANNELS = np.array(["web", "chat", "email", "voice", "slack"])
TOPICS = np.array([f"topic-{i:02d}" for i in range(12)])
LANGUAGES = np.array(["en", "de", "fr", "es", "ja"])
PLANS = np.array(["free", "pro", "enterprise"])
MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-3-5-haiku-latest"),
          ("openai", "gpt-4.1-mini"), ("google", "gemini-2.0-flash")]
OUTCOMES = np.array(["", "", "", "", "resolved", "resolved", "escalated", "abandoned", "reopened"])


def generate(path: Path, rows: int, seed: int = 7, tenants: int = 40, days: int = 30) -> None:
    """A month of realistic events: each tenant has one plan tier, mostly one language, one or two models.

    Written in blocks so generation itself stays small in memory.
    """
    rng = np.random.default_rng(seed)
    tenant_names = np.array([f"tenant-{i:03d}" for i in range(tenants)])
    tenant_plan = PLANS[rng.integers(0, len(PLANS), tenants)]
    tenant_language = LANGUAGES[rng.integers(0, len(LANGUAGES), tenants)]
    tenant_models = rng.integers(0, len(MODELS), (tenants, 2))
    topic_weights = 1 / np.arange(1, len(TOPICS) + 1)
    topic_weights /= topic_weights.sum()
    start = np.datetime64("2026-03-01T00:00:00", "s").astype(np.int64)
    span = days * 86_400
    block = 500_000
    writer = None
    with pa.OSFile(str(path), "wb") as sink:
        for offset in range(0, rows, block):
            n = min(block, rows - offset)
            tenant = rng.integers(0, tenants, n)
            ts = np.sort(rng.integers(start, start + span, n)).astype("datetime64[s]")
            language = np.where(rng.random(n) < 0.95, tenant_language[tenant], LANGUAGES[rng.integers(0, 5, n)])
            model_index = tenant_models[tenant, (rng.random(n) < 0.3).astype(int)]
            inputs = rng.integers(200, 4000, n)
            cached = (inputs * rng.random(n) * 0.5).astype(np.int64)
            priced = rng.random(n) < 0.5
            cost = np.where(priced, np.round(inputs * 2.5e-7 + 1e-5, 8), np.nan)
            table = pa.table({
                "event_id": pa.array(np.char.add("ev-", np.arange(offset, offset + n).astype(str))),
                "ts": pa.array(np.char.add(np.datetime_as_string(ts, unit="s"), "Z")),
                "tenant": pa.array(tenant_names[tenant]),
                "channel": pa.array(CHANNELS[rng.choice(len(CHANNELS), n, p=[0.5, 0.25, 0.15, 0.05, 0.05])]),
                "topic": pa.array(TOPICS[rng.choice(len(TOPICS), n, p=topic_weights)]),
                "language": pa.array(language),
                "plan_tier": pa.array(tenant_plan[tenant]),
                "provider": pa.array(np.array([m[0] for m in MODELS])[model_index]),
                "model": pa.array(np.array([m[1] for m in MODELS])[model_index]),
                "input_tokens": inputs,
                "output_tokens": rng.integers(20, 800, n),
                "cached_input_tokens": cached,
                "cost_usd": pa.array(cost, from_pandas=True),
                "outcome": pa.array(OUTCOMES[rng.integers(0, len(OUTCOMES), n)]),
                "human_review_minutes": np.where(rng.random(n) < 0.05, 2.5, 0.0),
            })
            if writer is None:
                writer = pacsv.CSVWriter(sink, table.schema, write_options=pacsv.WriteOptions(quoting_style="none"))
            writer.write_table(table)
        writer.close()


WIDE_CHANNELS = np.array(["web", "chat", "email", "voice"])
WIDE_LANGUAGES = np.array(["en", "de", "fr", "es", "ja", "pt", "it", "nl"])
WIDE_MODELS = [("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("openai", "gpt-4.1-mini"), ("openai", "gpt-4.1"),
               ("anthropic", "claude-3-5-haiku-latest"), ("anthropic", "claude-3-5-sonnet-latest"),
               ("google", "gemini-2.0-flash"), ("openai", "o3-mini")]


def generate_wide(path: Path, rows: int, seed: int = 11) -> None:
    """The other shape (issue 14's): 18 columns (two that roi does not read), 3 months, 200 tenants x
    4 channels x 40 topics x 8 languages x 8 models, skewed so that 1M rows make about 259k daily cells
    in America/New_York (against the default shape's 145k from 40 tenants in one month)."""
    rng = np.random.default_rng(seed)
    tenants, topics = 200, 40
    tenant_names = np.array([f"tenant-{i:03d}" for i in range(tenants)])
    topic_names = np.array([f"topic-{i:02d}" for i in range(topics)])
    tenant_language = rng.integers(0, len(WIDE_LANGUAGES), tenants)
    tenant_plan = PLANS[rng.integers(0, len(PLANS), tenants)]
    tenant_models = rng.integers(0, len(WIDE_MODELS), (tenants, 2))
    providers = np.array([m[0] for m in WIDE_MODELS])
    models = np.array([m[1] for m in WIDE_MODELS])
    topic_weights = 1 / np.arange(1, topics + 1) ** 2.4
    topic_weights /= topic_weights.sum()
    start = np.datetime64("2026-01-01T00:00:00", "s").astype(np.int64)
    span = 90 * 86_400
    writer = None
    with pa.OSFile(str(path), "wb") as sink:
        for offset in range(0, rows, 500_000):
            n = min(500_000, rows - offset)
            tenant = rng.integers(0, tenants, n)
            ts = np.sort(rng.integers(start, start + span, n)).astype("datetime64[s]")
            language = np.where(rng.random(n) < 0.97, tenant_language[tenant], rng.integers(0, len(WIDE_LANGUAGES), n))
            model = tenant_models[tenant, (rng.random(n) < 0.1).astype(int)]
            inputs = rng.integers(200, 4000, n)
            cost = np.where(rng.random(n) < 0.5, np.round(inputs * 2.5e-7 + 1e-5, 8), np.nan)
            table = pa.table({
                "event_id": pa.array(np.char.add("ev-", np.arange(offset, offset + n).astype(str))),
                "ts": pa.array(np.char.add(np.datetime_as_string(ts, unit="s"), "Z")),
                "conversation_id": pa.array(np.char.add("c-", (np.arange(offset, offset + n) // 3).astype(str))),
                "tenant": pa.array(tenant_names[tenant]),
                "channel": pa.array(WIDE_CHANNELS[rng.choice(4, n, p=[0.8, 0.12, 0.06, 0.02])]),
                "topic": pa.array(topic_names[rng.choice(topics, n, p=topic_weights)]),
                "language": pa.array(WIDE_LANGUAGES[language]),
                "plan_tier": pa.array(tenant_plan[tenant]),
                "provider": pa.array(providers[model]),
                "model": pa.array(models[model]),
                "input_tokens": inputs,
                "output_tokens": rng.integers(20, 800, n),
                "cached_input_tokens": (inputs * rng.random(n) * 0.5).astype(np.int64),
                "cost_usd": pa.array(cost, from_pandas=True),
                "outcome": pa.array(OUTCOMES[rng.integers(0, len(OUTCOMES), n)]),
                "human_review_minutes": np.where(rng.random(n) < 0.05, 2.5, 0.0),
                "latency_ms": rng.integers(100, 9000, n),
                "region": pa.array(np.array(["eu", "us", "ap"])[rng.integers(0, 3, n)]),
            })
            if writer is None:
                writer = pacsv.CSVWriter(sink, table.schema, write_options=pacsv.WriteOptions(quoting_style="none"))
            writer.write_table(table)
        writer.close()


def write_project(folder: Path, data: Path, timezone: str = "UTC") -> Path:
    (folder / "models").mkdir(parents=True, exist_ok=True)
    (folder / "models" / "m.toml").write_text(textwrap.dedent("""
        name = "m"
        [[versions]]
        effective_from = 2025-01-01
        value_per_resolution = 6.5
    """))
    config = folder / "roi.toml"
    config.write_text(textwrap.dedent(f"""
        [service]
        database_url = "sqlite:///{folder / 'bench.db'}"
        timezone = "{timezone}"
        [[sources]]
        name = "bench"
        type = "events"
        path = "{data}"
        [[assignments]]
        match = {{}}
        model = "m"
    """))
    return config


def duckdb_query(source: str, timezone: str = "UTC") -> str:
    day = "CAST(ts AS DATE)" if timezone == "UTC" else f"CAST(timezone('{timezone}', ts) AS DATE)"
    return f"""
        SELECT {day} AS day, tenant, channel, topic, language, plan_tier, provider, model,
               count(*) AS requests, sum(input_tokens), sum(output_tokens), sum(cached_input_tokens),
               sum(cost_usd), sum(CASE WHEN outcome = 'resolved' THEN 1 ELSE 0 END),
               sum(CASE WHEN outcome = 'escalated' THEN 1 ELSE 0 END),
               sum(CASE WHEN outcome = 'abandoned' THEN 1 ELSE 0 END),
               sum(CASE WHEN outcome = 'reopened' THEN 1 ELSE 0 END), sum(human_review_minutes)
        FROM {source}
        GROUP BY ALL
    """


def repeat(source: Path, path: Path, times: int) -> None:
    """`source` written `times` times over, each copy's event ids suffixed: the same cells, more rows."""
    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
        column_types={"cost_usd": pa.string(), "outcome": pa.string()}, strings_can_be_null=False))
    with pa.OSFile(str(path), "wb") as sink:
        writer = pacsv.CSVWriter(sink, table.schema, write_options=pacsv.WriteOptions(quoting_style="none"))
        for copy in range(times):
            ids = pc.binary_join_element_wise(table.column("event_id"), pa.scalar(f"-{copy}"), "")
            writer.write_table(table.set_column(0, "event_id", ids))
        writer.close()


def with_repeats(source: Path, path: Path, share: float = 0.3, seed: int = 2) -> None:
    """`source` with `share` of its rows given the event id of a random earlier row (at-least-once
    delivery, say): the same rows, fewer distinct ids, and every repeat somewhere else in the file."""
    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(
        column_types={"cost_usd": pa.string(), "outcome": pa.string()}, strings_can_be_null=False))
    rng = np.random.default_rng(seed)
    taken = np.arange(table.num_rows)
    repeated = np.flatnonzero(rng.random(table.num_rows) < share)
    repeated = repeated[repeated > 0]
    taken[repeated] = (rng.random(len(repeated)) * repeated).astype(np.int64)
    while not np.array_equal(further := taken[taken], taken):
        taken = further  # an earlier row that itself took another's id: follow it to an original id
    table = table.set_column(0, "event_id", pc.take(table.column("event_id"), pa.array(taken)))
    with pa.OSFile(str(path), "wb") as sink:
        writer = pacsv.CSVWriter(sink, table.schema, write_options=pacsv.WriteOptions(quoting_style="none"))
        writer.write_table(table)
        writer.close()


def parquet_twin(source: Path, path: Path) -> None:
    """`source` as Parquet with typed columns: ts a UTC timestamp, counts int64, amounts float64, blanks null."""
    types = {"ts": pa.timestamp("s", "UTC"), "cost_usd": pa.float64(), "outcome": pa.string()}
    table = pacsv.read_csv(source, convert_options=pacsv.ConvertOptions(column_types=types, strings_can_be_null=True))
    pq.write_table(table, path)  # pyarrow's defaults: dictionary pages, snappy, row groups of 1M rows


def multiline_twin(source: Path, path: Path) -> None:
    """`source` with one value in the middle quoted over two lines (a conversation id with a line break):
    the shape that sends a file to the careful CSV reader."""
    with open(source, encoding="utf-8") as given, open(path, "w", encoding="utf-8") as written:
        for number, line in enumerate(given):
            if number == 500_000:
                fields = line.split(",")
                fields[2] = f'"{fields[2]}\nsplit"'
                line = ",".join(fields)
            written.write(line)


def jsonl_twin(source: Path, path: Path) -> None:
    """`source` as JSON Lines, one object per event: numbers as JSON numbers, blanks null, ts as the CSV's text."""
    import duckdb

    duckdb.connect().execute(
        f"COPY (SELECT * REPLACE (strftime(ts, '%Y-%m-%dT%H:%M:%SZ') AS ts) FROM read_csv({str(source)!r}, header = true))"
        f" TO {str(path)!r} (FORMAT JSON)"
    )


def _duckdb_process(data: Path, timezone: str = "UTC") -> tuple[float, float, float, float]:
    """DuckDB's query of a file (CSV, JSON Lines or Parquet) in a process of its own, its cells taken out as
    an Arrow table (DuckDB's fastest way out; `fetchall()` would add 1-2 s of Python tuples):
    (wall s, CPU s, peak MB, the query's own seconds, after `import duckdb`)."""
    if data.suffix == ".parquet":
        reader = f"read_parquet({str(data)!r})"
    elif data.suffix == ".jsonl":  # (ts arrives as text: made an instant, as read_csv infers it)
        reader = f"(SELECT * REPLACE (CAST(ts AS TIMESTAMPTZ) AS ts) FROM read_json({str(data)!r}))"
    else:
        reader = f"read_csv({str(data)!r}, header = true)"
    code = (f"import time, duckdb; started = time.perf_counter(); query = {duckdb_query(reader, timezone)!r};"
            " duckdb.connect().sql(query).to_arrow_table(); print(time.perf_counter() - started)")
    wall, cpu, peak, last = _timed_child([sys.executable, "-c", code])
    return wall, cpu, peak, float(last)


# `roi ingest` in-process with its two stages timed: what its imports, reading the batch (parse, check,
# deduplicate, price, sum) and storing the cells each cost, in one more run
_STAGES = """
import sys, time
started = time.perf_counter()
import roi.cli  # what `roi ingest` imports before it reads
imported = time.perf_counter()
import roi.services.batches as batches, roi.store as store
spent = {"read": 0.0, "store": 0.0}
def timed(owner, name, stage):
    work = getattr(owner, name)
    def wrapper(*args, **kwargs):
        begun = time.perf_counter()
        try:
            return work(*args, **kwargs)
        finally:
            spent[stage] += time.perf_counter() - begun
    setattr(owner, name, wrapper)
timed(batches, "_read_batch", "read")
timed(store.Store, "replace_batch", "store")
from roi.__main__ import main
sys.argv = ["roi", "--config", sys.argv[1], "ingest"]
try:
    main()
except SystemExit as exit:
    if exit.code:
        raise
print(imported - started, spent["read"], spent["store"], time.perf_counter() - started)
"""


def roi_stages(config: Path) -> tuple[float, float, float, float]:
    """One `roi ingest` run's (imports, read, store, whole) seconds, into a fresh database."""
    for leftover in config.parent.glob("bench.db*"):
        leftover.unlink()
    last = _timed_child([sys.executable, "-c", _STAGES, str(config)])[3]
    imports, read, store, whole = (float(value) for value in last.split())
    return imports, read, store, whole


def store_floor(database: Path) -> float:
    """SQLite's own cost of storing a run's cells, with no Python value in the way: its batch and cells copied
    by `INSERT ... SELECT` from `database` (in the page cache) into a fresh copy of the two tables and their
    indexes, with roi's pragmas, then committed and checkpointed, as roi's store ends. Seconds, best of 3."""
    best = float("inf")
    with sqlite3.connect(database) as source:
        schema = [sql for (sql,) in source.execute(
            "SELECT sql FROM sqlite_master WHERE tbl_name IN ('roi_batches', 'roi_cells') AND sql IS NOT NULL"
            " ORDER BY type DESC")]  # tables before their indexes
        source.execute("SELECT sum(length(tenant)) FROM roi_cells").fetchone()  # read once: in the page cache
    with tempfile.TemporaryDirectory(prefix="roi-floor-") as tmp:
        for attempt in range(3):
            target = sqlite3.connect(Path(tmp) / f"floor{attempt}.db", isolation_level=None)
            target.execute("PRAGMA journal_mode=WAL")
            target.execute("PRAGMA synchronous=NORMAL")
            target.execute("PRAGMA foreign_keys=ON")  # as roi's store has it
            for sql in schema:
                target.execute(sql)
            target.execute("ATTACH ? AS source", (str(database),))
            started = time.perf_counter()
            target.execute("BEGIN")
            # WHERE 1: row by row through the b-trees, as any insert of new rows goes (without it, SQLite
            # copies a table's pages whole: its transfer optimisation, no floor of anything roi could do)
            target.execute("INSERT INTO roi_batches SELECT * FROM source.roi_batches WHERE 1")
            target.execute("INSERT INTO roi_cells SELECT * FROM source.roi_cells WHERE 1")
            target.execute("COMMIT")
            target.execute("PRAGMA wal_checkpoint(PASSIVE)")
            best = min(best, time.perf_counter() - started)
            target.close()
    return best


def measure_processes(folder: Path, data: Path, rows: int, runs: int, label: str, timezone: str) -> float:
    """`roi ingest` and DuckDB's query as whole processes, alternating, then one run of roi's stages;
    returns roi's peak MB. The ratio is against DuckDB's whole process (start-up included, as roi's)
    and against its query alone."""
    config = write_project(folder, data, timezone)
    roi_runs, duck_runs = [], []
    for _ in range(runs):
        for leftover in folder.glob("bench.db*"):
            leftover.unlink()
        roi_runs.append(_timed_child([str(ROI), "--config", str(config), "ingest"]))
        duck_runs.append(_duckdb_process(data, timezone))
    with sqlite3.connect(folder / "bench.db") as connection:
        cells = connection.execute("SELECT count(*) FROM roi_cells").fetchone()[0]
    floor = store_floor(folder / "bench.db")
    elapsed, cpu, peak = (statistics.median(run[index] for run in roi_runs) for index in range(3))
    duck, duck_cpu, duck_peak, query = (statistics.median(run[index] for run in duck_runs) for index in range(4))
    imports, read, store, _ = roi_stages(config)
    print(
        f"{label:<32} file {data.stat().st_size / 1e6:6.1f} MB  cells {cells:>8,}  roi {elapsed:5.2f} s"
        f" = {rows / elapsed:>9,.0f} rows/s (runs {min(r[0] for r in roi_runs):.2f}-{max(r[0] for r in roi_runs):.2f},"
        f" CPU {cpu:.2f} s) peak {peak:4.0f} MB\n{'':<32} duckdb process {duck:5.2f} s (CPU {duck_cpu:.2f} s,"
        f" peak {duck_peak:4.0f} MB), its query alone {query:5.2f} s   roi/duckdb speed {duck / elapsed:5.2f}"
        f" (whole processes), {query / elapsed:5.2f} (query alone)\n{'':<32} roi's stages: imports {imports:4.2f} s,"
        f" read {read:4.2f} s, store {store:4.2f} s (store/read {store / read:4.2f})\n{'':<32} ceiling: SQLite's"
        f" own floor for storing these cells (INSERT ... SELECT, commit) is {floor:4.2f} s, so a reader as fast as"
        f" DuckDB's whole process would reach at most {duck / (duck + floor):4.2f} (whole processes)",
        flush=True,
    )
    return peak


def run_wide(rows_list: list[int], runs: int) -> None:
    """Issue 14's shape, local days in America/New_York, each side a whole process: CSV at each size, and
    the first size's Parquet twin; the peak of the last size against the first's."""
    print("== ingest, the wide shape (200 tenants x 4 channels x 40 topics x 8 languages x 8 models, 3 months,"
          " 18 columns; days in America/New_York): whole processes, DuckDB's cells out as Arrow ==")
    peaks = {}
    with tempfile.TemporaryDirectory(prefix="roi-bench-wide-") as tmp:
        for index, rows in enumerate(rows_list):
            folder = Path(tmp) / f"w{rows}"
            folder.mkdir()
            data = folder / "events.csv"
            generate_wide(data, rows)
            peaks[rows] = measure_processes(folder, data, rows, runs, f"wide CSV {rows:>11,} rows", "America/New_York")
            if index == 0:
                twin = Path(tmp) / "wide-parquet"
                twin.mkdir()
                parquet_twin(data, twin / "events.parquet")
                measure_processes(twin, twin / "events.parquet", rows, runs, f"wide Parquet {rows:>7,} rows",
                                  "America/New_York")
                twin = Path(tmp) / "wide-multiline"
                twin.mkdir()
                multiline_twin(data, twin / "events.csv")
                measure_processes(twin, twin / "events.csv", rows, runs, "wide CSV, one value over 2 lines",
                                  "America/New_York")
                twin = Path(tmp) / "wide-jsonl"
                twin.mkdir()
                jsonl_twin(data, twin / "events.jsonl")
                measure_processes(twin, twin / "events.jsonl", rows, runs, f"wide JSON Lines {rows:>7,} rows",
                                  "America/New_York")
            os.remove(data)
    if len(peaks) > 1:
        small, big = min(peaks), max(peaks)
        print(f"peak at {big:,} rows: {peaks[big]:.0f} MB = {peaks[big] / peaks[small]:.2f} x the peak at {small:,}"
              " (targets: under 600 MB, at most 1.10 x)")


def run(rows_list: list[int], runs: int = 3) -> None:
    print("== ingest, 40 tenants (UTC days): roi ingest (end to end, fresh SQLite) vs DuckDB GROUP BY into daily cells,"
          " both whole processes, DuckDB's cells out as Arrow;"
          f" medians of {runs} runs ==")
    with tempfile.TemporaryDirectory(prefix="roi-bench-") as tmp:
        first = None
        for rows in rows_list:
            folder = Path(tmp) / f"r{rows}"
            folder.mkdir()
            data = folder / "events.csv"
            generate(data, rows)
            measure_processes(folder, data, rows, runs, f"40 tenants, CSV {rows:>11,} rows", "UTC")
            if first is None:
                twin = Path(tmp) / "parquet"
                twin.mkdir()
                parquet_twin(data, twin / "events.parquet")
                measure_processes(twin, twin / "events.parquet", rows, runs, "40 tenants, its Parquet twin", "UTC")
            if rows == max(rows_list) and len(rows_list) > 1:
                repeats = Path(tmp) / "repeats"
                repeats.mkdir()
                with_repeats(data, repeats / "events.csv")
                measure_processes(repeats, repeats / "events.csv", rows, runs, f"{rows:,}, 30% repeats", "UTC")
                os.remove(repeats / "events.csv")
            if first is None:
                first = (rows, data)
            else:
                os.remove(data)
        small, data = first
        if len(rows_list) > 1 and max(rows_list) % small == 0 and max(rows_list) > small:
            big = max(rows_list)
            folder = Path(tmp) / "repeated"
            folder.mkdir()
            repeat(data, folder / "events.csv", big // small)
            measure_processes(folder, folder / "events.csv", big, runs, f"{big // small} x {small:,}", "UTC")


def _timed_child(command: list[str]) -> tuple[float, float, float, str]:
    """A command run in a child of a fresh interpreter: (wall seconds, CPU seconds, peak RSS in MB, the last
    line it printed)."""
    code = (
        "import sys, resource, subprocess, time;"
        f"t=time.perf_counter(); r=subprocess.run({command!r}, check=True, stdout=subprocess.PIPE, text=True);"
        " e=time.perf_counter()-t; u=resource.getrusage(resource.RUSAGE_CHILDREN);"
        "print(e, u.ru_utime+u.ru_stime, u.ru_maxrss/1024); print((r.stdout.strip().splitlines() or [''])[-1])"
    )
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True).stdout.splitlines()
    wall, cpu, peak = (float(value) for value in out[0].split())
    return wall, cpu, peak, out[1] if len(out) > 1 else ""


def main(rows: list[int] | None = None, runs: int = 3, wide_rows: list[int] | None = None) -> None:
    run(rows or [1_000_000, 5_000_000], runs)
    run_wide(wide_rows or [1_000_000], runs)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, nargs="+", default=[1_000_000, 5_000_000])
    parser.add_argument("--wide-rows", type=int, nargs="+", default=[1_000_000],
                        help="sizes of the wide shape (e.g. 1000000 10000000 for the 10M memory target)")
    parser.add_argument("--runs", type=int, default=3, help="runs per size (medians are printed)")
    arguments = parser.parse_args()
    main(arguments.rows, arguments.runs, arguments.wide_rows)
