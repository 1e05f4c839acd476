"""Monte Carlo over the value models' ranges: bands of net value and ROI per cohort and in total.

Each draw takes one uniform number per uncertain parameter (model x assumption), shared by
every cohort and every version of the model (each version maps it through its own range's
inverse CDF): one value model is one uncertainty. Cohorts are linear in the assumptions
(linear.py), so a block of cohorts is two matrix products over the draws; blocks are sized
so memory stays bounded whatever the number of cohorts. With `outcome_rates`, each cohort's
resolution rate is drawn too, from Beta(net resolved + 1, other cases + 1): its value is the
drawn rate x its cases x the drawn value per resolution.

Every random stream is named, not numbered: a parameter's uniforms come from the seed and its
name (model and assumption), a cohort's Beta draws from the seed and its labels. So a cohort's
figures are the same whichever other cohorts and models the question holds (a filter that
keeps it, another grouping of the rest), for the same seed, data and config.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

import numpy as np

from .linear import LinearForm

QUANTILES = (5.0, 50.0, 95.0)
BAND_METRICS: tuple[str, ...] = (
    "net_value_p5", "net_value_p50", "net_value_p95", "net_value_mean", "net_value_sd",
    "roi_p5", "roi_p50", "roi_p95", "probability_net_value_positive",
)
BLOCK_VALUES = 1 << 21  # draws x cohorts held per array at a time (16 MB of float64)


@dataclass(frozen=True, slots=True)
class Bands:
    """Per cohort (in the form's order) and in total: each of BAND_METRICS."""

    labels: dict[str, np.ndarray]
    figures: dict[str, np.ndarray]
    totals: dict[str, float | None]
    draws: int
    seed: int
    outcome_rates: bool
    parameters: tuple[str, ...]


def draw_assumptions(form: LinearForm, draws: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Per column, its deviation from its point value in each draw (columns x draws), value columns
    first then burden columns (LinearForm.matrix order)."""
    uniforms = [np.random.default_rng(stream(seed, "parameter", parameter.model, parameter.assumption)).random(draws)
                for parameter in form.parameters]
    out = []
    for adds_value in (True, False):
        _, columns = form.matrix(adds_value)
        deviation = np.empty((len(columns), draws))
        for row, column in enumerate(columns):
            deviation[row] = column.distribution.quantile(uniforms[column.parameter]) - column.point
        out.append(deviation)
    return out[0], out[1]


def stream(seed: int, *name: str) -> np.random.SeedSequence:
    """The random stream of `name` under `seed`: the seed and the first 128 bits of the name's
    SHA-256, so it depends on nothing but the two."""
    digest = hashlib.sha256(json.dumps(name).encode()).digest()
    return np.random.SeedSequence([seed, *np.frombuffer(digest[:16], dtype="<u4").tolist()])


def cohort_streams(form: LinearForm, seed: int) -> list[np.random.SeedSequence]:
    """Each cohort's stream, named by its labels (dimension and value, in the grouping's order)."""
    names = list(form.labels)
    values = [form.labels[name] for name in names]
    if not names:
        return [stream(seed, "cohort")] * len(form)
    return [stream(seed, "cohort", *(part for pair in zip(names, map(str, row), strict=True) for part in pair))
            for row in zip(*values, strict=True)]


def simulate(form: LinearForm, *, draws: int, seed: int, outcome_rates: bool = False,
             unallocated: float = 0.0, only: np.ndarray | None = None) -> Bands:
    """Bands of the form's cohorts over `draws` draws; the totals add `unallocated` to the burden.
    `only` (a mask over the cohorts): summarize just those (the others' figures are NaN), e.g. one
    page of a table; every cohort is still drawn, so theirs and the totals are the same figures."""
    value_dev, burden_dev = draw_assumptions(form, draws, seed)
    a_value, _ = form.matrix(True)
    a_cases, _ = form.matrix(True, cases=True)
    a_burden, _ = form.matrix(False)
    streams = cohort_streams(form, seed) if outcome_rates else []
    cohorts = len(form)
    figures = {name: np.full(cohorts, np.nan) for name in BAND_METRICS}
    total_value = np.zeros(draws)
    total_burden = np.full(draws, float(unallocated))
    block = max(1, BLOCK_VALUES // draws)
    for start in range(0, cohorts, block):
        part = slice(start, min(start + block, cohorts))
        value = form.value[part, None] + a_value[part] @ value_dev
        if outcome_rates:
            value = _with_drawn_rates(form, part, a_cases, value_dev, value, streams[part])
        burden = form.burden[part, None] + a_burden[part] @ burden_dev
        total_value += value.sum(axis=0)
        total_burden += burden.sum(axis=0)
        value -= burden  # net value, in place: the block holds two arrays at most
        if only is None:
            _summarize(value, burden, figures, part)
        elif (chosen := np.flatnonzero(only[part])).size:
            _summarize(value[chosen], burden[chosen], figures, chosen + start)
    totals_figures = {name: np.full(1, np.nan) for name in BAND_METRICS}
    if cohorts or unallocated:
        _summarize((total_value - total_burden)[None, :], total_burden[None, :], totals_figures, slice(0, 1))
    totals = {name: (None if np.isnan(values[0]) else float(values[0])) for name, values in totals_figures.items()}
    names = tuple(parameter.name for parameter in form.parameters)
    return Bands(form.labels, figures, totals, draws, seed, outcome_rates, names)


def _with_drawn_rates(form: LinearForm, part: slice, a_cases: np.ndarray, value_dev: np.ndarray,
                      value: np.ndarray, streams: list[np.random.SeedSequence]) -> np.ndarray:
    """Value with each cohort's resolution rate drawn from its own stream (cohorts with no cases
    keep theirs)."""
    cases = form.cases[part]
    resolved = np.clip(form.net_resolved[part], 0.0, np.maximum(cases, 0.0))
    some = cases > 0
    rate = np.zeros(value.shape)
    for row in np.flatnonzero(some):
        rate[row] = np.random.default_rng(streams[row]).beta(resolved[row] + 1.0, cases[row] - resolved[row] + 1.0,
                                                              value.shape[1])
    by_cases = form.value_by_cases[part, None] + a_cases[part] @ value_dev
    return np.where(some[:, None], rate * by_cases, value)


def _summarize(net: np.ndarray, burden: np.ndarray, figures: dict[str, np.ndarray], part: slice | np.ndarray) -> None:
    """Percentiles, mean, sd and P(net > 0) of each row of draws. Overwrites both arrays: the ROI of
    each draw goes into `burden`, then both are sorted in place (a full sort is several times faster
    than numpy's partition at three percentiles)."""
    figures["probability_net_value_positive"][part] = (net > 0).mean(axis=1)
    figures["net_value_mean"][part] = net.mean(axis=1)
    figures["net_value_sd"][part] = net.std(axis=1)
    defined = (burden != 0).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(net, burden, out=burden)  # ROI per draw
    burden[~defined] = np.nan  # a cohort whose cost can be 0 has no ROI (as the report's null)
    net.sort(axis=1)
    burden.sort(axis=1)
    for name, value in zip(("net_value_p5", "net_value_p50", "net_value_p95"), _percentiles(net), strict=True):
        figures[name][part] = value
    for name, value in zip(("roi_p5", "roi_p50", "roi_p95"), _percentiles(burden), strict=True):
        figures[name][part] = value


def _percentiles(ordered: np.ndarray) -> list[np.ndarray]:
    """QUANTILES of each sorted row, interpolated linearly between order statistics (numpy's default
    method); NaN for a row holding NaN."""
    count = ordered.shape[1]
    out = []
    for quantile in QUANTILES:
        position = quantile / 100.0 * (count - 1)
        below = int(np.floor(position))
        above = min(below + 1, count - 1)
        weight = position - below
        low, high = ordered[:, below], ordered[:, above]
        value = low + (high - low) * weight
        out.append(np.where(np.isnan(ordered[:, -1]), np.nan, value))
    return out
