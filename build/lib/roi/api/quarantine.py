"""GET /api/v1/quarantine: rows that could not be read, with reasons, a page at a time (admin only)."""

from __future__ import annotations

from flask import Response

from ..errors import NotFound
from .auth import requires_role
from .context import api_blueprint, dumps, runtime
from .problems import problem_docs
from .schemas import QuarantinePage, QuarantineQuery

blueprint = api_blueprint("quarantine", __name__, "Quarantined rows (raw source data: admin tokens only).")


@blueprint.get(
    "/quarantine",
    summary="Quarantined rows with reasons, paginated",
    responses={200: QuarantinePage, 404: problem_docs(404, "No source of that name, configured or stored.")},
)
@requires_role("admin")
def quarantine(query: QuarantineQuery) -> Response:
    """Oldest first. Pass `next_cursor` as `cursor` to get the next page; it is null on the last page.

    Needs an admin token: the raw rows are source data."""
    state = runtime()
    if query.source is not None:
        known = {source.name for source in state.settings.sources} | {b.source for b in state.store.batches()}
        if query.source not in known:
            raise NotFound(f"source: no source named {query.source!r} (sources: {', '.join(sorted(known)) or 'none'})")
    after = int(query.cursor) if query.cursor else 0
    rows = state.store.quarantine(query.source, after_id=after, limit=query.limit + 1)
    page = rows[: query.limit]
    more = len(rows) > query.limit
    document = {
        "items": [
            {
                "id": row.id,
                "batch_id": row.batch_id,
                "source": row.source,
                "file": row.file,
                "line": row.line,
                "reason": row.reason,
                "raw": row.raw,
            }
            for row in page
        ],
        "next_cursor": str(page[-1].id) if more and page else None,
    }
    return Response(dumps(document), mimetype="application/json")
