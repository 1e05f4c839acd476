"""Fast 64-bit hashes of event ids, for deduplication within a batch."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

if TYPE_CHECKING:  # pandas loads only where a function needs it
    import pandas as pd

_WEIGHTS = np.random.default_rng(0x5EED).integers(0, 2**63, size=4096, dtype=np.uint64) * np.uint64(2) + np.uint64(1)
_LENGTH_MIX = np.uint64(0x9E3779B97F4A7C15)


def hash_strings(values: pd.Series | pa.Array | pa.ChunkedArray) -> np.ndarray:
    """64-bit hashes of strings, vectorised over the bytes of the Arrow buffer.

    A random-weight linear hash (sum of byte x weight[position]) mixed with the
    length: distinct ids collide with probability about 2**-57, and it costs a
    few numpy passes instead of a Python object per id.
    """
    array = values if isinstance(values, pa.Array | pa.ChunkedArray) else pa.array(values)
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    array = pc.cast(array, pa.large_string())
    offsets = np.frombuffer(array.buffers()[1], dtype=np.int64)[array.offset : array.offset + len(array) + 1]
    first, last = int(offsets[0]), int(offsets[-1])
    lengths = np.diff(offsets)
    if len(lengths) == 0:
        return np.zeros(0, dtype=np.uint64)
    data = np.frombuffer(array.buffers()[2], dtype=np.uint8)[first:last].astype(np.uint64) + np.uint64(1)
    starts = offsets[:-1] - first
    marker = np.zeros(len(data), dtype=np.int64)
    marker[starts[lengths > 0]] = starts[lengths > 0]
    position = np.arange(len(data), dtype=np.int64) - np.maximum.accumulate(marker)
    weights = _WEIGHTS[position % len(_WEIGHTS)]
    if len(position) and position.max() >= len(_WEIGHTS):
        # very long ids: later 4 KiB blocks get their own odd multiplier, so weights stay distinct
        weights = weights * (np.uint64(2) * (position // len(_WEIGHTS)).astype(np.uint64) + np.uint64(1))
    sums = np.add.reduceat(data * weights, np.minimum(starts, max(len(data) - 1, 0))) if len(data) else \
        np.zeros(len(lengths), dtype=np.uint64)
    sums = np.where(lengths > 0, sums, np.uint64(0))
    return sums ^ (lengths.astype(np.uint64) * _LENGTH_MIX)
