"""Dictionary codes of text columns: integers per row, Python strings only per distinct value."""

from __future__ import annotations

import numpy as np
import pyarrow as pa


def dictionary_codes(column: pa.Array | pa.ChunkedArray, widen: bool = True) -> tuple[np.ndarray, list[str]]:
    """Each row's code (int64) into a list of values; a null, in the rows or in the dictionary, is "".

    `widen=False`: the codes in the dictionary's own integer type, without a copy where it has no
    nulls (for callers that only look codes up, never compute with them).

    The list may hold a value more than once (a dictionary of spellings trimmed alike): callers
    that need one code per value map the list through a dict, which is cheap at its size."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_dictionary(column.type):
        column = column.dictionary_encode()
    values = ["" if value is None else value for value in column.dictionary.to_pylist()]
    indices = column.indices
    if indices.null_count:
        indices = indices.cast(pa.int64()).fill_null(len(values))  # (len(values) may not fit int8 indices)
        values.append("")
    codes = indices.to_numpy(zero_copy_only=False)
    return (codes.astype(np.int64, copy=False) if widen else codes), values
