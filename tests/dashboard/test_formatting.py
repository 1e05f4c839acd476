"""Figures as the pages show them: rounded half away from zero on the printed decimal, as the CSV does."""

from __future__ import annotations

import pytest

from roi.dashboard.formatting import change, count, data, money, percent, points, relative


@pytest.mark.parametrize(("value", "currency", "shown"), [
    (38.325, "USD", "$38.33"), (38.324999999999996, "USD", "$38.32"), (-1234567.125, "USD", "-$1,234,567.13"),
    (-0.004, "USD", "$0.00"), (12, "EUR", "€12.00"), (12, "SEK", "SEK 12.00"), (None, "USD", "—"),
    (float("nan"), "USD", "—"),
])
def test_money(value, currency, shown):
    assert money(value, currency) == shown


def test_ratios_counts_and_changes():
    assert percent(0.12345) == "12.3%" and percent(-0.0004) == "0.0%" and percent(1.5) == "150.0%"
    assert points(0.0305) == "+3.1 pp" and points(-0.02) == "-2.0 pp"
    assert change(0.5, 0.2, "roi") == "+30.0 pp"
    assert change(10, 12.5, "net_value") == "-$2.50" and change(12.5, 10, "net_value") == "+$2.50"
    assert change(7, 3, "requests") == "+4" and change(None, 3, "requests") == "—"
    assert count(1234.5) == "1,235" and count(999) == "999"
    assert relative(90, 120, "total_cost") == "-25.0%" and relative(1, 0, "total_cost") == "—"
    assert relative(0.5, 0.25, "roi") == "—"  # a ratio's change is in pp


def test_data_carries_the_unrounded_value():
    assert data(-3.456, "net_value") == '<data class="fig neg" data-metric="net_value" value="-3.456">-$3.46</data>'
    assert data(3.0, "requests") == '<data class="fig" data-metric="requests" value="3">3</data>'
    assert 'value=""' in data(None, "roi") and ">—<" in data(None, "roi")
