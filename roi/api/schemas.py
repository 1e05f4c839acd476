"""Pydantic models of the API's query parameters and responses: the OpenAPI document is made from them.

Query models forbid unknown parameters, and their patterns say exactly what the
views accept, so every request the document calls valid is answered 2xx or 404.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, create_model
from pydantic.json_schema import DEFAULT_REF_TEMPLATE, GenerateJsonSchema

from ..domain import CELL_METRICS, DIMENSIONS, INTEGER_METRICS, RATIO_METRICS, REPORT_METRICS, VALUED_METRICS

# Years 1900-2999 only: a month must have a next month the calendar can hold.
PERIOD_PATTERN = r"^(19|2[0-9])[0-9]{2}-(0[1-9]|1[0-2])$"
_DIMENSION_CHOICE = "|".join(DIMENSIONS)
_METRIC_CHOICE = "|".join(REPORT_METRICS)


def list_pattern(choices: tuple[str, ...] | list[str], *, empty: bool) -> str:
    """A comma-separated list of `choices`; `empty` allows the empty string too."""
    choice = "|".join(choices)
    body = f"({choice})(,({choice}))*"
    return f"^({body})?$" if empty else f"^{body}$"


GROUP_BY_PATTERN = list_pattern(DIMENSIONS, empty=True)
METRICS_PATTERN = list_pattern(REPORT_METRICS, empty=False)
SORT_PATTERN = rf"^-?({_METRIC_CHOICE})$"
# A filter names at least one value; '' alone means (unattributed).
FILTER_PATTERN = r"^$|[^,\s]"
SOURCE_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_.-]*$"

METRIC_DESCRIPTIONS: dict[str, str] = {
    "requests": "model calls",
    "input_tokens": "input tokens, cached ones included",
    "output_tokens": "output tokens",
    "cached_input_tokens": "cached input tokens",
    "token_cost": "cost of the priced requests",
    "unpriced_requests": "requests whose cost could not be determined",
    "resolved": "cases the AI resolved without a human",
    "escalated": "cases handed to a human",
    "abandoned": "cases the user left unresolved",
    "reopened": "resolved cases reopened",
    "human_review_minutes": "minutes humans spent reviewing AI output",
    "cases": "resolved + escalated + abandoned",
    "net_resolved": "resolved - reopened",
    "review_cost": "human_review_minutes / 60 * review_cost_per_hour",
    "fixed_cost": "this cohort's share of the fixed costs",
    "total_cost": "token_cost + review_cost + fixed_cost",
    "failure_cost": "escalations, reopens and abandonments at their model costs",
    "value": "net_resolved * value_per_resolution",
    "net_value": "value - total_cost - failure_cost",
    "roi": "net_value / (total_cost + failure_cost); null if that is 0",
    "cost_per_resolved_case": "total_cost / net_resolved; null if net_resolved <= 0",
    "fully_loaded_cost_per_resolved_case": "(total_cost + failure_cost) / net_resolved; null if net_resolved <= 0",
    "resolution_rate": "net_resolved / cases; null if cases is 0",
    "escalation_rate": "escalated / cases; null if cases is 0",
    "unallocated_fixed_cost": "fixed costs whose driver totals 0 this month",
}

_SCHEMA_CACHE: dict[tuple, dict[str, Any]] = {}


class CachedSchemaModel(BaseModel):
    """flask-openapi3 asks for a query model's JSON schema on every request; build it once."""

    @classmethod
    def model_json_schema(
        cls,
        by_alias: bool = True,
        ref_template: str = DEFAULT_REF_TEMPLATE,
        schema_generator: type[GenerateJsonSchema] = GenerateJsonSchema,
        mode: str = "validation",
        **kwargs: Any,
    ) -> dict[str, Any]:
        key = (cls, by_alias, ref_template, schema_generator, mode, repr(sorted(kwargs.items())))
        schema = _SCHEMA_CACHE.get(key)
        if schema is None:
            schema = super().model_json_schema(
                by_alias=by_alias, ref_template=ref_template, schema_generator=schema_generator, mode=mode, **kwargs
            )
            _SCHEMA_CACHE[key] = schema
        return schema


