"""Shared fixtures: a config written to tmp_path, its store, PostgreSQL when available."""

from __future__ import annotations

import os
import textwrap
import uuid
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

from roi.config import Settings
from roi.domain import CELL_METRICS, DIMENSIONS, FLOAT_METRICS
from roi.services.validation import load_checked_config as load_config

PG_URL = os.environ.get("ROI_TEST_POSTGRES_URL")
FIXTURES = Path(__file__).resolve().parent / "fixtures"


def fixture_text(name: str) -> str:
    """A scenario file under tests/fixtures/."""
    return (FIXTURES / name).read_text(encoding="utf-8")


BASE_MODEL = fixture_text("base/models/support.toml")

# {database_url} and {timezone} are filled in; literal braces are doubled
BASE_CONFIG = fixture_text("base/roi.toml")


class Project:
    """A folder with a config, value models and data files, as a user would have."""

    def __init__(self, root: Path, database_url: str):
        self.root = root
        self.database_url = database_url
        (root / "models").mkdir(exist_ok=True)
        (root / "data").mkdir(exist_ok=True)

    @property
    def config_path(self) -> Path:
        return self.root / "roi.toml"

    def write_config(self, extra: str = "", *, timezone: str = "UTC", body: str | None = None) -> Path:
        text = body if body is not None else BASE_CONFIG.format(database_url=self.database_url, timezone=timezone)
        self.config_path.write_text(textwrap.dedent(text) + "\n" + textwrap.dedent(extra))
        return self.config_path

    def write_model(self, name: str, text: str) -> Path:
        path = self.root / "models" / f"{name}.toml"
        path.write_text(textwrap.dedent(text))
        return path

    def write_data(self, name: str, text: str) -> Path:
        path = self.root / "data" / name
        path.write_text(textwrap.dedent(text).lstrip())
        return path

    def settings(self) -> Settings:
        return load_config(self.config_path)


def cell_frame(*rows: dict, day=date(2026, 1, 10), counts_as_floats: bool = False) -> pd.DataFrame:
    """Daily cells with every dimension and metric; each row gives only what differs from blank / zero.

    Counts are integers as the store holds them, token cost and review minutes floats
    (`counts_as_floats`: every metric a float, as valuation reads them)."""
    records = [{"day": day} | dict.fromkeys(DIMENSIONS, "") | dict.fromkeys(CELL_METRICS, 0) | row for row in rows]
    frame = pd.DataFrame(records, columns=["day", *DIMENSIONS, *CELL_METRICS])
    floats = CELL_METRICS if counts_as_floats else FLOAT_METRICS
    return frame.astype(dict.fromkeys(floats, "float64"))


def ingest_project(project: Project) -> Settings:
    """Ingest the project's data and close the store's engine again (PostgreSQL warns of connections
    left open); the project's settings."""
    from roi.services import store_for
    from roi.services.ingest import ingest

    settings = project.settings()
    store = store_for(settings)
    try:
        runs = ingest(settings, store)
    finally:
        store.engine.dispose()
    assert not any(run.failed for run in runs), [run.errors for run in runs]
    return settings


def _sqlite_url(root: Path) -> str:
    return f"sqlite:///{root / 'roi.db'}"


@pytest.fixture
def project(tmp_path: Path) -> Project:
    """A project on SQLite in tmp_path with the base config and model written."""
    proj = Project(tmp_path, _sqlite_url(tmp_path))
    proj.write_model("support", BASE_MODEL)
    proj.write_config()
    return proj


@pytest.fixture
def settings(project: Project) -> Settings:
    return project.settings()


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


def _fresh_pg_database() -> str:
    """A new, empty PostgreSQL database for one test, dropped afterwards by the fixture."""
    import sqlalchemy as sa

    name = f"roi_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return sa.engine.make_url(PG_URL).set(database=name).render_as_string(hide_password=False), name


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Callable[[], str]:
    """Each store test runs on SQLite and, when ROI_TEST_POSTGRES_URL is set, on PostgreSQL."""
    if request.param == "sqlite":
        yield _sqlite_url(tmp_path)
        return
    if not PG_URL:
        pytest.skip("ROI_TEST_POSTGRES_URL is not set: PostgreSQL store tests skipped")
    import sqlalchemy as sa

    url, name = _fresh_pg_database()
    yield url
    from sqlalchemy.pool import NullPool

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def any_project(tmp_path: Path, database_url: str) -> Project:
    """Like `project`, parametrised over SQLite and PostgreSQL."""
    proj = Project(tmp_path, database_url)
    proj.write_model("support", BASE_MODEL)
    proj.write_config()
    return proj


def _drop_pg_database(name: str) -> None:
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    admin = sa.create_engine(PG_URL, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture
def pg_settings(tmp_path: Path) -> Settings:
    if not PG_URL:
        pytest.skip("ROI_TEST_POSTGRES_URL is not set: PostgreSQL tests skipped")
    url, name = _fresh_pg_database()
    try:
        proj = Project(tmp_path, url)
        proj.write_model("support", BASE_MODEL)
        proj.write_config()
        yield proj.settings()
    finally:
        _drop_pg_database(name)
