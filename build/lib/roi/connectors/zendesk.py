"""The `zendesk` connector: tickets from the incremental cursor export, with their metric sets.

A ticket is one case, counted on the UTC day it was created, with the outcome
its current state implies. Zendesk has no "resolved by AI" field: accounts
mark it with tags, custom fields, or by a human taking the ticket, so each
outcome is a configurable rule and the first rule in ``precedence`` that
matches wins. ``reopens`` in the metric set marks a reversal (``reopened``).

Why one export per window and not one per day: the export lists tickets
*updated* since ``start_time``, not created on a day, so the connector reads
it once from the window's first day to the end of the stream and hands each
day batch the tickets created that day. Re-pulling a day replaces it with the
tickets' latest state; pull recent days again (a lookback) while tickets settle.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr, model_validator

from ..config import STRICT
from ..domain import OUTCOMES
from ..errors import ConnectorError
from .base import Batch, Chunk, Window, register
from .http_client import (
    HttpOptions,
    PulledConnector,
    basic_auth,
    bearer_auth,
    day_bounds,
    raw_text,
    window_days,
)
from .mapping import DimensionMap, Mapping, Rows, instant, resolve, text_of, whole

EXPORT_PATH = "/api/v2/incremental/tickets/cursor.json"
Outcome = Literal["resolved", "escalated", "abandoned"]


class OutcomeRule(BaseModel):
    """When a ticket has one outcome: any listed condition holds (and its status is allowed)."""

    model_config = STRICT

    tags: list[str] = Field(default_factory=list)
    fields: dict[str, str | int | bool | list[str]] = Field(default_factory=dict)
    assigned: bool = False
    ignore_assignees: list[str] = Field(default_factory=list)
    min_replies: int | None = Field(default=None, ge=0)
    statuses: list[str] | None = None

    def matches(self, ticket: dict[str, Any], metric: dict[str, Any]) -> bool:
        if self.statuses is not None and str(ticket.get("status") or "") not in self.statuses:
            return False
        found: list[bool] = []
        if self.tags:
            tags = ticket.get("tags") if isinstance(ticket.get("tags"), list) else []
            found.append(bool({str(tag) for tag in tags} & set(self.tags)))
        for field_id, expected in self.fields.items():
            found.append(_field_matches(resolve(ticket.get("custom_fields"), field_id), expected))
        if self.assigned:
            assignee = ticket.get("assignee_id")
            found.append(assignee not in (None, "") and text_of(assignee) not in self.ignore_assignees)
        if self.min_replies is not None:
            found.append(whole(metric.get("replies"), "replies") >= self.min_replies)
        if not found:
            return self.statuses is not None
        return any(found)


def _field_matches(value: Any, expected: str | int | bool | list[str]) -> bool:
    if isinstance(expected, bool):
        return bool(value) is expected and value is not None
    wanted = {str(item) for item in expected} if isinstance(expected, list) else {text_of(expected)}
    given = {text_of(item) for item in value} if isinstance(value, list) else {text_of(value)}
    return bool(given & wanted)


class ZendeskOptions(HttpOptions):
    subdomain: str | None = None
    email: str | None = None
    api_token: SecretStr | None = None
    oauth_token: SecretStr | None = None
    page_size: int = Field(default=1000, ge=1, le=1000)
    resolved: OutcomeRule = OutcomeRule(tags=["ai_resolved"])
    escalated: OutcomeRule = OutcomeRule(tags=["ai_handoff"], assigned=True)
    abandoned: OutcomeRule = OutcomeRule()
    precedence: list[Outcome] = Field(default_factory=lambda: ["resolved", "escalated", "abandoned"])
    reopens: Literal["resolved", "any", "ignore"] = "resolved"
    skip_statuses: list[str] = Field(default_factory=lambda: ["deleted"])
    dimensions: DimensionMap = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _base_url(cls, data: Any) -> Any:
        if isinstance(data, dict) and not data.get("base_url") and data.get("subdomain"):
            data = {**data, "base_url": f"https://{data['subdomain']}.zendesk.com"}
        return data

    @model_validator(mode="after")
    def _auth(self) -> ZendeskOptions:
        basic = self.email is not None and self.api_token is not None
        if basic == (self.oauth_token is not None):
            raise ValueError("give either email and api_token, or oauth_token")
        if sorted(self.precedence) != sorted(set(self.precedence)):
            raise ValueError("precedence lists an outcome twice")
        return self


class _Export:
    """The window's export, read once by whichever day batch asks first (again if that failed)."""

    def __init__(self, fetch: Callable[[], tuple[dict[Any, tuple[dict, dict]], Rows]]):
        self._fetch = fetch
        self._result: tuple[dict[Any, tuple[dict, dict]], Rows] | None = None

    def get(self) -> tuple[dict[Any, tuple[dict, dict]], Rows]:
        if self._result is None:
            self._result = self._fetch()
        return self._result


