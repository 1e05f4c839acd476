"""The catalog's answers (periods, cohorts, value models, sources) as OpenAPI schemas."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, Field


class PeriodInfo(BaseModel):
    period: str
    state: str = Field(description="open or closed")
    revision: int | None
    closed_at: datetime | None
    late_rows: int = Field(description="rows that arrived for the month after it closed")
    late_cost: float


class Periods(BaseModel):
    periods: list[PeriodInfo]


class Cohorts(BaseModel):
    group_by: list[str]
    dimensions: dict[str, list[str]] = Field(description="Known values per dimension; '' is (unattributed).")


class TriangularRange(BaseModel):
    low: float
    mode: float = Field(description="the point estimate")
    high: float


class NormalRange(BaseModel):
    mean: float = Field(description="the point estimate")
    sd: float = Field(description="standard deviation; the distribution is truncated at 0")


Assumption = float | TriangularRange | NormalRange


class ModelVersionInfo(BaseModel):
    effective_from: date
    value_per_resolution: Assumption
    escalation_cost: Assumption
    reopen_cost: Assumption
    abandonment_cost: Assumption
    review_cost_per_hour: Assumption
    notes: str


class ValueModelInfo(BaseModel):
    name: str
    description: str
    currency: str
    versions: list[ModelVersionInfo]


class AssignmentInfo(BaseModel):
    match: dict[str, str | list[str]]
    model: str


class FixedCostInfo(BaseModel):
    name: str
    amount: float
    allocate_by: str
    match: dict[str, str | list[str]]
    description: str


class Models(BaseModel):
    currency: str
    config_hash: str
    models: list[ValueModelInfo]
    assignments: list[AssignmentInfo] = Field(description="Tried in order; the first whose match fits wins.")
    fixed_costs: list[FixedCostInfo]


class BatchInfo(BaseModel):
    label: str
    started_at: datetime
    finished_at: datetime
    rows_read: int
    rows_stored: int
    duplicates: int
    quarantined: int
    unpriced: int
    first_day: date | None
    last_day: date | None


class SourceInfo(BaseModel):
    name: str
    type: str | None = Field(description="Connector type; null for a source no longer in the config.")
    enabled: bool
    schedule: str | None
    batches: int
    rows_read: int
    rows_stored: int
    duplicates: int
    quarantined: int
    unpriced: int
    last_batch: BatchInfo | None
    last_day: date | None = Field(description="The latest day this source has data for.")
    freshness_seconds: float | None = Field(description="Seconds since the last batch finished.")
    status: Literal["ok", "failing", "never_run"] = Field(
        description="failing while its latest pulls failed (see last_error); ok once a pull succeeded."
    )
    watermark: datetime | None = Field(description="Pulled sources: data is complete up to here.")
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None = Field(description="The latest pull's error; secrets are never included.")
    consecutive_failures: int


class Sources(BaseModel):
    sources: list[SourceInfo]
