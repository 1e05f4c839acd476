"""API fixtures: a project with data of two months, quarantined rows and tokens; its app and client."""

from __future__ import annotations

import gc
import warnings

import pytest

from roi.api import create_app
from roi.cli import main
from roi.domain import Period
from roi.services import closing, store_for
from tests.conftest import fixture_text, ingest_project  # noqa: F401 - the scenario tests import it from here

READER = "reader-token-0123456789abcdef"
ADMIN = "admin-token-0123456789abcdef"
READER_HEADERS = {"Authorization": f"Bearer {READER}"}
ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN}"}

# the config a test project adds: fixed costs and the tokens ({READER}, {ADMIN} filled in)
API_CONFIG = fixture_text("api/config.toml").format(READER=READER, ADMIN=ADMIN)

EVENTS = "\n" + fixture_text("api/events.csv")


def write_api_project(project) -> None:
    project.write_config(API_CONFIG)
    project.write_data("events.csv", EVENTS)


def close_month(project, month: str) -> None:
    settings = project.settings()
    store = store_for(settings)
    try:
        closing.close_period(settings, store, Period.parse(month))
    finally:
        store.engine.dispose()


def run_cli(runner, project, *args: str):
    """Run the CLI, then collect the engines it leaves open, quietly (see tests/store/test_store.py)."""
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
