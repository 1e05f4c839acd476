"""Figures as people read them: currency with thousands separators, percentages, pp for a change of a
ratio, counts with separators, "—" for a figure that is not defined. Every shown figure is the
rounding of an unrounded one, which the page also carries (`<data value="...">`)."""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from urllib.parse import urlencode

from markupsafe import Markup, escape

from ..domain import MONEY_METRICS, PERCENT_METRICS

SYMBOLS = {"USD": "$", "EUR": "€", "GBP": "£", "JPY": "¥", "INR": "₹", "CHF": "CHF ", "CAD": "CA$", "AUD": "A$"}
UNDEFINED = "—"

DECIMAL = frozenset({"human_review_minutes"})
# the Risk page's figures (services.risk's documents): money, or a ratio shown as a percentage
RISK_MONEY = frozenset({"net_value_p5", "net_value_p50", "net_value_p95", "net_value_mean", "net_value_sd",
                        "net_value_low", "net_value_high", "swing", "break_even_value_per_resolution",
                        "net_value_previous", "change", "volume", "outcome_mix", "unit_cost", "assumptions",
                        "fixed_cost_share", "low", "point", "high"})
SIGNED = frozenset({"change", "volume", "outcome_mix", "unit_cost", "assumptions", "fixed_cost_share"})  # effects
RISK_PERCENT = frozenset({"roi_p5", "roi_p50", "roi_p95", "probability_net_value_positive"})


LABELS = {"roi": "ROI", "roi_p5": "ROI p5", "roi_p50": "ROI p50", "roi_p95": "ROI p95",
          "net_value_p5": "Net value p5", "net_value_p50": "Net value p50", "net_value_p95": "Net value p95",
          "probability_net_value_positive": "P(net value > 0)",
          "break_even_value_per_resolution": "Break-even value per resolution", "net_resolved": "Net resolved", "unpriced_requests": "Unpriced requests",
          "fully_loaded_cost_per_resolved_case": "Fully loaded cost per resolved case"}


def label(metric: str) -> str:
    """A metric's name as people read it: roi is ROI, cost_per_resolved_case is Cost per resolved case."""
    return LABELS.get(metric) or metric.replace("_", " ").capitalize()


def kind_of(metric: str) -> str:
    if metric in MONEY_METRICS or metric in RISK_MONEY:
        return "money"
    if metric in PERCENT_METRICS or metric in RISK_PERCENT:
        return "percent"
    if metric in DECIMAL:
        return "decimal"
    return "count"


def _defined(value: object) -> bool:
    return value is not None and not (isinstance(value, float) and (math.isnan(value) or math.isinf(value)))


_QUANTA = {places: Decimal(1).scaleb(-places) for places in range(4)}


def rounded(value: float, places: int) -> float:
    """Half away from zero on the decimal the float prints as (38.325 is 38.33), as the CSV rounds."""
    quantum = _QUANTA.get(places) or Decimal(1).scaleb(-places)
    return float(Decimal(repr(float(value))).quantize(quantum, rounding=ROUND_HALF_UP))


def money(value: float | None, currency: str = "USD", *, signed: bool = False) -> str:
    if not _defined(value):
        return UNDEFINED
    cents = rounded(float(value), 2)
    sign = "-" if cents < 0 else ("+" if signed and cents > 0 else "")
    symbol = SYMBOLS.get(currency, f"{currency} ")
    return f"{sign}{symbol}{abs(cents):,.2f}"


def count(value: float | None, *, signed: bool = False) -> str:
    if not _defined(value):
        return UNDEFINED
    whole = int(rounded(float(value), 0))
    return f"{whole:+,}" if signed else f"{whole:,}"


def decimal(value: float | None, *, signed: bool = False) -> str:
    if not _defined(value):
        return UNDEFINED
    shown = rounded(float(value), 2) + 0.0
    return f"{shown:+,.2f}" if signed else f"{shown:,.2f}"


def percent(value: float | None) -> str:
    """A ratio as a percentage, one decimal: 0.1234 is 12.3%."""
    if not _defined(value):
        return UNDEFINED
    shown = rounded(float(value) * 100, 1)
    return f"{shown + 0.0:,.1f}%"  # + 0.0: never "-0.0%"


def points(change: float | None) -> str:
    """A change of a ratio in percentage points: 0.12 -> 0.15 is +3.0 pp."""
    if not _defined(change):
        return UNDEFINED
    shown = rounded(float(change) * 100, 1) + 0.0
    return f"{shown:+,.1f} pp"


def figure(value: float | None, metric: str, currency: str = "USD") -> str:
    kind = kind_of(metric)
    if kind == "money":
        return money(value, currency)
    if kind == "percent":
        return percent(value)
    if kind == "decimal":
        return decimal(value)
    return count(value)


def change(now: float | None, before: float | None, metric: str, currency: str = "USD") -> str:
    """The change from `before` to `now`: pp for ratios, signed money or count otherwise."""
    if not _defined(now) or not _defined(before):
        return UNDEFINED
    difference = float(now) - float(before)
    kind = kind_of(metric)
    if kind == "percent":
        return points(difference)
    if kind == "money":
        return money(difference, currency, signed=True)
    if kind == "decimal":
        return decimal(difference, signed=True)
    return count(difference, signed=True)


def relative(now: float | None, before: float | None, metric: str) -> str:
    """The change from `before` to `now` as a percentage of `before` (as the Summary sheet's Change %);
    not for ratios, whose change is in pp, nor from 0."""
    if kind_of(metric) == "percent" or not _defined(now) or not _defined(before) or float(before) == 0:
        return UNDEFINED
    shown = rounded((float(now) - float(before)) / abs(float(before)) * 100, 1) + 0.0
    return f"{shown:+,.1f}%"


def data(value: float | None, metric: str, currency: str = "USD") -> Markup:
    """The figure for people inside a <data> element carrying the unrounded value (none: undefined).
    Built with an f-string (metric names are roi's own, values numbers): Markup.format costs more."""
    if not _defined(value):
        return Markup(f'<data class="fig undefined" data-metric="{escape(metric)}" value="" '
                      f'title="not defined">{UNDEFINED}</data>')
    number = float(value)
    kind = kind_of(metric)
    exact = str(int(number)) if kind == "count" and number.is_integer() else repr(number)
    classes = "fig neg" if number < 0 and kind != "count" else "fig"
    if metric in SIGNED:
        shown = money(number, currency, signed=True)
    elif kind == "money":
        shown = money(number, currency)
    elif kind == "percent":
        shown = percent(number)
    else:
        shown = decimal(number) if kind == "decimal" else count(number)
    return Markup(f'<data class="{classes}" data-metric="{escape(metric)}" value="{exact}">{escape(shown)}</data>')


def filter_value(value: str) -> str:
    """A dimension value as a filter names it: '' is (unattributed), a comma or backslash escaped."""
    return value.replace("\\", "\\\\").replace(",", "\\,") if value else "(unattributed)"


def cohort_query(period: object, group_by: list[str] | tuple[str, ...], cohort: dict[str, str]) -> str:
    """The query string of the One cohort page for a cohort."""
    params = {"period": str(period), "group_by": ",".join(group_by)}
    params.update({name: filter_value(cohort.get(name) or "") for name in group_by})
    return urlencode(params)


FILTERS = {"money": money, "count": count, "percent": percent, "points": points, "figure": figure,
           "change": change, "relative": relative, "data": data, "label": label, "filter_value": filter_value}
