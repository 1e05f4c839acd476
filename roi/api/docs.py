"""GET /docs: the OpenAPI document as a browsable page (Swagger UI), and `/` leading to it.

Swagger UI's script, styles and icon are the files the `flask-openapi3-swagger` package ships,
served from here: the page fetches nothing from elsewhere. The page and its assets need no
token (they hold no data); the page reads this deployment's document from /docs/openapi.json,
and "Authorize" takes a bearer token to try the endpoints.
"""

from __future__ import annotations

import html
from importlib.resources import files

from flask import Blueprint, Response, redirect, send_from_directory, url_for

from ..errors import NotFound
from .auth import OPEN, requires_role
from .context import dumps
from .spec import openapi_document

ASSETS = files("flask_openapi3_swagger") / "templates" / "swagger"
# what the page loads, each from /docs/assets/
SCRIPTS = ("js/swagger-ui-bundle.js", "js/swagger-ui-standalone-preset.js")
STYLES = ("css/swagger-ui.css",)
ICON = "images/swagger.svg"

blueprint = Blueprint("docs", __name__)

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>{title}</title>
<link rel="icon" href="{icon}">
{styles}
<style>body {{ margin: 0; background: #fafafa; }}</style>
</head>
<body>
<div id="swagger-ui"></div>
{scripts}
<script src="{init}"></script>
</body>
</html>
"""

# the page's own script: a file, not inline, so a strict Content-Security-Policy ('self') allows it
INIT = """window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: new URL("openapi.json", window.location.href).href,
    dom_id: "#swagger-ui",
    deepLinking: true,
    persistAuthorization: true,
    validatorUrl: null,
    presets: [SwaggerUIBundle.presets.apis, SwaggerUIStandalonePreset],
    layout: "BaseLayout"
  });
};
"""


@blueprint.get("/docs")
@requires_role(OPEN)
def docs_without_slash() -> Response:
    return redirect(url_for("docs.page"), code=301)


@blueprint.get("/docs/")
@requires_role(OPEN)
def page() -> Response:
    document = openapi_document()
    title = html.escape(f"{document['info']['title']} {document['info']['version']}: API")
    asset = lambda name: html.escape(url_for("docs.asset", name=name))  # noqa: E731
    body = PAGE.format(
        title=title,
        icon=asset(ICON),
        styles="\n".join(f'<link rel="stylesheet" href="{asset(name)}">' for name in STYLES),
        scripts="\n".join(f'<script src="{asset(name)}"></script>' for name in SCRIPTS),
        init=html.escape(url_for("docs.init")),
    )
    response = Response(body, mimetype="text/html")
    response.headers["Content-Security-Policy"] = (
        "default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; connect-src 'self'"
    )
    return response


@blueprint.get("/docs/init.js")
@requires_role(OPEN)
def init() -> Response:
    return Response(INIT, mimetype="text/javascript")


@blueprint.get("/docs/openapi.json")
@requires_role(OPEN)
def document() -> Response:
    """The same document as GET /api/v1/openapi.json (which needs a token), for the page."""
    return Response(dumps(openapi_document()), mimetype="application/json")


@blueprint.get("/docs/assets/<path:name>")
@requires_role(OPEN)
def asset(name: str) -> Response:
    if name not in (*SCRIPTS, *STYLES, ICON):
        raise NotFound(f"docs: no asset {name!r}")
    folder, _, file = name.rpartition("/")
    return send_from_directory(str(ASSETS.joinpath(folder)), file, max_age=86400)
