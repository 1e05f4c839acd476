"""The JSON rendering of a report frame (DESIGN section 7): figures unrounded."""

from __future__ import annotations

import json
from typing import Any

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


def render_json(frame: ReportFrame) -> str:
    return json.dumps(report_document(frame), indent=2, allow_nan=False) + "\n"
