"""Monte Carlo bands, sensitivity and break-even against closed forms."""

from __future__ import annotations

import math
from datetime import date
from statistics import NormalDist

import numpy as np
import pandas as pd
import pytest

from roi.config import Assignment, ModelVersion, ValueModel
from roi.domain import CELL_METRICS, DIMENSIONS
from roi.estimates import Normal, Triangular
from roi.valuation import uncertainty, value_cells
from roi.valuation.cohorts import ValuedMonth
from roi.valuation.linear import linear_form
from roi.valuation.sensitivity import sensitivity
from roi.valuation.uncertainty import simulate

DRAWS = 10_000


def _month(models: dict[str, ValueModel], rows: list[dict], assignments=None) -> ValuedMonth:
    cells = []
    for row in rows:
        cell = {"day": date(2026, 3, 5), **{name: "" for name in DIMENSIONS}, **{name: 0.0 for name in CELL_METRICS}}
        cell.update(row)
        cells.append(cell)
    frame = pd.DataFrame(cells, columns=["day", *DIMENSIONS, *CELL_METRICS])
    rules = assignments or [Assignment(match={}, model=next(iter(models)))]
    return ValuedMonth.of(value_cells(frame, models=models, assignments=rules, fixed_costs=[]), "test")


def _model(**assumptions) -> dict[str, ValueModel]:
    return {"m": ValueModel(name="m", versions=[ModelVersion(effective_from=date(2026, 1, 1), **assumptions)])}


def _mc_error(p: float, draws: int = DRAWS) -> float:
    return 4 * math.sqrt(p * (1 - p) / draws) + 1e-12


@pytest.mark.parametrize(("token_cost", "resolved"), [(500.0, 100), (620.0, 100), (300.0, 80)])
def test_probability_of_a_positive_net_value_is_the_triangular_cdf(token_cost, resolved):
    triangle = Triangular(low=2.0, mode=5.5, high=9.0)
    models = _model(value_per_resolution=triangle)
    month = _month(models, [{"resolved": resolved, "token_cost": token_cost, "tenant": "acme"}])
    bands = simulate(linear_form(month, models, ["tenant"]), draws=DRAWS, seed=7)
    # net value > 0  <=>  value per resolution > token_cost / resolved
    expected = 1.0 - triangle.cdf(token_cost / resolved)
    got = bands.figures["probability_net_value_positive"][0]
    assert abs(got - expected) <= _mc_error(expected)
    assert bands.totals["probability_net_value_positive"] == pytest.approx(got)
    # the percentiles are the triangle's quantiles, scaled: their CDF is 5 %, 50 %, 95 %
    for name, level in (("net_value_p5", 0.05), ("net_value_p50", 0.5), ("net_value_p95", 0.95)):
        at = (bands.figures[name][0] + token_cost) / resolved
        assert abs(triangle.cdf(at) - level) <= _mc_error(level)


@pytest.mark.parametrize(("mean", "sd"), [(3.0, 0.5), (1.0, 1.0), (0.2, 2.0)])
def test_a_normal_assumption_gives_the_truncated_normal_mean_and_sd(mean, sd):
    models = _model(value_per_resolution=6.0, escalation_cost=Normal(mean=mean, sd=sd))
    month = _month(models, [{"resolved": 50, "escalated": 40, "token_cost": 10.0}])
    bands = simulate(linear_form(month, models, []), draws=40_000, seed=3)
    unit = NormalDist()
    alpha = -mean / sd
    kept = 1 - unit.cdf(alpha)
    lam = unit.pdf(alpha) / kept
    truncated_mean = mean + sd * lam
    truncated_sd = sd * math.sqrt(1 + alpha * lam - lam**2)
    expected_mean = 50 * 6.0 - 10.0 - 40 * truncated_mean
    expected_sd = 40 * truncated_sd
    tolerance = 4 * expected_sd / math.sqrt(40_000)
    assert abs(bands.figures["net_value_mean"][0] - expected_mean) <= tolerance
    assert bands.figures["net_value_sd"][0] == pytest.approx(expected_sd, rel=0.03)
    # the point estimate (the report) uses the mean itself
    assert month.totals()["net_value"] == pytest.approx(50 * 6.0 - 10.0 - 40 * mean)


