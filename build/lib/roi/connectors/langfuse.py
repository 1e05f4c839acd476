"""The `langfuse` connector: Langfuse's v2 metrics API (daily aggregates) or v2 observations (per call).

``mode = "metrics"`` asks ``/api/public/v2/metrics`` for one UTC day at a time,
grouped by the model and by whatever fields the dimension mapping names (they
must be groupable in Langfuse). ``mode = "observations"`` pages
``/api/public/v2/observations`` with its cursor, one row per model call, so any
field (``userId``, ``metadata.*``) can feed a dimension.

Tokens: Langfuse's ``usageDetails.input`` excludes ``input_cached_tokens``
(and ``output`` excludes ``output_reasoning_tokens``); roi's ``input_tokens``
includes the cached ones, so every input-like usage key is added up and the
cache reads are also counted as cached. The metrics API's ``inputTokens``
already sums every ``input*`` key, but cannot tell the cached part apart.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime, timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr, model_validator

from ..errors import ConnectorError
from .base import Chunk, register
from .http_client import HttpOptions, PulledConnector, basic_auth, day_bounds, raw_text
from .mapping import DimensionMap, Mapping, Rows, amount, instant, whole

METRICS_PATH = "/api/public/v2/metrics"
OBSERVATIONS_PATH = "/api/public/v2/observations"
# Fields the v2 metrics API can group observations by (userId and sessionId only filter).
GROUPABLE = frozenset({
    "environment", "type", "name", "level", "version", "tags", "release", "providedModelName",
    "promptName", "promptVersion", "parentObservationId", "traceName",
})
_SMALLEST_SPLIT = timedelta(hours=1)


class LangfuseOptions(HttpOptions):
    base_url: str = "https://cloud.langfuse.com"
    public_key: str = Field(min_length=1)
    secret_key: SecretStr
    mode: Literal["metrics", "observations"] = "metrics"
    observation_types: list[str] = Field(default_factory=lambda: ["GENERATION", "EMBEDDING"], min_length=1)
    row_limit: int = Field(default=1000, ge=1, le=1000)
    page_size: int = Field(default=1000, ge=1, le=1000)
    fields: str | None = Field(default=None, description="Observation field groups; derived when not given.")
    dimensions: DimensionMap = Field(default_factory=dict)

    @model_validator(mode="after")
    def _groupable(self) -> LangfuseOptions:
        if self.mode != "metrics":
            return self
        for name, source in self.dimensions.items():
            for path in source.paths:
                if path not in GROUPABLE:
                    raise ValueError(
                        f"dimensions.{name}: {path!r} cannot be grouped by the metrics API "
                        f"(groupable: {', '.join(sorted(GROUPABLE))}); use mode = \"observations\" for per-call fields"
                    )
        return self


def usage_tokens(usage: Any) -> tuple[int, int, int]:
    """(input incl. cached, output incl. reasoning, cached) from Langfuse usage details."""
    if not isinstance(usage, dict):
        return 0, 0, 0
    input_tokens = output_tokens = cached = 0
    for key, value in usage.items():
        name = str(key).lower()
        if name == "total":
            continue
        count = whole(value, f"usageDetails.{key}")
        if "output" in name or "completion" in name:
            output_tokens += count
        elif "input" in name or "prompt" in name or "cache" in name:
            input_tokens += count
            writes = "creation" in name or "write" in name
            if not writes and ("cached" in name or "cache_read" in name or "cache read" in name):
                cached += count
    return input_tokens, output_tokens, cached


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


@register("langfuse")
class LangfuseConnector(PulledConnector):
    """Langfuse traces: daily metrics or per-call observations."""

    Options = LangfuseOptions
    options: LangfuseOptions

    def __init__(self, name, options, session=None, sleep=None):
        super().__init__(name, options, session, sleep)
        self.mapping = Mapping(options.dimensions, {"model": "providedModelName"})

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": basic_auth(self.options.public_key, self.options.secret_key.get_secret_value())}

    def secrets(self) -> list[str]:
        return [self.options.secret_key.get_secret_value()]

    def probe(self) -> None:
        answer = self.client.get_json("/api/public/projects", what="check")
        if not isinstance(answer, dict):
            raise ConnectorError(f"source {self.name!r}: /api/public/projects did not answer a JSON object")

    def describe(self) -> str:
        return f"{self.options.mode}"

    def read_day(self, day: date) -> Iterator[Chunk]:
        if self.options.mode == "metrics":
            yield from self._metrics(day)
        else:
            yield from self._observations(day)

    # ------------------------------------------------------------- metrics

    def _metrics(self, day: date) -> Iterator[Chunk]:
        start, end = day_bounds(day)
        stamp = start + timedelta(hours=12)  # a daily aggregate keeps its UTC date in any local timezone
        rows = Rows()
        for index, (piece_start, record) in enumerate(self._metric_rows(start, end)):
            rows.read += 1
            where = f"{self.client.url(METRICS_PATH)} {day}"
            try:
                if not isinstance(record, dict):
                    raise ValueError("a row is not a JSON object")
                kind = record.get("type")
                if kind not in (None, "") and str(kind) not in self.options.observation_types:
                    continue
                when = record.get("time_dimension")
                if when not in (None, "") and instant(when, "time_dimension").date() != day:
                    continue  # another day's bucket: its own batch counts it
                requests = whole(record.get("count_count"), "count_count")
                input_tokens = whole(record.get("sum_inputTokens"), "sum_inputTokens")
                output_tokens = whole(record.get("sum_outputTokens"), "sum_outputTokens")
                cost = amount(record.get("sum_totalCost"), "sum_totalCost")
            except ValueError as exc:
                rows.reject(where, index + 1, str(exc), raw_text(record, self.client.redact))
                continue
            if requests == 0 and input_tokens + output_tokens == 0:
                continue  # the metrics API fills empty time buckets with zeros
            rows.add(f"metrics:{piece_start.isoformat()}:{index}", stamp, self.mapping.dimensions(record),
                     requests=requests, input_tokens=input_tokens, output_tokens=output_tokens, cost=cost)
        yield rows.chunk()

    def _metric_rows(self, start: datetime, end: datetime) -> Iterator[tuple[datetime, Any]]:
        """Rows for [start, end); a range that fills row_limit is split in two until it fits."""
        data = self._metrics_query(start, end)
        if len(data) < self.options.row_limit:
            for record in data:
                yield start, record
            return
        if end - start <= _SMALLEST_SPLIT:
            raise ConnectorError(
                f"source {self.name!r}: {METRICS_PATH}: {len(data)} groups between {_iso(start)} and {_iso(end)} "
                f"reach row_limit ({self.options.row_limit}); map fewer or coarser dimensions"
            )
        middle = start + (end - start) / 2
        yield from self._metric_rows(start, middle)
        yield from self._metric_rows(middle, end)

    def _metrics_query(self, start: datetime, end: datetime) -> list[Any]:
        fields = [*self.mapping.fields(), "type"]
        query = {
            "view": "observations",
            "dimensions": [{"field": field} for field in dict.fromkeys(fields)],
            "metrics": [
                {"measure": "count", "aggregation": "count"},
                {"measure": "inputTokens", "aggregation": "sum"},
                {"measure": "outputTokens", "aggregation": "sum"},
                {"measure": "totalCost", "aggregation": "sum"},
            ],
            "filters": [{"column": "type", "operator": "any of", "value": self.options.observation_types,
                         "type": "stringOptions"}],
            "timeDimension": {"granularity": "day"},
            "fromTimestamp": _iso(start),
            # toTimestamp is inclusive in Langfuse
            "toTimestamp": _iso(end - timedelta(milliseconds=1)),
            "config": {"row_limit": self.options.row_limit},
        }
        answer = self.client.get_json(METRICS_PATH, {"query": json.dumps(query)}, what=f"{_iso(start)}..{_iso(end)}")
        data = answer.get("data") if isinstance(answer, dict) else None
        if not isinstance(data, list):
            raise ConnectorError(f"source {self.name!r}: {METRICS_PATH}: the answer has no data list: "
                                 f"{raw_text(answer, self.client.redact)[:200]}")
        return data

    # ------------------------------------------------------------- observations

    def _fields(self) -> str:
        if self.options.fields:
            return self.options.fields
        groups = ["core", "basic", "usage", "model"]
        if any(path.startswith("metadata") for path in self.mapping.fields()):
            groups.append("metadata")
        return ",".join(groups)

    def _observations(self, day: date) -> Iterator[Chunk]:
        start, end = day_bounds(day)
        params: dict[str, Any] = {"fields": self._fields(), "limit": self.options.page_size,
                                  "fromStartTime": _iso(start), "toStartTime": _iso(end)}
        seen: set[str] = set()
        page = 0
        rows = Rows()
        while True:
            page += 1
            answer = self.client.get_json(OBSERVATIONS_PATH, params, what=f"{day} page {page}")
            data = answer.get("data") if isinstance(answer, dict) else None
            meta = answer.get("meta") if isinstance(answer, dict) else None
            if not isinstance(data, list) or not isinstance(meta, dict | None):
                raise ConnectorError(f"source {self.name!r}: {OBSERVATIONS_PATH} page {page} of {day}: "
                                     f"the answer has no data list: {raw_text(answer, self.client.redact)[:200]}")
            where = f"{self.client.url(OBSERVATIONS_PATH)} {day} page {page}"
            self._observation_rows(data, where, start, end, rows)
            if rows.full():
                yield rows.chunk()
                rows = Rows()
            cursor = (meta or {}).get("cursor")
            if not cursor:
                yield rows.chunk()
                return
            if cursor in seen:
                raise ConnectorError(f"source {self.name!r}: {OBSERVATIONS_PATH}: the cursor repeats on page {page}")
            seen.add(cursor)
            params["cursor"] = cursor

    def _observation_rows(self, data: list[Any], where: str, start: datetime, end: datetime, rows: Rows) -> None:
        for index, record in enumerate(data):
            rows.read += 1
            try:
                if not isinstance(record, dict):
                    raise ValueError("an observation is not a JSON object")
                kind = record.get("type")
                if kind not in (None, "") and str(kind) not in self.options.observation_types:
                    continue
                event_id = record.get("id")
                if not event_id:
                    raise ValueError("id is missing")
                ts = instant(record.get("startTime"), "startTime")
                usage = record.get("usageDetails")
                if usage is None:
                    usage = record.get("usage")
                input_tokens, output_tokens, cached = usage_tokens(usage)
                cost = amount(record.get("totalCost"), "totalCost")
                if math.isnan(cost) and isinstance(record.get("costDetails"), dict):
                    cost = amount(record["costDetails"].get("total"), "costDetails.total")
            except ValueError as exc:
                rows.reject(where, index + 1, str(exc), raw_text(record, self.client.redact))
                continue
            if not start <= ts < end:
                continue  # outside this day: another batch counts it
            if input_tokens + output_tokens == 0 and not cost > 0:
                continue  # no usage and no cost: not a model call
            rows.add(f"obs:{event_id}", ts, self.mapping.dimensions(record), requests=1,
                     input_tokens=input_tokens, output_tokens=output_tokens,
                     cached_input_tokens=min(cached, input_tokens), cost=cost)
