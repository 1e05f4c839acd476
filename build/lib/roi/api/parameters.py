"""Query parameters every endpoint refuses alike: unknown ones, and ones given twice (400 problem+json).

One check, before any view runs, against the query model the view declares (`query: SomeQuery`
in its signature; none declared: no parameter is taken). So an endpoint without parameters
(`/periods`, `/sources`, `/models`, `/healthz`...) refuses `?foo=1` exactly as `/roi` refuses it.
"""

from __future__ import annotations

import inspect
import typing

from flask import current_app, request
from pydantic import BaseModel

from .problems import ApiProblem, allowed_names, unknown_parameter_detail

_DECLARED: dict[str, type[BaseModel] | None] = {}


def declared_query(endpoint: str) -> type[BaseModel] | None:
    """The query model the view of `endpoint` declares, or None."""
    if endpoint not in _DECLARED:
        view = inspect.unwrap(current_app.view_functions[endpoint])
        model = typing.get_type_hints(view).get("query")
        _DECLARED[endpoint] = model if isinstance(model, type) and issubclass(model, BaseModel) else None
    return _DECLARED[endpoint]


def refuse_bad_parameters() -> None:
    """A before_request hook: a parameter given twice, or one the endpoint does not declare, is a 400."""
    for name, values in request.args.lists():
        if len(values) > 1:
            raise ApiProblem(400, f"{name}: given {len(values)} times; give it once, values separated by commas",
                             parameter=name)
    if request.endpoint is None or not request.args:
        return  # no route (a 404 or 405 follows), or nothing to check
    model = declared_query(request.endpoint)
    known = set(allowed_names(model))
    if model is not None:
        known |= {name for name, field in model.model_fields.items()
                  if model.model_config.get("populate_by_name") and field.alias}
    for name in request.args:
        if name not in known:
            raise ApiProblem(400, unknown_parameter_detail(name, model), parameter=name)