def test_a_seed_reproduces_the_figures_and_another_seed_does_not():
    models = _model(value_per_resolution=Triangular(low=1, mode=4, high=6), reopen_cost=Normal(mean=8, sd=2))
    month = _month(models, [{"resolved": 30, "reopened": 4, "tenant": "a"}, {"resolved": 5, "reopened": 1, "tenant": "b"}])
    form = linear_form(month, models, ["tenant"])
    first = simulate(form, draws=2_000, seed=11)
    again = simulate(form, draws=2_000, seed=11)
    other = simulate(form, draws=2_000, seed=12)
    for name in uncertainty.BAND_METRICS:
        np.testing.assert_array_equal(first.figures[name], again.figures[name])
    assert first.totals == again.totals
    assert not np.array_equal(first.figures["net_value_p50"], other.figures["net_value_p50"])


def test_cohorts_share_one_draw_of_a_model_and_blocks_do_not_change_the_figures(monkeypatch):
    models = _model(value_per_resolution=Triangular(low=0, mode=5, high=10))
    rows = [{"resolved": 10 * (index + 1), "tenant": f"t{index}", "token_cost": 20.0} for index in range(7)]
    month = _month(models, rows)
    form = linear_form(month, models, ["tenant"])
    whole = simulate(form, draws=5_000, seed=5)
    # one draw for every cohort: the cohorts move together, so the total's sd is the sum of theirs
    assert whole.totals["net_value_sd"] == pytest.approx(whole.figures["net_value_sd"].sum(), rel=1e-9)
    monkeypatch.setattr(uncertainty, "BLOCK_VALUES", 5_000 * 2)  # two cohorts per block
    blocked = simulate(form, draws=5_000, seed=5)
    for name in uncertainty.BAND_METRICS:
        np.testing.assert_allclose(blocked.figures[name], whole.figures[name], rtol=1e-12)


@pytest.mark.parametrize("outcome_rates", [False, True])
def test_only_some_cohorts_summarized_gives_their_figures_and_the_same_totals(monkeypatch, outcome_rates):
    models = _model(value_per_resolution=Triangular(low=0, mode=5, high=10), escalation_cost=Normal(mean=2, sd=1))
    rows = [{"resolved": 10 * (index + 1), "escalated": index, "tenant": f"t{index}", "token_cost": 20.0 + index}
            for index in range(7)]
    form = linear_form(_month(models, rows), models, ["tenant"])
    monkeypatch.setattr(uncertainty, "BLOCK_VALUES", 2_000 * 3)  # three cohorts per block: the mask spans blocks
    whole = simulate(form, draws=2_000, seed=9, outcome_rates=outcome_rates)
    only = np.array([False, True, False, True, True, False, True])
    part = simulate(form, draws=2_000, seed=9, outcome_rates=outcome_rates, only=only)
    assert part.totals == whole.totals
    for name in uncertainty.BAND_METRICS:
        assert part.figures[name][only].tolist() == whole.figures[name][only].tolist(), name
        assert np.isnan(part.figures[name][~only]).all(), name


def test_outcome_rates_widen_the_band_of_a_small_cohort_as_its_beta_posterior_says():
    models = _model(value_per_resolution=10.0)
    month = _month(models, [{"tenant": "small", "resolved": 9, "escalated": 3},
                            {"tenant": "large", "resolved": 9_000, "escalated": 3_000}])
    form = linear_form(month, models, ["tenant"])
    fixed = simulate(form, draws=DRAWS, seed=1)
    assert fixed.figures["net_value_sd"].tolist() == [0.0, 0.0]
    drawn = simulate(form, draws=DRAWS, seed=1, outcome_rates=True)
    for position, (resolved, cases) in zip((0, 1), ((9_000, 12_000), (9, 12)), strict=True):
        a, b = resolved + 1, cases - resolved + 1
        beta_sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
        expected = cases * 10.0 * beta_sd  # value = rate x cases x value per resolution
        assert drawn.figures["net_value_sd"][position] == pytest.approx(expected, rel=0.05)
        assert drawn.figures["net_value_mean"][position] == pytest.approx(cases * 10.0 * a / (a + b), rel=0.01)
    assert drawn.figures["net_value_sd"][1] > 20 * drawn.figures["net_value_sd"][0] / 1000


