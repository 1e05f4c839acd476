"""Valuation: value models, fixed-cost allocation and cohort sums. Pure numpy/pandas.

Everything is computed per cell first (a cell knows its value model and
version), then summed to cohorts; ratios are computed after summing.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..config import Assignment, FixedCost, ValueModel
from ..domain import ADDITIVE, ASSUMPTIONS, CELL_METRICS, DIMENSIONS, RATIO_METRICS, share_column
from ..errors import ValuationError

__all__ = ["ADDITIVE", "ASSUMPTIONS", "Valuation", "share_column", "value_cells", "ratios", "summarize", "totals"]


@dataclass(slots=True)
class Valuation:
    """Valued cells of one month and the fixed costs no cell could carry."""

    cells: pd.DataFrame
    unallocated: dict[str, float] = field(default_factory=dict)
    fixed_costs: tuple[FixedCost, ...] = ()

    @property
    def unallocated_total(self) -> float:
        return float(sum(self.unallocated.values()))


def _matches(cells: pd.DataFrame, match: Mapping[str, str | list[str]]) -> np.ndarray:
    mask = np.ones(len(cells), dtype=bool)
    for name, wanted in match.items():
        values = [wanted] if isinstance(wanted, str) else list(wanted)
        mask &= cells[name].isin(values).to_numpy()
    return mask


def assign_models(
    cells: pd.DataFrame, assignments: Sequence[Assignment], models: Mapping[str, ValueModel]
) -> pd.DataFrame:
    """Per cell: the value model its first matching rule picks and the version effective that day."""
    count = len(cells)
    model_names = np.full(count, "", dtype=object)
    open_rows = np.ones(count, dtype=bool)
    for rule in assignments:
        hit = open_rows & _matches(cells, rule.match)
        model_names[hit] = rule.model
        open_rows &= ~hit
    if open_rows.any():
        first = cells.loc[open_rows].iloc[0]
        dims = {name: first[name] for name in DIMENSIONS}
        raise ValuationError(f"no assignment rule matches the cell {dims}; add a catch-all rule (match = {{}})")
    days = pd.to_datetime(cells["day"]).to_numpy(dtype="datetime64[D]")
    out = pd.DataFrame(index=cells.index)
    out["value_model"] = model_names
    out["model_version"] = ""
    for name in ASSUMPTIONS:
        out[name] = np.nan
    for name in pd.unique(model_names):
        model = models[name]
        rows = np.flatnonzero(model_names == name)
        starts = np.array([version.effective_from for version in model.versions], dtype="datetime64[D]")
        which = np.searchsorted(starts, days[rows], side="right") - 1
        if (which < 0).any():
            early = days[rows][which < 0].min()
            raise ValuationError(
                f"value model {name!r} has no version effective on {early} "
                f"(its first version starts {model.versions[0].effective_from})"
            )
        for position, version in enumerate(model.versions):
            chosen = rows[which == position]
            if not len(chosen):
                continue
            out.iloc[chosen, out.columns.get_loc("model_version")] = version.effective_from.isoformat()
            for assumption in ASSUMPTIONS:
                out.iloc[chosen, out.columns.get_loc(assumption)] = version.point(assumption)
    return out


def _driver(cells: pd.DataFrame, allocate_by: str) -> np.ndarray:
    if allocate_by == "cases":
        return (cells["resolved"] + cells["escalated"] + cells["abandoned"]).to_numpy(dtype=np.float64)
    return cells[allocate_by].to_numpy(dtype=np.float64)


def allocate_fixed_costs(cells: pd.DataFrame, fixed_costs: Sequence[FixedCost]) -> tuple[pd.DataFrame, dict[str, float]]:
    """Each cell's fraction of each fixed cost, and the amounts whose driver totals 0."""
    shares = pd.DataFrame(index=cells.index)
    unallocated: dict[str, float] = {}
    for index, cost in enumerate(fixed_costs):
        driver = np.where(_matches(cells, cost.match), _driver(cells, cost.allocate_by), 0.0)
        total = math.fsum(driver)  # exact: a share never depends on the order cells come in
        if total > 0:
            shares[share_column(index)] = driver / total
        else:
            shares[share_column(index)] = 0.0
            if cost.amount:
                unallocated[cost.name] = float(cost.amount)
    return shares, unallocated


