"""Response models of the answers beyond a single number: sensitivity (tornado, break-even) and the
change bridge (GET /api/v1/roi/sensitivity, /api/v1/roi/changes); their queries are schemas.AnalysisQuery."""

from __future__ import annotations

from pydantic import BaseModel, Field


class RangeInfo(BaseModel):
    effective_from: str
    low: float
    point: float
    high: float


class ParameterSwing(BaseModel):
    parameter: str = Field(description="model.assumption")
    model: str
    assumption: str
    versions: list[RangeInfo] = Field(description="each version in use in the month: its low, point and high")
    net_value_low: float = Field(description="total net value with this parameter at its low, the rest at the point")
    net_value_high: float
    swing: float = Field(description="|net_value_high - net_value_low|")


class CohortSwing(BaseModel):
    parameter: str
    net_value_low: float
    net_value_high: float
    swing: float


class CohortSensitivity(BaseModel):
    cohort: dict[str, str]
    net_value: float | None
    break_even_value_per_resolution: float | None = Field(
        description="the value per resolution at which net value is 0; null if net resolved <= 0")
    tornado: list[CohortSwing] = Field(description="largest swing first")


class SensitivityReport(BaseModel):
    """Tornado data: net value at each uncertain parameter's low and high; break-even per cohort."""

    period: str
    currency: str
    group_by: list[str]
    filters: dict[str, list[str]]
    config_hash: str
    basis: str = Field(description="'current': from today's data and config")
    parameters: list[ParameterSwing] = Field(description="largest swing of the total first")
    totals: dict[str, float]
    cohorts: list[CohortSensitivity]


class ChangeTotals(BaseModel):
    net_value_previous: float
    net_value: float
    change: float
    volume: float
    outcome_mix: float
    unit_cost: float
    assumptions: float
    fixed_cost_share: float = Field(description="including the change in unallocated fixed cost")


class CohortChange(ChangeTotals):
    cohort: dict[str, str]
    fixed_cost_share: float


class ChangesReport(BaseModel):
    """Why net value changed since the previous month: effects that add up to the change."""

    period: str
    previous_period: str
    currency: str
    group_by: list[str]
    filters: dict[str, list[str]]
    config_hash: str
    basis: str
    effects: list[str]
    cohorts: list[CohortChange]
    totals: ChangeTotals
