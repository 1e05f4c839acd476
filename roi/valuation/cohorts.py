"""A month's valued cells kept as arrays, so any cohort question is a filter and a few sums.

Valuing a month (model versions, fixed-cost shares, every additive money figure per cell)
happens once per data version; a question then only selects cells by dimension codes and
sums them per cohort with `np.bincount`. Cells are put in one canonical order (day, then
the dimensions) first, so a sum never depends on the order the store returned rows in.
"""

from __future__ import annotations

import functools
import io
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from types import EllipsisType
from typing import Any

import numpy as np
import pandas as pd

from ..config import FixedCost
from ..domain import ADDITIVE, ASSUMPTIONS, DIMENSIONS, share_column
from . import Valuation

FILE_FORMAT = 2  # to_bytes' layout: a file of another is valued again


@dataclass(frozen=True, slots=True)
class Codes:
    """A dimension as integer codes into its sorted distinct values."""

    codes: np.ndarray  # int32, one per cell
    values: np.ndarray  # object (str), sorted
    # made on first use: the cells' positions ordered by code, and where each code's run starts
    _runs: list = field(default_factory=list, compare=False, repr=False)

    @classmethod
    def of(cls, column: pd.Series) -> Codes:
        # hashing, then only the distinct values made text and sorted (as factorizing column.astype(str))
        codes, distinct = pd.factorize(column, use_na_sentinel=False)
        texts, values = pd.factorize(np.asarray(distinct.astype(str), dtype=object), sort=True)
        return cls(texts[codes].astype(np.int32, copy=False), np.asarray(values, dtype=object))

    def positions(self, wanted: np.ndarray) -> np.ndarray:
        """The positions (ascending) of the cells whose code is one of `wanted`, found in the
        code-ordered positions instead of a pass over every cell."""
        if not self._runs:  # two threads may both make it: the same arrays, either kept
            order = np.argsort(self.codes, kind="stable")
            starts = np.zeros(len(self.values) + 1, dtype=np.int64)
            np.cumsum(np.bincount(self.codes, minlength=len(self.values)), out=starts[1:])
            self._runs[:] = [order, starts]
        order, starts = self._runs
        runs = [order[starts[code]:starts[code + 1]] for code in wanted]
        if len(runs) == 1:
            return runs[0].astype(np.intp, copy=False)
        return np.sort(np.concatenate(runs)).astype(np.intp, copy=False) if runs else np.array([], np.intp)

    def wanted(self, names: Sequence[str]) -> np.ndarray:
        """Codes of the given values that occur (a value that never occurs selects nothing)."""
        found = set()
        for name in names:
            position = int(np.searchsorted(self.values, name))
            if position < len(self.values) and self.values[position] == name:
                found.add(position)
        return np.array(sorted(found), dtype=np.int32)


@dataclass(frozen=True, slots=True)
class VersionInUse:
    """A value model version some cells of the month are valued with."""

    model: str
    effective_from: str  # ISO date
    assumptions: tuple[float, ...]  # in ASSUMPTIONS order


@dataclass(frozen=True, slots=True, eq=False)
class CohortVersionSums:
    """Figures summed per (cohort, model version): one row per pair that has cells."""

    labels: dict[str, np.ndarray]  # per cohort (sorted by their values, as cohort_columns)
    cohorts: int
    cohort: np.ndarray  # per row: its cohort's position
    version: np.ndarray  # per row: index into ValuedMonth.versions
    sums: dict[str, np.ndarray]  # per row

    def per_cohort(self, values: np.ndarray) -> np.ndarray:
        """A per-row array summed per cohort."""
        return np.bincount(self.cohort, weights=values, minlength=self.cohorts)


