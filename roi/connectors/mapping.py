"""From upstream records to canonical rows: which field feeds which dimension, and the row builder.

Each pulled connector has default sources for some dimensions (the model, the
provider, ...); the user's ``[sources.dimensions]`` table overrides them one
dimension at a time:

    [sources.dimensions]
    model = "model"                                    # a field (dotted path)
    channel = { value = "chat" }                       # a constant
    tenant = { field = "project_id", lookup = { proj_abc = "acme" }, default = "other" }
    topic = { field = "request_tags", prefix = "topic:" }   # from a list: the element with the prefix

A field path walks nested objects (``metadata.user_api_key_alias``); a key
that itself contains dots (``gen_ai.request.model``) is matched whole first;
on a list of ``{id, value}`` objects (Zendesk custom fields) a segment picks
the element by id (``custom_fields.360001``). ``field`` may list several
paths: the first that is present wins.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import pandas as pd
from pydantic import BaseModel, BeforeValidator, model_validator

from ..config import STRICT, Dimension
from ..domain import AMOUNT_LIMIT, COUNT_LIMIT, DIMENSIONS, Reject, too_large
from .base import FRAME_COUNTS, Chunk


class DimensionSource(BaseModel):
    """Where one dimension's value comes from."""

    model_config = STRICT

    field: str | list[str] | None = None
    value: str | None = None
    lookup: dict[str, str] = {}
    default: str | None = None
    prefix: str | None = None

    @model_validator(mode="after")
    def _one_origin(self) -> DimensionSource:
        if (self.field is None) == (self.value is None):
            raise ValueError("give exactly one of field (an upstream field) or value (a constant)")
        return self

    @property
    def paths(self) -> list[str]:
        if self.field is None:
            return []
        return [self.field] if isinstance(self.field, str) else list(self.field)


def _shorthand(value: Any) -> Any:
    return {"field": value} if isinstance(value, str | list) else value


DimensionSpec = Annotated[DimensionSource, BeforeValidator(_shorthand)]
DimensionMap = dict[Dimension, DimensionSpec]


def resolve(record: Any, path: str) -> Any:
    """The value at a dotted path, or None."""
    if record is None or path == "":
        return record
    if isinstance(record, dict):
        if path in record:
            return record[path]
        parts = path.split(".")
        for cut in range(len(parts) - 1, 0, -1):
            key = ".".join(parts[:cut])
            if key in record:
                return resolve(record[key], ".".join(parts[cut:]))
        return None
    if isinstance(record, list):
        head, _, rest = path.partition(".")
        for item in record:
            if isinstance(item, dict) and "id" in item and str(item["id"]) == head and "value" in item:
                return resolve(item["value"], rest)
        found = [resolve(item, path) for item in record]
        flat: list[Any] = []
        for item in found:
            if isinstance(item, list):
                flat.extend(item)
            elif item is not None:
                flat.append(item)
        return flat or None
    return None


def text_of(value: Any) -> str:
    """A scalar as dimension text ("" for missing)."""
    if value is None or isinstance(value, dict | list):
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).strip()


class Mapping:
    """The dimension sources of one connector: its defaults overridden by the config."""

    def __init__(self, configured: dict[str, DimensionSource], defaults: dict[str, DimensionSource | str]):
        merged = {name: DimensionSource.model_validate(_shorthand(spec)) for name, spec in defaults.items()}
        merged.update(configured)
        self.sources = {name: merged[name] for name in DIMENSIONS if name in merged}

    def fields(self) -> list[str]:
        """Every upstream field the mapping reads."""
        found: list[str] = []
        for source in self.sources.values():
            found.extend(path for path in source.paths if path not in found)
        return found

    def dimensions(self, record: Any) -> dict[str, str]:
        return {name: self.value(source, record) for name, source in self.sources.items()}

    @staticmethod
    def value(source: DimensionSource, record: Any) -> str:
        if source.value is not None:
            return source.value
        raw: Any = None
        for path in source.paths:
            raw = resolve(record, path)
            if raw not in (None, "", []):
                break
        picked = isinstance(raw, list)
        if picked:
            raw = _pick(raw, source)
        text = text_of(raw)
        if source.prefix is not None and not picked and text:
            text = text[len(source.prefix):] if text.startswith(source.prefix) else ""
        if not text:
            return source.default or ""
        if source.lookup:
            if text in source.lookup:
                return source.lookup[text]
            return text if source.default is None else source.default
        return text


