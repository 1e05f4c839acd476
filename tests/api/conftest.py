"""API fixtures: a project with data of two months, quarantined rows and tokens; its app and client."""

from __future__ import annotations

import gc
import warnings

import pytest

from roi.api import create_app
from roi.cli import main
from roi.domain import Period
from roi.services import closing, store_for
from roi.services.ingest import ingest

READER = "reader-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"
READER_HEADERS = {"Authorization": f"Bearer {READER}"}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}

API_CONFIG = f"""
[[fixed_costs]]
name = "platform"
amount = 100.0
allocate_by = "requests"

[[fixed_costs]]
name = "fax-line"
amount = 50.0
allocate_by = "requests"
match = {{ channel = "fax" }}

[api]
tokens = [
  {{ name = "finance", token = "{READER}", role = "reader" }},
  {{ name = "ops", token = "{ADMIN}", role = "admin" }},
]
"""

EVENTS = """
event_id,ts,tenant,channel,topic,provider,model,input_tokens,output_tokens,cached_input_tokens,cost_usd,outcome,human_review_minutes
e1,2026-01-05T10:00:00Z,acme,web,billing,openai,gpt-4o-mini,1000,200,0,0.25,resolved,2
e2,2026-01-06T10:00:00Z,acme,web,billing,openai,gpt-4o-mini,1000,200,0,0.30,escalated,
e3,2026-01-07T10:00:00Z,acme,voice,returns,openai,gpt-4o-mini,2000,400,0,0.80,resolved,
e4,2026-01-08T10:00:00Z,globex,web,billing,openai,gpt-4o-mini,500,100,0,0.10,abandoned,
e5,2026-01-09T10:00:00Z,globex,voice,,openai,gpt-4o-mini,800,100,0,0.20,escalated,
e6,2026-01-10T10:00:00Z,,web,,,,,,,,resolved,
e7,2026-01-11T10:00:00Z,initech,web,billing,openai,gpt-4o-mini,900,100,0,0.15,resolved,
e8,2026-02-03T10:00:00Z,acme,web,billing,openai,gpt-4o-mini,1000,200,0,0.25,resolved,
e9,2026-02-04T10:00:00Z,globex,web,billing,openai,gpt-4o-mini,1000,200,0,0.25,reopened,
bad1,not-a-time,acme,web,,,,,,,,resolved,
bad2,2026-01-05T10:00:00Z,acme,web,,openai,gpt-4o-mini,-5,0,0,0.1,,
bad3,2026-01-05T10:00:00Z,acme,web,,openai,gpt-4o-mini,10,0,0,0.1,exploded,
bad4,2026-01-05T10:00:00Z,acme,web,,openai,gpt-4o-mini,ten,0,0,0.1,,
,2026-01-05T10:00:00Z,acme,web,,openai,gpt-4o-mini,10,0,0,0.1,,
"""


def write_api_project(project) -> None:
    project.write_config(API_CONFIG)
    project.write_data("events.csv", EVENTS)


def ingest_project(project):
    """Ingest the project's data; its engine is closed again (PostgreSQL warns of connections left open)."""
    settings = project.settings()
    store = store_for(settings)
    try:
        runs = ingest(settings, store)
    finally:
        store.engine.dispose()
    assert not any(run.failed for run in runs), [run.errors for run in runs]
    return settings


def close_month(project, month: str) -> None:
    settings = project.settings()
    store = store_for(settings)
    try:
        closing.close_period(settings, store, Period.parse(month))
    finally:
        store.engine.dispose()


def run_cli(runner, project, *args: str):
    """Run the CLI, then collect the engines it leaves open, quietly (see tests/test_store.py)."""
    result = runner.invoke(main, ["--config", str(project.config_path), *args])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture
def api_project(project):
    write_api_project(project)
    ingest_project(project)
    return project


@pytest.fixture
def app(api_project):
    # version_ttl=0: tests that ingest more see it on the next request
    app = create_app(api_project.settings(), version_ttl=0)
    yield app
    app.extensions["roi"].store.engine.dispose()


@pytest.fixture
def client(app):
    return app.test_client()
