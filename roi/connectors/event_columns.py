"""Turn a table of raw text columns (the events format) into a canonical frame.

Validation is vectorised with pyarrow compute: each check is a mask over the
chunk, and only the rare bad rows are visited one by one to write a reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from ..domain import AMOUNT_LIMIT, COUNT_LIMIT, DIMENSIONS, OUTCOMES, too_large
from .base import Chunk, Reject

TOKEN_COLUMNS = ("input_tokens", "output_tokens", "cached_input_tokens")
EVENT_COLUMNS = (
    ("event_id", "ts", "conversation_id")
    + DIMENSIONS
    + TOKEN_COLUMNS
    + ("cost_usd", "outcome", "human_review_minutes")
)
REQUIRED_COLUMNS = ("event_id", "ts")

_WHOLE = r"^\s*0*\d{1,18}\s*$"  # int64 holds every 18-digit number (below COUNT_LIMIT); leading zeros aside, as Arrow reads them
_DECIMAL = r"^\s*\+?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?\s*$"
_NEGATIVE_ZERO = r"^\s*-(0+\.?0*|\.0+)([eE][-+]?\d+)?\s*$"  # -0, -0.00, -.0: zero, as Arrow's parser reads them
_NOT_FINITE = r"(?i)^\s*[-+]?(inf|infinity|nan)\s*$"  # a number, but not a finite one (as Arrow's parser reads them)
_OFFSET = r"(?i)[T ]\d\d(:\d\d(:\d\d([.,]\d*)?)?)?\s*(z|[+-]\d\d(:?\d\d)?)\s*$"  # (the hour alone, as Arrow reads it)
_SHORTEST_TIMESTAMP = len("2026-01-01T00:00Z")
_DATED = r"^\d{4}-\d\d-\d\d([T ]\d\d:\d\d|$)"
# a time followed by something offset-like that _OFFSET refuses (`+1:00`, `+05:30:15`, `ZZ`, `+01:00Z`):
# a malformed offset, not a missing one
_BAD_OFFSET = r"(?i)[T ]\d\d[\d:.,]*\s*[+\-z]"
_OUTCOME_NAMES = frozenset(("",) + OUTCOMES)


@dataclass(slots=True)
class RawTable:
    """String columns of one chunk, with the file line of each row."""

    columns: dict[str, pa.Array]
    lines: np.ndarray
    file: str
    raw: Sequence[str | None] | None = None  # the original text of each row, where the reader has it


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
    if table.raw is not None:
        text = table.raw[index]
        if text is not None:  # (None: the reader cannot give this row's text; it is rebuilt from its values)
            return text[:2000]
    values = []
    for name in names:
        column = table.columns[name]
        try:
            value = column[index].as_py()
        except (OverflowError, ValueError):  # (an instant beyond Python's datetime, from a damaged Parquet file)
            value = pc.cast(column.slice(index, 1), pa.string())[0].as_py()
        values.append("" if value is None else str(value))
    return ",".join(values)[:2000]


def _text_buffers(column: pa.Array) -> tuple[np.ndarray, np.ndarray] | None:
    """A string column's offsets (one per value and one past the last) and data bytes, read off its
    Arrow buffers without a copy; None for a column of another type."""
    if pa.types.is_string(column.type):
        width = np.int32
    elif pa.types.is_large_string(column.type):
        width = np.int64
    else:
        return None
    _, offsets_buffer, data_buffer = column.buffers()
    if data_buffer is None or not len(column):  # (no values, or every one null or empty)
        return np.zeros(len(column) + 1, dtype=width), np.zeros(0, dtype=np.uint8)
    offsets = np.frombuffer(offsets_buffer, dtype=width)[column.offset : column.offset + len(column) + 1]
    return offsets, np.frombuffer(data_buffer, dtype=np.uint8)


def _text_bytes(column: pa.Array) -> np.ndarray:
    """The bytes of a string column's values, one after another (no copy)."""
    offsets, data = _text_buffers(column)
    return data[offsets[0] : offsets[-1]]


