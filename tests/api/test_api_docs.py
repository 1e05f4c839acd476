"""GET /docs/: the OpenAPI document as a Swagger UI page, served with its assets by roi itself."""

from __future__ import annotations

import http.client
import json
import re
from html.parser import HTMLParser

from .conftest import READER_HEADERS, ingest_project, write_api_project
from .test_api_server import fetch, start_serve  # noqa: F401 - the fixture

EXTERNAL = re.compile(r"(?:https?:)?//[a-z0-9.-]+", re.I)


def redirect(port: int, path: str) -> tuple[int, str | None]:
    """The status and Location of a request, the redirect not followed."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        response.read()
        return response.status, response.getheader("Location")
    finally:
        connection.close()


class References(HTMLParser):
    def __init__(self):
        super().__init__()
        self.found: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.found += [value for name, value in attrs if name in ("src", "href") and value]


def test_docs_page_and_assets_are_served_locally_without_a_token(project, start_serve):  # noqa: F811
    write_api_project(project)
    ingest_project(project)
    port, _log, _stop = start_serve(workers=1)

    assert redirect(port, "/") == (302, "/sign-in?next=/")  # the dashboard's place
    assert redirect(port, "/docs") == (301, "/docs/")

    status, headers, body = fetch(port, "/docs/")
    assert status == 200 and headers["Content-Type"].startswith("text/html")
    assert headers["Content-Security-Policy"].startswith("default-src 'self'")
    page = body.decode()
    assert not EXTERNAL.search(page), "the page names another host"
    parser = References()
    parser.feed(page)
    assert len(parser.found) == 5  # icon, stylesheet, two scripts, the page's own script
    kinds = {"js": "text/javascript", "css": "text/css", "svg": "image/svg+xml"}
    for reference in parser.found:
        assert reference.startswith("/docs/"), reference
        status, headers, asset = fetch(port, reference)
        assert status == 200 and len(asset) > 100, reference
        assert headers["Content-Type"].startswith(kinds[reference.rsplit(".", 1)[-1]]), reference
        if reference.endswith(".css"):
            for target in re.findall(r"url\(\s*['\"]?([^'\")]+)", asset.decode()):
                assert target.startswith("data:"), f"{reference} loads {target}"
    status, _, init = fetch(port, "/docs/init.js")
    assert b"validatorUrl: null" in init  # Swagger UI would otherwise send the document to its online validator
    assert b'"openapi.json"' in init

    status, _, document = fetch(port, "/docs/openapi.json")
    assert status == 200
    status, _, protected = fetch(port, "/api/v1/openapi.json", READER_HEADERS)
    assert status == 200 and json.loads(document) == json.loads(protected)
    assert json.loads(document)["paths"]["/api/v1/roi"]

    status, headers, _ = fetch(port, "/docs/assets/../../roi.toml")
    assert status in (404, 400)
    status, headers, body = fetch(port, "/docs/assets/js/other.js")
    assert status == 404 and headers["Content-Type"] == "application/problem+json"
    # everything else still needs a token
    assert fetch(port, "/api/v1/periods")[0] == 401
