"""Pricing (DESIGN section 3): config overrides, then genai-prices by provider, model and time, else unpriced."""

from __future__ import annotations

from datetime import date, datetime

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from genai_prices import Usage, calc_price

from roi import services
from roi.config import PriceOverride
from roi.pricing import Pricer, Rates
from roi.services import ingest as ingesting

HEADER = "event_id,ts,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome"


def frame(*rows: tuple[str, str, str, int, int, int], unit: str = "ns") -> pa.Table:
    """Canonical rows as the Arrow table the pricer reads (`ts` a UTC timestamp)."""
    data = pd.DataFrame(rows, columns=["provider", "model", "ts", "input_tokens", "cached_input_tokens",
                                       "output_tokens"])
    data["ts"] = pd.to_datetime(data["ts"], utc=True).astype(f"datetime64[{unit}, UTC]")
    return pa.Table.from_pandas(data, preserve_index=False)


def reference(provider: str, model: str, ts: str, input_tokens: int, cached: int, output: int) -> float:
    usage = Usage(input_tokens=input_tokens, cache_read_tokens=cached, output_tokens=output)
    result = calc_price(usage, model_ref=model, provider_id=provider or None,
                        genai_request_timestamp=datetime.fromisoformat(ts))
    return float(result.total_price)


CATALOGUED = [
    ("openai", "gpt-4o-mini", "2026-01-10T10:00:00Z", 1000, 100, 200),
    ("openai", "gpt-4o", "2026-01-10T10:00:00Z", 12345, 0, 678),
    ("OpenAI", "GPT-4o", "2026-01-10T10:00:00Z", 12345, 45, 678),
    ("", "gpt-4o", "2026-01-10T10:00:00Z", 10, 0, 20),
    # a price that changes on 2026-03-13 (tiered before, flat after)
    ("anthropic", "claude-opus-4-6", "2026-03-12T10:00:00Z", 300_000, 0, 1000),
    ("anthropic", "claude-opus-4-6", "2026-03-14T10:00:00Z", 300_000, 0, 1000),
    # a tiered price (above 200k input tokens)
    ("anthropic", "claude-sonnet-4-5", "2026-01-10T10:00:00Z", 250_000, 1000, 200),
    ("anthropic", "claude-sonnet-4-5", "2026-01-10T10:00:00Z", 50_000, 1000, 200),
    ("google", "gemini-2.5-pro", "2026-01-10T10:00:00Z", 250_000, 1000, 200),
    # a price by time of day (off-peak 16:30-00:30 UTC)
    ("deepseek", "deepseek-chat", "2026-01-10T00:10:00Z", 1000, 100, 200),
    ("deepseek", "deepseek-chat", "2026-01-10T10:00:00Z", 1000, 100, 200),
    ("deepseek", "deepseek-chat", "2026-01-10T16:29:30Z", 1000, 100, 200),
    ("deepseek", "deepseek-chat", "2026-01-10T16:30:30Z", 1000, 100, 200),
]


def test_catalogue_prices_equal_genai_prices():
    data = frame(*CATALOGUED)
    cost, unpriced = Pricer({}).price(data, np.ones(data.num_rows, dtype=bool))
    assert not unpriced.any()
    for spec, found in zip(CATALOGUED, cost, strict=True):
        assert found == pytest.approx(reference(*spec), rel=1e-12), spec
    # the figures differ where the catalogue says they should
    assert cost[4] != pytest.approx(cost[5])
    assert cost[10] == pytest.approx(2 * cost[9])
    assert cost[11] == pytest.approx(cost[10]) and cost[12] == pytest.approx(cost[9])


def test_timestamps_in_microseconds_price_at_their_time():
    data = frame(*CATALOGUED, unit="us")
    cost, _ = Pricer({}).price(data, np.ones(data.num_rows, dtype=bool))
    for spec, found in zip(CATALOGUED, cost, strict=True):
        assert found == pytest.approx(reference(*spec), rel=1e-12), spec


def test_only_selected_rows_are_priced():
    data = frame(*CATALOGUED[:3])
    mask = np.array([True, False, True])
    cost, unpriced = Pricer({}).price(data, mask)
    assert cost[1] == 0.0 and cost[0] > 0 and cost[2] > 0
    assert not unpriced.any()


