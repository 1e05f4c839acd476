"""The report frame and its renderers (JSON, CSV, Excel)."""

from .frame import ReportFrame, make_frame

__all__ = ["ReportFrame", "make_frame"]
