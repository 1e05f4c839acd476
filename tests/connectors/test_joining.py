"""Cost from one source (LiteLLM) and outcomes from another (Zendesk) meet in the same cohorts."""

from __future__ import annotations

import pytest

from roi.domain import Period
from roi.services import reports

from .conftest import add_source, ingest
from .test_litellm import KEY as LITELLM_KEY
from .test_litellm import log_row, serve_litellm
from .test_zendesk import TOKEN as ZENDESK_TOKEN
from .test_zendesk import serve_zendesk, ticket

SPEND = [
    log_row("a1", "2025-12-03T10:00:00Z", "acme", ["channel:chat"], 0.30, 1000, 100),
    log_row("a2", "2025-12-04T10:00:00Z", "acme", ["channel:chat"], 0.20, 800, 90),
    log_row("g1", "2025-12-03T11:00:00Z", "globex", ["channel:email"], 0.10, 500, 50),
]
TICKETS = [
    ticket(1, "2025-12-03T10:01:00Z", "2025-12-03T10:30:00Z", 501, "web", ["ai_resolved"]),
    ticket(2, "2025-12-03T12:00:00Z", "2025-12-03T12:30:00Z", 501, "web", ["ai_resolved"], reopens=1),
    ticket(3, "2025-12-04T09:00:00Z", "2025-12-04T09:30:00Z", 501, "web", ["ai_resolved"]),
    ticket(4, "2025-12-04T10:00:00Z", "2025-12-04T10:30:00Z", 501, "web", ["ai_handoff"]),
    ticket(5, "2025-12-03T11:05:00Z", "2025-12-03T11:30:00Z", 502, "email", ["ai_resolved"]),
]


def test_litellm_cost_and_zendesk_outcomes_give_cost_per_resolved_case(project, upstream, monkeypatch):
    monkeypatch.setenv("LITELLM_KEY", LITELLM_KEY)
    monkeypatch.setenv("ZENDESK_TOKEN", ZENDESK_TOKEN)
    add_source(project, "gateway", "litellm", upstream.url, 'api_key = "${LITELLM_KEY}"', dimensions="""
tenant = "end_user"
channel = { field = "request_tags", prefix = "channel:" }
""")
    add_source(project, "helpdesk", "zendesk", upstream.url,
               'email = "agent@example.com"\napi_token = "${ZENDESK_TOKEN}"', dimensions="""
tenant = { field = "organization_id", lookup = { "501" = "acme", "502" = "globex" } }
channel = { field = "via.channel", lookup = { web = "chat" } }
""")
    serve_litellm(upstream, SPEND)
    litellm_auth = upstream.auth
    serve_zendesk(upstream, TICKETS)
    zendesk_auth = upstream.auth
    upstream.auth = lambda request: litellm_auth(request) or zendesk_auth(request)

    for source in ("gateway", "helpdesk"):
        run, store = ingest(project, source, "2025-12-01", "2025-12-06")
        assert run.errors == []

    settings = project.settings()
    frame = reports.build_report(settings, store, Period(2025, 12), ["tenant", "channel"])
    cohorts = {(row["cohort"]["tenant"], row["cohort"]["channel"]): row for row in frame.cohort_records()}
    assert set(cohorts) == {("acme", "chat"), ("globex", "email")}
    acme, globex = cohorts[("acme", "chat")], cohorts[("globex", "email")]
    assert acme["requests"] == 2 and acme["resolved"] == 3 and acme["reopened"] == 1 and acme["escalated"] == 1
    assert acme["token_cost"] == pytest.approx(0.50)
    assert acme["cost_per_resolved_case"] == pytest.approx(0.50 / 2)  # net resolved: 3 - 1 reopened
    assert globex["cost_per_resolved_case"] == pytest.approx(0.10 / 1)
    # the value model of the project: 6.50 per net resolution, 2.00 per escalation, 9.00 per reopen
    assert acme["failure_cost"] == pytest.approx(2.00 + 9.00)
    assert acme["net_value"] == pytest.approx(2 * 6.50 - 0.50 - 11.00)
