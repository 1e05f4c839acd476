"""Connectors, each registered under an explicit key."""

from . import events, intercom, langfuse, litellm, openai_usage, otlp, sql, zendesk  # noqa: F401  (each registers itself)
from .base import Batch, Chunk, Connector, Reject, Window, registry

__all__ = ["Batch", "Chunk", "Connector", "Reject", "Window", "registry"]
