"""A month's cohorts as linear forms in the uncertain assumptions.

Per cohort, value and burden (total cost + failure cost) are sums over its cells of counts
times assumptions (DESIGN section 4), so for one cohort

    value  = value at the point values  + sum over columns k of a_k * (theta_k - point_k)
    burden = burden at the point values + sum over columns k of b_k * (theta_k - point_k)

where a column is one uncertain assumption of one model version in use, `a_k` the cohort's
net resolved cases of that version (value per resolution) and `b_k` its escalated, reopened
or abandoned cases, or review hours (the cost assumptions). Monte Carlo (uncertainty.py) and
sensitivity (sensitivity.py) only move the thetas.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..config import ValueModel
from ..domain import ASSUMPTIONS
from ..estimates import Distribution
from .cohorts import ValuedMonth

# the count each assumption multiplies (review: minutes / 60), and whether it adds value or burden
COEFFICIENTS: dict[str, tuple[str, float, bool]] = {
    "value_per_resolution": ("net_resolved", 1.0, True),
    "escalation_cost": ("escalated", 1.0, False),
    "reopen_cost": ("reopened", 1.0, False),
    "abandonment_cost": ("abandoned", 1.0, False),
    "review_cost_per_hour": ("human_review_minutes", 1.0 / 60.0, False),
}
_SUMMED = ("cases", "net_resolved", "escalated", "reopened", "abandoned", "human_review_minutes")


@dataclass(frozen=True, slots=True)
class Parameter:
    """One uncertain assumption of one value model. Its versions in use share one draw (the same
    quantile of each version's range), so a model is one uncertainty, for every cohort."""

    model: str
    assumption: str
    ranges: tuple[tuple[str, Distribution], ...]  # (effective_from, range) of each version in use

    @property
    def name(self) -> str:
        return f"{self.model}.{self.assumption}"


@dataclass(frozen=True, slots=True)
class Column:
    parameter: int  # index into LinearForm.parameters
    distribution: Distribution
    point: float
    coefficient: np.ndarray  # per cohort: the count the assumption multiplies
    adds_value: bool
    cases: np.ndarray | None  # value per resolution only: the cohort's cases of this version


@dataclass(frozen=True, slots=True)
class LinearForm:
    """Cohorts of one question at the point values, and how each uncertain assumption moves them."""

    labels: dict[str, np.ndarray]
    value: np.ndarray  # per cohort, as the report shows it
    burden: np.ndarray  # total cost + failure cost, per cohort
    net_value: np.ndarray  # as the report shows it
    net_resolved: np.ndarray
    cases: np.ndarray
    value_by_cases: np.ndarray  # sum over versions of cases x point value per resolution
    parameters: tuple[Parameter, ...]
    columns: tuple[Column, ...]

    def __len__(self) -> int:
        return len(self.value)

    def matrix(self, adds_value: bool, cases: bool = False) -> tuple[np.ndarray, list[Column]]:
        """Coefficients (cohorts x columns) of the columns that move value (or burden)."""
        chosen = [column for column in self.columns if column.adds_value == adds_value]
        if not chosen:
            return np.zeros((len(self), 0)), []
        rows = [column.cases if cases else column.coefficient for column in chosen]
        return np.ascontiguousarray(np.stack(rows, axis=1)), chosen


def uncertain_parameters(month: ValuedMonth, models: Mapping[str, ValueModel],
                         used: Sequence[int] | None = None) -> list[Parameter]:
    """The uncertain assumptions of the model versions the month uses (or the versions `used`)."""
    found: dict[tuple[str, str], list[tuple[str, Distribution]]] = {}
    for index, version in enumerate(month.versions):
        if used is not None and index not in used:
            continue
        model = models.get(version.model)
        configured = next((item for item in model.versions if item.effective_from.isoformat() == version.effective_from),
                          None) if model else None
        for name, distribution in (configured.ranges() if configured else {}).items():
            found.setdefault((version.model, name), []).append((version.effective_from, distribution))
    order = sorted(found, key=lambda key: (key[0], ASSUMPTIONS.index(key[1])))
    return [Parameter(model, name, tuple(found[(model, name)])) for model, name in order]


def linear_form(month: ValuedMonth, models: Mapping[str, ValueModel], group_by: Sequence[str],
                filters: Mapping[str, Sequence[str]] | None = None) -> LinearForm:
    """The question's cohorts (group_by, filters) as linear forms in the month's uncertain assumptions."""
    labels, figures = month.cohort_columns(group_by, filters)
    sums = month.cohort_version_sums(group_by, filters, _SUMMED)
    points = np.array([version.assumptions for version in month.versions]).reshape(-1, len(ASSUMPTIONS))
    vpr = points[sums.version, ASSUMPTIONS.index("value_per_resolution")] if len(sums.version) else np.zeros(0)
    parameters = uncertain_parameters(month, models, np.unique(sums.version).tolist())
    index_of = {(version.model, version.effective_from): index for index, version in enumerate(month.versions)}
    columns = []
    for position, parameter in enumerate(parameters):
        count_name, scale, adds_value = COEFFICIENTS[parameter.assumption]
        for effective_from, distribution in parameter.ranges:
            version = index_of[(parameter.model, effective_from)]
            rows = sums.version == version
            coefficient = sums.per_cohort(np.where(rows, sums.sums[count_name], 0.0)) * scale
            cases = sums.per_cohort(np.where(rows, sums.sums["cases"], 0.0)) if adds_value else None
            columns.append(Column(position, distribution, distribution.point, coefficient, adds_value, cases))
    return LinearForm(
        labels=labels, value=figures["value"], burden=figures["total_cost"] + figures["failure_cost"],
        net_value=figures["net_value"],
        net_resolved=figures["net_resolved"], cases=figures["cases"],
        value_by_cases=sums.per_cohort(sums.sums["cases"] * vpr),
        parameters=tuple(parameters), columns=tuple(columns),
    )
