"""Errors as application/problem+json (RFC 9457): type, title, status, detail and the parameter at fault."""

from __future__ import annotations

import json
import logging
from typing import Any

from flask import Flask, Response, current_app
from pydantic import BaseModel, ValidationError
from werkzeug.exceptions import HTTPException

from ..domain import DIMENSIONS, REPORT_METRICS
from ..errors import NotFound, RoiError, UsageError, ValuationError
from ..services import DatabaseUnavailable
from .schemas import Query

log = logging.getLogger("roi.api")

PROBLEM_JSON = "application/problem+json"
_TYPE = "urn:roi:problem:"

TITLES = {
    400: "Bad request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not found",
    405: "Method not allowed",
    406: "Not acceptable",
    422: "Cannot value the data",
    500: "Internal server error",
    503: "Service unavailable",
}
_KINDS = {
    400: "invalid-parameter",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    422: "unvaluable-data",
    500: "internal-error",
    503: "unavailable",
}


class ApiProblem(Exception):
    """Raised by views and hooks; rendered as problem+json by the app's error handler."""

    def __init__(self, status: int, detail: str, *, parameter: str | None = None, headers: dict | None = None):
        super().__init__(detail)
        self.status = status
        self.detail = detail
        self.parameter = parameter
        self.headers = headers or {}


def problem_response(
    status: int, detail: str, *, parameter: str | None = None, headers: dict[str, str] | None = None
) -> Response:
    body = {
        "type": _TYPE + _KINDS.get(status, "http-" + str(status)),
        "title": TITLES.get(status, "Error"),
        "status": status,
        "detail": detail,
        "parameter": parameter,
    }
    response = Response(json.dumps(body), status=status, mimetype=PROBLEM_JSON)
    for name, value in (headers or {}).items():
        response.headers[name] = value
    return response


def problem_docs(status: int, description: str) -> dict[str, Any]:  # noqa: ARG001 - names the status it documents
    """The OpenAPI response object of a problem (the Problem schema is a component)."""
    return {
        "description": description,
        "content": {PROBLEM_JSON: {"schema": {"$ref": "#/components/schemas/Problem"}}},
    }


# Every authenticated operation can answer these.
COMMON_PROBLEMS: dict[int, dict[str, Any]] = {
    400: problem_docs(400, "A query or path parameter is not allowed; `parameter` names it."),
    401: problem_docs(401, "No bearer token, or not a configured one."),
    403: problem_docs(403, "The token's role is too small for this endpoint."),
    422: problem_docs(
        422, "The stored data cannot be valued with the configured value models (e.g. a day before a "
        "model's first version); `detail` names the model and the day."
    ),
    503: problem_docs(503, "The database is not answering; try again (see Retry-After)."),
}


def allowed_names(model: type[BaseModel] | None) -> list[str]:
    """The parameters `model` takes, as a client writes them (dimensions this config does not store left out)."""
    if model is None:
        return []
    unstored = set(DIMENSIONS) - set(current_app.extensions["roi"].settings.dimensions)
    return [field.alias or name for name, field in model.model_fields.items() if name not in unstored]


def unknown_parameter_detail(name: str, model: type[BaseModel] | None) -> str:
    names = allowed_names(model)
    return f"{name}: unknown query parameter; " + (
        f"allowed: {', '.join(names)}" if names else "this endpoint takes no query parameters")


def _describe_validation(error: dict[str, Any], model: type | None) -> tuple[str, str | None]:
    loc = error.get("loc") or ()
    parameter = str(loc[0]) if loc else None
    kind = error.get("type", "")
    value = error.get("input")
    if kind == "extra_forbidden":
        return unknown_parameter_detail(str(parameter), model), parameter
    message = error.get("msg", "is not valid")
    if kind == "missing":
        return f"{parameter}: missing; this parameter is required: {_allowed(parameter)}", parameter
    if kind == "string_pattern_mismatch":
        return f"{parameter}: {value!r} is not allowed; expected {_allowed(parameter)}", parameter
    message = message[:1].lower() + message[1:]
    if value is None:
        return f"{parameter}: {message}", parameter
    return f"{parameter}: {value!r} is not allowed: {message}", parameter