class Query(CachedSchemaModel):
    """Query or path parameters; unknown ones are refused. Every subclass is known by name, so a
    validation error (which carries only the model's name) can say which parameters are allowed."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    by_name: ClassVar[dict[str, type[Query]]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        Query.by_name[cls.__name__] = cls


# ----------------------------------------------------------------- queries


def _period(description: str, default: Any = ...) -> Any:
    return Field(default, pattern=PERIOD_PATTERN, description=description)


def _group_by() -> Any:
    return Field(
        None,
        pattern=GROUP_BY_PATTERN,
        description="Stored dimensions, comma separated (default: the config's [report] group_by; "
        "empty: one cohort of everything).",
    )


def _filter(name: str) -> Any:
    return Field(
        None,
        pattern=FILTER_PATTERN,
        max_length=2000,
        description=f"Only cohorts whose {name} is one of these values, comma separated; "
        "'(unattributed)' means a missing value; a comma inside a value is written '\\,' (a backslash "
        "before a comma or another backslash: '\\\\').",
    )


_FILTER_FIELDS: dict[str, Any] = {name: (str | None, _filter(name)) for name in DIMENSIONS}

_RoiQueryBase = create_model("_RoiQueryBase", __base__=Query, **_FILTER_FIELDS)


class RoiQuery(_RoiQueryBase):
    period: str = _period("The month, YYYY-MM.")
    group_by: str | None = _group_by()
    sort: str | None = Field(
        None,
        pattern=SORT_PATTERN,
        description="A metric to sort cohorts by; '-' first for descending. Nulls sort last.",
    )
    limit: int | None = Field(None, ge=1, le=100_000, description="At most this many cohorts (after sorting).")
    uncertainty: bool = Field(False, description="Add Monte Carlo bands of net value and ROI (p5, p50, p95) and "
                              "the probability that net value is above 0, per cohort and in the totals.")

    def filter_values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name) is not None}


class AnalysisQuery(_RoiQueryBase):
    """A period's question (grouping, filters) for sensitivity and the change bridge."""

    period: str = _period("The month, YYYY-MM.")
    group_by: str | None = _group_by()

    def filter_values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name) is not None}


class TrendQuery(_RoiQueryBase):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=False)

    from_: str | None = Field(
        None,
        alias="from",
        pattern=PERIOD_PATTERN,
        description="First month, YYYY-MM (default: 11 months before `to`). A `from` after `to` gives no months.",
    )
    to: str | None = _period("Last month, YYYY-MM (default: the latest month with data).", None)
    group_by: str | None = _group_by()
    metrics: str | None = Field(
        None,
        pattern=METRICS_PATTERN,
        description="Metrics of each point, comma separated (default: net_value,roi,cost_per_resolved_case).",
    )

    def filter_values(self) -> dict[str, str]:
        return {name: getattr(self, name) for name in DIMENSIONS if getattr(self, name) is not None}


class CohortsQuery(Query):
    group_by: str | None = Field(
        None,
        pattern=GROUP_BY_PATTERN,
        description="Dimensions whose known values to list, comma separated (default: every stored dimension).",
    )


class QuarantineQuery(Query):
    source: str | None = Field(None, pattern=SOURCE_PATTERN, max_length=200, description="Only this source.")
    limit: int = Field(100, ge=1, le=1000, description="Rows per page.")
    cursor: str | None = Field(
        None, pattern=r"^[0-9]{1,18}$", description="The `next_cursor` of the previous page."
    )


class ReportPath(Query):
    period: str = _period("The month, YYYY-MM.")
    fmt: str = Field(pattern=r"^(xlsx|csv|json)$", description="xlsx, csv or json.")


class ConditionalHeaders(CachedSchemaModel):
    # every request header reaches this model; only If-None-Match is ours
    model_config = ConfigDict(extra="ignore", frozen=True)

    if_none_match: str | None = Field(
        None, alias="If-None-Match", description="An ETag from an earlier answer: 304 if unchanged."
    )


# ----------------------------------------------------------------- responses


class Problem(BaseModel):
    """An error, as application/problem+json (RFC 9457)."""

    type: str = Field(description="A URI naming the kind of problem.")
    title: str
    status: int
    detail: str
    parameter: str | None = Field(None, description="The query or path parameter at fault, if any.")


def _metric_field(name: str, *, optional: bool = False) -> tuple[Any, Any]:
    base: Any = int if name in INTEGER_METRICS else float
    nullable = optional or name in RATIO_METRICS
    annotation = base | None if nullable else base
    default = None if optional else ...
    return annotation, Field(default, description=METRIC_DESCRIPTIONS.get(name, ""))


