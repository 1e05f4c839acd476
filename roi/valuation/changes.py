"""Why net value changed since the previous month: per cohort, effects that add up to the change.

A cohort's net value is a sum of terms, each a quantity times a price:

    value          net resolved     x value per resolution     (outcome: resolution rate)
    escalations    escalated        x escalation cost          (outcome: escalation rate)
    reopens        reopened         x reopen cost              (outcome: reopen rate)
    abandonments   abandoned        x abandonment cost         (outcome: abandonment rate)
    review         review minutes   x cost per hour / 60       (unit cost: review minutes per case)
    tokens         token cost       x 1                        (unit cost: token cost per case)
    fixed cost     its share                                   (fixed-cost share)

and each quantity is cases x a per-case rate. The split is made per cohort x value model (a
cohort whose cells are valued by several models, e.g. a tenant with web and voice traffic, is
split by model first), so a price moves only when a model's version or price does: a shift of
cases between models is volume and mix, never assumptions. Each term's change splits in two
with average weights (the two-factor Shapley split, exact): price effect = change of price x
average quantity, quantity effect = the rest. The quantity effect splits again: volume =
change of cases x average rate x average price, and the rest is the rate's (outcome mix for
outcomes, unit cost for tokens and review). A price is a term's money over its quantity (a
model whose cells span two of its versions has their mix as its price); where a month has
none of a quantity the other month's price is used, and a rate without cases is left out of
the average. The effects of the terms are then summed by kind, and over the cohort's models:

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
MODEL = "value_model"  # the key that splits a cohort by the value model its cells are valued with
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
    """Per cohort x value model (MODEL: the model's name, with the cohort's labels): the counts, the money
    of every term and the net value."""
    sums = month.cohort_version_sums(group_by, filters, _COUNTED)
    names = np.array([version.model for version in month.versions] or [""], dtype=object)
    models, model_code = np.unique(names, return_inverse=True)
    key = sums.cohort.astype(np.int64) * len(models) + model_code.reshape(-1)[sums.version]
    pairs, row = np.unique(key, return_inverse=True)
    row = row.reshape(-1)
    cohort = pairs // len(models)
    labels = {name: values[cohort] for name, values in sums.labels.items()}
    labels[MODEL] = models[pairs % len(models)].astype(object)

    def summed(values: np.ndarray) -> np.ndarray:
        return np.bincount(row, weights=values, minlength=len(pairs))

    columns = {name: summed(sums.sums[name]) for name in _COUNTED}
    points = np.array([version.assumptions for version in month.versions]).reshape(-1, len(ASSUMPTIONS))
    for term in ("escalations", "reopens", "abandonments"):
        quantity, assumption, _, _ = TERMS[term]
        price = points[sums.version, ASSUMPTIONS.index(assumption)] if len(sums.version) else np.zeros(0)
        columns[term] = summed(sums.sums[quantity] * price)
    columns["tokens"] = columns["token_cost"]
    columns["value_money"] = columns["value"]
    return labels, columns


def _aligned(group_by: Sequence[str], before: tuple[dict, dict], after: tuple[dict, dict]):
    """Both months' per-(cohort x model) columns on the union of their pairs (zeros where a month has
    none), sorted by cohort then model; and each row's cohort, with the cohorts' labels."""
    keys = [*group_by, MODEL]
    if len(before[1]["cases"]) + len(after[1]["cases"]) <= SMALL_UNION:
        key_columns, positions = _small_union(keys, before[0], after[0])
    else:
        key_columns, positions = _frame_union(keys, before[0], after[0])
    out = []
    for index, (_, columns) in zip(positions, (before, after), strict=True):
        present = index >= 0
        index = np.where(present, index, 0)
        out.append({name: np.where(present, values[index] if len(values) else 0.0, 0.0)
                    for name, values in columns.items()})
    # rows are sorted by the cohort's labels first: a cohort starts where any of them differs
    count = len(positions[0])
    starts = np.zeros(count, dtype=bool)
    starts[:1] = True
    for name in group_by:
        values = key_columns[name]
        starts[1:] |= values[1:] != values[:-1]
    cohort = np.cumsum(starts) - 1
    labels = {name: key_columns[name][starts] for name in group_by}
    return labels, cohort, out[0], out[1]


SMALL_UNION = 5_000  # pairs in both months: up to this, joined in Python (pandas' merge costs ~8 ms at any size)


def _small_union(keys: Sequence[str], before: dict, after: dict) -> tuple[dict, list[np.ndarray]]:
    """The sorted union of both months' label tuples (as pandas' sorted outer merge gives it), and each
    union row's position in each month (-1: none)."""
    sides = [{key: row for row, key in enumerate(zip(*(labels[name].tolist() for name in keys), strict=True))}
             for labels in (before, after)]
    union = sorted(sides[0].keys() | sides[1].keys())
    positions = [np.fromiter((side.get(key, -1) for key in union), dtype=np.intp, count=len(union)) for side in sides]
    columns = [np.array([key[index] for key in union], dtype=object) for index in range(len(keys))]
    return dict(zip(keys, columns, strict=True)), positions


def _frame_union(keys: Sequence[str], before: dict, after: dict) -> tuple[dict, list[np.ndarray]]:
    """_small_union by pandas' merge (faster for many pairs)."""
    sides = []
    for labels in (before, after):
        frame = pd.DataFrame({name: pd.Series(labels[name], dtype=object) for name in keys})
        frame["_row"] = np.arange(len(frame))
        sides.append(frame)
    merged = sides[0].merge(sides[1], on=keys, how="outer", sort=True, suffixes=("_0", "_1"))
    positions = [np.nan_to_num(merged[side].to_numpy(dtype=np.float64), nan=-1.0).astype(np.intp)
                 for side in ("_row_0", "_row_1")]
    return {name: merged[name].to_numpy(dtype=object) for name in keys}, positions


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
    labels, cohort, old, new = _aligned(group_by, month_terms(previous, group_by, filters),
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
    cohorts = int(cohort[-1]) + 1 if count else 0

    def per_cohort(values: np.ndarray) -> np.ndarray:
        return np.bincount(cohort, weights=values, minlength=cohorts)

    effects = {name: per_cohort(values) for name, values in effects.items()}
    net = (per_cohort(old["net_value"]), per_cohort(new["net_value"]))
    unallocated = [0.0 if filters else float(sum(month.unallocated.values())) for month in (previous, current)]
    totals = {"previous": float(net[0].sum()) - unallocated[0], "current": float(net[1].sum()) - unallocated[1]}
    totals["change"] = totals["current"] - totals["previous"]
    totals.update({name: float(values.sum()) for name, values in effects.items()})
    totals["fixed_cost_share"] -= unallocated[1] - unallocated[0]
    return ChangeBridge(labels, net[0], net[1], effects, totals)