@register("zendesk")
class ZendeskConnector(PulledConnector):
    """Zendesk Support tickets as cases with outcomes."""

    Options = ZendeskOptions
    options: ZendeskOptions

    def __init__(self, name, options, session=None, sleep=None):
        super().__init__(name, options, session, sleep)
        self.mapping = Mapping(options.dimensions, {"channel": "via.channel"})

    def auth_headers(self) -> dict[str, str]:
        options = self.options
        if options.oauth_token is not None:
            return {"Authorization": bearer_auth(options.oauth_token.get_secret_value())}
        return {"Authorization": basic_auth(f"{options.email}/token", options.api_token.get_secret_value())}

    def secrets(self) -> list[str]:
        return [secret.get_secret_value() for secret in (self.options.api_token, self.options.oauth_token) if secret]

    def probe(self) -> None:
        answer = self.client.get_json("/api/v2/users/me.json", what="check")
        user = answer.get("user") if isinstance(answer, dict) else None
        if not isinstance(user, dict) or user.get("id") is None:
            raise ConnectorError(f"source {self.name!r}: Zendesk answered as the anonymous user; "
                                 "the credentials were not accepted")

    def batches(self, window: Window) -> Iterator[Batch]:
        days = window_days(window)
        if not days:
            return
        export = _Export(lambda: self._export(days[0]))
        for batch in super().batches(window):
            batch.read = lambda day=batch.day: self._day(export, day, first=day == days[0])
            yield batch

    def _export(self, first_day: date) -> tuple[dict[Any, tuple[dict, dict]], Rows]:
        start = day_bounds(first_day)[0]
        latest = datetime.now(UTC) - timedelta(minutes=1)  # Zendesk refuses a start_time less than a minute ago
        tickets: dict[Any, tuple[dict, dict]] = {}
        problems = Rows()
        if start > latest:
            return tickets, problems
        params: dict[str, Any] = {"start_time": int(start.timestamp()), "include": "metric_sets",
                                  "per_page": self.options.page_size}
        seen: set[str] = set()
        page = 0
        while True:
            page += 1
            answer = self.client.get_json(EXPORT_PATH, params, what=f"page {page}")
            batch = answer.get("tickets") if isinstance(answer, dict) else None
            metrics = answer.get("metric_sets", []) if isinstance(answer, dict) else None
            if not isinstance(batch, list) or not isinstance(metrics, list):
                raise ConnectorError(f"source {self.name!r}: {EXPORT_PATH} page {page}: the answer has no tickets "
                                     f"list: {raw_text(answer, self.client.redact)[:200]}")
            by_ticket = {item.get("ticket_id"): item for item in metrics if isinstance(item, dict)}
            where = f"{self.client.url(EXPORT_PATH)} page {page}"
            for index, ticket in enumerate(batch):
                if not isinstance(ticket, dict) or ticket.get("id") is None:
                    problems.read += 1
                    problems.reject(where, index + 1, "a ticket without an id", raw_text(ticket, self.client.redact))
                    continue
                # the stream is ordered by update: a ticket seen again is a newer state of it
                tickets[ticket["id"]] = (ticket, by_ticket.get(ticket["id"]) or {})
            if answer.get("end_of_stream"):
                return tickets, problems
            cursor = answer.get("after_cursor")
            if not cursor or cursor in seen:
                raise ConnectorError(f"source {self.name!r}: {EXPORT_PATH} page {page}: no new after_cursor before "
                                     "end_of_stream")
            seen.add(cursor)
            params = {"cursor": cursor, "include": "metric_sets", "per_page": self.options.page_size}

    def _day(self, export: _Export, day: date, *, first: bool) -> Iterator[Chunk]:
        tickets, problems = export.get()
        start, end = day_bounds(day)
        rows = Rows()
        if first:  # rows that cannot be placed on a day are kept with the window's first day
            rows.rejects.extend(problems.rejects)
            rows.read += problems.read
        where = f"{self.client.url(EXPORT_PATH)} {day}"
        for ticket_id, (ticket, metric) in tickets.items():
            try:
                created = instant(ticket.get("created_at"), "created_at")
            except ValueError as exc:
                if first:
                    rows.read += 1
                    rows.reject(where, None, f"ticket {ticket_id}: {exc}", raw_text(ticket, self.client.redact))
                continue
            if not start <= created < end:
                continue
            rows.read += 1
            if str(ticket.get("status") or "") in self.options.skip_statuses:
                continue
            try:
                counts = self.outcomes(ticket, metric)
            except ValueError as exc:
                rows.reject(where, None, f"ticket {ticket_id}: {exc}", raw_text(ticket, self.client.redact))
                continue
            if not any(counts.values()):
                continue  # no outcome yet: not a case
            record = {**ticket, "metric_set": metric}
            rows.add(f"zendesk:{ticket_id}", created, self.mapping.dimensions(record), **counts)
        yield rows.chunk()

    def outcomes(self, ticket: dict[str, Any], metric: dict[str, Any]) -> dict[str, int]:
        """The ticket's outcome counts under the configured rules."""
        counts = dict.fromkeys(OUTCOMES, 0)
        for name in self.options.precedence:
            if getattr(self.options, name).matches(ticket, metric):
                counts[name] = 1
                break
        reopened = whole(metric.get("reopens"), "reopens") > 0
        if reopened and (self.options.reopens == "any" or (self.options.reopens == "resolved" and counts["resolved"])):
            counts["reopened"] = 1
        return counts