def test_roi_band_is_null_where_the_burden_is_zero():
    models = _model(value_per_resolution=Triangular(low=1, mode=2, high=3))
    month = _month(models, [{"resolved": 10}])
    bands = simulate(linear_form(month, models, []), draws=1_000, seed=0)
    assert math.isnan(bands.figures["roi_p50"][0]) and bands.totals["roi_p50"] is None
    assert bands.figures["probability_net_value_positive"][0] == 1.0


def test_sensitivity_is_exact_and_largest_swing_first():
    models = _model(value_per_resolution=Triangular(low=4, mode=5, high=8), escalation_cost=Normal(mean=2, sd=1),
                    review_cost_per_hour=Triangular(low=30, mode=45, high=50))
    month = _month(models, [{"tenant": "a", "resolved": 100, "reopened": 10, "escalated": 20, "token_cost": 50.0,
                             "human_review_minutes": 120.0},
                            {"tenant": "b", "resolved": 10, "escalated": 30, "token_cost": 90.0}])
    form = linear_form(month, models, ["tenant"])
    total = month.totals()["net_value"]
    result = sensitivity(form, total)
    names = [swing.parameter for swing in result.swings]
    alpha_kept = 1 - NormalDist().cdf(-2.0)
    esc_low = 2 + NormalDist().inv_cdf(NormalDist().cdf(-2.0) + 0.05 * alpha_kept)
    esc_high = 2 + NormalDist().inv_cdf(NormalDist().cdf(-2.0) + 0.95 * alpha_kept)
    assert [round(value, 6) for value in Normal(mean=2, sd=1).low_high] == [round(esc_low, 6), round(esc_high, 6)]
    # swings: value per resolution 100 x (8 - 4) = 400; escalation 50 x (high - low); review 2 h x 20 = 40
    expected = {"m.value_per_resolution": 400.0, "m.escalation_cost": 50 * (esc_high - esc_low),
                "m.review_cost_per_hour": 40.0}
    assert names == sorted(expected, key=lambda name: -expected[name])
    by_name = {swing.parameter: swing for swing in result.swings}
    vpr = by_name["m.value_per_resolution"]
    np.testing.assert_allclose(vpr.net_value_low - form.net_value, [90 * (4 - 5), 10 * (4 - 5)])
    np.testing.assert_allclose(vpr.net_value_high - form.net_value, [90 * 3, 10 * 3])
    assert vpr.total_high - vpr.total_low == pytest.approx(400.0)
    escalation = by_name["m.escalation_cost"]
    np.testing.assert_allclose(escalation.net_value_low - form.net_value, [-20 * (esc_low - 2), -30 * (esc_low - 2)])
    review = by_name["m.review_cost_per_hour"]
    np.testing.assert_allclose(review.net_value_high - form.net_value, [-2 * 5, 0.0])
    # break-even: (total cost + failure cost) / net resolved
    burden_a = 50 + 2 * 45 + 20 * 2
    np.testing.assert_allclose(result.break_even, [burden_a / 90, (90 + 30 * 2) / 10])
    # cohort b: escalation 30 x (high - low) = 99.8, value per resolution 10 x 4 = 40, review 0
    assert [names[index] for index in result.cohort_order(1)] == [
        "m.escalation_cost", "m.value_per_resolution", "m.review_cost_per_hour"]


