"""The Risk page's data: the answers of GET /api/v1/roi?uncertainty=true, /roi/sensitivity and
/roi/changes for one question (period, grouping, filters), built by the same services calls, and
the rows of one page of cohorts drawn from them.

The report, sensitivity and changes documents are computed once per question and data version
(pages.cached); the bands once per page of cohorts: only the page's cohorts are drawn (the totals
are drawn once from the sum of the cohorts' linear forms; with drawn resolution rates every cohort
is drawn, the totals add them up), with the figures the whole question gives them. The newest
month's first page is computed when a server worker starts (pages.warm_risk), and each page's HTML
once per view (it is the same for every user).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ..config import Settings
from ..domain import Period, display_dimension
from ..services import Store, analysis, reports, risk
from ..services.valued import ValuedMonths

SORT = "-net_value"  # the bands table: largest net value first, as the Cohorts page's default
EFFECT_LABELS = {"volume": "Volume (cases)", "outcome_mix": "Outcome mix", "unit_cost": "Unit cost",
                 "assumptions": "Assumptions (model versions)", "fixed_cost_share": "Fixed-cost share"}


@dataclass(frozen=True, slots=True)
class RiskAnswers:
    """A question's answers but the bands: the report document (largest net value first) and the
    sensitivity and changes documents; `total`: how many cohorts the report has."""

    report: dict[str, Any]
    sensitivity: dict[str, Any]
    changes: dict[str, Any]
    total: int
    has_data: bool
    warning: str | None
    note: str | None


def risk_answers(settings: Settings, store: Store, months: ValuedMonths, period: Period,
                 group_by: tuple[str, ...], filters: dict[str, list[str]], version: str) -> RiskAnswers:
    """What the API answers for this question, call for call (roi.api.roi), the bands aside (risk_page)."""
    answer = analysis.current_report(settings, store, period, group_by, filters, months=months, version=version)
    document, total = reports.document(store, answer, sort=SORT)
    tornado = risk.tornado(settings, store, period, group_by, filters, months=months, version=version)
    bridge = risk.change_bridge(settings, store, period, group_by, filters, months=months, version=version)
    return RiskAnswers(document, risk.sensitivity_document(settings, period, group_by, filters, tornado),
                       risk.changes_document(settings, period, group_by, filters, bridge), total,
                       answer.has_data, answer.warning, answer.note)


def cohort_key(cohort: dict[str, str], group_by: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(cohort.get(name) or "" for name in group_by)


def cohort_label(cohort: dict[str, str], group_by: tuple[str, ...]) -> str:
    return " / ".join(display_dimension(value) for value in cohort_key(cohort, group_by)) or "(all)"


@dataclass(frozen=True, slots=True)
class RiskPage:
    """One page of cohorts of a question's answers, with their bands and the totals'."""

    rows: list[dict[str, Any]]  # the report's cohorts with their bands and `sensitivity` record (or None)
    totals: dict[str, Any]  # the report's totals with the totals' bands
    uncertainty: dict[str, Any]  # how the bands were drawn (the API's `uncertainty`)
    changes: list[dict[str, Any]]  # the changes document's cohorts, largest change (either way) first
    first: int  # 1-based number of the first row shown (0: none)
    first_change: int
    page: int
    pages: int
    change_total: int

    @property
    def uncertain(self) -> bool:
        """Whether anything is drawn: some assumption is a range, or the resolution rates are."""
        return bool(self.uncertainty["parameters"]) or bool(self.uncertainty["outcome_rates"])


def risk_page(settings: Settings, store: Store, months: ValuedMonths, version: str, answers: RiskAnswers,
              group_by: tuple[str, ...], filters: dict[str, list[str]], page: int, per_page: int) -> RiskPage:
    """The page's cohorts with their bands (services.risk.bands' `only`): only they are drawn and
    summarized, so a page of a month of many cohorts costs little more than a small question; the
    figures are the API's, to the bit."""
    cohorts = answers.report["cohorts"]
    changes = sorted(answers.changes["cohorts"], key=lambda item: -abs(item["change"]))
    pages = max(1, math.ceil(len(cohorts) / per_page), math.ceil(len(changes) / per_page))
    page = min(page, pages)
    start = (page - 1) * per_page
    shown = {"cohorts": [dict(record) for record in cohorts[start:start + per_page]],
             "totals": dict(answers.report["totals"])}
    period = Period.parse(answers.sensitivity["period"])
    result = risk.bands(settings, store, period, group_by, filters, months=months, version=version,
                        only=[cohort_key(record["cohort"], group_by) for record in shown["cohorts"]])
    risk.merge_bands(shown, result, group_by)
    by_key = {cohort_key(item["cohort"], group_by): item for item in answers.sensitivity["cohorts"]}
    rows = [{**record, "sensitivity": by_key.get(cohort_key(record["cohort"], group_by))}
            for record in shown["cohorts"]]
    shown_changes = changes[start:start + per_page]
    return RiskPage(rows, shown["totals"], shown["uncertainty"], shown_changes, start + 1 if rows else 0,
                    start + 1 if shown_changes else 0, page, pages, len(changes))


def chart_data(answers: RiskAnswers, shown: RiskPage, group_by: tuple[str, ...], currency: str) -> dict[str, Any]:
    """What dashboard.js draws: the bands of the page's first 25 cohorts, the totals' tornado,
    and the totals' bridge as floating bars (each step from where the previous one ended)."""
    bands = []
    if shown.uncertain:
        # the cohorts only: the totals' band (in the figures above the chart) would dwarf theirs
        bands = [{"label": cohort_label(row["cohort"], group_by), "p5": row.get("net_value_p5"),
                   "p50": row.get("net_value_p50"), "p95": row.get("net_value_p95")} for row in shown.rows[:25]]
    point = answers.sensitivity["totals"]["net_value"]
    tornado = [{"label": item["parameter"], "low": item["net_value_low"], "high": item["net_value_high"]}
               for item in answers.sensitivity["parameters"]]
    change = answers.changes["totals"]
    level = change["net_value_previous"]
    steps = [{"label": f"{answers.changes['previous_period']} net value", "start": 0.0, "end": level, "kind": "level"}]
    for name in answers.changes["effects"]:
        steps.append({"label": EFFECT_LABELS.get(name, name), "start": level, "end": level + change[name],
                      "kind": "effect"})
        level += change[name]
    steps.append({"label": f"{answers.changes['period']} net value", "start": 0.0, "end": change["net_value"],
                  "kind": "level"})
    return {"currency": currency, "bands": bands, "tornado": {"point": point, "rows": tornado}, "bridge": steps}
