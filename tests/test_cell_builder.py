"""roi.ingestion.CellBuilder: local days around every switch, first occurrence wins, tiered prices, pre-aggregated rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd
import pytest

from roi.connectors.base import Chunk
from roi.domain import DIMENSIONS
from roi.ingestion import CellBuilder
from roi.pricing import Pricer


def _events(ts: list[datetime], **columns) -> pd.DataFrame:
    frame = pd.DataFrame({"event_id": [f"e{n}" for n in range(len(ts))], "ts": pd.Series(ts, dtype=object)})
    for name in DIMENSIONS:
        frame[name] = ""
    frame["requests"], frame["input_tokens"], frame["output_tokens"] = 1, 10, 5
    frame["cost"] = 0.5
    for name, values in columns.items():
        frame[name] = values
    return frame


def _cells(frames: list[pd.DataFrame], timezone: str = "UTC", overrides=None) -> pd.DataFrame:
    builder = CellBuilder(dimensions=tuple(DIMENSIONS), timezone=timezone, pricer=Pricer(overrides or {}))
    for frame in frames:
        builder.add(Chunk.of_pandas(frame, [], len(frame)))
    cells = builder.cells()
    cells.attrs["result"] = builder.result
    return cells


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/Berlin", "Asia/Kolkata", "Australia/Lord_Howe",
                                  "Africa/Monrovia"])
def test_local_days_equal_the_timezone_databases_around_every_switch(zone):
    """Instants around daylight-saving switches (and Monrovia's -0:44:30 of 1960) fall on zoneinfo's local day."""
    rng = np.random.default_rng(4)
    starts = [datetime(1960, 1, 1, tzinfo=UTC), datetime(2026, 3, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)]
    instants = [start + timedelta(seconds=int(seconds), microseconds=int(micros))
                for start in starts for seconds, micros in zip(rng.integers(0, 62 * 86_400, 3000),
                                                               rng.integers(0, 1_000_000, 3000), strict=True)]
    instants += [datetime(2026, 3, 8, 4, 59, 59, 999_999, tzinfo=UTC), datetime(2026, 3, 8, 5, tzinfo=UTC)]
    cells = _cells([_events(instants, tenant=[str(n) for n in range(len(instants))])], timezone=zone)
    found = dict(zip(cells["tenant"], cells["day"], strict=True))
    expected = {str(n): instant.astimezone(ZoneInfo(zone)).date() for n, instant in enumerate(instants)}
    assert found == expected


def test_the_first_occurrence_of_an_event_id_wins_across_chunks():
    when = datetime(2026, 1, 10, 10, tzinfo=UTC)
    first = _events([when, when], tenant=["first", "other"])
    again = _events([when, when + timedelta(days=1)], tenant=["again", "new"])
    again["event_id"] = ["e0", "e9"]  # e0 repeats the first chunk's first row
    cells = _cells([first, again])
    assert sorted(cells["tenant"]) == ["first", "new", "other"]
    assert cells.attrs["result"].duplicates == 1 and cells.attrs["result"].rows_stored == 3


def test_a_tiered_price_costs_what_genai_prices_says_per_request():
    from genai_prices import Usage, data_snapshot

    when = datetime(2026, 5, 1, 12, tzinfo=UTC)
    inputs = [1_000, 199_999, 200_000, 200_001, 450_000]  # the tier starts above 200,000 input tokens
    frame = _events([when] * len(inputs), provider="google", model="gemini-2.5-pro", input_tokens=inputs,
                    output_tokens=[500] * len(inputs), cached_input_tokens=[100] * len(inputs),
                    tenant=[str(n) for n in range(len(inputs))])
    frame["cost"] = np.nan
    cells = _cells([frame]).set_index("tenant")
    _, info = data_snapshot.get_snapshot().find_provider_model("gemini-2.5-pro", None, "google", None)
    for n, tokens in enumerate(inputs):
        usage = Usage(input_tokens=tokens, cache_read_tokens=100, output_tokens=500)
        expected = float(info.get_prices(when).calc_price(usage)["total_price"])
        assert cells.loc[str(n), "token_cost"] == pytest.approx(expected, rel=1e-12)
    assert cells["unpriced_requests"].sum() == 0


def test_pre_aggregated_rows_keep_their_day_and_are_never_priced():
    frame = pd.DataFrame({"day": [date(2026, 1, 3)] * 2, "provider": ["openai"] * 2, "model": ["gpt-4o"] * 2,
                          "requests": [4, 6], "input_tokens": [100, 100], "cost": [1.0, 2.0],
                          "unpriced_requests": [1, 0]})
    cells = _cells([frame], timezone="Asia/Tokyo")
    assert cells[["day", "requests", "token_cost", "unpriced_requests"]].values.tolist() == [
        [date(2026, 1, 3), 10, 3.0, 1]]