def test_versions_of_one_model_move_together():
    models = {"m": ValueModel(name="m", versions=[
        ModelVersion(effective_from=date(2026, 1, 1), value_per_resolution=Triangular(low=1, mode=2, high=3)),
        ModelVersion(effective_from=date(2026, 3, 10), value_per_resolution=Triangular(low=10, mode=20, high=30)),
    ])}
    frame_rows = [{"resolved": 10, "day": date(2026, 3, 5)}, {"resolved": 10, "day": date(2026, 3, 20)}]
    month = _month(models, frame_rows)
    form = linear_form(month, models, [])
    assert len(form.parameters) == 1 and len(form.columns) == 2
    swing = sensitivity(form, month.totals()["net_value"]).swings[0]
    assert swing.total_low == pytest.approx(10 * 1 + 10 * 10)
    assert swing.total_high == pytest.approx(10 * 3 + 10 * 30)
    bands = simulate(form, draws=DRAWS, seed=2)
    # one uniform drives both versions: net value = 10 (q1 + q2) with q2 = 10 q1 -> 110 x a triangle(1, 2, 3)
    assert bands.figures["net_value_p50"][0] == pytest.approx(220.0, rel=0.01)
    assert bands.figures["net_value_sd"][0] == pytest.approx(110 * math.sqrt(1 / 6), rel=0.03)


def test_percentiles_of_sorted_draws_are_numpys():
    draws = np.random.default_rng(4).normal(size=(6, 1_001))
    draws[2, 17] = np.nan
    expected = np.percentile(draws, uncertainty.QUANTILES, axis=1)
    got = uncertainty._percentiles(np.sort(draws, axis=1))
    np.testing.assert_allclose(np.array(got), expected, rtol=1e-12, equal_nan=True)


@pytest.mark.parametrize("outcome_rates", [False, True])
def test_a_cohorts_bands_do_not_depend_on_the_other_cohorts_and_models_of_the_question(outcome_rates):
    models = {"support": ValueModel(name="support", versions=[ModelVersion(
                  effective_from=date(2026, 1, 1), value_per_resolution=Triangular(low=2, mode=6, high=9),
                  escalation_cost=Normal(mean=2, sd=1))]),
              "voice": ValueModel(name="voice", versions=[ModelVersion(
                  effective_from=date(2026, 1, 1), value_per_resolution=Triangular(low=5, mode=20, high=30),
                  reopen_cost=Normal(mean=8, sd=3))])}
    rules = [Assignment(match={"channel": "voice"}, model="voice"), Assignment(match={}, model="support")]
    rows = [{"tenant": tenant, "channel": channel, "resolved": resolved, "escalated": 4, "reopened": 2,
             "token_cost": 60.0}
            for tenant, channel, resolved in (("acme", "web", 30), ("acme", "voice", 6), ("globex", "voice", 9),
                                              ("globex", "web", 12), ("initech", "email", 40))]
    month = _month(models, rows, rules)
    everything = simulate(linear_form(month, models, ["tenant", "channel"]), draws=4_000, seed=21,
                          outcome_rates=outcome_rates)
    voice = simulate(linear_form(month, models, ["tenant", "channel"], {"channel": ["voice"]}), draws=4_000, seed=21,
                     outcome_rates=outcome_rates)
    assert voice.parameters == ("voice.value_per_resolution", "voice.reopen_cost")  # support is not in it
    whole = list(zip(everything.labels["tenant"], everything.labels["channel"], strict=True))
    for position, key in enumerate(zip(voice.labels["tenant"], voice.labels["channel"], strict=True)):
        for name in uncertainty.BAND_METRICS:
            assert voice.figures[name][position] == everything.figures[name][whole.index(key)], (key, name)
    # a cohort's own figures do move with the seed
    other = simulate(linear_form(month, models, ["tenant", "channel"], {"channel": ["voice"]}), draws=4_000, seed=22,
                     outcome_rates=outcome_rates)
    assert other.figures["net_value_p50"].tolist() != voice.figures["net_value_p50"].tolist()


# the Monte Carlo standard error of a 5 % or 95 % percentile over 10,000 draws of a normal, in its sd
PERCENTILE_ERROR = math.sqrt(0.05 * 0.95 / DRAWS) / NormalDist().pdf(NormalDist().inv_cdf(0.05))
LEVELS = np.array([0.001, 0.005, 0.05, 0.25, 0.5, 0.75, 0.95, 0.995, 0.999])


