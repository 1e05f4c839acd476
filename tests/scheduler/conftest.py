"""A pulled source for the scheduler tests: one JSON file of events per UTC day, on disk.

`daily` is registered like any connector; it follows the pulled contract (one batch per
UTC day keyed day:YYYY-MM-DD) and reads real files, so a test changes what "upstream" holds
by writing files, and makes a day fail by writing a failure file.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from roi.config import RelPath
from roi.connectors.base import Batch, Chunk, Connector, ConnectorOptions, Window, register
from roi.domain import DIMENSIONS
from roi.errors import ConnectorError, TransientError


class DailyOptions(ConnectorOptions):
    folder: RelPath


@register("test-daily")
class DailyConnector(Connector):
    """Reads folder/YYYY-MM-DD.json: [[event_id, iso ts, tenant, input_tokens, cost], ...].

    folder/fail-YYYY-MM-DD.json makes that day fail after its first chunk:
    {"kind": "fatal"} always, {"kind": "transient", "times": n} the first n reads, {"kind": "bug"} with an
    error no connector raises on purpose."""

    Options = DailyOptions
    options: DailyOptions

    def batches(self, window: Window) -> Iterator[Batch]:
        day = window.start
        pulled = datetime.now(UTC).isoformat()
        while day < window.end:
            yield Batch.of_day(day.date(), f"{self.name} {day:%Y-%m-%d}", f"{day}|{pulled}",
                               lambda day=day: self.read_day(day))
            day += timedelta(days=1)

    def read_day(self, day: datetime) -> Iterator[Chunk]:
        folder = Path(self.options.folder)
        name = f"{day:%Y-%m-%d}"
        file = folder / f"{name}.json"
        rows = json.loads(file.read_text()) if file.exists() else []
        half = max(1, len(rows) // 2)
        yield _chunk(rows[:half])
        failure = folder / f"fail-{name}.json"
        if failure.exists():
            spec = json.loads(failure.read_text())
            if spec["kind"] == "fatal":
                raise ConnectorError(f"{self.name}: upstream refused {name}")
            if spec["kind"] == "bug":  # what no connector expects: a failure of roi's own
                raise KeyError("cost_usd")
            if spec["times"] > 0:
                spec["times"] -= 1
                failure.write_text(json.dumps(spec))
                raise TransientError(f"{self.name}: upstream timed out on {name}")
        yield _chunk(rows[half:])


def _chunk(rows: list) -> Chunk:
    count = len(rows)
    frame = pd.DataFrame({
        "event_id": [row[0] for row in rows],
        "ts": pd.to_datetime([row[1] for row in rows], utc=True),
    })
    for name in DIMENSIONS:
        frame[name] = [row[2] for row in rows] if name == "tenant" else [""] * count
    frame["input_tokens"] = np.array([row[3] for row in rows], dtype=np.int64)
    for name in ("output_tokens", "cached_input_tokens", "resolved", "escalated", "abandoned", "reopened"):
        frame[name] = np.zeros(count, dtype=np.int64)
    frame["requests"] = np.ones(count, dtype=np.int64)
    frame["cost"] = np.array([row[4] for row in rows], dtype=np.float64)
    frame["human_review_minutes"] = np.zeros(count)
    return Chunk.of_pandas(frame, rows_read=count)


class Upstream:
    """The files the daily source reads: events per UTC day, and failures."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def put_day(self, day: str, count: int = 4, tenant: str = "acme", cost: float = 0.5) -> None:
        rows = [[f"{day}-{tenant}-{i}", f"{day}T{i % 24:02d}:30:00Z", tenant, 100 + i, cost] for i in range(count)]
        file = self.folder / f"{day}.json"
        existing = json.loads(file.read_text()) if file.exists() else []
        file.write_text(json.dumps(existing + rows))

    def fail(self, day: str, kind: str = "fatal", times: int = 0) -> None:
        (self.folder / f"fail-{day}.json").write_text(json.dumps({"kind": kind, "times": times}))

    def heal(self, day: str) -> None:
        (self.folder / f"fail-{day}.json").unlink(missing_ok=True)


PULLED = """
[[sources]]
name = "api"
type = "test-daily"
folder = "upstream"
schedule = "*/15 * * * *"
initial_lookback_days = {initial}
lookback_days = {lookback}

[scheduler]
retry_attempts = 3
retry_wait_seconds = 2
"""


@pytest.fixture
def upstream(any_project) -> Upstream:
    any_project.write_config(PULLED.format(initial=3, lookback=1))
    return Upstream(any_project.root / "upstream")


@pytest.fixture
def sqlite_upstream(project) -> Upstream:
    project.write_config(PULLED.format(initial=3, lookback=1))
    return Upstream(project.root / "upstream")


@pytest.fixture
def open_store():
    """Stores opened by a test, their engines disposed before its database is dropped."""
    from roi import services

    opened = []

    def make(settings):
        store = services.store_for(settings)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.engine.dispose()
