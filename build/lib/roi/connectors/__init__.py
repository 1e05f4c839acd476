"""Connectors, each registered under an explicit key and loaded when a config uses it."""

from .base import Batch, Chunk, Connector, Reject, Window, registry

__all__ = ["Batch", "Chunk", "Connector", "Reject", "Window", "registry"]