def _allowed(parameter: str | None) -> str:
    """What a parameter takes, said the way a person would write it."""
    months = "a month as YYYY-MM (years 1900 to 2999), e.g. 2026-03"
    if parameter in ("period", "from", "to"):
        return months
    if parameter == "group_by":
        stored = current_app.extensions["roi"].settings.dimensions
        return f"stored dimensions separated by commas, from: {', '.join(stored)}"
    if parameter == "metrics":
        return f"metrics separated by commas, from: {', '.join(REPORT_METRICS)}"
    if parameter == "sort":
        return f"one metric, with '-' first for descending, from: {', '.join(REPORT_METRICS)}"
    if parameter == "fmt":
        return "one of xlsx, csv, json"
    if parameter == "source":
        return "a source name (letters, digits, '_', '.', '-')"
    if parameter == "cursor":
        return "the next_cursor of the previous page"
    if parameter in DIMENSIONS:
        return "at least one value; values separated by commas, '(unattributed)' for a missing value"
    return "a value as /api/v1/openapi.json describes it"


def validation_error_response(exc: ValidationError) -> Response:
    """flask-openapi3 calls this when a query, path or header model refuses a request."""
    errors = exc.errors(include_url=False)
    detail, parameter = _describe_validation(errors[0], Query.by_name.get(exc.title))
    if len(errors) > 1:
        detail += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''})"
    return problem_response(400, detail, parameter=parameter)


def install_error_handlers(app: Flask) -> None:
    @app.errorhandler(ApiProblem)
    def _api_problem(exc: ApiProblem) -> Response:
        return problem_response(exc.status, exc.detail, parameter=exc.parameter, headers=exc.headers)

    @app.errorhandler(UsageError)
    def _usage(exc: UsageError) -> Response:
        return problem_response(400, str(exc), parameter=exc.parameter)

    @app.errorhandler(NotFound)
    def _not_found(exc: NotFound) -> Response:
        return problem_response(404, str(exc))

    @app.errorhandler(HTTPException)
    def _http(exc: HTTPException) -> Response:
        if exc.response is not None and exc.response.mimetype == PROBLEM_JSON:
            return exc.response  # a validation problem made by validation_error_response
        status = exc.code or 500
        headers = {}
        if status == 405 and exc.valid_methods:  # type: ignore[attr-defined]
            headers["Allow"] = ", ".join(exc.valid_methods)  # type: ignore[attr-defined]
        detail = exc.description or TITLES.get(status, "Error")
        return problem_response(status, detail, headers=headers)

    @app.errorhandler(DatabaseUnavailable)
    def _database(exc: DatabaseUnavailable) -> Response:
        # the database is down, overloaded or locked: the client may try again, it did nothing wrong
        log.error("database error: %s", exc.orig if exc.orig is not None else exc)
        return problem_response(503, "the database is not answering; try again shortly",
                                headers={"Retry-After": "5"})

    @app.errorhandler(ValuationError)
    def _valuation(exc: ValuationError) -> Response:
        # not the client's mistake nor a crash: the config's value models do not cover the data
        log.warning("cannot value the data: %s", exc)
        return problem_response(422, str(exc))

    @app.errorhandler(RoiError)
    def _roi_error(exc: RoiError) -> Response:
        log.error("request failed: %s", exc)
        return problem_response(500, str(exc))

    @app.errorhandler(Exception)
    def _unexpected(exc: Exception) -> Response:  # noqa: ARG001 - logged with its traceback below
        log.exception("unexpected error")
        return problem_response(500, "an unexpected error occurred; the server log has the details")
