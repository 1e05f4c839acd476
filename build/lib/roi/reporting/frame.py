"""The report frame: one month's figures as plain data, rendered by JSON, CSV and Excel alike."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import numpy as np
import pandas as pd

from ..config import FixedCost, ModelVersion
from ..domain import INTEGER_METRICS, REPORT_METRICS, Period, json_number

__all__ = ["EMPTY_FINGERPRINT", "INTEGER_METRICS", "CohortTable", "ModelVersionInUse", "ReportFrame", "json_column",
           "json_number"]

# The data fingerprint of a month with no stored cells (valuation.fingerprint.data_fingerprint of none).
EMPTY_FINGERPRINT = hashlib.sha256(b"").hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class ModelVersionInUse:
    """A value model version effective during the month."""

    model: str
    description: str
    version: ModelVersion


@dataclass(frozen=True, slots=True)
class CohortTable:
    """The cohorts as columns: each grouping dimension's values and every metric's figures, one entry
    per cohort, in the cohorts' order."""

    labels: dict[str, np.ndarray]  # dimension -> its values (str), for the grouping's dimensions
    figures: dict[str, np.ndarray]  # metric -> float64, for every metric of REPORT_METRICS

    def __len__(self) -> int:
        return len(next(iter(self.figures.values()))) if self.figures else 0

    @classmethod
    def of_frame(cls, frame: pd.DataFrame, group_by: tuple[str, ...]) -> CohortTable:
        return cls({name: frame[name].astype(str).to_numpy(dtype=object) for name in group_by},
                   {name: frame[name].to_numpy(dtype=np.float64) for name in REPORT_METRICS})

    def ordered(self, sort: str | None, limit: int | None = None) -> CohortTable:
        """The cohorts by a metric ('-' first: descending; ties keep their order), undefined figures last
        either way; then the first `limit`."""
        order = np.arange(len(self))
        if sort:
            values = self.figures[sort.lstrip("-")]
            known = np.flatnonzero(~np.isnan(values))
            keys = -values[known] if sort.startswith("-") else values[known]
            order = np.concatenate([known[np.argsort(keys, kind="stable")], np.flatnonzero(np.isnan(values))])
        if limit is not None:
            order = order[:limit]
        return CohortTable({name: values[order] for name, values in self.labels.items()},
                           {name: values[order] for name, values in self.figures.items()})

    def frame(self) -> pd.DataFrame:
        figures = pd.DataFrame({name: self.figures[name] for name in REPORT_METRICS})
        if not self.labels:
            return figures
        labels = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in self.labels.items()})
        return pd.concat([labels, figures], axis=1)


@dataclass(slots=True)
class ReportFrame:
    period: Period
    currency: str
    timezone: str
    group_by: tuple[str, ...]
    config_hash: str
    data_fingerprint: str
    generated_at: datetime
    table: CohortTable
    totals: dict[str, float | None]
    detail: pd.DataFrame
    unallocated: dict[str, float]
    fixed_costs: tuple[FixedCost, ...]
    versions: tuple[ModelVersionInUse, ...]
    filters: dict[str, list[str]] = field(default_factory=dict)
    _made: dict[str, pd.DataFrame] = field(default_factory=dict, repr=False, compare=False)

    @property
    def cohorts(self) -> pd.DataFrame:
        """The cohorts as a DataFrame (grouping dimensions, then every metric), made on first use."""
        if "cohorts" not in self._made:
            self._made["cohorts"] = self.table.frame()
        return self._made["cohorts"]

    @property
    def has_data(self) -> bool:
        """Whether the month has any stored cell (before filters). A month without is reported as
        "no data": its figures are only the fixed costs it would carry, all unallocated."""
        return self.data_fingerprint != EMPTY_FINGERPRINT

    def cohort_records(self) -> list[dict[str, Any]]:
        """Cohorts as JSON-ready dicts: {cohort: {...}, <metric>: value, ...} (as json_number shows
        each figure), made a column at a time."""
        table = self.table
        group = self.group_by
        labels = [table.labels[name].tolist() for name in group]
        cohorts = [dict(zip(group, key, strict=True)) for key in zip(*labels, strict=True)] if group \
            else [{} for _ in range(len(table))]
        columns = [json_column(name, table.figures[name]) for name in REPORT_METRICS]
        names = ("cohort", *REPORT_METRICS)
        return [dict(zip(names, row, strict=True)) for row in zip(cohorts, *columns, strict=True)]

    def totals_record(self) -> dict[str, Any]:
        return {name: json_number(name, value) for name, value in self.totals.items()}


def json_column(name: str, values: np.ndarray) -> list[int | float | None]:
    """json_number over a column: undefined figures None, counts integers, the rest floats."""
    finite = np.isfinite(values)
    small = finite.all() and (not len(values) or float(np.abs(values).max()) < 2**62)
    shown = np.rint(values).astype(np.int64).tolist() if name in INTEGER_METRICS and small else values.tolist()
    if name in INTEGER_METRICS and not small:
        shown = [json_number(name, value) for value in shown]
    elif not finite.all():
        shown = [value if ok else None for value, ok in zip(shown, finite.tolist(), strict=True)]
    return shown
