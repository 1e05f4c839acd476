"""From canonical event frames to daily cells: dedup, pricing, day bucketing, sums.

Pure pandas/numpy: no I/O. Memory follows the number of cells plus eight
bytes per distinct event id (for deduplication within a batch).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

import numpy as np
import pandas as pd

from .connectors.base import Chunk
from .domain import CELL_METRICS, DIMENSIONS
from .pricing import Pricer
from .store import BatchResult


class _SeenIds:
    """Hashes of event ids seen so far, as sorted arrays merged like a binary counter."""

    def __init__(self) -> None:
        self._levels: list[np.ndarray] = []

    def __contains_many(self, hashes: np.ndarray) -> np.ndarray:
        found = np.zeros(len(hashes), dtype=bool)
        for level in self._levels:
            at = np.searchsorted(level, hashes)
            at[at == len(level)] = 0
            found |= level[at] == hashes
        return found

    def admit(self, hashes: np.ndarray) -> np.ndarray:
        """Mask of hashes not seen before (first occurrence wins), then remember them."""
        fresh = ~pd.Series(hashes).duplicated().to_numpy()
        if self._levels:
            fresh &= ~self.__contains_many(hashes)
        new = np.sort(hashes[fresh])
        while self._levels and len(self._levels[-1]) <= len(new):
            new = np.sort(np.concatenate([self._levels.pop(), new]))
        self._levels.append(new)
        return fresh


class CellBuilder:
    """Accumulates one batch's chunks into cells."""

    def __init__(self, *, dimensions: tuple[str, ...], timezone: str, pricer: Pricer, reprice: bool = False):
        self.dimensions = dimensions
        self.timezone = ZoneInfo(timezone)
        self.pricer = pricer
        self.reprice = reprice
        self.result = BatchResult()
        self._seen = _SeenIds()
        self._parts: list[pd.DataFrame] = []

    def add(self, chunk: Chunk) -> None:
        self.result.rows_read += chunk.rows_read
        self.result.quarantined += len(chunk.rejects)
        frame = chunk.frame
        if len(frame) and "event_id" in frame:
            ids = frame["event_id"].to_numpy(dtype=object)
            keep = self._seen.admit(pd.util.hash_array(ids))
            self.result.duplicates += int((~keep).sum())
            if not keep.all():
                frame = frame.loc[keep].reset_index(drop=True)
        self.result.rows_stored += len(frame)
        if len(frame):
            self._parts.append(self._cells(frame))

    def _cells(self, frame: pd.DataFrame) -> pd.DataFrame:
        requests = frame["requests"].to_numpy(dtype=np.int64)
        given = frame["cost"].to_numpy(dtype=np.float64)
        to_price = (requests > 0) & (np.isnan(given) | self.reprice)
        priced, unpriced = self.pricer.price(frame, to_price)
        cost = np.where(to_price, priced, np.nan_to_num(given, nan=0.0))
        cost[requests == 0] = 0.0
        unpriced_requests = np.where(unpriced, requests, 0)
        self.result.unpriced += int(unpriced_requests.sum())

        cells = pd.DataFrame({"day": self._days(frame)})
        for name in DIMENSIONS:
            cells[name] = frame[name].to_numpy(dtype=object) if name in self.dimensions else ""
        for name in ("requests", "input_tokens", "output_tokens", "cached_input_tokens",
                     "resolved", "escalated", "abandoned", "reopened"):
            cells[name] = frame[name].to_numpy(dtype=np.int64)
        cells["token_cost"] = cost
        cells["unpriced_requests"] = unpriced_requests
        cells["human_review_minutes"] = frame["human_review_minutes"].to_numpy(dtype=np.float64)
        return _sum_cells(cells)

    def _days(self, frame: pd.DataFrame) -> np.ndarray:
        if "day" in frame:
            return pd.to_datetime(frame["day"]).to_numpy(dtype="datetime64[D]")
        ts = pd.DatetimeIndex(frame["ts"])
        if self.timezone.key != "UTC":
            ts = ts.tz_convert(self.timezone)
        return ts.tz_localize(None).to_numpy(dtype="datetime64[D]")

    def cells(self) -> pd.DataFrame:
        if not self._parts:
            return empty_cells()
        cells = _sum_cells(pd.concat(self._parts, ignore_index=True))
        cells["day"] = pd.to_datetime(cells["day"]).dt.date
        return cells


def empty_cells() -> pd.DataFrame:
    return pd.DataFrame({name: pd.Series([], dtype=object) for name in ("day", *DIMENSIONS)} | {
        name: pd.Series([], dtype="float64") for name in CELL_METRICS
    })


def _sum_cells(cells: pd.DataFrame) -> pd.DataFrame:
    keys = ["day", *DIMENSIONS]
    return cells.groupby(keys, sort=False, observed=True, dropna=False)[list(CELL_METRICS)].sum().reset_index()