def _pick(values: list[Any], source: DimensionSource) -> str | None:
    """One element of a list field: the one with the prefix, else one in the lookup, else the first."""
    texts = [text_of(value) for value in values]
    texts = [text for text in texts if text]
    if source.prefix is not None:
        for text in texts:
            if text.startswith(source.prefix):
                return text[len(source.prefix):]
        return None
    if source.lookup:
        for text in texts:
            if text in source.lookup:
                return text
    return texts[0] if texts else None


# ------------------------------------------------------------------ values


# the texts accepted for counts and amounts, as in event_columns.py: ASCII decimal digits only
_WHOLE_TEXT = re.compile(r"\s*[0-9]+\s*")
_DECIMAL_TEXT = re.compile(r"\s*([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?\s*")


def whole(value: Any, name: str, limit: int | None = COUNT_LIMIT) -> int:
    """A count >= 0 from a number or a numeric string (Langfuse sends "412"); None is 0.
    `limit`: counts from there on are refused (None for what is not a count, such as a time in nanoseconds)."""
    if value is None or value == "":
        return 0
    if isinstance(value, bool):
        raise ValueError(f"{name} is not a whole number >= 0 (got {value!r})")
    number: float
    if isinstance(value, int | float):
        number = value
    elif isinstance(value, str):
        # decimal digits only: no "0x10", "1_000", "1e3" or other scripts' digits
        if not _WHOLE_TEXT.fullmatch(value):
            raise ValueError(f"{name} is not a whole number >= 0 (got {value!r})")
        number = int(value)
    else:
        raise ValueError(f"{name} is not a whole number >= 0 (got {value!r})")
    if not math.isfinite(number) or number < 0 or number != int(number):
        raise ValueError(f"{name} is not a whole number >= 0 (got {value!r})")
    if limit is not None and number >= limit:
        raise ValueError(f"{too_large(name, limit)} (got {value!r})")
    return int(number)


def amount(value: Any, name: str) -> float:
    """A money amount >= 0; NaN when absent (meaning: price it)."""
    if value is None or value == "":
        return math.nan
    if isinstance(value, bool):
        raise ValueError(f"{name} is not a number >= 0 (got {value!r})")
    if isinstance(value, str) and not _DECIMAL_TEXT.fullmatch(value):  # no "1_000", "0x1p3", "١٢", "inf"
        raise ValueError(f"{name} is not a number >= 0 (got {value!r})")
    try:
        number = float(value.strip() if isinstance(value, str) else value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} is not a number >= 0 (got {value!r})") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} is not a number >= 0 (got {value!r})")
    if number >= AMOUNT_LIMIT:
        raise ValueError(f"{too_large(name, AMOUNT_LIMIT)} (got {value!r})")
    return number


def instant(value: Any, name: str) -> datetime:
    """A UTC datetime from ISO 8601 text (naive means UTC) or Unix seconds, within the accepted range."""
    try:
        return accepted(_instant(value, name), name, value)
    except (OverflowError, OSError):
        raise ValueError(f"{name} is out of range (got {value!r})") from None


FIRST_INSTANT = datetime(1900, 1, 2, tzinfo=UTC)
END_INSTANT = datetime(2261, 12, 31, tzinfo=UTC)  # excluded; as the events connector (docs/connectors.md)


