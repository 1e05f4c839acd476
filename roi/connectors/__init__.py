"""Connectors, each registered under an explicit key."""

from . import events  # noqa: F401  (registers itself)
from .base import Batch, Chunk, Connector, Reject, Window, registry

__all__ = ["Batch", "Chunk", "Connector", "Reject", "Window", "registry"]
