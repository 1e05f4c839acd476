"""GET /api/v1/periods, /cohorts, /models and /sources: what the service knows about."""

from __future__ import annotations

from typing import Any

from flask import Response

from ..domain import parse_group_by
from ..services.periods import list_periods
from ..services.sources import source_documents, utc
from .catalog_schemas import Cohorts, Models, Periods, Sources
from .context import api_blueprint, cached_answer, dumps, runtime
from .schemas import CohortsQuery

blueprint = api_blueprint("catalog", __name__, "Months, cohorts, value models and sources.")


@blueprint.get("/periods", summary="Months with data, open or closed", responses={200: Periods})
def periods() -> Response:
    """Every month with data or a closed revision: its state, revision, and rows that arrived after its close."""
    state = runtime()
    found = list_periods(state.store)
    document = {
        "periods": [
            {
                "period": str(item.period),
                "state": item.state,
                "revision": item.revision,
                "closed_at": utc(item.closed_at),
                "late_rows": int(item.late_rows),
                "late_cost": float(item.late_cost),
            }
            for item in found
        ]
    }
    return Response(dumps(document), mimetype="application/json")


@blueprint.get("/cohorts", summary="The known dimension values", responses={200: Cohorts})
def cohorts(query: CohortsQuery) -> Response:
    """The values each stored dimension takes in the store ('' is (unattributed))."""
    state = runtime()
    if query.group_by:
        names = list(dict.fromkeys(query.group_by.split(",")))
        names = parse_group_by(",".join(names), state.settings.dimensions)
    else:
        names = list(state.settings.dimensions)

    def render() -> dict[str, Any]:
        return {"group_by": names, "dimensions": state.store.dimension_values(names)}

    return cached_answer(tuple(names), render)


@blueprint.get("/models", summary="Value models, versions and assignment rules", responses={200: Models})
def models() -> Response:
    """The value models with every version, the assignment rules in order, and the fixed costs."""
    settings = runtime().settings
    document = {
        "currency": settings.service.currency,
        "config_hash": settings.config_hash,
        "models": [model.model_dump(mode="json") for model in settings.value_models.values()],
        "assignments": [rule.model_dump(mode="json") for rule in settings.assignments],
        "fixed_costs": [cost.model_dump(mode="json") for cost in settings.fixed_costs],
    }
    return Response(dumps(document), mimetype="application/json")


@blueprint.get("/sources", summary="Per source: last batch, rows, quarantined, unpriced, freshness",
               responses={200: Sources})
def sources() -> Response:
    """Each configured source (and any source still in the store but no longer configured)."""
    state = runtime()
    return Response(dumps({"sources": source_documents(state.settings, state.store)}), mimetype="application/json")
