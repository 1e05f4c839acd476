"""The report frame and its renderers (JSON, CSV, Excel): plain data in, bytes out."""

from .frame import ReportFrame

__all__ = ["ReportFrame"]
