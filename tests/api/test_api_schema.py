"""Schemathesis against /api/v1/openapi.json: no 500s, no answer that breaks the document."""

from __future__ import annotations

import re
import threading

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.config import SchemathesisConfig
from werkzeug.serving import WSGIRequestHandler, make_server

from roi.api import create_app

from .conftest import ADMIN, ADMIN_HEADERS, ingest_project, write_api_project

# modest, so the whole run stays well under a minute
EXAMPLES = 12


class QuietHandler(WSGIRequestHandler):
    def log_request(self, *args, **kwargs) -> None:
        pass


@pytest.fixture
def api_schema(project):
    """The document as a client gets it over HTTP from a real server on loopback (gzip and all)."""
    write_api_project(project)
    ingest_project(project)
    server = make_server("127.0.0.1", 0, create_app(project.settings()), threaded=True, request_handler=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        # the admin token for the document's bearer scheme; negative cases may still leave it out
        config = SchemathesisConfig.from_dict({"auth": {"openapi": {"bearer": {"bearer": ADMIN}}}})
        yield schemathesis.openapi.from_url(
            f"http://127.0.0.1:{server.server_port}/api/v1/openapi.json", headers=ADMIN_HEADERS, config=config
        )
    finally:
        server.shutdown()
        thread.join()
        server.server_close()


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE])
def test_api_keeps_its_openapi_promises(api_schema, mode):
    """Every operation, with generated valid (positive) or invalid (negative) parameters, runs every default
    check: no 5xx, documented status codes, content types and headers, answers valid against the schemas,
    valid data accepted, invalid data rejected, auth not ignored."""
    operations = [result.ok() for result in api_schema.get_all_operations()]
    # every operation but the document itself, which schemathesis leaves out
    assert len(operations) == 15, [operation.label for operation in operations]
    failures: list[str] = []
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(max_examples=EXAMPLES, deadline=None, database=None, derandomize=True,
                  suppress_health_check=list(HealthCheck))
        def check(case):
            case.call_and_validate()

        try:
            check()
        except Unsatisfiable:
            # an operation without parameters has no invalid input to send
            assert mode is GenerationMode.NEGATIVE and not operation.query and not operation.path_parameters
        except (Exception, BaseExceptionGroup) as exc:  # every operation is checked, then all failures shown
            failures.append(f"{operation.label}: {exc}")
    assert not failures, "\n\n".join(failures)


def test_the_document_is_narrowed_to_the_stored_dimensions(project):
    write_api_project(project)
    config = project.config_path
    config.write_text(config.read_text().replace(
        "[report]", '[store]\ndimensions = ["tenant", "channel"]\n\n[report]'))
    client = create_app(project.settings()).test_client()
    document = client.get("/api/v1/openapi.json", headers=ADMIN_HEADERS).get_json()
    names = [parameter["name"] for parameter in document["paths"]["/api/v1/roi"]["get"]["parameters"]]
    assert "tenant" in names and "channel" in names and "topic" not in names
    group_by = next(p for p in document["paths"]["/api/v1/roi"]["get"]["parameters"] if p["name"] == "group_by")
    assert group_by["schema"]["anyOf"][0]["pattern"] == "^((tenant|channel)(,(tenant|channel))*)?$"
    assert document["paths"]["/metrics"]["get"]["security"] == [{"bearer": []}]
    assert not document["paths"]["/healthz"]["get"].get("security")  # no requirement: open


def test_the_document_is_a_valid_openapi_3_1_document(client):
    from openapi_spec_validator import validate

    document = client.get("/api/v1/openapi.json", headers=ADMIN_HEADERS).get_json()
    assert document["openapi"] == "3.1.0"
    validate(document)
    paths = set(document["paths"])
    assert {"/api/v1/roi", "/api/v1/roi/trend", "/api/v1/periods", "/api/v1/cohorts", "/api/v1/models",
            "/api/v1/sources", "/api/v1/quarantine", "/api/v1/reports/{period}.{fmt}", "/api/v1/openapi.json",
            "/healthz", "/metrics"} <= paths
    problem = document["paths"]["/api/v1/roi"]["get"]["responses"]["400"]["content"]
    assert problem == {"application/problem+json": {"schema": {"$ref": "#/components/schemas/Problem"}}}


def test_every_endpoint_refuses_an_unknown_query_parameter_alike(client):
    """Walks the OpenAPI document: each operation, given `?colour=red`, answers the same 400."""
    document = client.get("/api/v1/openapi.json", headers=ADMIN_HEADERS).get_json()
    samples = {"run_id": "1", "job_id": "report:monthly", "period": "2026-01", "file": "roi-2026-01.json"}
    seen = []
    for template, operations in document["paths"].items():
        path = re.sub(r"\{(\w+)\}", lambda match: samples.get(match.group(1), "x"), template)
        for method, operation in operations.items():
            declared = {parameter["name"] for parameter in operation.get("parameters", [])
                        if parameter["in"] == "query"}
            assert "colour" not in declared
            answer = client.open(f"{path}?colour=red", method=method.upper(), headers=ADMIN_HEADERS)
            assert answer.status_code == 400, (method, template, answer.data)
            assert answer.content_type == "application/problem+json"
            problem = answer.get_json()
            assert problem["parameter"] == "colour"
            assert problem["detail"].startswith("colour: unknown query parameter; ")
            for name in declared:  # the message lists what the endpoint does take
                assert name in problem["detail"]
            if not declared:
                assert problem["detail"].endswith("this endpoint takes no query parameters")
            seen.append((method, template))
            # the declared parameters themselves are not refused as unknown
            if declared:
                name = sorted(declared)[0]
                answer = client.open(f"{path}?{name}=", method=method.upper(), headers=ADMIN_HEADERS)
                assert "unknown query parameter" not in answer.get_data(as_text=True)
    assert {("get", "/api/v1/periods"), ("get", "/api/v1/sources"), ("get", "/api/v1/models"),
            ("get", "/healthz"), ("get", "/api/v1/roi"), ("post", "/api/v1/jobs/{job_id}/run")} <= set(seen)