def _may_not_be_digits(column: pa.Array) -> bool:
    """Whether any byte of a text column is x, X or a minus sign, which Arrow's integer parser reads
    ("0x10" as 16, "-0" as 0) where a count must be decimal digits (read off the Arrow buffer: ~1 ms
    per million values)."""
    if _text_buffers(column) is None:
        return False
    data = _text_bytes(column)
    return bool(((data | 0x20) == ord("x")).any() or (data == ord("-")).any())


def _as_text(column: pa.Array) -> pa.Array:
    """A typed column (a Parquet file's numbers) as the text its CSV twin would hold, to be checked as text."""
    if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
        return column
    return column.cast(pa.string())


def _whole_numbers(column: pa.Array | None, length: int, name: str,
                   problems: _Problems) -> tuple[np.ndarray, np.ndarray | None]:
    """The counts (0 where blank or unreadable), and where they are unreadable (None: nowhere)."""
    if column is None:
        return np.zeros(length, dtype=np.int64), None
    try:
        # fast path: Arrow's integer parser (blanks are nulls), except that it also reads "0x10" as 16
        # and "-0" as 0: a column with an x or a minus in it goes the regex way, where only decimal
        # digits are a number (whatever else the chunk holds)
        values = pc.cast(column, pa.int64())
        low, high = pc.min_max(values).values()
        # the rule is the text rule's (_WHOLE): 0 up to 18 digits, so that int64 never holds a 19-digit count
        if (low.as_py() or 0) >= 0 and (high.as_py() or 0) < COUNT_LIMIT and not _may_not_be_digits(column):
            return values.fill_null(0).to_numpy(), None
    except pa.ArrowInvalid:
        pass
    column = _as_text(column)
    given = _present(column)
    ok = pc.match_substring_regex(column.fill_null("0"), _WHOLE)
    unreadable = pc.and_(given, pc.invert(ok))
    problems.add(unreadable, f"{name} is not a whole number >= 0", column)
    cleaned = pc.if_else(pc.and_(given, ok), pc.utf8_trim_whitespace(column.fill_null("0")), "0")
    return pc.cast(cleaned, pa.int64()).to_numpy(), unreadable.fill_null(False).to_numpy(zero_copy_only=False)


def _decimals(column: pa.Array | None, length: int, name: str, problems: _Problems) -> np.ndarray:
    """Numbers >= 0; NaN where blank."""
    if column is None:
        return np.full(length, np.nan)
    try:
        values = pc.cast(column, pa.float64()).to_numpy(zero_copy_only=False)
        finite = np.isfinite(values)
        # (a negative zero goes the text way: "-0" is the amount 0, "-1e-400" a negative number that
        # Arrow's parser rounds to -0.0)
        if (((values >= 0) & (values < AMOUNT_LIMIT)) | np.isnan(values)).all() and (
                finite | pc.is_null(column).to_numpy(zero_copy_only=False)).all() and not np.signbit(values).any():
            return values
    except pa.ArrowInvalid:
        pass
    # the text rule reads what Arrow's parser reads where both read a number >= 0 ("+1.5", "-0"), so
    # that a value never turns bad because another one in its chunk is
    column = _as_text(column)
    given = _present(column)
    ok = pc.or_(pc.match_substring_regex(column.fill_null("0"), _DECIMAL),
                pc.match_substring_regex(column.fill_null("0"), _NEGATIVE_ZERO))
    not_finite = pc.and_(given, pc.match_substring_regex(column.fill_null("0"), _NOT_FINITE))
    problems.add(pc.and_(given, pc.invert(pc.or_(ok, not_finite))), f"{name} is not a number >= 0", column)
    cleaned = pc.if_else(pc.and_(given, ok), pc.utf8_trim_whitespace(column.fill_null("0")), "NaN")
    values = pc.cast(cleaned, pa.float64()).to_numpy(zero_copy_only=False)
    read = pc.and_(given, ok).to_numpy(zero_copy_only=False)
    # inf, NaN (and 1e400, which a double cannot hold) are numbers, not finite ones
    bad_inf = (~np.isfinite(values) & read) | not_finite.to_numpy(zero_copy_only=False)
    problems.add(bad_inf, f"{name} is not a finite number", column)
    with np.errstate(invalid="ignore"):
        huge = read & np.isfinite(values) & (values >= AMOUNT_LIMIT)
    problems.add(huge, too_large(name, AMOUNT_LIMIT), column)
    return np.where(bad_inf | huge, np.nan, values) + 0.0