def _worst_beta_error(smaller: float) -> float:
    """The largest distance, in standard deviations, between the Cornish-Fisher quantiles and Beta(a, b)'s
    exact ones (scipy) at LEVELS, over (a, b) with min(a, b) = smaller and the other up to 10^4 times it."""
    from scipy import stats

    z = np.array([NormalDist().inv_cdf(level) for level in LEVELS])
    worst = 0.0
    for larger in (smaller, 1.5 * smaller, 3 * smaller, 10 * smaller, 100 * smaller, 1e4 * smaller):
        for a, b in ((smaller, larger), (larger, smaller)):
            got = uncertainty.beta_quantiles(np.array([a]), np.array([b]), z[None, :])[0]
            sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
            worst = max(worst, float(np.max(np.abs(got - stats.beta.ppf(LEVELS, a, b)) / sd)))
    return worst


@pytest.mark.parametrize("smaller", [30, 31.5, 45, 80, 250, 2_000])
def test_from_the_threshold_a_drawn_rate_by_a_normal_draw_is_the_betas_quantile(smaller):
    """Where both Beta parameters reach BETA_BY_NORMAL_FROM, a normal draw z becomes the rate at Beta's
    quantile of z's level, within a sixth of the Monte Carlo error of a band's p5 and p95 (0.021 sd)."""
    assert smaller >= uncertainty.BETA_BY_NORMAL_FROM
    assert _worst_beta_error(smaller) <= 0.003 < PERCENTILE_ERROR / 6


def test_below_the_threshold_the_expansion_would_not_be_exact_enough():
    """What sets BETA_BY_NORMAL_FROM: by 15 the expansion's error passes 0.005 sd (a quarter of the
    Monte Carlo error), and a plain normal approximation is off by four Monte Carlo errors at 30."""
    assert _worst_beta_error(15) > 0.005
    a = b_ = uncertainty.BETA_BY_NORMAL_FROM
    assert _worst_beta_error(a) <= 0.003
    from scipy import stats

    b = 100 * b_
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    normal = a / (a + b) + sd * NormalDist().inv_cdf(0.05)
    assert abs(normal - stats.beta.ppf(0.05, a, b)) / sd > 4 * PERCENTILE_ERROR


@pytest.mark.parametrize(("resolved", "cases"), [(9, 12), (40, 100), (700, 1_000), (2, 400)])
def test_a_drawn_rates_band_has_the_betas_percentiles(resolved, cases):
    """Exact (numpy's Beta) or by the expansion, the band of a cohort whose only uncertainty is its rate
    is cases x value per resolution x Beta's percentiles, within the Monte Carlo error."""
    from scipy import stats

    models = _model(value_per_resolution=10.0)
    month = _month(models, [{"tenant": "t", "resolved": resolved, "escalated": cases - resolved}])
    bands = simulate(linear_form(month, models, ["tenant"]), draws=DRAWS, seed=4, outcome_rates=True)
    a, b = resolved + 1, cases - resolved + 1
    sd = math.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)))
    for name, level in (("net_value_p5", 0.05), ("net_value_p50", 0.5), ("net_value_p95", 0.95)):
        rate = bands.figures[name][0] / (cases * 10.0)
        assert abs(rate - stats.beta.ppf(level, a, b)) <= 4 * PERCENTILE_ERROR * sd, name


def test_percentiles_of_partitioned_draws_are_those_of_sorted_draws():
    draws = np.random.default_rng(5).normal(size=(5, 10_000))
    draws[3, 9] = np.nan
    partitioned = draws.copy()
    partitioned.partition(uncertainty._order_statistics(10_000), axis=1)
    for got, expected in zip(uncertainty._percentiles(partitioned), uncertainty._percentiles(np.sort(draws, axis=1)),
                             strict=True):
        np.testing.assert_array_equal(got, expected)


def test_the_inverse_normal_is_scipys_to_the_last_digits():
    from scipy.special import ndtri as scipys

    from roi.estimates import ndtri

    p = np.concatenate([np.random.default_rng(8).random(20_000), np.logspace(-300, -1, 500),
                        1 - np.logspace(-16, -1, 500), [0.5, 0.075, 0.925]])
    np.testing.assert_allclose(ndtri(p), scipys(p), rtol=4e-15, atol=1e-15)
    assert ndtri(np.array([0.0, 1.0])).tolist() == [-math.inf, math.inf]
    assert np.isnan(ndtri(np.array([-0.1, 1.1, np.nan]))).all()
