"""GET /api/v1/reports/{YYYY-MM}.{xlsx|csv|json}: the month's report as a file, with ETag."""

from __future__ import annotations

from flask import Response, request

from ..domain import Period
from ..services.reports import MEDIA_TYPES as REPORT_MEDIA_TYPES
from ..services.reports import export as export_report
from .context import api_blueprint, runtime
from .schemas import ConditionalHeaders, ReportPath

blueprint = api_blueprint("reports", __name__, "Report downloads: the workbook, CSV or JSON of a month.")

# the services' media types, without parameters, as the OpenAPI document names the content
MEDIA_TYPES = {fmt: media.split(";")[0] for fmt, media in REPORT_MEDIA_TYPES.items()}
_FILE = {"schema": {"type": "string", "format": "binary"}}


@blueprint.get(
    "/reports/<period>.<fmt>",
    summary="Download a month's report",
    responses={
        200: {
            "description": "The report file; a closed month serves its stored revision.",
            "headers": {
                "ETag": {"description": "Entity tag of the file", "schema": {"type": "string"}},
                "X-Roi-Data": {"description": "`none` when the month has no stored data (no cohorts; its fixed "
                               "costs unallocated)", "schema": {"type": "string", "enum": ["none"]}},
            },
            "content": {
                MEDIA_TYPES["xlsx"]: _FILE,
                MEDIA_TYPES["csv"]: {"schema": {"type": "string"}},
                # the same document as GET /roi (a closed month's with state, revision, closed_at)
                MEDIA_TYPES["json"]: {"schema": {"$ref": "#/components/schemas/RoiReport"}},
            },
        },
        304: {"description": "Not modified: the If-None-Match tag is still current."},
    },
)
def download(path: ReportPath, header: ConditionalHeaders) -> Response:  # noqa: ARG001 - documents the header
    """The workbook (xlsx), CSV or JSON of the month, as `roi report` writes it.

    A closed month serves the bytes of its stored revision. Send the ETag back in
    If-None-Match to get 304 when nothing changed. A month with no data is served like
    `GET /roi` answers it: no cohorts, its fixed costs unallocated, the header `X-Roi-Data: none`."""
    state = runtime()
    period = Period.parse(path.period)
    export = export_report(state.settings, state.store, period, path.fmt, months=state.months)
    # content_type, not mimetype: the CSV type already names its charset, which Flask would add again
    response = Response(status=200, content_type=export.media_type)
    response.set_etag(export.etag)
    if request.if_none_match.contains(export.etag):
        response.status_code = 304
        return response
    response.set_data(export.content)
    response.headers["Content-Disposition"] = f'attachment; filename="{export.filename}"'
    if export.revision is not None:
        response.headers["X-Roi-Revision"] = str(export.revision)
    if not export.has_data:
        response.headers["X-Roi-Data"] = "none"
    return response
