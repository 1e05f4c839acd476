"""The report frame: one month's figures as plain data, rendered by JSON, CSV and Excel alike."""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pandas as pd

from ..config import FixedCost, ModelVersion
from ..domain import (
    CELL_METRICS,
    DIMENSIONS,
    FLOAT_METRICS,
    REPORT_METRICS,
    Period,
)
from ..valuation import ADDITIVE, ASSUMPTIONS, Valuation, share_column, summarize, totals

INTEGER_METRICS = frozenset(CELL_METRICS) - frozenset(FLOAT_METRICS) | {"cases", "net_resolved"}


@dataclass(frozen=True, slots=True)
class ModelVersionInUse:
    """A value model version effective during the month."""

    model: str
    description: str
    version: ModelVersion


@dataclass(slots=True)
class ReportFrame:
    period: Period
    currency: str
    timezone: str
    group_by: tuple[str, ...]
    config_hash: str
    data_fingerprint: str
    generated_at: datetime
    cohorts: pd.DataFrame
    totals: dict[str, float | None]
    detail: pd.DataFrame
    unallocated: dict[str, float]
    fixed_costs: tuple[FixedCost, ...]
    versions: tuple[ModelVersionInUse, ...]
    filters: dict[str, list[str]] = field(default_factory=dict)

    def cohort_records(self) -> list[dict[str, Any]]:
        """Cohorts as JSON-ready dicts: {cohort: {...}, <metric>: value, ...}."""
        records = []
        for row in self.cohorts.itertuples(index=False):
            values = row._asdict()
            record: dict[str, Any] = {"cohort": {name: str(values[name]) for name in self.group_by}}
            for name in REPORT_METRICS:
                record[name] = json_number(name, values[name])
            records.append(record)
        return records

    def totals_record(self) -> dict[str, Any]:
        return {name: json_number(name, value) for name, value in self.totals.items()}


def json_number(name: str, value: Any) -> int | float | None:
    if value is None:
        return None
    number = float(value)
    if math.isnan(number) or math.isinf(number):
        return None
    if name in INTEGER_METRICS:
        return int(round(number))
    return number


def data_fingerprint(cells: pd.DataFrame) -> str:
    """A hash of the month's cells, independent of their order."""
    if not len(cells):
        return hashlib.sha256(b"").hexdigest()[:16]
    columns = ["day", *DIMENSIONS, *CELL_METRICS]
    ordered = cells[columns].astype({"day": str}).sort_values(["day", *DIMENSIONS]).reset_index(drop=True)
    hashed = pd.util.hash_pandas_object(ordered, index=False).to_numpy()
    return hashlib.sha256(hashed.tobytes()).hexdigest()[:16]


def _detail(valuation: Valuation, group_by: tuple[str, ...]) -> pd.DataFrame:
    """The valuation grain: cohort x value model x version, with day range and fixed-cost fractions."""
    cells = valuation.cells
    shares = [share_column(index) for index in range(len(valuation.fixed_costs))]
    keys = [*group_by, "value_model", "model_version"]
    if not len(cells):
        return pd.DataFrame(columns=[*keys, "first_day", "last_day", *ASSUMPTIONS, *ADDITIVE, *shares])
    grouped = cells.groupby(keys, sort=True, dropna=False)
    summed = grouped[[*ADDITIVE, *shares]].sum()
    days = grouped["day"].agg(["min", "max"]).rename(columns={"min": "first_day", "max": "last_day"})
    assumptions = grouped[list(ASSUMPTIONS)].first()
    return pd.concat([days, assumptions, summed], axis=1).reset_index()


def _versions_in_use(valuation: Valuation, models: dict) -> tuple[ModelVersionInUse, ...]:
    cells = valuation.cells
    if not len(cells):
        return ()
    used = cells[["value_model", "model_version"]].drop_duplicates().sort_values(["value_model", "model_version"])
    found = []
    for name, effective in used.itertuples(index=False):
        model = models[name]
        version = next(v for v in model.versions if v.effective_from.isoformat() == effective)
        found.append(ModelVersionInUse(name, model.description, version))
    return tuple(found)


def make_frame(
    valuation: Valuation,
    *,
    period: Period,
    group_by: tuple[str, ...],
    currency: str,
    timezone: str,
    config_hash: str,
    models: dict,
    generated_at: datetime,
    fingerprint: str,
    filters: dict[str, list[str]] | None = None,
) -> ReportFrame:
    cohorts = summarize(valuation.cells, group_by)
    for name in group_by:
        cohorts[name] = cohorts[name].astype(str)
    # A filtered report cannot say whose unallocated cost it would be, so it carries none.
    unallocated = {} if filters else dict(valuation.unallocated)
    return ReportFrame(
        period=period,
        currency=currency,
        timezone=timezone,
        group_by=tuple(group_by),
        config_hash=config_hash,
        data_fingerprint=fingerprint,
        generated_at=generated_at,
        cohorts=cohorts[[*group_by, *REPORT_METRICS]].reset_index(drop=True),
        totals=totals(valuation.cells, sum(unallocated.values())),
        detail=_detail(valuation, tuple(group_by)),
        unallocated=unallocated,
        fixed_costs=valuation.fixed_costs,
        versions=_versions_in_use(valuation, models),
        filters=dict(filters or {}),
    )
