"""A hash of a month's cells, independent of their order: what a report was computed from."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd

from ..domain import CELL_METRICS, DIMENSIONS


def as_text(column: pd.Series) -> np.ndarray:
    """`column.astype(str)`'s values, each distinct value turned to text once (a month has ~30 days,
    not ~90k)."""
    codes, distinct = pd.factorize(column, use_na_sentinel=False)
    return np.asarray(distinct.astype(str), dtype=object)[codes]


def data_fingerprint(cells: pd.DataFrame) -> str:
    """A hash of the month's cells, independent of their order: each cell (day, dimensions and
    metrics) hashed alone, the hashes sorted, then hashed together. A month without cells has
    the hash of nothing (reporting.frame.EMPTY_FINGERPRINT)."""
    if not len(cells):
        return hashlib.sha256(b"").hexdigest()[:16]
    columns = ["day", *DIMENSIONS, *CELL_METRICS]
    frame = cells[columns].astype({name: "float64" for name in CELL_METRICS})
    frame["day"] = as_text(cells["day"])
    hashed = np.sort(pd.util.hash_pandas_object(frame, index=False).to_numpy())
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
