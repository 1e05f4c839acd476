"""Turn a table of raw text columns (the events format) into a canonical frame.

Validation is vectorised with pyarrow compute: each check is a mask over the
chunk, and only the rare bad rows are visited one by one to write a reason.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from ..domain import DIMENSIONS, OUTCOMES
from .base import Chunk, Reject

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_input_tokens")
EVENT_COLUMNS = (
    ("event_id", "ts", "conversation_id")
    + DIMENSIONS
    + TOKEN_COLUMNS
    + ("cost_usd", "outcome", "human_review_minutes")
)
REQUIRED_COLUMNS = ("event_id", "ts")

_WHOLE = r"^\s*\d+\s*$"
_DECIMAL = r"^\s*(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_OFFSET = r"(?i)(z|[+-]\d\d(:?\d\d)?)\s*$"
_DATED = r"^\d{4}-\d\d-\d\d([T ]\d\d:\d\d|$)"
_OUTCOME_SET = pa.array(("",) + OUTCOMES)


@dataclass(slots=True)
class RawTable:
    """String columns of one chunk, with the file line of each row."""

    columns: dict[str, pa.Array]
    lines: np.ndarray
    file: str


def _filled(column: pa.Array | None, length: int) -> pa.Array:
    if column is None:
        return pa.nulls(length, pa.string())
    return column


def _present(column: pa.Array) -> pa.Array:
    """True where a value was given (not null, not blank)."""
    return pc.and_(pc.is_valid(column), pc.not_equal(pc.utf8_trim_whitespace(column.fill_null("")), ""))


class _Problems:
    """Collects masks of bad rows with their reasons."""

    def __init__(self, length: int):
        self.bad = np.zeros(length, dtype=bool)
        self.checks: list[tuple[np.ndarray, str, pa.Array | None]] = []

    def add(self, mask: pa.Array | np.ndarray, reason: str, values: pa.Array | None = None) -> None:
        array = mask if isinstance(mask, np.ndarray) else mask.fill_null(False).to_numpy(zero_copy_only=False)
        if array.any():
            self.bad |= array
            self.checks.append((array, reason, values))

    def reasons(self) -> dict[int, str]:
        found: dict[int, list[str]] = {}
        for mask, reason, values in self.checks:
            for index in np.flatnonzero(mask):
                text = reason
                if values is not None:
                    text = f"{reason} (got {values[int(index)].as_py()!r})"
                found.setdefault(int(index), []).append(text)
        return {index: "; ".join(parts) for index, parts in found.items()}


def _raw_text(table: RawTable, index: int, names: list[str]) -> str:
    values = []
    for name in names:
        value = table.columns[name][index].as_py()
        values.append("" if value is None else str(value))
    return ",".join(values)[:2000]


def _whole_numbers(column: pa.Array | None, length: int, name: str, problems: _Problems) -> np.ndarray:
    if column is None:
        return np.zeros(length, dtype=np.int64)
    given = _present(column)
    ok = pc.match_substring_regex(column.fill_null("0"), _WHOLE)
    problems.add(pc.and_(given, pc.invert(ok)), f"{name} is not a whole number >= 0", column)
    cleaned = pc.if_else(pc.and_(given, ok), pc.utf8_trim_whitespace(column.fill_null("0")), "0")
    return pc.cast(cleaned, pa.int64()).to_numpy()


def _decimals(column: pa.Array | None, length: int, name: str, problems: _Problems) -> np.ndarray:
    """Numbers >= 0; NaN where blank."""
    if column is None:
        return np.full(length, np.nan)
    given = _present(column)
    ok = pc.match_substring_regex(column.fill_null("0"), _DECIMAL)
    problems.add(pc.and_(given, pc.invert(ok)), f"{name} is not a number >= 0", column)
    cleaned = pc.if_else(pc.and_(given, ok), pc.utf8_trim_whitespace(column.fill_null("0")), "NaN")
    values = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    bad_inf = ~np.isfinite(values) & pc.and_(given, ok).to_numpy(zero_copy_only=False)
    problems.add(bad_inf, f"{name} is not a finite number", column)
    return np.where(bad_inf, np.nan, values)


def _timestamps(column: pa.Array, problems: _Problems) -> np.ndarray:
    given = _present(column)
    problems.add(pc.invert(given), "ts is missing")
    text = pc.utf8_trim_whitespace(column.fill_null(""))
    has_offset = pc.match_substring_regex(text, _OFFSET)
    no_offset = pc.and_(given, pc.invert(has_offset))
    dated = pc.match_substring_regex(text, _DATED)
    problems.add(pc.and_(no_offset, dated), "ts has no UTC offset (write Z or +HH:MM)", column)
    problems.add(pc.and_(no_offset, pc.invert(dated)), "ts is not an ISO 8601 timestamp", column)
    try:
        parsed = pc.cast(pc.if_else(has_offset, text, "1970-01-01T00:00:00Z"), pa.timestamp("ns", "UTC"))
        return parsed.to_numpy(zero_copy_only=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    # Some value is not ISO 8601: parse with pandas, which marks just the bad ones.
    series = pd.Series(np.asarray(text.to_pylist(), dtype=object))
    parsed = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
    unparsed = parsed.isna().to_numpy() & given.to_numpy(zero_copy_only=False) & has_offset.to_numpy(
        zero_copy_only=False
    )
    problems.add(unparsed, "ts is not an ISO 8601 timestamp", column)
    return parsed.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]", na_value=np.datetime64(0, "ns"))


def to_chunk(table: RawTable, rows_read: int) -> Chunk:
    """Validate one table of text columns; good rows become the frame, bad rows rejects."""
    names = list(table.columns)
    length = len(table.lines)
    problems = _Problems(length)
    get = table.columns.get

    event_id = pc.utf8_trim_whitespace(_filled(get("event_id"), length).fill_null(""))
    problems.add(pc.equal(event_id, ""), "event_id is missing")
    ts = _timestamps(_filled(get("ts"), length), problems)
    tokens = {name: _whole_numbers(get(name), length, name, problems) for name in TOKEN_COLUMNS}
    problems.add(
        tokens["cached_input_tokens"] > tokens["input_tokens"],
        "cached_input_tokens exceeds input_tokens (input_tokens includes the cached ones)",
    )
    cost = _decimals(get("cost_usd"), length, "cost_usd", problems)
    review = _decimals(get("human_review_minutes"), length, "human_review_minutes", problems)
    outcome = pc.utf8_lower(pc.utf8_trim_whitespace(_filled(get("outcome"), length).fill_null("")))
    problems.add(
        pc.invert(pc.is_in(outcome, value_set=_OUTCOME_SET)),
        f"outcome is not one of {', '.join(OUTCOMES)}",
        _filled(get("outcome"), length),
    )

    good = ~problems.bad
    rejects = [
        Reject(table.file, int(table.lines[index]), reason, _raw_text(table, index, names))
        for index, reason in sorted(problems.reasons().items())
    ]

    data: dict[str, object] = {"event_id": event_id.to_numpy(zero_copy_only=False)}
    data["ts"] = ts
    for dim in DIMENSIONS:
        column = get(dim)
        if column is None:
            data[dim] = np.full(length, "", dtype=object)
        else:
            data[dim] = pc.utf8_trim_whitespace(column.fill_null("")).to_numpy(zero_copy_only=False)
    data.update(tokens)
    has_tokens = (tokens["input_tokens"] + tokens["output_tokens"]) > 0
    data["requests"] = (has_tokens | ~np.isnan(cost)).astype(np.int64)
    data["cost"] = cost
    outcome_values = outcome.to_numpy(zero_copy_only=False)
    for name in OUTCOMES:
        data[name] = (outcome_values == name).astype(np.int64)
    data["human_review_minutes"] = np.nan_to_num(review, nan=0.0)
    frame = pd.DataFrame(data)
    frame["ts"] = pd.to_datetime(frame["ts"], utc=True)
    if not good.all():
        frame = frame.loc[good].reset_index(drop=True)
    return Chunk(frame=frame, rejects=rejects, rows_read=rows_read)
