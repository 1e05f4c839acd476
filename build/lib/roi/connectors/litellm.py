"""The `litellm` connector: the LiteLLM proxy's spend logs, one row per call.

Reads ``/spend/logs/v2`` page by page; a proxy that answers 404 there (older
than the paged endpoint) is read through ``/spend/logs?summarize=false``
instead, in one answer per day. ``spend`` (what the gateway charged) is the
cost; a call with ``status = failure`` is a request that carries only its
spend, never tokens. ``prompt_tokens`` already include the cached ones
(``metadata.additional_usage_values.prompt_tokens_details.cached_tokens``).
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from datetime import date, datetime
from typing import Any

from pydantic import Field, SecretStr

from ..errors import ConnectorError
from .base import Chunk, register
from .http_client import HttpError, HttpOptions, PulledConnector, bearer_auth, day_bounds, raw_text
from .mapping import DimensionMap, Mapping, Rows, amount, instant, resolve, whole

PAGED_PATH = "/spend/logs/v2"
LEGACY_PATH = "/spend/logs"
CACHED_PATH = "metadata.additional_usage_values.prompt_tokens_details.cached_tokens"


class LiteLLMOptions(HttpOptions):
    api_key: SecretStr
    page_size: int = Field(default=100, ge=1, le=100)
    dimensions: DimensionMap = Field(default_factory=dict)


def _decoded(value: Any) -> Any:
    """LiteLLM stores JSON columns (metadata, request_tags) that some versions send as text."""
    if isinstance(value, str) and value[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S")


@register("litellm")
class LiteLLMConnector(PulledConnector):
    """LiteLLM proxy spend logs."""

    Options = LiteLLMOptions
    options: LiteLLMOptions

    def __init__(self, name, options, session=None, sleep=None):
        super().__init__(name, options, session, sleep)
        self.mapping = Mapping(options.dimensions, {
            "tenant": "end_user", "provider": "custom_llm_provider", "model": "model",
        })
        self.legacy = False

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": bearer_auth(self.options.api_key.get_secret_value())}

    def secrets(self) -> list[str]:
        return [self.options.api_key.get_secret_value()]

    def probe(self) -> None:
        start, end = day_bounds(date.today())
        try:
            self.client.get_json(PAGED_PATH, {"start_date": _stamp(start), "end_date": _stamp(end), "page": 1,
                                              "page_size": 1}, what="check")
        except HttpError as exc:
            if exc.status != 404:
                raise
            self.client.get_json(LEGACY_PATH, {"start_date": start.date().isoformat(),
                                               "end_date": end.date().isoformat(), "summarize": "false"},
                                 what="check")

    def read_day(self, day: date) -> Iterator[Chunk]:
        start, end = day_bounds(day)
        if not self.legacy:
            try:
                yield from self._paged(day, start, end)
                return
            except HttpError as exc:
                if exc.status != 404:
                    raise
                self.legacy = True  # an older proxy: no paged endpoint
        yield from self._legacy(day, start, end)

    def _paged(self, day: date, start: datetime, end: datetime) -> Iterator[Chunk]:
        params = {"start_date": _stamp(start), "end_date": _stamp(end), "page_size": self.options.page_size}
        page = 1
        rows = Rows()
        while True:
            answer = self.client.get_json(PAGED_PATH, {**params, "page": page}, what=f"{day} page {page}")
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise ConnectorError(f"source {self.name!r}: {PAGED_PATH} page {page} of {day}: the answer has no "
                                     f"data list: {raw_text(answer, self.client.redact)[:200]}")
            self._rows(data, f"{self.client.url(PAGED_PATH)} {day} page {page}", start, end, rows)
            if rows.full():
                yield rows.chunk()
                rows = Rows()
            if page >= self._page_count(answer, page, len(data)) or not data:
                break
            page += 1
        yield rows.chunk()

    def _page_count(self, answer: dict[str, Any], page: int, rows: int) -> int:
        """total_pages; else from total and page_size; else one more page while pages come full."""
        try:
            if answer.get("total_pages") is not None:
                return whole(answer["total_pages"], "total_pages")
            if answer.get("total") is not None:
                size = whole(answer.get("page_size"), "page_size") or self.options.page_size
                return -(-whole(answer["total"], "total") // size)
        except ValueError as exc:
            raise ConnectorError(f"source {self.name!r}: {PAGED_PATH}: {exc}") from None
        return page + 1 if rows >= self.options.page_size else page

    def _legacy(self, day: date, start: datetime, end: datetime) -> Iterator[Chunk]:
        # Dates only; the proxy includes end_date's midnight, which the day filter below drops.
        params = {"start_date": start.date().isoformat(), "end_date": end.date().isoformat(), "summarize": "false"}
        answer = self.client.get_json(LEGACY_PATH, params, what=str(day))
        if not isinstance(answer, list):
            raise ConnectorError(f"source {self.name!r}: {LEGACY_PATH} for {day}: the answer is not a list: "
                                 f"{raw_text(answer, self.client.redact)[:200]}")
        if answer and all(isinstance(row, dict) and "request_id" not in row and "models" in row for row in answer):
            raise ConnectorError(f"source {self.name!r}: {LEGACY_PATH} answers only daily summaries "
                                 "(this proxy ignores summarize=false); upgrade LiteLLM to read per-call spend logs")
        rows = Rows()
        self._rows(answer, f"{self.client.url(LEGACY_PATH)} {day}", start, end, rows)
        yield rows.chunk()

    def _rows(self, data: list[Any], where: str, start: datetime, end: datetime, rows: Rows) -> None:
        for index, raw in enumerate(data):
            rows.read += 1
            try:
                if not isinstance(raw, dict):
                    raise ValueError("a spend log is not a JSON object")
                record = {**raw, "metadata": _decoded(raw.get("metadata")),
                          "request_tags": _decoded(raw.get("request_tags"))}
                request_id = record.get("request_id")
                if not request_id:
                    raise ValueError("request_id is missing")
                ts = instant(record.get("startTime"), "startTime")
                spend = amount(record.get("spend"), "spend")
                failed = str(record.get("status") or "").lower() == "failure"
                if failed:
                    input_tokens = output_tokens = cached = 0
                else:
                    input_tokens = whole(record.get("prompt_tokens"), "prompt_tokens")
                    output_tokens = whole(record.get("completion_tokens"), "completion_tokens")
                    cached = min(whole(resolve(record, CACHED_PATH), "cached_tokens"), input_tokens)
            except ValueError as exc:
                rows.reject(where, index + 1, str(exc), raw_text(raw, self.client.redact))
                continue
            if not start <= ts < end:
                continue
            # a failed call costs what the proxy charged, usually nothing; it is never priced from tokens
            cost = (0.0 if math.isnan(spend) else spend) if failed else spend
            rows.add(f"litellm:{request_id}", ts, self.mapping.dimensions(record), requests=1,
                     input_tokens=input_tokens, output_tokens=output_tokens, cached_input_tokens=cached, cost=cost)

