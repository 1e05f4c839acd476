"""Monte Carlo over the value models' ranges: bands of net value and ROI per cohort and in total.

Each draw takes one uniform number per uncertain parameter (model x assumption), shared by
every cohort and every version of the model (each version maps it through its own range's
inverse CDF): one value model is one uncertainty. Cohorts are linear in the assumptions
(linear.py), so a cohort's draws are its point figures plus a vector-matrix product over the
draws, and without drawn rates the totals are one more such form (the sum of the cohorts');
cohorts are drawn in blocks held in buffers made once, so memory stays bounded whatever the
number of cohorts. With `outcome_rates`, each cohort's resolution rate is drawn too, from
Beta(net resolved + 1, other cases + 1) (by its Cornish-Fisher expansion at a normal draw where
both parameters reach BETA_BY_NORMAL_FROM; docs/metrics.md): its value is the drawn rate x its
cases x the drawn value per resolution.

Every random stream is named, not numbered: a parameter's uniforms come from the seed and its
name (model and assumption), a cohort's rate draws from the seed and its labels. So a cohort's
figures are the same whichever other cohorts and models the question holds (a filter that
keeps it, another grouping of the rest, a page of a table), for the same seed, data and config.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from ..estimates import Distribution
from .linear import LinearForm

QUANTILES = (5.0, 50.0, 95.0)
BAND_METRICS: tuple[str, ...] = (
    "net_value_p5", "net_value_p50", "net_value_p95", "net_value_mean", "net_value_sd",
    "roi_p5", "roi_p50", "roi_p95", "probability_net_value_positive",
)
BLOCK_VALUES = 1 << 21  # draws x cohorts held per array at a time (16 MB of float64)
BETA_BY_NORMAL_FROM = 30.0  # a drawn rate's Beta(a, b) with a, b >= this: by a normal draw (beta_quantiles)


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
    out = []
    for adds_value in (True, False):
        _, columns = form.matrix(adds_value)
        deviation = np.empty((len(columns), draws))
        for row, column in enumerate(columns):
            parameter = form.parameters[column.parameter]
            deviation[row] = _quantiles(seed, draws, parameter.model, parameter.assumption, column.distribution)
            deviation[row] -= column.point
        out.append(deviation)
    return out[0], out[1]


@functools.lru_cache(maxsize=64)  # 80 KB each at 10,000 draws, 800 KB at the most (100,000): 51 MB at worst
def _quantiles(seed: int, draws: int, model: str, assumption: str, distribution: Distribution) -> np.ndarray:
    """A version's range at the uniforms of its parameter's stream (model and assumption)."""
    values = distribution.quantile(np.random.default_rng(stream(seed, "parameter", model, assumption)).random(draws))
    values.flags.writeable = False
    return values


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
    `only` (a mask over the cohorts): draw and summarize just those (the others' figures are NaN),
    e.g. one page of a table; their figures and the totals are the same as without `only`, to the bit."""
    value_dev, burden_dev = draw_assumptions(form, draws, seed)
    a_value, _ = form.matrix(True)
    a_burden, _ = form.matrix(False)
    cohorts = len(form)
    figures = {name: np.full(cohorts, np.nan) for name in BAND_METRICS}
    if outcome_rates:  # the totals add up every cohort's own drawn rate
        drawing = _Drawing(form, value_dev, burden_dev, a_value, a_burden, seed)
        total_value, total_burden = drawing.with_rates(float(unallocated), only, figures)
    else:  # the totals are a linear form too, the sum of the cohorts': drawn once, like one cohort
        total_value = form.value.sum() + a_value.sum(axis=0) @ value_dev
        total_burden = float(unallocated) + form.burden.sum() + a_burden.sum(axis=0) @ burden_dev
        _Drawing(form, value_dev, burden_dev, a_value, a_burden, seed).linear(only, figures)
    totals_figures = {name: np.full(1, np.nan) for name in BAND_METRICS}
    if cohorts or unallocated:
        _summarize((total_value - total_burden)[None, :], total_burden[None, :], totals_figures, slice(0, 1))
    totals = {name: (None if np.isnan(values[0]) else float(values[0])) for name, values in totals_figures.items()}
    names = tuple(parameter.name for parameter in form.parameters)
    return Bands(form.labels, figures, totals, draws, seed, outcome_rates, names)