# Instants roi holds exactly: nanoseconds since 1970 in an int64 reach 1677-09-21 to 2262-04-11. The
# accepted range is narrower, so that the local day of any offset lies in the years 1900 to 2261 (docs/connectors.md).
FIRST_TS = np.datetime64("1900-01-02T00:00:00", "ns").astype(np.int64)
END_TS = np.datetime64("2261-12-31T00:00:00", "ns").astype(np.int64)  # excluded
OUT_OF_RANGE = "ts is out of range (accepted: 1900-01-02T00:00:00Z up to 2261-12-31T00:00:00Z)"
_FIRST_YEAR, _LAST_YEAR, _END_YEAR = "1900", "2261", "2262"
_YEAR = r"^\d{4}-"


def _plausible_years(text: pa.Array) -> pa.Array:
    """True where the text starts with a year nanoseconds can hold (so parsing cannot overflow)."""
    years = pc.utf8_slice_codeunits(text, 0, 4)
    return pc.and_(pc.greater_equal(years, _FIRST_YEAR), pc.less_equal(years, _LAST_YEAR))


def _years_within(column: pa.Array) -> bool:
    """Whether every value starts with a year from 1900 to 2261 (one pass: the least and greatest text)."""
    texts = pc.min_max(column)
    return texts["min"].as_py() >= _FIRST_YEAR and texts["max"].as_py() < _END_YEAR


def _within(parsed: pa.Array) -> bool:
    low_high = pc.min_max(parsed.cast(pa.int64()))
    low, high = low_high["min"].as_py(), low_high["max"].as_py()
    return low is None or (low >= FIRST_TS and high < END_TS)  # (None: no value)


def _timestamps(column: pa.Array, problems: _Problems) -> pa.Array:
    """UTC timestamps (ns); bad values become the epoch and are marked bad.

    A timestamp outside the accepted range is bad, never moved: Arrow's parser wraps a year
    that nanoseconds cannot hold around to another date, so years are checked before parsing."""
    if pa.types.is_timestamp(column.type):
        return _instants(column, problems)
    try:
        # fast path, only when every value has a time (Arrow would read a bare date as UTC midnight)
        if (len(column) and column.null_count == 0
                and pc.min(pc.utf8_length(column)).as_py() >= _SHORTEST_TIMESTAMP and _years_within(column)):
            parsed = pc.cast(column, pa.timestamp("ns", "UTC"))
            if parsed.null_count == 0 and _within(parsed):
                return parsed
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        pass
    given = _present(column)
    problems.add(pc.invert(given), "ts is missing")
    text = pc.utf8_trim_whitespace(column.fill_null(""))
    has_offset = pc.match_substring_regex(text, _OFFSET)
    no_offset = pc.and_(given, pc.invert(has_offset))
    dated = pc.and_(pc.match_substring_regex(text, _DATED), pc.invert(pc.match_substring_regex(text, _BAD_OFFSET)))
    problems.add(pc.and_(no_offset, dated), "ts has no UTC offset (write Z or +HH:MM)", column)
    problems.add(pc.and_(no_offset, pc.invert(dated)), "ts is not an ISO 8601 timestamp", column)
    plausible = _plausible_years(text)
    far = pc.and_(has_offset, pc.invert(plausible))
    year_first = pc.match_substring_regex(text, _YEAR)
    problems.add(pc.and_(far, year_first), OUT_OF_RANGE, column)
    problems.add(pc.and_(far, pc.invert(year_first)), "ts is not an ISO 8601 timestamp", column)
    usable = pc.and_(has_offset, plausible)
    # ISO 8601's decimal comma and RFC 3339's lower-case t and z, which Arrow's parser does not read
    text = pc.replace_substring(pc.utf8_upper(pc.if_else(usable, text, "1970-01-01T00:00:00Z")), ",", ".")
    try:
        parsed = pc.cast(text, pa.timestamp("ns", "UTC"))
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        # Some value is not ISO 8601: parse with pandas, which marks just the bad ones.
        import pandas as pd

        series = pd.Series(np.asarray(text.to_pylist(), dtype=object))
        found = pd.to_datetime(series, format="ISO8601", utc=True, errors="coerce")
        problems.add(found.isna().to_numpy() & usable.to_numpy(zero_copy_only=False),
                     "ts is not an ISO 8601 timestamp", column)
        nanos = found.dt.tz_convert("UTC").to_numpy(dtype="datetime64[ns]", na_value=np.datetime64(0, "ns"))
        parsed = pa.array(nanos.astype(np.int64), pa.int64()).cast(pa.timestamp("ns", "UTC"))
    if not _within(parsed):
        ints = parsed.cast(pa.int64()).to_numpy(zero_copy_only=False)
        outside = ((ints < FIRST_TS) | (ints >= END_TS)) & usable.to_numpy(zero_copy_only=False)
        problems.add(outside, OUT_OF_RANGE, column)
    return parsed


