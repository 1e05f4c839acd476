"""The `otlp` connector: OpenTelemetry trace files (OTLP/JSON, one export request per line).

Each line is ``{"resourceSpans": [...]}`` as an OTLP file exporter writes it.
A span is a model call when its ``gen_ai.operation.name`` is one of
``operations`` (chat, text_completion, generate_content, embeddings by
default), or when it has no operation name but GenAI usage; agent and tool
spans (``invoke_agent``, ``execute_tool``) are skipped, since their usage, if
any, repeats their children's. Deprecated attribute names are accepted
(``gen_ai.system``, ``gen_ai.usage.prompt_tokens`` / ``completion_tokens``),
ids may be hex or base64, and 64-bit integers strings or numbers.

One file is one batch, as with `events`.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import string
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from pydantic import Field

from ..config import RelPath
from ..domain import OUTCOMES
from ..errors import ConnectorError
from .base import Chunk, ConnectorOptions, FileConnector, register
from .mapping import DimensionMap, Mapping, Rows, accepted, amount, whole

INPUT_KEYS = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
OUTPUT_KEYS = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
CACHED_KEYS = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cache_read_input_tokens")
_HEX = frozenset(string.hexdigits)


class OtlpOptions(ConnectorOptions):
    path: RelPath = Field(description="A file or a glob of OTLP/JSON Lines files, relative to the config's folder.")
    operations: list[str] = Field(default_factory=lambda: ["chat", "text_completion", "generate_content",
                                                           "embeddings"])
    input_includes_cached: bool = True
    cost_attribute: str | None = None
    outcome_attribute: str | None = None
    chunk_rows: int = Field(default=100_000, ge=1)
    dimensions: DimensionMap = Field(default_factory=dict)


def any_value(value: Any) -> Any:
    """An OTLP AnyValue as a Python value (intValue may be a string: int64 in JSON)."""
    if not isinstance(value, dict):
        return None
    if "stringValue" in value:
        return value["stringValue"]
    if "intValue" in value:
        raw = value["intValue"]
        if isinstance(raw, bool) or not isinstance(raw, int | str | float):
            raise ValueError(f"intValue {raw!r} is not an integer")
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"intValue {raw!r} is not an integer") from None
    if "doubleValue" in value:
        return float(value["doubleValue"])
    if "boolValue" in value:
        return bool(value["boolValue"])
    if "arrayValue" in value:
        return [any_value(item) for item in (value["arrayValue"] or {}).get("values") or []]
    if "kvlistValue" in value:
        return attributes((value["kvlistValue"] or {}).get("values"))
    if "bytesValue" in value:
        return value["bytesValue"]
    return None


def attributes(items: Any) -> dict[str, Any]:
    if not isinstance(items, list):
        return {}
    return {str(item["key"]): any_value(item.get("value")) for item in items if isinstance(item, dict) and "key" in item}


def hex_id(value: Any, size: int, name: str) -> str:
    """A trace or span id as lowercase hex, from hex (OTLP/JSON) or base64 (protobuf JSON)."""
    text = str(value or "")
    if not text:
        raise ValueError(f"{name} is missing")
    if len(text) == size * 2 and set(text) <= _HEX:
        return text.lower()
    try:
        raw = base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != size:
        raise ValueError(f"{name} {text!r} is neither {size * 2} hex digits nor base64 of {size} bytes")
    return raw.hex()


def _first(attrs: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if attrs.get(key) is not None:
            return attrs[key]
    return None


@register("otlp")
class OtlpConnector(FileConnector):
    """OTLP/JSON trace files with GenAI spans."""

    Options = OtlpOptions
    options: OtlpOptions

    def __init__(self, name, options):
        super().__init__(name, options)
        self.mapping = Mapping(options.dimensions, {
            "provider": ["gen_ai.provider.name", "gen_ai.system"],
            "model": ["gen_ai.response.model", "gen_ai.request.model"],
        })

    def read_file(self, path: str) -> Iterator[Chunk]:
        try:
            handle = open(path, encoding="utf-8-sig")  # noqa: SIM115 - closed by the with below
        except OSError as exc:
            raise ConnectorError(f"{path}: cannot read the file: {exc}") from None
        rows = Rows()
        with handle:
            try:
                for number, text in enumerate(handle, start=1):
                    if not text.strip():
                        continue
                    self._read_line(path, number, text, rows)
                    if len(rows) >= self.options.chunk_rows:
                        yield rows.chunk()
                        rows = Rows()
            except UnicodeDecodeError as exc:
                raise ConnectorError(f"{path}: not UTF-8 text: {exc}") from None
        yield rows.chunk()

    def _read_line(self, path: str, number: int, text: str, rows: Rows) -> None:
        try:
            request = json.loads(text)
            if not isinstance(request, dict) or not isinstance(request.get("resourceSpans"), list):
                raise ValueError("not an object with a resourceSpans list")
        except ValueError as exc:
            rows.read += 1
            rows.reject(path, number, f"not an OTLP/JSON export request: {exc}", text.strip()[:2000])
            return
        position = 0
        for resource_spans in request["resourceSpans"]:
            if not isinstance(resource_spans, dict):
                continue
            try:
                resource = attributes((resource_spans.get("resource") or {}).get("attributes"))
            except (ValueError, TypeError) as exc:
                rows.read += 1
                rows.reject(path, number, f"resource attributes: {exc}", text.strip()[:2000])
                continue
            scopes = resource_spans.get("scopeSpans") or resource_spans.get("instrumentationLibrarySpans") or []
            for scope_spans in scopes if isinstance(scopes, list) else []:
                spans = scope_spans.get("spans") if isinstance(scope_spans, dict) else None
                for span in spans if isinstance(spans, list) else []:
                    position += 1
                    rows.read += 1
                    try:
                        self._read_span(span, resource, rows)
                    except (ValueError, TypeError) as exc:
                        raw = json.dumps(span, default=str)[:2000]
                        rows.reject(path, number, f"span {position}: {exc}", raw)

    def _read_span(self, span: Any, resource: dict[str, Any], rows: Rows) -> None:
        if not isinstance(span, dict):
            raise ValueError("a span is not a JSON object")
        attrs = attributes(span.get("attributes"))
        operation = attrs.get("gen_ai.operation.name")
        outcome = None
        if self.options.outcome_attribute and attrs.get(self.options.outcome_attribute) not in (None, ""):
            outcome = str(attrs[self.options.outcome_attribute]).strip().lower()
            if outcome not in OUTCOMES:
                raise ValueError(f"{self.options.outcome_attribute} is not one of {', '.join(OUTCOMES)} "
                                 f"(got {outcome!r})")
        has_usage = any(attrs.get(key) is not None for key in INPUT_KEYS + OUTPUT_KEYS)
        call = operation in self.options.operations if operation is not None else has_usage
        if not call and outcome is None:
            return
        trace_id = hex_id(span.get("traceId"), 16, "traceId")
        span_id = hex_id(span.get("spanId"), 8, "spanId")
        nanos = whole(span.get("startTimeUnixNano"), "startTimeUnixNano", limit=None)
        if nanos == 0:
            raise ValueError("startTimeUnixNano is missing")
        try:
            ts = datetime.fromtimestamp(nanos // 10**9, UTC).replace(microsecond=(nanos % 10**9) // 1000)
        except (OverflowError, OSError, ValueError):
            raise ValueError(f"startTimeUnixNano is out of range (got {nanos})") from None
        ts = accepted(ts, "startTimeUnixNano", nanos)
        counts: dict[str, int] = {}
        cost = math.nan
        if call:
            input_tokens = whole(_first(attrs, INPUT_KEYS), "gen_ai.usage.input_tokens")
            output_tokens = whole(_first(attrs, OUTPUT_KEYS), "gen_ai.usage.output_tokens")
            cached = whole(_first(attrs, CACHED_KEYS), "gen_ai.usage.cache_read.input_tokens")
            if not self.options.input_includes_cached or cached > input_tokens:
                input_tokens += cached  # Anthropic-style: cache reads reported beside input_tokens
            counts = {"requests": 1, "input_tokens": input_tokens, "output_tokens": output_tokens,
                      "cached_input_tokens": cached}
            if self.options.cost_attribute:
                cost = amount(attrs.get(self.options.cost_attribute), self.options.cost_attribute)
        if outcome is not None:
            counts[outcome] = 1
        record = {**attrs, "resource": resource, "span.name": span.get("name")}
        rows.add(f"{trace_id}:{span_id}", ts, self.mapping.dimensions(record), cost=cost, **counts)
