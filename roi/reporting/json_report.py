"""The JSON rendering of a report frame (DESIGN section 7): figures unrounded."""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import orjson

from ..domain import INTEGER_METRICS, REPORT_METRICS
from .frame import ReportFrame, json_column


def report_document(frame: ReportFrame, *, compact: bool = False) -> dict[str, Any]:
    """The report as a JSON document. `compact`: its cohorts are already serialized (an
    orjson.Fragment, for answers written without indentation: the same JSON, made a column at a
    time instead of a dict per cohort)."""
    return _document(frame, cohorts_fragment(frame) if compact else frame.cohort_records())


def _document(frame: ReportFrame, cohorts: Any) -> dict[str, Any]:
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
        "cohorts": cohorts,
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
    """The JSON file: document_json(report_document(frame)), its cohorts written as compact ones are
    (cohorts_fragment), indented as orjson indents them in the document."""
    return document_json(_document(frame, cohorts_fragment(frame, indented=True)))


def cohorts_fragment(frame: ReportFrame, *, indented: bool = False) -> orjson.Fragment:
    """frame.cohort_records() as JSON: each column serialized once (numbers and null never hold a
    comma, so a column's JSON splits into its values), then one row template per cohort. Compact,
    or `indented` as orjson's OPT_INDENT_2 writes the list as the document's "cohorts"."""
    table = frame.table
    if not len(table):
        return orjson.Fragment(b"[]")
    group = frame.group_by
    labels = []
    for name in group:
        values = table.labels[name].tolist()
        texts = {value: _text(value) for value in set(values)}  # a dimension repeats few values
        labels.append([texts[value] for value in values])
    figures = [column_json(name, table.figures[name])[1:-1].split(b",") for name in REPORT_METRICS]
    if not indented:
        template = (b'{"cohort":{' + b",".join(b'"%s":%%s' % name.encode() for name in group) + b"},"
                    + b",".join(b'"%s":%%s' % name.encode() for name in REPORT_METRICS) + b"}")
        rows = [template % row for row in zip(*labels, *figures, strict=True)]
        return orjson.Fragment(b"[" + b",".join(rows) + b"]")
    cohort = (b'      "cohort": {\n' + b",\n".join(b'        "%s": %%s' % name.encode() for name in group)
              + b'\n      }') if group else b'      "cohort": {}'
    template = (b"    {\n" + cohort + b",\n" + b",\n".join(b'      "%s": %%s' % name.encode() for name in REPORT_METRICS)
                + b"\n    }")
    rows = [template % row for row in zip(*labels, *figures, strict=True)]
    return orjson.Fragment(b"[\n" + b",\n".join(rows) + b"\n  ]")


def column_json(name: str, values: np.ndarray) -> bytes:
    """orjson.dumps(json_column(name, values)), written by orjson from the array itself (the same
    bytes: orjson writes a float64 as it writes the float, NaN and infinities as null)."""
    values = np.ascontiguousarray(values, dtype=np.float64)
    if name not in INTEGER_METRICS:
        return orjson.dumps(values, option=orjson.OPT_SERIALIZE_NUMPY)
    if np.isfinite(values).all() and (not len(values) or float(np.abs(values).max()) < 2**62):
        return orjson.dumps(np.rint(values).astype(np.int64), option=orjson.OPT_SERIALIZE_NUMPY)
    return orjson.dumps(json_column(name, values))


def _text(value: str) -> bytes:
    try:
        return orjson.dumps(value)
    except orjson.JSONEncodeError:  # a lone surrogate: as the json module writes it
        return json.dumps(value).encode()
