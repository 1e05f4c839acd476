"""A seeded store of the one-query-path shape: 1M events over 3 months, ~250k daily cells.

200 tenants x 4 channels x 40 topics x 8 languages x 8 models, skewed as real traffic is
(a few big tenants, a few common topics), summed into daily cells and stored as one batch
per month. Used by the query benchmark (bench/query_bench.py).
"""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime

import numpy as np
import pandas as pd

MONTHS = ((2026, 7), (2026, 8), (2026, 9))
TENANTS = 200
CHANNELS = ("web", "email", "voice", "slack")
TOPICS = 40
LANGUAGES = ("en", "de", "fr", "es", "it", "nl", "pt", "ja")
MODELS = (("openai", "gpt-4o-mini"), ("openai", "gpt-4o"), ("anthropic", "claude-3-5-haiku"),
          ("anthropic", "claude-sonnet-4"), ("google", "gemini-2.0-flash"), ("google", "gemini-2.5-pro"),
          ("mistral", "mistral-large"), ("self", "llama-3-70b"))
PLANS = ("free", "pro", "enterprise")


def _skewed(rng: np.random.Generator, size: int, count: int, power: float) -> np.ndarray:
    weights = 1.0 / np.arange(1, size + 1) ** power
    return rng.choice(size, count, p=weights / weights.sum())


def event_cells(events: int = 1_000_000, seed: int = 13) -> pd.DataFrame:
    """Daily cells of `events` generated events over MONTHS."""
    rng = np.random.default_rng(seed)
    first = date(*MONTHS[0], 1)
    last = date(MONTHS[-1][0] + (MONTHS[-1][1] == 12), MONTHS[-1][1] % 12 + 1, 1)
    days = np.arange(np.datetime64(first), np.datetime64(last))
    tenant = _skewed(rng, TENANTS, events, 1.3)
    channel = (tenant + _skewed(rng, len(CHANNELS), events, 2.5)) % len(CHANNELS)
    topic = _skewed(rng, TOPICS, events, 1.9)
    language = np.where(rng.random(events) < 0.93, tenant % len(LANGUAGES), rng.integers(0, len(LANGUAGES), events))
    model = (tenant % len(MODELS) + _skewed(rng, len(MODELS), events, 2.5)) % len(MODELS)
    frame = pd.DataFrame({
        "day": days[rng.integers(0, len(days), events)],
        "tenant": np.array([f"tenant-{index:03d}" for index in range(TENANTS)], dtype=object)[tenant],
        "channel": np.array(CHANNELS, dtype=object)[channel],
        "topic": np.array([f"topic-{index:02d}" for index in range(TOPICS)], dtype=object)[topic],
        "language": np.array(LANGUAGES, dtype=object)[language],
        "plan_tier": np.array(PLANS, dtype=object)[tenant % len(PLANS)],
        "provider": np.array([provider for provider, _ in MODELS], dtype=object)[model],
        "model": np.array([name for _, name in MODELS], dtype=object)[model],
    })
    outcome = rng.choice(5, events, p=[0.55, 0.2, 0.12, 0.08, 0.05])  # none, resolved, escalated, abandoned, reopened
    frame["requests"] = 1
    frame["input_tokens"] = rng.integers(200, 4000, events)
    frame["output_tokens"] = rng.integers(50, 800, events)
    frame["cached_input_tokens"] = frame["input_tokens"] // rng.integers(2, 10, events)
    frame["token_cost"] = frame["input_tokens"] * 1.5e-7 + frame["output_tokens"] * 6e-7
    frame["unpriced_requests"] = (model == len(MODELS) - 1) & (rng.random(events) < 0.5)
    frame["resolved"] = outcome == 1
    frame["escalated"] = outcome == 2
    frame["abandoned"] = outcome == 3
    frame["reopened"] = outcome == 4
    frame["human_review_minutes"] = np.where(rng.random(events) < 0.1, rng.uniform(0.5, 6, events), 0.0)
    keys = ["day", "tenant", "channel", "topic", "language", "plan_tier", "provider", "model"]
    cells = frame.groupby(keys, sort=False).sum().reset_index()
    cells["day"] = pd.to_datetime(cells["day"]).dt.date
    for name in ("unpriced_requests", "resolved", "escalated", "abandoned", "reopened"):
        cells[name] = cells[name].astype("int64")
    return cells


def store_cells(store, cells: pd.DataFrame) -> None:
    """One batch per month, as a monthly file source would store them."""
    from roi.store import BatchResult

    months = pd.to_datetime(cells["day"]).dt.strftime("%Y-%m")
    for month, part in cells.groupby(months.to_numpy()):
        store.replace_batch(
            source="bench", key=f"events-{month}.csv", label=f"events-{month}.csv", fingerprint=uuid.uuid4().hex,
            started_at=datetime(2026, 10, 1, tzinfo=UTC), cells=part.reset_index(drop=True), rejects=[],
            result=BatchResult(rows_read=int(part["requests"].sum()), rows_stored=int(part["requests"].sum())),
        )
