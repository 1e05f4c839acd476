"""Two ingests at once: the second waits for (or skips) what the first holds, says so, and the figures are right."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

import sqlalchemy as sa
from excel_scenario import events, write_setup
from sqlalchemy.pool import NullPool

from roi import services
from roi.config import load_config
from roi.domain import CELL_METRICS, Period

ROI = [sys.executable, "-m", "roi"]


def _project(root: Path, database_url: str, files: int) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "data").mkdir(exist_ok=True)
    config = write_setup(root, database_url)
    for month in range(1, files + 1):
        (root / "data" / f"m{month}.csv").write_text(events(month, seed=month, count=400))
    return config


def _roi(config: Path, *args: str) -> subprocess.Popen:
    return subprocess.Popen([*ROI, "--config", str(config), *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, cwd=config.parent, env={**os.environ, "PYTHONWARNINGS": "error"})


def _figures(config: Path) -> tuple[list[tuple], dict]:
    settings = load_config(config)
    store = services.store_for(settings)
    try:
        batches = sorted((b.batch_key, b.rows_stored, b.quarantined) for b in store.batches())
        cells = store.cells(Period(2026, 1).start, Period(2026, 12).end)
        return batches, {name: round(float(cells[name].sum()), 9) for name in CELL_METRICS}
    finally:
        store.close()


def _alone(tmp_path: Path, files: int) -> tuple[list[tuple], dict]:
    """The figures of the same files ingested by one process alone."""
    config = _project(tmp_path / "alone", f"sqlite:///{tmp_path / 'alone.db'}", files=files)
    alone = _roi(config, "ingest")
    _out, err = alone.communicate(timeout=120)
    assert alone.returncode == 0, err
    figures = _figures(config)
    assert len(figures[0]) == files and figures[1]["requests"] > 0
    return figures


def test_two_ingests_at_once_on_a_fresh_store_both_finish_and_count_each_file_once(tmp_path, database_url):
    expected = _alone(tmp_path, files=4)

    for round_ in range(3):
        url = database_url if round_ == 0 else None
        if url is None:  # SQLite rounds on fresh files; PostgreSQL's database is fresh once
            if not database_url.startswith("sqlite"):
                break
            url = f"sqlite:///{tmp_path / f'round{round_}.db'}"
        config = _project(tmp_path / f"round{round_}", url, files=4)
        first, second = _roi(config, "ingest"), _roi(config, "ingest")
        outputs = [(*process.communicate(timeout=120), process.returncode) for process in (first, second)]
        for _stdout, stderr, code in outputs:
            assert code == 0, stderr
            assert "Traceback" not in stderr and "IntegrityError" not in stderr, stderr
        assert _figures(config) == expected


def test_an_ingest_waits_for_a_batch_another_holds_then_replaces_it_and_says_so(tmp_path, database_url):
    config = _project(tmp_path / "project", database_url, files=2)
    settings = load_config(config)
    services.store_for(settings).close()  # the schema, as the first ingest would have made it
    engine = sa.create_engine(settings.service.database_url, poolclass=NullPool)
    holder = engine.connect()
    transaction = holder.begin()
    now = datetime(2026, 3, 1, tzinfo=UTC)
    holder.execute(sa.text(
        "INSERT INTO roi_batches (source, batch_key, label, fingerprint, started_at, finished_at, rows_read, "
        "rows_stored, duplicates, quarantined, unpriced, cells) VALUES ('bot', 'file:data/m1.csv', 'bot m1', "
        "'held by another ingest', :now, :now, 0, 0, 0, 0, 0, 0)"), {"now": now})
    ingest = _roi(config, "ingest")
    try:
        # the file is read (its progress line is written just before it is stored), then the store waits
        assert ingest.stderr.readline() == "bot: read data/m1.csv\n"
        time.sleep(2)
        assert ingest.poll() is None  # it waits for the holder's transaction
        transaction.commit()
    finally:
        holder.close()
        engine.dispose()
    _stdout, stderr = ingest.communicate(timeout=120)
    code = ingest.returncode
    stderr = "bot: read data/m1.csv\n" + stderr
    assert code == 0, stderr
    assert "Traceback" not in stderr
    assert stderr.splitlines()[1] == (
        f"WARNING source bot: batch {config.parent / 'data' / 'm1.csv'} was stored by another ingest meanwhile, "
        "with other content: replaced by this one's")
    assert _figures(config) == _alone(tmp_path, files=2)


_MAKE_SCHEMA = """
import sys, time
from roi.store import open_store
start = float(sys.argv[2])
while time.time() < start:
    pass
store = open_store(sys.argv[1])
store.create_schema()
store.close()
"""


def test_processes_opening_a_new_sqlite_store_together_all_get_its_tables(tmp_path):
    # they start on the same instant, so their looks for each table interleave; each one that
    # finds a table made meanwhile looks again, and every one ends with the whole schema
    url = f"sqlite:///{tmp_path / 'new.db'}"
    start = time.time() + 1.5
    makers = [subprocess.Popen([sys.executable, "-c", _MAKE_SCHEMA, url, str(start)], stderr=subprocess.PIPE,
                               text=True) for _ in range(8)]
    for maker in makers:
        _out, err = maker.communicate(timeout=120)
        assert maker.returncode == 0, err
    engine = sa.create_engine(url, poolclass=NullPool)
    try:
        tables = set(sa.inspect(engine).get_table_names())
    finally:
        engine.dispose()
    from sqlmodel import SQLModel

    assert set(SQLModel.metadata.tables) <= tables