def filter_cells(cells: pd.DataFrame, filters: Mapping[str, Sequence[str]] | None) -> pd.DataFrame:
    """The cells whose dimensions take one of the given values, for every filtered dimension."""
    if not filters:
        return cells
    return cells.loc[_matches(cells, {name: list(values) for name, values in filters.items()})].reset_index(drop=True)


def derive(frame: pd.DataFrame) -> pd.DataFrame:
    """Add the additive derived metrics of a cell (DESIGN section 4) from its counts and assumptions."""
    frame["cases"] = frame["resolved"] + frame["escalated"] + frame["abandoned"]
    frame["net_resolved"] = frame["resolved"] - frame["reopened"]
    frame["review_cost"] = frame["human_review_minutes"] / 60.0 * frame["review_cost_per_hour"]
    frame["total_cost"] = frame["token_cost"] + frame["review_cost"] + frame["fixed_cost"]
    frame["failure_cost"] = (
        frame["escalated"] * frame["escalation_cost"]
        + frame["reopened"] * frame["reopen_cost"]
        + frame["abandoned"] * frame["abandonment_cost"]
    )
    frame["value"] = frame["net_resolved"] * frame["value_per_resolution"]
    frame["net_value"] = frame["value"] - frame["total_cost"] - frame["failure_cost"]
    return frame


def value_cells(
    cells: pd.DataFrame,
    *,
    models: Mapping[str, ValueModel],
    assignments: Sequence[Assignment],
    fixed_costs: Sequence[FixedCost],
) -> Valuation:
    """Value one month of cells."""
    cells = cells.reset_index(drop=True)
    for name in CELL_METRICS:
        cells[name] = cells[name].astype("float64")
    assigned = assign_models(cells, assignments, models)
    shares, unallocated = allocate_fixed_costs(cells, fixed_costs)
    valued = pd.concat([cells, assigned, shares], axis=1)
    fixed = np.zeros(len(valued))
    for index, cost in enumerate(fixed_costs):
        fixed += valued[share_column(index)].to_numpy() * cost.amount
    valued["fixed_cost"] = fixed
    return Valuation(derive(valued), unallocated, tuple(fixed_costs))


def ratios(frame: pd.DataFrame) -> pd.DataFrame:
    """Ratios of summed figures; NaN (null) where the denominator makes them undefined."""
    burden = frame["total_cost"] + frame["failure_cost"]
    net_resolved = frame["net_resolved"]
    cases = frame["cases"]
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["roi"] = np.where(burden != 0, frame["net_value"] / burden.where(burden != 0, 1), np.nan)
        positive = net_resolved > 0
        safe = net_resolved.where(positive, 1)
        frame["cost_per_resolved_case"] = np.where(positive, frame["total_cost"] / safe, np.nan)
        frame["fully_loaded_cost_per_resolved_case"] = np.where(positive, burden / safe, np.nan)
        some = cases > 0
        frame["resolution_rate"] = np.where(some, net_resolved / cases.where(some, 1), np.nan)
        frame["escalation_rate"] = np.where(some, frame["escalated"] / cases.where(some, 1), np.nan)
    return frame


def summarize(valued: pd.DataFrame, group_by: Sequence[str]) -> pd.DataFrame:
    """Sum valued cells to cohorts (one per combination of `group_by`), then compute ratios."""
    columns = list(ADDITIVE)
    if group_by:
        summed = valued.groupby(list(group_by), sort=True, dropna=False)[columns].sum().reset_index()
    else:
        summed = pd.DataFrame([valued[columns].sum()]) if len(valued) else pd.DataFrame(columns=columns)
    return ratios(summed.astype({name: "float64" for name in columns}))


def totals(valued: pd.DataFrame, unallocated: float) -> dict[str, float | None]:
    """All cells summed, with unallocated fixed cost in fixed_cost, total_cost and net_value."""
    summed = {name: float(valued[name].sum()) if len(valued) else 0.0 for name in ADDITIVE}
    summed["fixed_cost"] += unallocated
    summed["total_cost"] += unallocated
    summed["net_value"] -= unallocated
    frame = ratios(pd.DataFrame([summed]))
    row = frame.iloc[0]
    result: dict[str, float | None] = {name: float(row[name]) for name in ADDITIVE}
    for name in RATIO_METRICS:
        value = row[name]
        result[name] = None if pd.isna(value) else float(value)
    result["unallocated_fixed_cost"] = unallocated
    return result
