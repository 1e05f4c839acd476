"""The `intercom` connector: conversations (with Fin's AI agent fields) from the search API.

A conversation the AI agent took part in is one case, counted on the UTC day
it was created, with the outcome its ``ai_agent.resolution_state`` implies.
Both vocabularies are known: 2.15+ (``assumed_resolution``,
``confirmed_resolution``, ``escalated``, ``negative_feedback``,
``procedure_handoff``) and 2.11–2.14 (``assumed_resolution``,
``confirmed_resolution``, ``routed_to_team``, ``abandoned``).

What counts as resolved is the user's choice: with
``count_assumed_as_resolved = true`` (Fin's billing rule) an assumed
resolution is resolved; with ``false`` only a confirmed one is, and an assumed
one counts as abandoned (the user left without saying it helped). The choice
is written into every batch label, so the stored batches say which was used.
A resolution later reopened (``statistics.count_reopens``) counts as reopened.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, datetime
from typing import Any, Literal

from pydantic import Field, SecretStr

from ..domain import OUTCOMES
from ..errors import ConnectorError
from .base import Chunk, register
from .http_client import HttpOptions, PulledConnector, bearer_auth, day_bounds, raw_text
from .mapping import DimensionMap, Mapping, Rows, instant, resolve, whole

SEARCH_PATH = "/conversations/search"
Mapped = Literal["resolved", "escalated", "abandoned", "none"]
# resolution_state -> outcome; assumed_resolution depends on count_assumed_as_resolved
STATES: dict[str, Mapped] = {
    "confirmed_resolution": "resolved",
    "escalated": "escalated",          # 2.15+
    "procedure_handoff": "escalated",  # 2.15+: a procedure handed the customer to a human
    "negative_feedback": "abandoned",  # 2.15+: the customer said it did not help, and was not handed on
    "routed_to_team": "escalated",     # 2.11-2.14
    "abandoned": "abandoned",          # 2.11-2.14
}


class IntercomOptions(HttpOptions):
    base_url: str = "https://api.intercom.io"
    access_token: SecretStr
    api_version: str = "2.11"
    per_page: int = Field(default=150, ge=1, le=150)
    count_assumed_as_resolved: bool = True
    ai_agent_only: bool = True
    resolution_states: dict[str, Mapped] = Field(default_factory=dict)
    reopens: Literal["resolved", "any", "ignore"] = "resolved"
    dimensions: DimensionMap = Field(default_factory=dict)


@register("intercom")
class IntercomConnector(PulledConnector):
    """Intercom conversations as cases with outcomes."""

    Options = IntercomOptions
    options: IntercomOptions

    def __init__(self, name, options, session=None, sleep=None):
        super().__init__(name, options, session, sleep)
        self.mapping = Mapping(options.dimensions, {"channel": "source.type"})
        assumed: Mapped = "resolved" if options.count_assumed_as_resolved else "abandoned"
        self.states: dict[str, Mapped] = {**STATES, "assumed_resolution": assumed, **options.resolution_states}

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": bearer_auth(self.options.access_token.get_secret_value()),
                "Intercom-Version": self.options.api_version}

    def secrets(self) -> list[str]:
        return [self.options.access_token.get_secret_value()]

    def describe(self) -> str:
        if self.states["assumed_resolution"] == "resolved":
            return "resolved = confirmed + assumed resolutions"
        return f"resolved = confirmed resolutions only; assumed counts as {self.states['assumed_resolution']}"

    def probe(self) -> None:
        answer = self.client.get_json("/me", what="check")
        if not isinstance(answer, dict):
            raise ConnectorError(f"source {self.name!r}: /me did not answer a JSON object")

    def read_day(self, day: date) -> Iterator[Chunk]:
        start, end = day_bounds(day)
        # the search API has no >= or <=: created_at > start - 1 and < end is the day
        query = {"operator": "AND", "value": [
            {"field": "created_at", "operator": ">", "value": int(start.timestamp()) - 1},
            {"field": "created_at", "operator": "<", "value": int(end.timestamp())},
        ]}
        pagination: dict[str, Any] = {"per_page": self.options.per_page}
        seen: set[str] = set()
        page = 0
        rows = Rows()
        while True:
            page += 1
            answer = self.client.post_json(SEARCH_PATH, {"query": query, "pagination": pagination},
                                           what=f"{day} page {page}")
            data = answer.get("conversations") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise ConnectorError(f"source {self.name!r}: {SEARCH_PATH} page {page} of {day}: the answer has no "
                                     f"conversations list: {raw_text(answer, self.client.redact)[:200]}")
            self._rows(data, f"{self.client.url(SEARCH_PATH)} {day} page {page}", start, end, rows)
            if rows.full():
                yield rows.chunk()
                rows = Rows()
            cursor = resolve(answer, "pages.next.starting_after")
            if not cursor:
                yield rows.chunk()
                return
            if cursor in seen:
                raise ConnectorError(f"source {self.name!r}: {SEARCH_PATH}: starting_after repeats on page {page}")
            seen.add(cursor)
            pagination = {"per_page": self.options.per_page, "starting_after": cursor}

    def _rows(self, data: list[Any], where: str, start: datetime, end: datetime, rows: Rows) -> None:
        for index, conversation in enumerate(data):
            rows.read += 1
            try:
                if not isinstance(conversation, dict) or conversation.get("id") in (None, ""):
                    raise ValueError("a conversation without an id")
                created = instant(conversation.get("created_at"), "created_at")
                counts = self.outcomes(conversation)
            except ValueError as exc:
                rows.reject(where, index + 1, str(exc), raw_text(conversation, self.client.redact))
                continue
            if not start <= created < end or counts is None or not any(counts.values()):
                continue
            rows.add(f"intercom:{conversation['id']}", created, self.mapping.dimensions(conversation), **counts)

    def outcomes(self, conversation: dict[str, Any]) -> dict[str, int] | None:
        """Outcome counts of one conversation; None when the AI agent took no part."""
        if self.options.ai_agent_only and not _ai_took_part(conversation):
            return None
        state = resolve(conversation, "ai_agent.resolution_state")
        counts = dict.fromkeys(OUTCOMES, 0)
        if state not in (None, ""):
            outcome = self.states.get(str(state))
            if outcome is None:
                raise ValueError(f"ai_agent.resolution_state {state!r} is not known; "
                                 "map it with the resolution_states option")
            if outcome != "none":
                counts[outcome] = 1
        reopens = whole(resolve(conversation, "statistics.count_reopens"), "statistics.count_reopens")
        if reopens > 0 and (self.options.reopens == "any" or (self.options.reopens == "resolved" and counts["resolved"])):
            counts["reopened"] = 1
        return counts


def _ai_took_part(conversation: dict[str, Any]) -> bool:
    """``ai_agent_participated``; when a payload lacks it, an ``ai_agent`` with a state says so."""
    flag = conversation.get("ai_agent_participated")
    if flag is not None:
        return flag is True
    return resolve(conversation, "ai_agent.resolution_state") not in (None, "")
