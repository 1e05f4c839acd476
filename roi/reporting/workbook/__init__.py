"""The finance workbook of a report frame (docs/workbook.md).

`build_layout` assembles the sheets as plain data (layout): Summary and Revision
changes (summary), Cohorts, Detail and Assumptions (cohorts), Trend (trend), Changes
(bridge), Risk and Sensitivity (risk), Data quality and Definitions (notes);
`render.render_layout` writes that layout as .xlsx.
"""

from __future__ import annotations

from ..frame import ReportFrame
from .assumptions import build_assumptions
from .bridge import build_bridge
from .cohorts import build_cohorts, build_detail
from .extras import (
    ChangeFigures,
    LateData,
    ParameterSwing,
    PriorRevision,
    QuarantineSample,
    RevisionInfo,
    RiskFigures,
    SensitivityFigures,
    SourceQuality,
    TrendMonth,
    UnpricedModel,
    WorkbookExtras,
)
from .figures import Anchors
from .layout import Layout, workbook_styles
from .notes import build_definitions, build_quality
from .render import MEDIA_TYPE, render_layout
from .risk import build_risk, build_sensitivity
from .summary import build_changes, build_summary
from .trend import build_trend

__all__ = [
    "MEDIA_TYPE", "ChangeFigures", "LateData", "ParameterSwing", "PriorRevision", "QuarantineSample", "RevisionInfo",
    "RiskFigures", "SensitivityFigures", "SourceQuality", "TrendMonth", "UnpricedModel", "WorkbookExtras",
    "build_layout", "render_layout", "render_workbook",
]


def build_layout(frame: ReportFrame, extras: WorkbookExtras | None = None) -> Layout:
    """The workbook of one report frame as data: sheets in reading order."""
    extras = extras or WorkbookExtras()
    anchors = Anchors()
    assumptions = build_assumptions(frame, anchors)
    detail = build_detail(frame, anchors)
    cohorts = build_cohorts(frame, anchors)
    summary = build_summary(frame, anchors, extras)
    sheets = [summary]
    revision = extras.revision
    if revision is not None and revision.previous is not None:
        sheets.append(build_changes(frame, anchors, revision.previous, revision.revision))
    sheets += [cohorts, detail, assumptions, build_trend(frame, anchors, extras)]
    if extras.changes is not None:
        sheets.append(build_bridge(frame, anchors, extras.changes))
    if extras.risk is not None:
        sheets.append(build_risk(frame, anchors, extras.risk))
    if extras.sensitivity is not None:
        sheets.append(build_sensitivity(frame, anchors, extras.sensitivity))
    sheets += [build_quality(frame, extras), build_definitions(frame)]
    properties = {"title": f"AI ROI report {frame.period}", "subject": f"config {frame.config_hash}",
                  "keywords": f"data {frame.data_fingerprint}"}
    return Layout(sheets, workbook_styles(frame.currency), properties, footer=f"AI ROI report {frame.period}")


def render_workbook(frame: ReportFrame, extras: WorkbookExtras | None = None) -> bytes:
    return render_layout(build_layout(frame, extras))
