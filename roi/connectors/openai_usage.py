"""The `openai_usage` connector: OpenAI's organization usage (completions) and costs APIs.

Usage gives requests and tokens per UTC day, project and model; costs give the
billed amounts per day, project and line item. Money is counted once:

* ``cost = "billed"`` (default): usage rows carry cost 0 and the billed
  amounts arrive as rows without requests (model taken from the line item,
  e.g. ``gpt-4o-mini-2024-07-18, input``), so ``token_cost`` is what OpenAI bills;
* ``cost = "priced"``: the costs API is not read and roi prices the tokens.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import date, timedelta
from typing import Any, Literal

from pydantic import Field, SecretStr

from ..errors import ConnectorError
from .base import Chunk, register
from .http_client import HttpError, HttpOptions, PulledConnector, bearer_auth, day_bounds, log, raw_text
from .mapping import DimensionMap, Mapping, Rows, amount, instant, whole

USAGE_PATH = "/v1/organization/usage/completions"
COSTS_PATH = "/v1/organization/costs"
USAGE_GROUPS = ("project_id", "model", "user_id", "api_key_id", "batch", "service_tier")


class OpenAIUsageOptions(HttpOptions):
    base_url: str = "https://api.openai.com"
    admin_key: SecretStr
    cost: Literal["billed", "priced"] = "billed"
    dimensions: DimensionMap = Field(default_factory=dict)


def line_item_model(line_item: str) -> str:
    """``gpt-4o-mini-2024-07-18, input`` -> ``gpt-4o-mini-2024-07-18``; other items stay whole."""
    head, comma, _ = line_item.partition(", ")
    return head.strip() if comma else line_item.strip()


@register("openai_usage")
class OpenAIUsageConnector(PulledConnector):
    """OpenAI organization usage and billed costs."""

    Options = OpenAIUsageOptions
    options: OpenAIUsageOptions

    def __init__(self, name, options, session=None, sleep=None):
        super().__init__(name, options, session, sleep)
        self.mapping = Mapping(options.dimensions, {
            "provider": {"value": "openai"}, "model": "model", "tenant": "project_id",
        })

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": bearer_auth(self.options.admin_key.get_secret_value())}

    def secrets(self) -> list[str]:
        return [self.options.admin_key.get_secret_value()]

    def describe(self) -> str:
        return f"cost = {self.options.cost}"

    def probe(self) -> None:
        start, _ = day_bounds(date.today() - timedelta(days=1))
        self.client.get_json(USAGE_PATH, {"start_time": int(start.timestamp()), "bucket_width": "1d", "limit": 1},
                             what="check")

    def group_by(self) -> list[str]:
        wanted = {"project_id", "model"}
        for path in self.mapping.fields():
            if path in USAGE_GROUPS:
                wanted.add(path)
        return [name for name in USAGE_GROUPS if name in wanted]

    def read_day(self, day: date) -> Iterator[Chunk]:
        start, end = day_bounds(day)
        window = {"start_time": int(start.timestamp()), "end_time": int(end.timestamp()), "bucket_width": "1d"}
        billed = self.options.cost == "billed"
        costs: list[Chunk] = []
        if billed:
            # costs first: a usage row may carry cost 0 only if the day's billed amounts are there
            try:
                pages = self._pages(COSTS_PATH, {**window, "group_by": ["project_id", "line_item"]}, day)
                costs = [self._cost_rows(buckets, day, page) for page, buckets in enumerate(pages, start=1)]
            except HttpError as exc:
                if exc.status != 404:
                    raise
                log.warning("source %s: %s has no costs endpoint; pricing the tokens of %s instead",
                            self.name, self.options.base_url, day)
                billed = False
        params = {**window, "group_by": self.group_by()}
        for page, buckets in enumerate(self._pages(USAGE_PATH, params, day), start=1):
            yield self._usage_rows(buckets, day, page, billed)
        yield from costs

    def _pages(self, path: str, params: dict[str, Any], day: date) -> Iterator[list[Any]]:
        query = dict(params)
        seen: set[str] = set()
        page = 0
        while True:
            page += 1
            answer = self.client.get_json(path, query, what=f"{day} page {page}")
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise ConnectorError(f"source {self.name!r}: {path} page {page} of {day}: the answer has no data "
                                     f"list: {raw_text(answer, self.client.redact)[:200]}")
            yield data
            following = answer.get("next_page")
            if not answer.get("has_more") or not following:
                return
            if following in seen:
                raise ConnectorError(f"source {self.name!r}: {path}: next_page repeats on page {page}")
            seen.add(following)
            query["page"] = following

    def _results(self, buckets: list[Any], day: date, where: str, rows: Rows) -> Iterator[tuple[int, int, Any]]:
        """(bucket start, index, result) for the buckets of this day; malformed buckets become rejects."""
        for number, bucket in enumerate(buckets, start=1):
            try:
                if not isinstance(bucket, dict) or not isinstance(bucket.get("results"), list):
                    raise ValueError("a bucket is not an object with a results list")
                started = instant(whole(bucket.get("start_time"), "start_time", limit=None), "start_time")
            except ValueError as exc:
                rows.reject(where, number, str(exc), raw_text(bucket, self.client.redact))
                continue
            if started.date() != day:
                continue
            for index, result in enumerate(bucket["results"]):
                rows.read += 1
                yield int(started.timestamp()), index, result

    def _usage_rows(self, buckets: list[Any], day: date, page: int, billed: bool) -> Chunk:
        rows = Rows()
        where = f"{self.client.url(USAGE_PATH)} {day} page {page}"
        stamp = day_bounds(day)[0] + timedelta(hours=12)  # a UTC-day bucket keeps its date in any timezone
        given = 0.0 if billed else math.nan
        for started, index, result in self._results(buckets, day, where, rows):
            try:
                if not isinstance(result, dict):
                    raise ValueError("a result is not a JSON object")
                input_tokens = whole(result.get("input_tokens"), "input_tokens")
                cached = whole(result.get("input_cached_tokens"), "input_cached_tokens")
                output_tokens = whole(result.get("output_tokens"), "output_tokens")
                requests = whole(result.get("num_model_requests"), "num_model_requests")
                if cached > input_tokens:
                    raise ValueError("input_cached_tokens exceeds input_tokens (input_tokens includes the cached ones)")
            except ValueError as exc:
                rows.reject(where, index + 1, str(exc), raw_text(result, self.client.redact))
                continue
            if requests == 0 and input_tokens + output_tokens == 0:
                continue
            rows.add(f"usage:{started}:{page}:{index}", stamp, self.mapping.dimensions(result), requests=requests,
                     input_tokens=input_tokens, output_tokens=output_tokens, cached_input_tokens=cached, cost=given)
        return rows.chunk()

    def _cost_rows(self, buckets: list[Any], day: date, page: int) -> Chunk:
        rows = Rows()
        where = f"{self.client.url(COSTS_PATH)} {day} page {page}"
        stamp = day_bounds(day)[0] + timedelta(hours=12)
        for started, index, result in self._results(buckets, day, where, rows):
            try:
                if not isinstance(result, dict) or not isinstance(result.get("amount"), dict):
                    raise ValueError("a result has no amount object")
                currency = str(result["amount"].get("currency") or "usd").lower()
                if currency != "usd":
                    raise ValueError(f"amount.currency is {currency!r}, not usd")
                value = amount(result["amount"].get("value"), "amount.value")
                if math.isnan(value):
                    raise ValueError("amount.value is missing")
            except ValueError as exc:
                rows.reject(where, index + 1, str(exc), raw_text(result, self.client.redact))
                continue
            item = str(result.get("line_item") or "")
            record = {**result, "model": line_item_model(item) if item else ""}
            rows.add(f"cost:{started}:{page}:{index}", stamp, self.mapping.dimensions(record), cost=value)
        return rows.chunk()
