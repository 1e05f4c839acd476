"""A hash of a month's cells, independent of their order: what a report was computed from."""

from __future__ import annotations

import hashlib

import pandas as pd

from ..domain import CELL_METRICS, DIMENSIONS


def data_fingerprint(cells: pd.DataFrame) -> str:
    """A hash of the month's cells, independent of their order."""
    if not len(cells):
        return hashlib.sha256(b"").hexdigest()[:16]
    columns = ["day", *DIMENSIONS, *CELL_METRICS]
    ordered = cells[columns].astype({"day": str}).sort_values(["day", *DIMENSIONS]).reset_index(drop=True)
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]