_NANOS = {"s": 1_000_000_000, "ms": 1_000_000, "us": 1_000, "ns": 1}


def _instants(column: pa.Array, problems: _Problems) -> pa.Array:
    """A timestamp column with a zone (a Parquet file's): its instants, in UTC, checked for range."""
    nanos = _NANOS[column.type.unit]
    present = column.is_valid().to_numpy(zero_copy_only=False)
    problems.add(~present, "ts is missing")
    values = column.cast(pa.int64()).fill_null(0).to_numpy()
    outside = present & ((values < FIRST_TS // nanos) | (values >= END_TS // nanos))
    if outside.any():  # (the text, shown in the reason, only when needed: formatting every instant is slow)
        problems.add(outside, OUT_OF_RANGE, _instant_texts(column, values))
    values = np.where(outside, 0, values) * nanos
    return pa.array(values, pa.int64()).cast(pa.timestamp("ns", "UTC"))


_YEAR_1, _YEAR_10000 = -62_135_596_800, 253_402_300_800  # seconds from 1970 to 0001-01-01 and 10000-01-01


def _instant_texts(column: pa.Array, values: np.ndarray) -> pa.Array:
    """Instants as the text a reason quotes, in UTC, as Arrow writes them (`1800-01-01 00:00:00.000Z`);
    numpy writes those beyond year 9999 or before year 1 the same way (Arrow garbles the hours of
    some: `1535-09-26 2547115198447:12:55.808Z` for the largest instant in milliseconds)."""
    unit = column.type.unit
    texts = column.cast(pa.timestamp(unit, "UTC")).cast(pa.string())
    per_second = 1_000_000_000 // _NANOS[unit]
    far = column.is_valid().to_numpy(zero_copy_only=False) & (
        (values < _YEAR_1 * per_second) | (values >= _YEAR_10000 * per_second))
    if not far.any():
        return texts
    written = np.array([text.replace("T", " ", 1) + "Z" for text in
                        np.datetime_as_string(values[far].astype(f"datetime64[{unit}]"))], dtype=object)
    nat = values[far] == np.iinfo(np.int64).min  # (numpy's "not a time")
    written[nat] = [f"{value} {unit} before 1970-01-01T00:00:00Z" for value in -values[far][nat].astype(object)]
    texts = np.asarray(texts.to_pylist(), dtype=object)
    texts[far] = written
    return pa.array(texts, pa.string())


def holds_nul(column: pa.Array | None) -> np.ndarray | None:
    """Rows whose value holds a NUL character (no store takes it in a text), None when none does.
    Text columns (or their dictionaries) without a NUL byte answer from their buffer (~0.05 ms per
    40k values, against ~0.7 ms for the per-value search)."""
    if column is None:
        return None
    text = column.dictionary if pa.types.is_dictionary(column.type) else column
    if _text_buffers(text) is None or _text_bytes(text).all():
        return None  # (not text; or no NUL byte in it)
    if pa.types.is_dictionary(column.type):
        per_value = pc.match_substring(column.dictionary, "\x00").fill_null(False).to_numpy(zero_copy_only=False)
        if not per_value.any():
            return None
        codes = column.indices.fill_null(0).to_numpy(zero_copy_only=False)
        return per_value[codes] & column.is_valid().to_numpy(zero_copy_only=False)
    rows = pc.match_substring(column, "\x00").fill_null(False).to_numpy(zero_copy_only=False)
    return rows if rows.any() else None


def _dimension(column: pa.Array | None, length: int) -> pa.Array:
    if column is None:
        return pa.DictionaryArray.from_arrays(pa.array(np.zeros(length, dtype=np.int32)), pa.array([""]))
    encoded = column if pa.types.is_dictionary(column.type) else column.dictionary_encode()
    # trim and fill on the (small) dictionary, not on every row
    dictionary = pc.utf8_trim_whitespace(encoded.dictionary)
    indices = encoded.indices
    if indices.null_count:
        dictionary = pa.concat_arrays([dictionary, pa.array([""])])
        indices = indices.fill_null(len(dictionary) - 1)
    return pa.DictionaryArray.from_arrays(indices, dictionary)


_WHITESPACE_BYTES = np.zeros(256, dtype=bool)
# what Arrow's utf8_trim_whitespace trims in ASCII: tab to carriage return, the separators 0x1C-0x1F, space
_WHITESPACE_BYTES[[0x09, 0x0A, 0x0B, 0x0C, 0x0D, 0x1C, 0x1D, 0x1E, 0x1F, 0x20]] = True
_WHITESPACE_BYTES[0x80:] = True  # any non-ASCII byte: Unicode whitespace takes two or three bytes


def _may_need_trim(column: pa.Array) -> bool:
    """Whether trimming could change a value: some first or last byte is whitespace or not ASCII.

    Two bytes per value, read off the Arrow buffers, instead of a regex over every value."""
    buffers = _text_buffers(column)
    if buffers is None:
        return True
    offsets, data = buffers
    starts, ends = offsets[:-1], offsets[1:]
    filled = ends > starts
    return bool(_WHITESPACE_BYTES[data[starts[filled]]].any() or _WHITESPACE_BYTES[data[ends[filled] - 1]].any())


def _is_text(value_type: pa.DataType) -> bool:
    if pa.types.is_dictionary(value_type):
        return _is_text(value_type.value_type)
    return any(test(value_type) for test in (pa.types.is_string, pa.types.is_large_string,
                                             pa.types.is_binary, pa.types.is_large_binary,
                                             pa.types.is_string_view, pa.types.is_binary_view))


def _empty(column: pa.Array) -> np.ndarray:
    """Rows where the column holds nothing: null, or an empty text (which a CSV file cannot tell from null)."""
    empty = column.is_null().to_numpy(zero_copy_only=False)
    if not _is_text(column.type):
        return empty
    if pa.types.is_string_view(column.type) or pa.types.is_binary_view(column.type):
        column = column.cast(pa.large_binary())  # (Arrow measures no view's length)
    if pa.types.is_dictionary(column.type):
        if not len(column.dictionary):
            return empty
        per_value = pc.equal(pc.binary_length(column.dictionary), 0).fill_null(True).to_numpy(zero_copy_only=False)
        return empty | per_value[column.indices.fill_null(0).to_numpy(zero_copy_only=False)]
    return empty | pc.equal(pc.binary_length(column), 0).fill_null(True).to_numpy(zero_copy_only=False)


def kept_rows(columns: dict[str, pa.Array]) -> np.ndarray | None:
    """Which rows hold something in some column (None: all of them). A row that holds nothing is a
    blank line's twin, not a row, in every format: an empty CSV line or one of nothing but commas,
    `{}` or an object of nulls and empty texts in JSON Lines, a Parquet row of nulls."""
    if not columns:
        return None
    blank = np.ones(len(next(iter(columns.values()))), dtype=bool)
    # the columns every row should fill first: once no row is empty in all so far, none is blank
    for name in sorted(columns, key=lambda name: name not in ("event_id", "ts")):
        blank &= _empty(columns[name])
        if not blank.any():
            return None
    return ~blank


def without_blank_rows(columns: dict[str, pa.Array]) -> tuple[dict[str, pa.Array], np.ndarray | None]:
    """The columns without their blank rows (kept_rows), and which rows were kept (None: all)."""
    kept = kept_rows(columns)
    if kept is None:
        return columns, None
    keep = pa.array(kept)
    return {name: column.filter(keep) for name, column in columns.items()}, kept


def to_chunk(table: RawTable, rows_read: int) -> Chunk:
    """Validate one table of text columns; good rows become the frame (an Arrow table), bad rows rejects."""
    names = list(table.columns)
    length = len(table.lines)
    problems = _Problems(length)
    get = table.columns.get

    event_id = _filled(get("event_id"), length)
    if event_id.null_count or _may_need_trim(event_id):
        event_id = pc.utf8_trim_whitespace(event_id.fill_null(""))
    problems.add(pc.equal(event_id, ""), "event_id is missing")
    ts = _timestamps(_filled(get("ts"), length), problems)
    tokens, unreadable = {}, {}
    for name in TOKEN_COLUMNS:
        tokens[name], unreadable[name] = _whole_numbers(get(name), length, name, problems)
    exceeds = tokens["cached_input_tokens"] > tokens["input_tokens"]
    for name in ("input_tokens", "cached_input_tokens"):  # an unreadable count (taken as 0) is no comparison
        if unreadable[name] is not None:
            exceeds &= ~unreadable[name]
    problems.add(exceeds, "cached_input_tokens exceeds input_tokens (input_tokens includes the cached ones)")
    cost = _decimals(get("cost_usd"), length, "cost_usd", problems)
    review = _decimals(get("human_review_minutes"), length, "human_review_minutes", problems)
    outcome = _dimension(get("outcome"), length)
    outcome = pa.DictionaryArray.from_arrays(outcome.indices, pc.utf8_lower(outcome.dictionary))
    outcome_text = outcome.dictionary.to_pylist()
    codes = outcome.indices.to_numpy(zero_copy_only=False)
    known = np.array([value in _OUTCOME_NAMES for value in outcome_text], dtype=bool)
    if not known.all():
        problems.add(~known[codes], f"outcome is not one of {', '.join(OUTCOMES)}", get("outcome"))

    for name in DIMENSIONS:
        nul = holds_nul(get(name))
        if nul is not None:
            problems.add(nul, f"{name} holds a NUL character")

    good = ~problems.bad
    rejects = [
        Reject(table.file, int(table.lines[index]), reason, _raw_text(table, index, names))
        for index, reason in sorted(problems.reasons().items())
    ]

    has_tokens = (tokens["input_tokens"] + tokens["output_tokens"]) > 0
    columns: dict[str, pa.Array] = {"event_id": event_id, "ts": ts}
    for dim in DIMENSIONS:
        columns[dim] = _dimension(get(dim), length)
    for name, values in tokens.items():
        columns[name] = pa.array(values)
    columns["requests"] = pa.array((has_tokens | ~np.isnan(cost)).astype(np.int64))
    columns["cost"] = pa.array(cost)
    for name in OUTCOMES:
        matches = np.array([value == name for value in outcome_text], dtype=bool)
        columns[name] = pa.array(matches[codes].astype(np.int64))
    columns["human_review_minutes"] = pa.array(np.nan_to_num(review, nan=0.0))
    frame = pa.table(columns)
    if not good.all():
        frame = frame.filter(pa.array(good))
    return Chunk(frame=frame, rejects=rejects, rows_read=rows_read)
