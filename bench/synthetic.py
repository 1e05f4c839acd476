"""Synthetic stored cells for the benchmarks: N tenants x channels (x models) x daily, per month."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd


def last_months(count: int) -> list[tuple[int, int]]:
    """The `count` months that end last month, oldest first."""
    today = date.today()
    year, month = today.year, today.month
    found = []
    for _ in range(count):
        month -= 1
        if month == 0:
            year, month = year - 1, 12
        found.append((year, month))
    return sorted(found)


def month_cells(year: int, month: int, rng: np.random.Generator, *, tenants: int, channels: tuple[str, ...],
                models: tuple[str, ...] = ("gpt-4o-mini",), unpriced_model: str | None = None) -> pd.DataFrame:
    """Daily cells of one month; rows of `unpriced_model` carry a few unpriced requests."""
    start = pd.Timestamp(year=year, month=month, day=1)
    days = pd.date_range(start, start + pd.offsets.MonthEnd(0), freq="D").date
    names = [f"tenant-{index:03d}" for index in range(tenants)]
    grid = pd.MultiIndex.from_product([days, names, channels, models],
                                      names=["day", "tenant", "channel", "model"]).to_frame(index=False)
    count = len(grid)
    grid["topic"] = ""
    grid["language"] = "en"
    grid["plan_tier"] = ""
    grid["provider"] = "openai"
    requests = rng.integers(5, 60, count)
    grid["requests"] = requests
    grid["input_tokens"] = requests * 900
    grid["output_tokens"] = requests * 200
    grid["cached_input_tokens"] = requests * 100
    grid["token_cost"] = requests * rng.uniform(0.0005, 0.002, count)
    grid["unpriced_requests"] = rng.integers(0, 2, count) * (grid["model"] == unpriced_model).to_numpy()
    grid["resolved"] = rng.integers(0, 20, count)
    grid["escalated"] = rng.integers(0, 5, count)
    grid["abandoned"] = rng.integers(0, 3, count)
    grid["reopened"] = rng.integers(0, 2, count)
    grid["human_review_minutes"] = rng.uniform(0, 10, count)
    return grid


def store_months(store, months: list[tuple[int, int]], rng: np.random.Generator, **shape) -> int:
    """One batch of synthetic cells per month in `store`; returns the number of cells."""
    from roi.store import BatchResult

    total = 0
    for year, month in months:
        cells = month_cells(year, month, rng, **shape)
        total += len(cells)
        store.replace_batch(
            source="bench", key=f"{year}-{month:02d}", label=f"{year}-{month:02d}", fingerprint=uuid.uuid4().hex,
            started_at=datetime.now(UTC), cells=cells, rejects=[],
            result=BatchResult(rows_read=len(cells), rows_stored=len(cells)),
        )
    return total
