"""Token prices: the config's overrides first, then genai-prices, else unpriced.

Rows are priced in bulk: one price lookup per (provider, model, UTC day) — or
per minute for models whose price depends on the time of day — and one
vectorised multiply for the rows that share it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .config import PriceOverride
from .dictionary_codes import dictionary_codes

_MTOK = 1_000_000.0


@dataclass(frozen=True, slots=True)
class Rates:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float

    def cost(self, input_tokens: np.ndarray, cached: np.ndarray, output: np.ndarray) -> np.ndarray:
        uncached = input_tokens - cached
        return (uncached * self.input + cached * self.cached_input + output * self.output) / _MTOK


def _override_rates(override: PriceOverride) -> Rates:
    cached = override.cached_input_per_mtok
    return Rates(override.input_per_mtok, override.output_per_mtok, override.input_per_mtok if cached is None else cached)


class _Catalogue:
    """genai-prices behind one small interface (bundled data, never the network)."""

    def __init__(self) -> None:
        from genai_prices import data_snapshot

        self._snapshot = data_snapshot.get_snapshot()
        self._models: dict[tuple[str, str], Any] = {}

    def model(self, provider: str, model: str) -> Any | None:
        key = (provider, model)
        if key not in self._models:
            try:
                _, info = self._snapshot.find_provider_model(model, None, provider or None, None)
            except (LookupError, ValueError):
                info = None
            self._models[key] = info
        return self._models[key]

    @staticmethod
    def time_of_day_priced(info: Any) -> bool:
        from genai_prices.types import TimeOfDateConstraint

        prices = info.prices if isinstance(info.prices, list) else []
        variants = info.price_variants or []
        constraints = [getattr(item, "constraint", None) for item in [*prices, *variants]]
        return any(isinstance(constraint, TimeOfDateConstraint) for constraint in constraints)

    @staticmethod
    def flat_rates(model_price: Any) -> Rates | None:
        """Rates when the price is linear in tokens; None for tiers or per-request fees."""
        values = {
            key: value
            for key, value in vars(model_price).items()
            if value is not None and key not in ("input_mtok", "output_mtok", "cache_read_mtok", "cache_write_mtok")
        }
        if values.get("requests_kcount"):
            return None
        parts = [model_price.input_mtok, model_price.output_mtok, model_price.cache_read_mtok]
        if not all(part is None or isinstance(part, Decimal) for part in parts):
            return None
        input_rate = float(model_price.input_mtok or 0)
        cached = model_price.cache_read_mtok
        return Rates(input_rate, float(model_price.output_mtok or 0), input_rate if cached is None else float(cached))


class Pricer:
    """Prices canonical rows; keeps its look-ups for the life of one ingest run."""

    def __init__(self, overrides: dict[str, PriceOverride]):
        self._overrides = {key.lower(): _override_rates(value) for key, value in overrides.items()}
        self._catalogue: _Catalogue | None = None
        self._prices: dict[tuple[str, str, Any], Any] = {}

    def _genai(self) -> _Catalogue:
        if self._catalogue is None:
            self._catalogue = _Catalogue()
        return self._catalogue

    def price(self, table: pa.Table, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Cost of the rows selected by `rows` (a bool mask); also which of them could not be priced."""
        cost = np.zeros(table.num_rows)
        unpriced = np.zeros(table.num_rows, dtype=bool)
        if not rows.any():
            return cost, unpriced
        positions = np.flatnonzero(rows)
        # (provider, model) pairs grouped by their dictionary codes: strings only for the distinct pairs
        provider_codes, providers = dictionary_codes(table.column("provider"))
        model_codes, models = dictionary_codes(table.column("model"))
        combined = provider_codes[positions] * len(models) + model_codes[positions]
        distinct, codes = np.unique(combined, return_inverse=True)
        pairs = [(providers[int(pair) // len(models)], models[int(pair) % len(models)]) for pair in distinct]
        order = np.argsort(codes, kind="stable")
        counts = np.bincount(codes, minlength=len(pairs))
        input_tokens = table.column("input_tokens").to_numpy().astype(np.float64)
        cached = table.column("cached_input_tokens").to_numpy().astype(np.float64)
        output = table.column("output_tokens").to_numpy().astype(np.float64)
        nanos: np.ndarray | None = None  # the rows' UTC times, made once if a catalogue price needs them
        for (provider, model), local in zip(pairs, np.split(order, np.cumsum(counts)[:-1]), strict=True):
            index = positions[local]
            provider, model = provider.strip().lower(), model.strip()
            rates = self._overrides.get(f"{provider}/{model.lower()}")
            if rates is not None:
                cost[index] = rates.cost(input_tokens[index], cached[index], output[index])
                continue
            info = self._genai().model(provider, model) if model else None
            if info is None:
                unpriced[index] = True
                continue
            if nanos is None:
                nanos = pc.cast(pc.cast(table.column("ts"), pa.timestamp("ns", "UTC")), pa.int64()).to_numpy()
            self._price_catalogued(nanos[index], index, info, (provider, model), cost, input_tokens, cached, output)
        return cost, unpriced

    def _price_catalogued(self, nanos, index, info, key, cost, input_tokens, cached, output) -> None:
        """Price the rows at `index` (their UTC times in `nanos`) from the catalogue, per day or minute."""
        catalogue = self._genai()
        step = 60 * 10**9 if catalogue.time_of_day_priced(info) else 86_400 * 10**9
        moments, groups, counts = np.unique(nanos // step, return_inverse=True, return_counts=True)
        ordered = index[np.argsort(groups, kind="stable")]
        for moment, rows in zip(moments, np.split(ordered, np.cumsum(counts)[:-1]), strict=True):
            when = datetime.fromtimestamp(int(moment) * step / 1e9, tz=UTC)
            price_key = (*key, when)
            if price_key not in self._prices:
                self._prices[price_key] = info.get_prices(when)
            model_price = self._prices[price_key]
            rates = catalogue.flat_rates(model_price)
            if rates is not None:
                cost[rows] = rates.cost(input_tokens[rows], cached[rows], output[rows])
            else:
                cost[rows] = [
                    self._exact(model_price, int(i), int(c), int(o))
                    for i, c, o in zip(input_tokens[rows], cached[rows], output[rows], strict=True)
                ]

    @staticmethod
    def _exact(model_price: Any, input_tokens: int, cached: int, output: int) -> float:
        from genai_prices import Usage

        usage = Usage(input_tokens=input_tokens, cache_read_tokens=cached, output_tokens=output)
        return float(model_price.calc_price(usage)["total_price"])

