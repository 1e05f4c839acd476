"""Why net value changed since the previous month: per cohort, effects that add up to the change.

A cohort's net value is a sum of terms, each a quantity times a price:

    value          net resolved     x value per resolution     (outcome: resolution rate)
    escalations    escalated        x escalation cost          (outcome: escalation rate)
    reopens        reopened         x reopen cost              (outcome: reopen rate)
    abandonments   abandoned        x abandonment cost         (outcome: abandonment rate)
    review         review minutes   x cost per hour / 60       (unit cost: review minutes per case)
    tokens         token cost       x 1                        (unit cost: token cost per case)
    fixed cost     its share                                   (fixed-cost share)

and each quantity is cases x a per-case rate. Each term's change splits in two with average
weights (the two-factor Shapley split, exact): price effect = change of price x average
quantity, quantity effect = the rest. The quantity effect splits again: volume = change of
cases x average rate x average price, and the rest is the rate's (outcome mix for outcomes,
unit cost for tokens and review). A price is a term's money over its quantity (a cohort whose
cells span model versions has their mix as its price); where a month has none of a quantity
the other month's price is used, and a rate without cases is left out of the average. The
effects of the terms are then summed by kind:

    volume + outcome_mix + unit_cost + assumptions + fixed_cost_share = change in net value

exactly, by construction (docs/metrics.md, "What changed", has a worked example).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..domain import ASSUMPTIONS
from .cohorts import ValuedMonth

EFFECTS: tuple[str, ...] = ("volume", "outcome_mix", "unit_cost", "assumptions", "fixed_cost_share")
# term -> (its quantity, its price's assumption or None, +1 value / -1 cost, the effect its rate feeds)
TERMS: dict[str, tuple[str, str | None, float, str]] = {
    "value": ("net_resolved", "value_per_resolution", 1.0, "outcome_mix"),
    "escalations": ("escalated", "escalation_cost", -1.0, "outcome_mix"),
    "reopens": ("reopened", "reopen_cost", -1.0, "outcome_mix"),
    "abandonments": ("abandoned", "abandonment_cost", -1.0, "outcome_mix"),
    "review": ("human_review_minutes", "review_cost_per_hour", -1.0, "unit_cost"),
    "tokens": ("token_cost", None, -1.0, "unit_cost"),
}
_COUNTED = ("cases", "net_resolved", "escalated", "reopened", "abandoned", "human_review_minutes", "token_cost",
            "value", "review_cost", "fixed_cost", "net_value")


@dataclass(frozen=True, slots=True)
class ChangeBridge:
    """Per cohort (both months' cohorts, sorted by their values) and in total."""

    labels: dict[str, np.ndarray]
    previous: np.ndarray  # net value last month (0 for a cohort without cells then)
    current: np.ndarray
    effects: dict[str, np.ndarray]  # EFFECTS, per cohort
    totals: dict[str, float]  # previous, current, change and EFFECTS, unallocated fixed cost included

    @property
    def change(self) -> np.ndarray:
        return self.current - self.previous


def month_terms(month: ValuedMonth, group_by: Sequence[str],
                filters: Mapping[str, Sequence[str]] | None = None) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """Per cohort: the counts, the money of every term and the net value."""
    labels, figures = month.cohort_columns(group_by, filters)
    columns = {name: figures[name] for name in _COUNTED}
    sums = month.cohort_version_sums(group_by, filters, ("escalated", "reopened", "abandoned"))
    points = np.array([version.assumptions for version in month.versions]).reshape(-1, len(ASSUMPTIONS))
    for term in ("escalations", "reopens", "abandonments"):
        quantity, assumption, _, _ = TERMS[term]
        price = points[sums.version, ASSUMPTIONS.index(assumption)] if len(sums.version) else np.zeros(0)
        columns[term] = sums.per_cohort(sums.sums[quantity] * price)
    columns["tokens"] = figures["token_cost"]
    columns["value_money"] = figures["value"]
    return labels, columns


def _aligned(group_by: Sequence[str], before: tuple[dict, dict], after: tuple[dict, dict]):
    """Both months' per-cohort columns on the union of their cohorts (zeros where a month has none)."""
    keys = list(group_by)
    sides = []
    for labels, columns in (before, after):
        count = len(columns["cases"])
        frame = pd.DataFrame({name: pd.Series(labels[name], dtype=object) for name in keys}) if keys \
            else pd.DataFrame(index=range(count))
        frame["_row"] = np.arange(count)
        sides.append(frame)
    if keys:
        merged = sides[0].merge(sides[1], on=keys, how="outer", sort=True, suffixes=("_0", "_1"))
    else:
        merged = pd.DataFrame({"_row_0": [0] if len(sides[0]) else [np.nan],
                               "_row_1": [0] if len(sides[1]) else [np.nan]})
        if not len(sides[0]) and not len(sides[1]):
            merged = merged.iloc[:0]
    out = []
    for side, (_, columns) in zip(("_row_0", "_row_1"), (before, after), strict=True):
        rows = merged[side].to_numpy(dtype=np.float64)
        present = ~np.isnan(rows)
        index = np.where(present, rows, 0).astype(np.intp)
        out.append({name: np.where(present, values[index] if len(values) else 0.0, 0.0)
                    for name, values in columns.items()})
    labels = {name: merged[name].to_numpy(dtype=object) for name in keys}
    return labels, out[0], out[1]


def _filled_ratio(top: tuple[np.ndarray, np.ndarray], bottom: tuple[np.ndarray, np.ndarray]):
    """top/bottom per month; where a month's bottom is 0, the other month's ratio (or 0)."""
    ratios = []
    for t, b in zip(top, bottom, strict=True):
        with np.errstate(divide="ignore", invalid="ignore"):
            ratios.append(np.where(b != 0, t / np.where(b != 0, b, 1.0), np.nan))
    first = np.where(np.isnan(ratios[0]), ratios[1], ratios[0])
    second = np.where(np.isnan(ratios[1]), ratios[0], ratios[1])
    return np.nan_to_num(first), np.nan_to_num(second)


def bridge(previous: ValuedMonth, current: ValuedMonth, group_by: Sequence[str],
           filters: Mapping[str, Sequence[str]] | None = None) -> ChangeBridge:
    """The change in net value per cohort from `previous` to `current`, split into EFFECTS."""
    labels, old, new = _aligned(group_by, month_terms(previous, group_by, filters),
                                month_terms(current, group_by, filters))
    count = len(old["cases"])
    effects = {name: np.zeros(count) for name in EFFECTS}
    cases = (old["cases"], new["cases"])
    d_cases = new["cases"] - old["cases"]
    for term, (quantity, assumption, sign, rate_effect) in TERMS.items():
        q = (old[quantity], new[quantity])
        money = "value_money" if term == "value" else "review_cost" if term == "review" else term
        t = (old[money], new[money])
        p = (np.ones(count), np.ones(count)) if assumption is None else _filled_ratio(t, q)
        price_effect = (p[1] - p[0]) * (q[0] + q[1]) / 2.0
        quantity_effect = (t[1] - t[0]) - price_effect
        s = _filled_ratio(q, cases)
        volume = d_cases * (s[0] + s[1]) / 2.0 * (p[0] + p[1]) / 2.0
        effects["volume"] += sign * volume
        effects[rate_effect] += sign * (quantity_effect - volume)
        effects["assumptions"] += sign * price_effect
    effects["fixed_cost_share"] -= new["fixed_cost"] - old["fixed_cost"]
    unallocated = [0.0 if filters else float(sum(month.unallocated.values())) for month in (previous, current)]
    totals = {"previous": float(old["net_value"].sum()) - unallocated[0],
              "current": float(new["net_value"].sum()) - unallocated[1]}
    totals["change"] = totals["current"] - totals["previous"]
    totals.update({name: float(values.sum()) for name, values in effects.items()})
    totals["fixed_cost_share"] -= unallocated[1] - unallocated[0]
    return ChangeBridge(labels, old["net_value"], new["net_value"], effects, totals)