@dataclass(frozen=True, slots=True, eq=False)
class ValuedMonth:
    """One month's valued cells (see the module docstring), and the fixed costs no cell carries."""

    dims: Mapping[str, Codes]
    days: np.ndarray  # datetime64[D]
    figures: np.ndarray  # float64, (len(ADDITIVE), cells)
    shares: np.ndarray  # float64, (len(fixed_costs), cells): each cell's fraction of each fixed cost
    version: np.ndarray  # int32 index into `versions`, per cell
    versions: tuple[VersionInUse, ...]
    unallocated: Mapping[str, float]
    fixed_costs: tuple[FixedCost, ...]
    fingerprint: str

    @classmethod
    def of(cls, valuation: Valuation, fingerprint: str) -> ValuedMonth:
        cells = valuation.cells
        count = len(valuation.fixed_costs)
        if not len(cells):
            empty = Codes(np.array([], np.int32), np.array([], object))
            return cls({name: empty for name in DIMENSIONS}, np.array([], "datetime64[D]"),
                       np.zeros((len(ADDITIVE), 0)), np.zeros((count, 0)), np.array([], np.int32), (),
                       dict(valuation.unallocated), tuple(valuation.fixed_costs), fingerprint)
        dims = {name: Codes.of(cells[name]) for name in DIMENSIONS}
        days = pd.to_datetime(cells["day"]).to_numpy(dtype="datetime64[D]")
        # the canonical order: by day, then by each dimension's value (lexsort's last key is the first)
        order = np.lexsort([dims[name].codes for name in reversed(DIMENSIONS)] + [days.astype(np.int64)])
        # each cell's (value model, version) pair, numbered in the pairs' sorted order
        models, effective = Codes.of(cells["value_model"]), Codes.of(cells["model_version"])
        width = len(effective.values)
        numbers, version = np.unique(models.codes.astype(np.int64) * width + effective.codes, return_inverse=True)
        assumptions = cells[list(ASSUMPTIONS)].to_numpy(dtype=np.float64)
        versions = []
        for index, number in enumerate(numbers):
            model, since = str(models.values[number // width]), str(effective.values[number % width])
            row = int(np.argmax(version == index))  # every cell of a version has its assumptions
            versions.append(VersionInUse(model, since, tuple(float(x) for x in assumptions[row])))
        figures = cells[list(ADDITIVE)].to_numpy(dtype=np.float64)[order].T
        shares = cells[[share_column(i) for i in range(count)]].to_numpy(np.float64)[order].T
        return cls(
            dims={name: Codes(codes.codes[order], codes.values) for name, codes in dims.items()},
            days=days[order],
            figures=np.ascontiguousarray(figures),
            shares=np.ascontiguousarray(shares),
            version=version.astype(np.int32)[order],
            versions=tuple(versions),
            unallocated=dict(valuation.unallocated),
            fixed_costs=tuple(valuation.fixed_costs),
            fingerprint=fingerprint,
        )

    def to_bytes(self) -> bytes:
        """The valued cells as an .npz archive (arrays only, no pickles), for from_bytes in another process."""
        meta = {
            "format": FILE_FORMAT,
            "versions": [[item.model, item.effective_from, list(item.assumptions)] for item in self.versions],
            "unallocated": dict(self.unallocated),
            "fingerprint": self.fingerprint,
            "dimensions": list(self.dims),
            # the values as JSON text: numpy's str arrays would drop a trailing NUL
            "values": {name: codes.values.tolist() for name, codes in self.dims.items()},
        }
        arrays = {"meta": np.array(json.dumps(meta)), "days": self.days.astype(np.int64), "figures": self.figures,
                  "shares": self.shares, "version": self.version}
        for name, codes in self.dims.items():
            arrays[f"codes_{name}"] = codes.codes
        out = io.BytesIO()
        np.savez(out, **arrays)
        return out.getvalue()

    @classmethod
    def from_bytes(cls, data: bytes, fixed_costs: Sequence[FixedCost]) -> ValuedMonth:
        """What to_bytes wrote; `fixed_costs` are the config's (the file is keyed by the config's hash)."""
        with np.load(io.BytesIO(data), allow_pickle=False) as archive:
            meta = json.loads(str(archive["meta"]))
            if meta.get("format") != FILE_FORMAT or meta["dimensions"] != list(DIMENSIONS):
                raise ValueError("valued cells of another layout")
            dims = {name: Codes(archive[f"codes_{name}"], np.array(meta["values"][name], dtype=object))
                    for name in meta["dimensions"]}
            month = cls(
                dims=dims, days=archive["days"].astype("datetime64[D]"), figures=archive["figures"],
                shares=archive["shares"], version=archive["version"],
                versions=tuple(VersionInUse(model, effective, tuple(values))
                               for model, effective, values in meta["versions"]),
                unallocated=meta["unallocated"], fixed_costs=tuple(fixed_costs), fingerprint=meta["fingerprint"],
            )
        month.check()
        return month

    def check(self) -> None:
        """ValueError unless every array holds one entry per cell and every code points at a value."""
        count = self.cell_count
        if self.figures.shape != (len(ADDITIVE), count) or self.shares.shape != (len(self.fixed_costs), count):
            raise ValueError("valued cells whose figures do not match their cells or fixed costs")
        if len(self.version) != count or (count and not 0 <= self.version.min() <= self.version.max()
                                          < len(self.versions)):
            raise ValueError("valued cells whose model versions do not match")
        for name, codes in self.dims.items():
            if len(codes.codes) != count or (count and not 0 <= codes.codes.min() <= codes.codes.max()
                                             < len(codes.values)):
                raise ValueError(f"valued cells whose {name} codes do not match their values")

    @property
    def cell_count(self) -> int:
        return len(self.days)

    @property
    def nbytes(self) -> int:
        return int(self.figures.nbytes + self.shares.nbytes + self.days.nbytes + self.version.nbytes
                   + sum(codes.codes.nbytes for codes in self.dims.values()))

    # ------------------------------------------------------------ selecting

    def select(self, filters: Mapping[str, Sequence[str]] | None) -> np.ndarray | None:
        """Indexes of the cells every filter keeps (None: all cells)."""
        if not filters:
            return None
        rows: np.ndarray | None = None
        for name, values in filters.items():
            found = self.dims[name].positions(self.dims[name].wanted(values))
            rows = found if rows is None else np.intersect1d(rows, found, assume_unique=True)
        return rows

    def _group(self, names: Sequence[str], rows: np.ndarray | None) -> tuple[np.ndarray, list[np.ndarray], int]:
        """Per selected cell its group number, each group's codes per name, and the group count."""
        count = self.cell_count if rows is None else len(rows)
        if not names:
            return np.zeros(count, dtype=np.intp), [], 1 if count else 0
        parts = [self._codes_of(name) for name in names]
        selected = [codes if rows is None else codes[rows] for codes, _ in parts]
        if math.prod(radix for _, radix in parts) >= 2**62:
            # too many combinations for one integer key: group the rows of codes themselves
            unique_rows, inverse = np.unique(np.stack(selected, axis=1), axis=0, return_inverse=True)
            split = [unique_rows[:, index] for index in range(len(names))]
            return inverse.reshape(-1).astype(np.intp, copy=False), split, len(unique_rows)
        # one integer key per cell, mixed-radix over the names' codes (the product of the radices fits)
        key = np.zeros(count, dtype=np.int64)
        for codes, (_, radix) in zip(selected, parts, strict=True):
            key = key * radix + codes
        combinations = math.prod(radix for _, radix in parts)
        if combinations <= max(4 * count, 1 << 16):  # few possible keys: count them instead of sorting
            present = np.bincount(key, minlength=combinations) > 0
            unique = np.flatnonzero(present)
            inverse = (np.cumsum(present) - 1)[key]
        else:
            unique, inverse = np.unique(key, return_inverse=True)
        split = []
        for _, radix in reversed(parts):
            split.append(unique % radix)
            unique = unique // radix
        return inverse.astype(np.intp, copy=False), split[::-1], len(split[0])

    def _codes_of(self, name: str) -> tuple[np.ndarray, int]:
        if name == "version":
            return self.version, max(len(self.versions), 1)
        codes = self.dims[name]
        return codes.codes, max(len(codes.values), 1)

    @staticmethod
    def _sum(values: np.ndarray, group: np.ndarray, groups: int) -> np.ndarray:
        """Each row of `values` (the selected cells' figures) summed per group, in the cells' canonical order."""
        out = np.empty((values.shape[0], groups), dtype=np.float64)
        for index, row in enumerate(values):
            out[index] = np.bincount(group, weights=row, minlength=groups)
        return out

    @staticmethod
    def _selected(values: np.ndarray, rows: np.ndarray | None) -> np.ndarray:
        """The columns of `rows` (None: all), in C order, so each figure's values lie together."""
        return values if rows is None else values.take(rows, axis=1)

    # ------------------------------------------------------------ questions

    def cohort_columns(self, group_by: Sequence[str], filters: Mapping[str, Sequence[str]] | None = None, *,
                       rows: np.ndarray | None | EllipsisType = ...) -> tuple[dict[str, np.ndarray],
                                                                             dict[str, np.ndarray]]:
        """Cohorts of `group_by` (sorted by their values) as columns: each dimension's values, and every
        additive figure and ratio. `rows`: the filters' selection when the caller made it already."""
        rows = self.select(filters) if rows is ... else rows
        return self._cohort_columns(group_by, rows, self._selected(self.figures, rows))

    def _cohort_columns(self, group_by: Sequence[str], rows: np.ndarray | None,
                        selected: np.ndarray) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        group, codes, groups = self._group(list(group_by), rows)
        figures = dict(zip(ADDITIVE, self._sum(selected, group, groups), strict=True))
        figures.update(cohort_ratios(figures))
        labels = {name: self.dims[name].values[code] for name, code in zip(group_by, codes, strict=True)}
        return labels, figures

    def answer(self, group_by: Sequence[str], filters: Mapping[str, Sequence[str]] | None = None
               ) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], dict[str, float | None]]:
        """cohort_columns and totals of one question, the selected cells' figures gathered once."""
        rows = self.select(filters)
        selected = self._selected(self.figures, rows)
        return *self._cohort_columns(group_by, rows, selected), self._totals(filters, selected)

    def cohorts(self, group_by: Sequence[str], filters: Mapping[str, Sequence[str]] | None = None, *,
                rows: np.ndarray | None | EllipsisType = ...) -> pd.DataFrame:
        """cohort_columns as a DataFrame: the grouping's dimensions, then the figures."""
        labels, figures = self.cohort_columns(group_by, filters, rows=rows)
        frame = pd.DataFrame(figures)
        if not group_by:
            return frame
        names = pd.DataFrame({name: pd.Series(values, dtype=object) for name, values in labels.items()})
        return pd.concat([names, frame], axis=1)

    def totals(self, filters: Mapping[str, Sequence[str]] | None = None, *,
               rows: np.ndarray | None | EllipsisType = ...) -> dict[str, float | None]:
        """Every selected cell summed; an unfiltered month adds what no cell carries (filtered: none)."""
        rows = self.select(filters) if rows is ... else rows
        return self._totals(filters, self._selected(self.figures, rows))

    def _totals(self, filters: Mapping[str, Sequence[str]] | None, selected: np.ndarray) -> dict[str, float | None]:
        # each figure's values lie together (C order), so each is summed pairwise, as a 1-D sum is
        summed = dict(zip(ADDITIVE, selected.sum(axis=1)[:, np.newaxis], strict=True))
        unallocated = 0.0 if filters else float(sum(self.unallocated.values()))
        summed["fixed_cost"] += unallocated
        summed["total_cost"] += unallocated
        summed["net_value"] -= unallocated
        result: dict[str, float | None] = {name: float(value[0]) for name, value in summed.items()}
        for name, value in cohort_ratios(summed).items():
            result[name] = None if np.isnan(value[0]) else float(value[0])
        result["unallocated_fixed_cost"] = unallocated
        return result

    def detail(self, group_by: Sequence[str], filters: Mapping[str, Sequence[str]] | None = None) -> pd.DataFrame:
        """The valuation grain: cohort x value model x version, with day range, assumptions and shares."""
        rows = self.select(filters)
        if not self.cell_count or (rows is not None and not len(rows)):
            return self.no_detail(group_by)
        group, codes, groups = self._group([*group_by, "version"], rows)
        used = [self.versions[index] for index in codes[-1]]
        columns: dict[str, Any] = {
            name: self.dims[name].values[code] for name, code in zip(group_by, codes, strict=False)}
        columns["value_model"] = [item.model for item in used]
        columns["model_version"] = [item.effective_from for item in used]
        # cells are in day order: a group's first cell has its first day, its last cell its last
        days = self.days if rows is None else self.days[rows]
        first = _first_positions(group)
        last = len(group) - 1 - _first_positions(group[::-1])
        columns["first_day"] = days[first].astype(object)
        columns["last_day"] = days[last].astype(object)
        for index, name in enumerate(ASSUMPTIONS):
            columns[name] = np.array([item.assumptions[index] for item in used])
        columns.update(zip(ADDITIVE, self._sum(self._selected(self.figures, rows), group, groups), strict=True))
        shares = [share_column(index) for index in range(len(self.fixed_costs))]
        columns.update(zip(shares, self._sum(self._selected(self.shares, rows), group, groups), strict=True))
        # groups come in code order, which is the order of the values: sorted by keys already
        return pd.DataFrame(columns)

    def no_detail(self, group_by: Sequence[str]) -> pd.DataFrame:
        """The detail's columns without rows."""
        return _no_detail(tuple(group_by), len(self.fixed_costs))  # shared: renderers only read a frame

    def cohort_version_sums(self, group_by: Sequence[str], filters: Mapping[str, Sequence[str]] | None = None,
                            names: Sequence[str] = ADDITIVE) -> CohortVersionSums:
        """The figures `names` summed per cohort x model version in use (the grain that is linear in
        the assumptions: uncertainty, sensitivity and the change bridge start here)."""
        rows = self.select(filters)
        group, codes, groups = self._group(list(group_by), rows)
        version = self.version if rows is None else self.version[rows]
        radix = max(len(self.versions), 1)
        pairs, inverse = _unique_keys(group.astype(np.int64) * radix + version, max(groups, 1) * radix)
        picked = self.figures[[ADDITIVE.index(name) for name in names]]
        sums = {name: np.bincount(inverse, weights=row if rows is None else row[rows], minlength=len(pairs))
                for name, row in zip(names, picked, strict=True)}
        labels = {name: self.dims[name].values[code] for name, code in zip(group_by, codes, strict=True)}
        return CohortVersionSums(labels, groups, (pairs // radix).astype(np.intp), (pairs % radix).astype(np.intp),
                                 sums)

    def versions_used(self, filters: Mapping[str, Sequence[str]] | None = None) -> list[VersionInUse]:
        rows = self.select(filters)
        present = np.unique(self.version if rows is None else self.version[rows])
        return sorted((self.versions[index] for index in present), key=lambda item: (item.model, item.effective_from))



def _unique_keys(keys: np.ndarray, bound: int) -> tuple[np.ndarray, np.ndarray]:
    """np.unique(keys, return_inverse=True) for keys in [0, bound): by counting rather than sorting
    when the range is not much larger than the keys (a sort of a month's cells took most of a
    question's bands, tornado or bridge)."""
    if bound > 4 * len(keys) + 1024:
        pairs, inverse = np.unique(keys, return_inverse=True)
        return pairs, inverse.reshape(-1)
    present = np.bincount(keys, minlength=bound) > 0
    rank = np.cumsum(present) - 1
    return np.flatnonzero(present), rank[keys]


def _first_positions(group: np.ndarray) -> np.ndarray:
    """For each group number, the position of its first occurrence in `group`."""
    _, first = np.unique(group, return_index=True)
    return first


def cohort_ratios(sums: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Ratios of summed figures (DESIGN section 4); NaN where the denominator leaves them undefined."""
    burden = sums["total_cost"] + sums["failure_cost"]
    net_resolved = sums["net_resolved"]
    cases = sums["cases"]
    positive = net_resolved > 0
    some = cases > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "roi": np.where(burden != 0, sums["net_value"] / np.where(burden != 0, burden, 1), np.nan),
            "cost_per_resolved_case": np.where(positive, sums["total_cost"] / np.where(positive, net_resolved, 1),
                                               np.nan),
            "fully_loaded_cost_per_resolved_case": np.where(positive, burden / np.where(positive, net_resolved, 1),
                                                            np.nan),
            "resolution_rate": np.where(some, net_resolved / np.where(some, cases, 1), np.nan),
            "escalation_rate": np.where(some, sums["escalated"] / np.where(some, cases, 1), np.nan),
        }


@functools.lru_cache(maxsize=64)
def _no_detail(group_by: tuple[str, ...], fixed_costs: int) -> pd.DataFrame:
    shares = [share_column(index) for index in range(fixed_costs)]
    keys = [*group_by, "value_model", "model_version"]
    return pd.DataFrame(columns=[*keys, "first_day", "last_day", *ASSUMPTIONS, *ADDITIVE, *shares])