class _Drawing:
    """Cohorts' draws in blocks of rows held in buffers made once. Each cohort's row is its own
    vector-matrix product (its coefficients times the assumptions' deviations), never a row of a
    larger matrix product: BLAS may add up a row of a matrix product in another order depending on
    the matrix's shape, and a cohort's figures must not depend on which others are drawn with it."""

    def __init__(self, form: LinearForm, value_dev: np.ndarray, burden_dev: np.ndarray, a_value: np.ndarray,
                 a_burden: np.ndarray, seed: int):
        self.form, self.seed = form, seed
        self.value_dev, self.burden_dev, self.a_value, self.a_burden = value_dev, burden_dev, a_value, a_burden
        self.draws = value_dev.shape[1]
        self.block = max(1, min(BLOCK_VALUES // self.draws, len(form)))
        self.value = np.empty((self.block, self.draws))
        self.burden = np.empty((self.block, self.draws))
        self.scratch = np.empty((self.block, self.draws))  # the drawn rates' expansion, the deviations' squares

    def _rows(self, rows: np.ndarray, coefficients: np.ndarray, deviations: np.ndarray, points: np.ndarray,
              out: np.ndarray) -> np.ndarray:
        """Each row's points plus its coefficients times the deviations, in `out` (rows x draws)."""
        out = out[:rows.size]
        for position, row in enumerate(rows):
            np.matmul(coefficients[row], deviations, out=out[position])
        out += points[rows, None]
        return out

    def linear(self, only: np.ndarray | None, figures: dict[str, np.ndarray]) -> None:
        """The bands of the cohorts (all, or those of `only`), each linear in the assumptions."""
        chosen = np.arange(len(self.form)) if only is None else np.flatnonzero(only)
        for start in range(0, chosen.size, self.block):
            rows = chosen[start:start + self.block]
            value = self._rows(rows, self.a_value, self.value_dev, self.form.value, self.value)
            burden = self._rows(rows, self.a_burden, self.burden_dev, self.form.burden, self.burden)
            value -= burden  # net value, in place
            _summarize(value, burden, figures, rows, self.scratch)

    def with_rates(self, unallocated: float, only: np.ndarray | None,
                   figures: dict[str, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """The bands of the cohorts (all, or those of `only`) with each cohort's resolution rate drawn,
        and the totals' value and burden in each draw: every cohort is drawn, the totals need them all,
        in the same blocks whatever `only` is (the totals add up each block's rows)."""
        form = self.form
        a_cases, _ = form.matrix(True, cases=True)
        streams = cohort_streams(form, self.seed)
        rates = np.empty((self.block, self.draws))
        total_value = np.zeros(self.draws)
        total_burden = np.full(self.draws, unallocated)
        for start in range(0, len(form), self.block):
            rows = np.arange(start, min(start + self.block, len(form)))
            # value = drawn rate x (cases x drawn value per resolution) where the cohort has cases
            drawn, rate = drawn_rates(form.cases[rows], form.net_resolved[rows], streams[start:start + rows.size],
                                      self.draws, rates, self.scratch)
            some = np.zeros(rows.size, dtype=bool)
            some[drawn] = True
            value = self.value[:rows.size]
            for position, row in enumerate(rows):
                if some[position]:
                    np.matmul(a_cases[row], self.value_dev, out=value[position])
                else:
                    np.matmul(self.a_value[row], self.value_dev, out=value[position])
            value += np.where(some, form.value_by_cases[rows], form.value[rows])[:, None]
            if drawn.size == rows.size:
                value *= rate
            elif drawn.size:
                value[drawn] *= rate
            burden = self._rows(rows, self.a_burden, self.burden_dev, form.burden, self.burden)
            total_value += value.sum(axis=0)
            total_burden += burden.sum(axis=0)
            summarized = rows if only is None else rows[only[rows]]
            if summarized.size == rows.size:
                value -= burden
                _summarize(value, burden, figures, rows, self.scratch)
            elif summarized.size:
                picked = summarized - start
                net, cost = value[picked], burden[picked]
                net -= cost
                _summarize(net, cost, figures, summarized, self.scratch)
        return total_value, total_burden


def drawn_rates(cases: np.ndarray, net_resolved: np.ndarray, streams: list[np.random.SeedSequence],
                draws: int, out: np.ndarray | None = None,
                scratch: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The positions of the cohorts with cases, and their resolution rates drawn from each one's
    stream (rows x draws; in `out` or `scratch` if given, both as large): Beta(net resolved + 1,
    other cases + 1). Where both parameters are at least BETA_BY_NORMAL_FROM, its Cornish-Fisher
    expansion at a standard normal draw (docs/metrics.md), several times cheaper than numpy's Beta
    (two Gamma draws)."""
    resolved = np.clip(net_resolved, 0.0, np.maximum(cases, 0.0))
    rows = np.flatnonzero(cases > 0)
    a = resolved[rows] + 1.0
    b = cases[rows] - resolved[rows] + 1.0
    expanded = np.minimum(a, b) >= BETA_BY_NORMAL_FROM
    rates = np.empty((rows.size, draws)) if out is None else out[:rows.size]
    for index, row in enumerate(rows):
        generator = np.random.default_rng(streams[row])
        if expanded[index]:
            generator.standard_normal(out=rates[index])
        else:
            rates[index] = generator.beta(a[index], b[index], draws)
    if expanded.all():
        return rows, beta_quantiles(a, b, rates, None if scratch is None else scratch[:rows.size])
    if expanded.any():
        rates[expanded] = beta_quantiles(a[expanded], b[expanded], rates[expanded])
    return rows, rates


def beta_quantiles(a: np.ndarray, b: np.ndarray, z: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
    """Beta(a, b)'s quantiles (row i: a[i], b[i]) at the standard normal quantiles `z` (rows x n),
    by the Cornish-Fisher expansion to the second order (skewness and kurtosis).
    Within 0.003 standard deviations of the exact quantiles from 0.1 % to 99.9 % when a and b are
    both at least 30 (tests/valuation/test_uncertainty.py); clipped to [0, 1]."""
    n = a + b
    mean = a / n
    sd = np.sqrt(a * b / (n * n * (n + 1.0)))
    skew = 2.0 * (b - a) * np.sqrt(n + 1.0) / ((n + 2.0) * np.sqrt(a * b))
    kurtosis = 6.0 * ((a - b) ** 2 * (n + 1.0) - a * b * (n + 2.0)) / (a * b * (n + 2.0) * (n + 3.0))
    # z + skew/6 (z^2 - 1) + kurtosis/24 (z^3 - 3z) - skew^2/36 (2z^3 - 5z), by powers of z
    cubic = (kurtosis / 24.0 - skew**2 / 18.0) * sd
    square = skew / 6.0 * sd
    linear = (1.0 - kurtosis / 8.0 + 5.0 * skew**2 / 36.0) * sd
    constant = mean - skew / 6.0 * sd
    x = np.multiply(cubic[:, None], z, out=out)
    x += square[:, None]
    x *= z
    x += linear[:, None]
    x *= z
    x += constant[:, None]
    return np.clip(x, 0.0, 1.0, out=x)


def _summarize(net: np.ndarray, burden: np.ndarray, figures: dict[str, np.ndarray], part: slice | np.ndarray,
               scratch: np.ndarray | None = None) -> None:
    """Percentiles, mean, sd and P(net > 0) of each row of draws. Overwrites both arrays: the ROI of
    each draw goes into `burden`, then both are partitioned in place at the order statistics the
    percentiles read (a third faster than a full sort, and the same figures): the ROIs by a helper
    thread while this one takes the net values (numpy lets go of the GIL), so on two cores the
    percentiles, most of the bands' time, take half as long."""
    figures["probability_net_value_positive"][part] = (net > 0).mean(axis=1)
    mean = net.mean(axis=1)
    figures["net_value_mean"][part] = mean
    if scratch is None:
        figures["net_value_sd"][part] = net.std(axis=1)
    else:  # np.std's steps, in a buffer made once rather than a new array per block
        squares = np.subtract(net, mean[:, None], out=scratch[:len(net)])
        np.multiply(squares, squares, out=squares)
        figures["net_value_sd"][part] = np.sqrt(squares.sum(axis=1) / net.shape[1])
    defined = (burden != 0).all(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        np.divide(net, burden, out=burden)  # ROI per draw
    burden[~defined] = np.nan  # a cohort whose cost can be 0 has no ROI (as the report's null)
    kth = _order_statistics(net.shape[1])
    roi = _helper(os.getpid()).submit(burden.partition, kth, axis=1)
    net.partition(kth, axis=1)
    roi.result()
    for name, value in zip(("net_value_p5", "net_value_p50", "net_value_p95"), _percentiles(net), strict=True):
        figures[name][part] = value
    for name, value in zip(("roi_p5", "roi_p50", "roi_p95"), _percentiles(burden), strict=True):
        figures[name][part] = value


@functools.cache
def _helper(process: int) -> ThreadPoolExecutor:
    """The helper thread of this process (a pool made before a fork has no thread in the child)."""
    return ThreadPoolExecutor(1, thread_name_prefix=f"roi-bands-{process}")


def _order_statistics(count: int) -> list[int]:
    """The positions _percentiles reads: the two order statistics around each quantile, and the
    last (NaN sorts last, so a row holding NaN has it there)."""
    positions = {count - 1}
    for quantile in QUANTILES:
        position = quantile / 100.0 * (count - 1)
        below = int(np.floor(position))
        positions.update((below, min(below + 1, count - 1)))
    return sorted(positions)


def _percentiles(ordered: np.ndarray) -> list[np.ndarray]:
    """QUANTILES of each row, sorted or partitioned at _order_statistics, interpolated linearly between
    order statistics (numpy's default method); NaN for a row holding NaN."""
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
