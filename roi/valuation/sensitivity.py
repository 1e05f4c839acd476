"""Sensitivity (tornado data) and break-even per cohort.

For each uncertain parameter (a model's assumption), net value at its low and at its high,
every other assumption at its point value. A triangular range's low and high are its ends; a
normal's are its 5th and 95th percentiles (truncated at 0). Every version of the model in use
in the month takes its own low (or high) together. Net value is linear in the assumptions
(linear.py), so these are exact, not sampled.

Break-even: the value per resolution at which a cohort's net value is 0, every other figure as
it is: (total cost + failure cost) / net resolved; undefined when net resolved <= 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .linear import LinearForm


@dataclass(frozen=True, slots=True)
class Swing:
    """One parameter's effect: net value at its low and at its high (per cohort, and in total)."""

    parameter: str
    model: str
    assumption: str
    ranges: tuple[tuple[str, float, float, float], ...]  # per version in use: (effective_from, low, point, high)
    net_value_low: np.ndarray  # per cohort
    net_value_high: np.ndarray
    total_low: float
    total_high: float

    @property
    def total_swing(self) -> float:
        return abs(self.total_high - self.total_low)


@dataclass(frozen=True, slots=True)
class Sensitivity:
    labels: dict[str, np.ndarray]
    net_value: np.ndarray  # per cohort, at the point values
    total_net_value: float
    break_even: np.ndarray  # value per resolution at which net value is 0; NaN if undefined
    swings: tuple[Swing, ...]  # largest total swing first

    def cohort_order(self, cohort: int) -> list[int]:
        """Indexes of `swings` by this cohort's swing, largest first (ties: the total order)."""
        sizes = [abs(swing.net_value_high[cohort] - swing.net_value_low[cohort]) for swing in self.swings]
        return sorted(range(len(self.swings)), key=lambda index: -sizes[index])


def break_even(form: LinearForm) -> np.ndarray:
    positive = form.net_resolved > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(positive, form.burden / np.where(positive, form.net_resolved, 1.0), np.nan)


def sensitivity(form: LinearForm, total_net_value: float) -> Sensitivity:
    """Tornado data of the form's cohorts; `total_net_value`: the report's totals (unallocated included)."""
    net = form.net_value
    swings = []
    for position, parameter in enumerate(form.parameters):
        columns = [column for column in form.columns if column.parameter == position]
        moved = {}
        for end in (0, 1):
            delta = np.zeros(len(form))
            for column in columns:
                shift = column.distribution.low_high[end] - column.point
                delta += column.coefficient * shift if column.adds_value else -column.coefficient * shift
            moved[end] = delta
        ranges = tuple((effective_from, *_low_point_high(distribution))
                       for effective_from, distribution in parameter.ranges)
        swings.append(Swing(parameter.name, parameter.model, parameter.assumption, ranges, net + moved[0],
                            net + moved[1], total_net_value + float(moved[0].sum()),
                            total_net_value + float(moved[1].sum())))
    swings.sort(key=lambda swing: -swing.total_swing)  # stable: equal swings keep the parameters' order
    return Sensitivity(form.labels, net, total_net_value, break_even(form), tuple(swings))


def _low_point_high(distribution) -> tuple[float, float, float]:
    low, high = distribution.low_high
    return low, distribution.point, high
