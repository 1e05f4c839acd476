"""Dimension mapping: field paths, lookups, defaults, list fields, and the value parsers."""

from __future__ import annotations

import math

import pytest
from pydantic import TypeAdapter, ValidationError

from roi.connectors.mapping import DimensionMap, Mapping, amount, instant, resolve, whole

RECORD = {
    "project_id": "proj_abc",
    "via": {"channel": "web"},
    "gen_ai.request.model": "gpt-4o",
    "custom_fields": [{"id": 360001, "value": "fr"}, {"id": 360002, "value": None}],
    "request_tags": ["support", "tenant:acme", "topic:billing"],
    "tags": {"tags": [{"name": "vip"}, {"name": "refund"}]},
    "organization_id": 77,
}


def mapping(config: dict) -> Mapping:
    return Mapping(TypeAdapter(DimensionMap).validate_python(config), {})


def test_paths_walk_objects_dotted_keys_id_lists_and_lists_of_objects():
    assert resolve(RECORD, "via.channel") == "web"
    assert resolve(RECORD, "gen_ai.request.model") == "gpt-4o"
    assert resolve(RECORD, "custom_fields.360001") == "fr"
    assert resolve(RECORD, "tags.tags.name") == ["vip", "refund"]
    assert resolve(RECORD, "via.nothing") is None


def test_lookup_default_constant_prefix_and_first_present_field():
    found = mapping({
        "tenant": {"field": "project_id", "lookup": {"proj_abc": "acme"}, "default": "other"},
        "channel": {"value": "chat"},
        "topic": {"field": "request_tags", "prefix": "topic:"},
        "language": {"field": ["missing.field", "custom_fields.360001"]},
        "plan_tier": {"field": "organization_id", "lookup": {"77": "enterprise"}},
        "model": "gen_ai.request.model",
    }).dimensions(RECORD)
    assert found == {"tenant": "acme", "channel": "chat", "topic": "billing", "language": "fr",
                     "plan_tier": "enterprise", "model": "gpt-4o"}


def test_unmatched_values_take_the_default_or_stay_raw():
    record = {"project_id": "proj_zzz"}
    assert mapping({"tenant": {"field": "project_id", "lookup": {"proj_abc": "acme"}, "default": "other"}}
                   ).dimensions(record) == {"tenant": "other"}
    assert mapping({"tenant": {"field": "project_id", "lookup": {"proj_abc": "acme"}}}
                   ).dimensions(record) == {"tenant": "proj_zzz"}
    assert mapping({"tenant": {"field": "absent", "default": "n/a"}}).dimensions(record) == {"tenant": "n/a"}
    assert mapping({"topic": {"field": "request_tags", "prefix": "nope:"}}).dimensions(RECORD) == {"topic": ""}


def test_a_mapping_needs_exactly_one_origin_and_a_known_dimension():
    with pytest.raises(ValidationError, match="exactly one of field"):
        mapping({"tenant": {"lookup": {"a": "b"}}})
    with pytest.raises(ValidationError):
        mapping({"customer": "project_id"})


def test_parsers_accept_numbers_as_strings_and_refuse_bad_values():
    assert whole("412", "n") == 412 and whole(3.0, "n") == 3 and whole(None, "n") == 0
    with pytest.raises(ValueError, match="n is not a whole number"):
        whole("-1", "n")
    with pytest.raises(ValueError):
        whole("1.5", "n")
    assert amount("3.4102", "c") == pytest.approx(3.4102)
    assert math.isnan(amount(None, "c"))
    with pytest.raises(ValueError, match="c is not a number >= 0"):
        amount("abc", "c")
    assert instant("2025-12-01T10:00:01.120Z", "t").isoformat() == "2025-12-01T10:00:01.120000+00:00"
    assert instant("2025-12-01 10:00:01", "t").isoformat() == "2025-12-01T10:00:01+00:00"
    assert instant(1730419200, "t").isoformat() == "2024-11-01T00:00:00+00:00"
    with pytest.raises(ValueError, match="t is not an ISO 8601 timestamp"):
        instant("yesterday", "t")


@pytest.mark.parametrize("given", ["0x10", "1_000", "1e3", "١٢", "412.0", "+5"])
def test_counts_from_upstreams_are_decimal_digits_only(given):
    assert whole(" 412 ", "n") == 412
    with pytest.raises(ValueError) as caught:
        whole(given, "n")
    assert str(caught.value) == f"n is not a whole number >= 0 (got {given!r})"


@pytest.mark.parametrize("given", ["0x1p3", "1_0", "inf", "nan", "١٢"])
def test_amounts_from_upstreams_are_decimal_only(given):
    assert amount("1e-3", "c") == pytest.approx(0.001)
    with pytest.raises(ValueError) as caught:
        amount(given, "c")
    assert str(caught.value) == f"c is not a number >= 0 (got {given!r})"


def test_counts_and_amounts_stop_where_sums_would_overflow():
    """10^18 and more is no count (int64 sums would wrap), 10^12 and more no amount (float sums reach infinity)."""
    assert whole("999999999999999999", "n") == 10**18 - 1
    assert amount(999_999_999_999.0, "c") == 999_999_999_999.0
    for given in ("1000000000000000000", 10**18, 1e300):
        with pytest.raises(ValueError) as caught:
            whole(given, "n")
        assert str(caught.value) == f"n is too large (accepted: below 10^18) (got {given!r})"
    for given in ("1e308", 1e12):
        with pytest.raises(ValueError) as caught:
            amount(given, "c")
        assert str(caught.value) == f"c is too large (accepted: below 10^12) (got {given!r})"
    assert whole("1764547200000000000", "startTimeUnixNano", limit=None) == 1764547200000000000  # not a count