def test_unknown_models_are_unpriced():
    data = frame(
        ("mystery", "model-x", "2026-01-10T10:00:00Z", 1000, 0, 100),
        ("mystery", "gpt-4o-mini", "2026-01-10T10:00:00Z", 1000, 0, 100),
        ("openai", "claude-opus-4-6", "2026-01-10T10:00:00Z", 1000, 0, 100),
        ("openai", "", "2026-01-10T10:00:00Z", 1000, 0, 100),
        ("", "", "2026-01-10T10:00:00Z", 1000, 0, 100),
    )
    cost, unpriced = Pricer({}).price(data, np.ones(data.num_rows, dtype=bool))
    assert list(unpriced) == [True] * 5
    assert list(cost) == [0.0] * 5


def test_overrides_come_first_and_ignore_case():
    overrides = {
        "openai/gpt-4o-mini": PriceOverride(input_per_mtok=1.0, output_per_mtok=4.0, cached_input_per_mtok=0.5),
        "acme/house": PriceOverride(input_per_mtok=2.0, output_per_mtok=10.0),
    }
    data = frame(
        ("OpenAI", "GPT-4o-Mini", "2026-01-10T10:00:00Z", 1_000_000, 400_000, 100_000),
        ("acme", "house", "2026-01-10T10:00:00Z", 1_000_000, 400_000, 100_000),
        ("openai", "gpt-4o", "2026-01-10T10:00:00Z", 1000, 0, 100),
    )
    cost, unpriced = Pricer(overrides).price(data, np.ones(3, dtype=bool))
    assert not unpriced.any()
    # (1M - 400k) * 1.0 + 400k * 0.5 + 100k * 4.0, per million = 0.6 + 0.2 + 0.4
    assert cost[0] == pytest.approx(1.2)
    # no cached price: cached tokens cost the input price: 1M * 2.0 + 100k * 10.0 = 2.0 + 1.0
    assert cost[1] == pytest.approx(3.0)
    assert cost[2] == pytest.approx(reference("openai", "gpt-4o", "2026-01-10T10:00:00+00:00", 1000, 0, 100))


def test_rates_formula():
    rates = Rates(input=3.0, output=15.0, cached_input=0.3)
    found = rates.cost(np.array([1_000_000.0, 500.0]), np.array([250_000.0, 500.0]), np.array([10_000.0, 0.0]))
    # 750k * 3 + 250k * 0.3 + 10k * 15 = 2.25 + 0.075 + 0.15; 500 cached only: 500 * 0.3
    assert list(found) == pytest.approx([2.475, 0.00015])


# ------------------------------------------------------------------ through ingest


def ingest_rows(project, rows: list[str], extra: str = "", reprice: bool = False) -> pd.DataFrame:
    text = project.config_path.read_text()
    if reprice:
        text = text.replace('path = "data/*.csv"', 'path = "data/*.csv"\nreprice = true')
    project.write_config(body=text, extra=extra)
    project.write_data("a.csv", "\n".join([HEADER, *rows]) + "\n")
    settings = project.settings()
    store = services.store_for(settings)
    (run,) = ingesting.ingest(settings, store)
    assert not run.failed
    cells = store.cells(date(2000, 1, 1), date(2100, 1, 1))
    return cells.set_index("model").sort_index()


OVERRIDE = '[pricing.overrides]\n"openai/gpt-4o-mini" = { input_per_mtok = 1.0, output_per_mtok = 4.0, cached_input_per_mtok = 0.5 }\n'


def test_blank_cost_is_priced_given_cost_is_kept(project):
    cells = ingest_rows(project, [
        "e1,2026-01-10T10:00:00Z,openai,gpt-4o-mini,1000000,100000,400000,,",
        "e2,2026-01-10T11:00:00Z,openai,gpt-4o-mini,1000000,100000,400000,0.05,",
        "e3,2026-01-10T10:00:00Z,openai,gpt-4o,2000,300,0,,",
        "e4,2026-01-10T10:00:00Z,mystery,model-x,2000,300,0,,",
        "e5,2026-01-10T10:00:00Z,mystery,model-x,2000,300,0,0.25,",
    ], extra=OVERRIDE)
    # e1 = 1.2 (the override), e2 = 0.05 as given
    assert cells.loc["gpt-4o-mini", "token_cost"] == pytest.approx(1.25)
    assert cells.loc["gpt-4o", "token_cost"] == pytest.approx(
        reference("openai", "gpt-4o", "2026-01-10T10:00:00+00:00", 2000, 0, 300)
    )
    # e4 cannot be priced; e5 carries its own cost
    assert cells.loc["model-x", "token_cost"] == pytest.approx(0.25)
    assert cells.loc["model-x", "unpriced_requests"] == 1
    assert cells.loc["model-x", "requests"] == 2
    assert cells["unpriced_requests"].sum() == 1


