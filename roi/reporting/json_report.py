"""The JSON rendering of a report frame (DESIGN section 7): figures unrounded."""

from __future__ import annotations

from typing import Any

import orjson

from .frame import ReportFrame


def report_document(frame: ReportFrame) -> dict[str, Any]:
    return {
        "period": str(frame.period),
        "currency": frame.currency,
        "timezone": frame.timezone,
        "group_by": list(frame.group_by),
        "filters": frame.filters,
        "config_hash": frame.config_hash,
        "data_fingerprint": frame.data_fingerprint,
        "generated_at": frame.generated_at.isoformat(),
        "no_data": not frame.has_data,
        "cohorts": frame.cohort_records(),
        "totals": frame.totals_record(),
        "unallocated_fixed_costs": [
            {"name": name, "amount": amount} for name, amount in sorted(frame.unallocated.items())
        ],
    }


def document_json(document: dict[str, Any]) -> bytes:
    """A report document as the JSON file shows it: indented by two, UTF-8, a newline at the end.
    Its figures went through domain.json_number, so none is NaN or infinite."""
    return orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n"


def render_json(frame: ReportFrame) -> bytes:
    return document_json(report_document(frame))