def accepted(stamp: datetime, name: str, value: Any) -> datetime:
    """`stamp` if roi can hold it exactly (nanoseconds, a local day in the years 1900-2261), else ValueError:
    a row is quarantined, never moved to another date."""
    if not FIRST_INSTANT <= stamp < END_INSTANT:
        raise ValueError(f"{name} is out of range (accepted: 1900-01-02T00:00:00Z up to 2261-12-31T00:00:00Z)"
                         f" (got {value!r})")
    return stamp


def _from_seconds(seconds: float, name: str) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):  # beyond the years datetime holds
        raise ValueError(f"{name} is out of range (got {seconds!r})") from None


def _instant(value: Any, name: str) -> datetime:
    """A UTC datetime from ISO 8601 text (naive means UTC) or Unix seconds."""
    if isinstance(value, bool) or value is None or value == "":
        raise ValueError(f"{name} is missing")
    if isinstance(value, int | float):
        if not math.isfinite(value):
            raise ValueError(f"{name} is not a timestamp (got {value!r})")
        return _from_seconds(value, name)
    if isinstance(value, str):
        text = value.strip()
        if text.isdigit():
            return _from_seconds(int(text), name)
        try:
            parsed = datetime.fromisoformat(text.replace(" ", "T", 1) if "T" not in text else text)
        except ValueError:
            stamp = pd.to_datetime(text, utc=True, errors="coerce", format="ISO8601")
            if pd.isna(stamp):
                raise ValueError(f"{name} is not an ISO 8601 timestamp (got {value!r})") from None
            return stamp.to_pydatetime()
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    raise ValueError(f"{name} is not a timestamp (got {value!r})")


# ------------------------------------------------------------------ rows

FLUSH_ROWS = 50_000


class Rows:
    """Canonical rows gathered one record at a time, turned into one Chunk."""

    def __init__(self) -> None:
        self.event_ids: list[str] = []
        self.ts: list[datetime] = []
        self.dims: dict[str, list[str]] = {name: [] for name in DIMENSIONS}
        self.counts: dict[str, list[int]] = {name: [] for name in FRAME_COUNTS}
        self.cost: list[float] = []
        self.review: list[float] = []
        self.rejects: list[Reject] = []
        self.read = 0

    def __len__(self) -> int:
        return len(self.event_ids)

    def add(self, event_id: str, ts: datetime, dims: dict[str, str], *, cost: float = math.nan,
            human_review_minutes: float = 0.0, **counts: int) -> None:
        unknown = set(counts) - set(FRAME_COUNTS)
        if unknown:
            raise TypeError(f"not a count: {', '.join(sorted(unknown))}")
        self.event_ids.append(event_id)
        self.ts.append(ts)
        for name in DIMENSIONS:
            self.dims[name].append(dims.get(name, ""))
        for name in FRAME_COUNTS:
            self.counts[name].append(int(counts.get(name, 0)))
        self.cost.append(cost)
        self.review.append(human_review_minutes)

    def reject(self, where: str, line: int | None, reason: str, raw: str) -> None:
        self.rejects.append(Reject(where, line, reason, raw))

    def chunk(self) -> Chunk:
        data: dict[str, object] = {"event_id": np.asarray(self.event_ids, dtype=object)}
        data["ts"] = pd.to_datetime(pd.Series(self.ts, dtype=object), utc=True) if self.ts else \
            pd.Series([], dtype="datetime64[ns, UTC]")
        for name in DIMENSIONS:
            data[name] = np.asarray(self.dims[name], dtype=object)
        for name in FRAME_COUNTS:
            data[name] = np.asarray(self.counts[name], dtype=np.int64)
        data["cost"] = np.asarray(self.cost, dtype=np.float64)
        data["human_review_minutes"] = np.asarray(self.review, dtype=np.float64)
        return Chunk.of_pandas(pd.DataFrame(data), list(self.rejects), self.read)

    def full(self) -> bool:
        """Whether to hand this chunk on: pages are gathered so the cell builder sees few, large chunks."""
        return len(self) >= FLUSH_ROWS