def test_reprice_ignores_given_costs(project):
    cells = ingest_rows(project, [
        "e1,2026-01-10T10:00:00Z,openai,gpt-4o-mini,1000000,100000,400000,99,",
        "e2,2026-01-10T10:00:00Z,anthropic,claude-sonnet-4-5,250000,200,1000,99,",
        "e3,2026-01-10T10:00:00Z,mystery,model-x,2000,300,0,0.25,",
        "e4,2026-01-10T10:00:00Z,,,,,,,resolved",
    ], extra=OVERRIDE, reprice=True)
    assert cells.loc["gpt-4o-mini", "token_cost"] == pytest.approx(1.2)
    assert cells.loc["claude-sonnet-4-5", "token_cost"] == pytest.approx(
        reference("anthropic", "claude-sonnet-4-5", "2026-01-10T10:00:00+00:00", 250000, 1000, 200)
    )
    # an unknown model is unpriced even though the row had a cost
    assert cells.loc["model-x", "token_cost"] == 0.0
    assert cells.loc["model-x", "unpriced_requests"] == 1
    # an outcome-only row is no request, so it is neither priced nor unpriced
    assert cells.loc["", "requests"] == 0 and cells.loc["", "unpriced_requests"] == 0


def test_ingest_prices_by_timestamp(project):
    cells = ingest_rows(project, [
        "e1,2026-03-12T10:00:00Z,anthropic,claude-opus-4-6,300000,1000,0,,",
        "e2,2026-03-14T10:00:00Z,anthropic,claude-opus-4-6,300000,1000,0,,",
        "e3,2026-01-10T10:00:00Z,deepseek,deepseek-chat,1000,200,100,,",
        "e4,2026-01-10T20:00:00Z,deepseek,deepseek-chat,1000,200,100,,",
    ])
    by_day = cells.reset_index().set_index(["model", "day"])["token_cost"]
    assert by_day[("claude-opus-4-6", date(2026, 3, 12))] == pytest.approx(
        reference("anthropic", "claude-opus-4-6", "2026-03-12T10:00:00+00:00", 300000, 0, 1000))
    assert by_day[("claude-opus-4-6", date(2026, 3, 14))] == pytest.approx(
        reference("anthropic", "claude-opus-4-6", "2026-03-14T10:00:00+00:00", 300000, 0, 1000))
    assert cells.loc["deepseek-chat", "token_cost"] == pytest.approx(
        reference("deepseek", "deepseek-chat", "2026-01-10T10:00:00+00:00", 1000, 100, 200)
        + reference("deepseek", "deepseek-chat", "2026-01-10T20:00:00+00:00", 1000, 100, 200))


def test_a_pandas_chunk_is_priced_at_its_time():
    from roi.connectors.base import Chunk
    from roi.domain import DIMENSIONS
    from roi.ingestion import CellBuilder

    stamps = [datetime.fromisoformat("2026-01-10T10:00:00+00:00"), datetime.fromisoformat("2026-01-10T20:00:00+00:00")]
    data = pd.DataFrame({"event_id": ["a", "b"], "ts": pd.to_datetime(pd.Series(stamps, dtype=object), utc=True)})
    for name in DIMENSIONS:
        data[name] = ""
    data["provider"], data["model"] = "deepseek", "deepseek-chat"
    data["requests"], data["input_tokens"], data["cached_input_tokens"], data["output_tokens"] = 1, 1000, 100, 200
    for name in ("resolved", "escalated", "abandoned", "reopened"):
        data[name] = 0
    data["cost"], data["human_review_minutes"] = np.nan, 0.0
    builder = CellBuilder(dimensions=tuple(DIMENSIONS), timezone="UTC", pricer=Pricer({}))
    builder.add(Chunk.of_pandas(data, [], 2))
    cost = builder.cells()["token_cost"].sum()
    # 10:00 is peak (0.27/1.10/0.07), 20:00 off-peak
    assert cost == pytest.approx(reference("deepseek", "deepseek-chat", "2026-01-10T10:00:00+00:00", 1000, 100, 200)
                                 + reference("deepseek", "deepseek-chat", "2026-01-10T20:00:00+00:00", 1000, 100, 200))
