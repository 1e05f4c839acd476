"""Small shared vocabulary of roi: dimensions, metrics, periods. No I/O."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from .errors import UsageError, escaped

DIMENSIONS: tuple[str, ...] = ("tenant", "channel", "topic", "language", "plan_tier", "provider", "model")

# Additive metrics of a cell (DESIGN section 3), in the order they are shown.
CELL_METRICS: tuple[str, ...] = (
    "requests",
    "input_tokens",
    "output_tokens",
    "cached_input_tokens",
    "token_cost",
    "unpriced_requests",
    "resolved",
    "escalated",
    "abandoned",
    "reopened",
    "human_review_minutes",
)
FLOAT_METRICS: tuple[str, ...] = ("token_cost", "human_review_minutes")
COUNT_METRICS: tuple[str, ...] = tuple(name for name in CELL_METRICS if name not in FLOAT_METRICS)

# The canonical event frame a connector yields: `ts` (UTC) or `day` (already local) says when, the
# dimensions, these counts, `cost` (NaN: price it from the tokens) and the review minutes, and
# `event_id` (may be absent) to deduplicate within a batch. Cells sum them per day and dimensions.
EVENT_COUNTS: tuple[str, ...] = (
    "requests", "input_tokens", "output_tokens", "cached_input_tokens", "resolved", "escalated", "abandoned",
    "reopened",
)
EVENT_FLOATS: tuple[str, ...] = ("cost", "human_review_minutes")

# Derived, additive money and counts (DESIGN section 4), summed from cells.
VALUED_METRICS: tuple[str, ...] = (
    "cases",
    "net_resolved",
    "review_cost",
    "fixed_cost",
    "total_cost",
    "failure_cost",
    "value",
    "net_value",
)
# Ratios, computed after summing.
RATIO_METRICS: tuple[str, ...] = (
    "roi",
    "cost_per_resolved_case",
    "fully_loaded_cost_per_resolved_case",
    "resolution_rate",
    "escalation_rate",
)
REPORT_METRICS: tuple[str, ...] = CELL_METRICS + VALUED_METRICS + RATIO_METRICS
ADDITIVE: tuple[str, ...] = CELL_METRICS + VALUED_METRICS  # what sums from cells to cohorts
# A value model version's figures, in the order they are shown.
ASSUMPTIONS: tuple[str, ...] = (
    "value_per_resolution", "escalation_cost", "reopen_cost", "abandonment_cost", "review_cost_per_hour",
)


def json_number(name: str, value: object) -> int | float | None:
    """A figure as JSON shows it: counts as integers, money and ratios unrounded, nothing undefined."""
    if value is None:
        return None
    number = float(value)  # type: ignore[arg-type]
    if math.isnan(number) or math.isinf(number):
        return None
    if name in INTEGER_METRICS:
        return int(round(number))
    return number


def share_column(index: int) -> str:
    """Column holding a cell's fraction of fixed cost number `index`."""
    return f"fixed_share_{index}"

MONEY_METRICS: frozenset[str] = frozenset(
    {
        "token_cost",
        "review_cost",
        "fixed_cost",
        "total_cost",
        "failure_cost",
        "value",
        "net_value",
        "unallocated_fixed_cost",
        "cost_per_resolved_case",
        "fully_loaded_cost_per_resolved_case",
    }
)
# Inputs beyond these are damage, not data: many summed stay finite, and amounts exact to the cent.
AMOUNT_LIMIT = 1e12  # cost_usd, human_review_minutes and the like, per row
COUNT_LIMIT = 10**18  # tokens, requests and outcome counts, per row (18 digits)


def too_large(name: str, limit: float) -> str:
    """The reason a row is quarantined when a value is at or above its limit."""
    return f"{name} is too large (accepted: below 10^{round(math.log10(limit))})"


INTEGER_METRICS: frozenset[str] = frozenset(CELL_METRICS) - frozenset(FLOAT_METRICS) | {"cases", "net_resolved"}
PERCENT_METRICS: frozenset[str] = frozenset({"roi", "resolution_rate", "escalation_rate"})

OUTCOMES: tuple[str, ...] = ("resolved", "escalated", "abandoned", "reopened")
UNATTRIBUTED = "(unattributed)"

@dataclass(slots=True)
class Reject:
    """A row that could not be read, kept with where it came from and why."""

    file: str
    line: int | None
    reason: str
    raw: str

    def __post_init__(self) -> None:
        # what a row holds comes from outside: NUL and lone surrogates are escaped for both stores
        self.file = escaped(self.file)
        self.reason = escaped(self.reason)
        self.raw = escaped(self.raw, keep_line_breaks=True)


# Years 1900-2999 only (as the API): a month must have a next month the calendar can hold.
_PERIOD = re.compile(r"^((?:19|2[0-9])[0-9]{2})-(0[1-9]|1[0-2])$")


@dataclass(frozen=True, slots=True, order=True)
class Period:
    """A calendar month in the configured timezone."""

    year: int
    month: int

    @classmethod
    def parse(cls, text: str, parameter: str = "period") -> Period:
        match = _PERIOD.match(text or "")
        if not match:
            raise UsageError(f"{parameter}: {text!r} is not a month; expected YYYY-MM (years 1900 to 2999), e.g. 2026-03", parameter)
        return cls(int(match.group(1)), int(match.group(2)))

    @classmethod
    def of(cls, day: date) -> Period:
        return cls(day.year, day.month)

    @property
    def start(self) -> date:
        return date(self.year, self.month, 1)

    @property
    def end(self) -> date:
        """First day of the next month (exclusive)."""
        return self.next().start

    def next(self) -> Period:
        return Period(self.year + self.month // 12, self.month % 12 + 1)

    def previous(self) -> Period:
        return Period(self.year - (self.month == 1), (self.month - 2) % 12 + 1)

    def __str__(self) -> str:
        return f"{self.year:04d}-{self.month:02d}"


def display_dimension(value: str) -> str:
    """How a dimension value reads for people: missing values are '(unattributed)'."""
    return value if value else UNATTRIBUTED


def parse_group_by(text: str | None, stored: tuple[str, ...] | list[str], parameter: str = "group_by") -> list[str]:
    """Parse 'a,b' into dimension names, each of which must be stored."""
    if text is None:
        return []
    names = [part.strip() for part in text.split(",") if part.strip()]
    for name in names:
        if name not in stored:
            raise UsageError(
                f"{parameter}: {name!r} is not a stored dimension; allowed: {', '.join(stored)}", parameter
            )
    if len(set(names)) != len(names):
        raise UsageError(f"{parameter}: {text!r} names a dimension twice", parameter)
    return names
