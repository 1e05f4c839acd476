"""GET /api/v1/openapi.json: the OpenAPI document flask-openapi3 generates from the views and models.

The models list every dimension; this deployment's document is narrowed to the
dimensions its config stores (and to an open /metrics when configured), so that
what the document calls valid is exactly what this server accepts.
"""

from __future__ import annotations

import copy
from typing import Any

from flask import Response, current_app

from ..config import Settings
from ..domain import DIMENSIONS
from .context import api_blueprint, dumps, runtime
from .schemas import GROUP_BY_PATTERN, OpenApiDocument, list_pattern

blueprint = api_blueprint("openapi", __name__, "This document.")


def narrow_document(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    narrowed = copy.deepcopy(document)
    stored = settings.dimensions
    unstored = set(DIMENSIONS) - set(stored)
    group_by = list_pattern(stored, empty=True) if stored else "^$"
    for path, item in narrowed.get("paths", {}).items():
        for operation in item.values():
            parameters = []
            for parameter in operation.get("parameters", []):
                schema = parameter.get("schema", {})
                if parameter.get("in") == "query" and parameter["name"] in unstored:
                    continue  # a filter on a dimension this config does not store
                _replace_pattern(schema, GROUP_BY_PATTERN, group_by)
                parameters.append(parameter)
            if "parameters" in operation:
                operation["parameters"] = parameters
            if path == "/metrics" and settings.api.metrics_open:
                operation["security"] = []
                operation.get("responses", {}).pop("401", None)
    return narrowed


def _replace_pattern(schema: dict[str, Any], old: str, new: str) -> None:
    if schema.get("pattern") == old:
        schema["pattern"] = new
    for part in schema.get("anyOf", []):
        _replace_pattern(part, old, new)


def openapi_document() -> dict[str, Any]:
    state = runtime()
    if state.document is None:
        state.document = narrow_document(current_app.api_doc, state.settings)
    return state.document


@blueprint.get("/openapi.json", summary="This API's OpenAPI 3.1 document", responses={200: OpenApiDocument})
def openapi() -> Response:
    """Generated from the code (flask-openapi3 and pydantic models), narrowed to this config."""
    return Response(dumps(openapi_document()), mimetype="application/json")