BAND_DESCRIPTIONS: dict[str, str] = {
    "net_value_p5": "5th percentile of net value over the Monte Carlo draws (uncertainty=true)",
    "net_value_p50": "median net value over the draws",
    "net_value_p95": "95th percentile of net value over the draws",
    "net_value_mean": "mean net value over the draws",
    "net_value_sd": "standard deviation of net value over the draws",
    "roi_p5": "5th percentile of ROI over the draws; null where the cost can be 0",
    "roi_p50": "median ROI over the draws",
    "roi_p95": "95th percentile of ROI over the draws",
    "probability_net_value_positive": "share of the draws in which net value is above 0",
}
_BAND_FIELDS: dict[str, Any] = {name: (float | None, Field(None, description=text))
                                for name, text in BAND_DESCRIPTIONS.items()}

CohortFigures = create_model(
    "CohortFigures",
    cohort=(dict[str, str], Field(description="The cohort's value of each group_by dimension ('' = unattributed).")),
    **{name: _metric_field(name) for name in REPORT_METRICS},
    **_BAND_FIELDS,
)
TotalFigures = create_model(
    "TotalFigures",
    **{name: _metric_field(name) for name in (*CELL_METRICS, *VALUED_METRICS, *RATIO_METRICS)},
    unallocated_fixed_cost=_metric_field("unallocated_fixed_cost"),
    **_BAND_FIELDS,
)


class UncertaintyInfo(BaseModel):
    draws: int
    seed: int
    outcome_rates: bool = Field(description="whether each cohort's resolution rate was drawn too")
    parameters: list[str] = Field(description="the uncertain assumptions drawn, as model.assumption")
    quantiles: list[int]
    basis: str = Field(description="'current': drawn from today's data and config, as the report they are in")


class UnallocatedCost(BaseModel):
    name: str
    amount: float


class RoiReport(BaseModel):
    """One month's report, exactly as `roi report --format json` prints it."""

    period: str
    currency: str
    timezone: str
    group_by: list[str]
    filters: dict[str, list[str]]
    config_hash: str
    data_fingerprint: str
    generated_at: datetime
    no_data: bool = Field(False, description="true when the month has no stored data at all: no cohorts, and the "
                          "totals are only the fixed costs it would carry, all unallocated.")
    cohorts: list[CohortFigures]  # type: ignore[valid-type]
    totals: TotalFigures  # type: ignore[valid-type]
    unallocated_fixed_costs: list[UnallocatedCost]
    state: str | None = Field(None, description="'closed' when this is a closed month's stored revision.")
    revision: int | None = Field(None, description="The closed revision served.")
    closed_at: datetime | None = None
    uncertainty: UncertaintyInfo | None = Field(None, description="With uncertainty=true: how the bands were drawn.")


TrendPoint = create_model(
    "TrendPoint",
    period=(str, Field(description="The month, YYYY-MM.")),
    **{name: _metric_field(name, optional=True) for name in REPORT_METRICS},
)


class TrendSeries(BaseModel):
    cohort: dict[str, str]
    points: list[TrendPoint]  # type: ignore[valid-type]


class Trend(BaseModel):
    """A series per cohort: one point per month from `from` to `to`, holding the requested metrics."""

    model_config = ConfigDict(populate_by_name=True)

    from_: str | None = Field(alias="from")
    to: str | None
    currency: str
    group_by: list[str]
    filters: dict[str, list[str]]
    metrics: list[str]
    config_hash: str
    periods: list[str]
    series: list[TrendSeries]
    totals: list[TrendPoint]  # type: ignore[valid-type]


class QuarantinedRow(BaseModel):
    id: int
    batch_id: int
    source: str
    file: str
    line: int | None
    reason: str
    raw: str


class QuarantinePage(BaseModel):
    items: list[QuarantinedRow]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class Health(BaseModel):
    status: Literal["ok", "degraded", "unavailable"] = Field(
        description="ok; degraded (503) when the scheduler is stopped; unavailable (503) when the database "
        "does not answer")
    database: Literal["ok", "unavailable"]
    scheduler: Literal["running", "starting", "stopped", "disabled", "external"] = Field(
        description="The scheduler roi serve runs beside the API: running, starting, stopped (no beat for "
        "15 s, or its process exited), disabled ([scheduler] enabled = false), or external (the app is not "
        "served by roi serve: run `roi scheduler` beside it)")
    months_ready: bool = Field(description="false while this worker values the newest months ahead of questions "
                                           "(questions are answered meanwhile; the first on a month waits for it)")


class OpenApiDocument(BaseModel):
    model_config = ConfigDict(extra="allow")

    openapi: str
    info: dict[str, Any]
    paths: dict[str, Any]
