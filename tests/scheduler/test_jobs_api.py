"""GET /api/v1/jobs, POST /api/v1/jobs/{id}/run, and the `roi jobs`, `roi ingest --since` commands."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime

import pytest
import time_machine

from roi.api import create_app
from roi.cli import main
from roi.services.jobs import JobRunner
from roi.store import pulls_and_jobs
from tests.api.conftest import ADMIN_HEADERS, API_CONFIG, READER_HEADERS, ingest_project, write_api_project

from .conftest import PULLED


@pytest.fixture(autouse=True)
def pinned_clock():
    """Every test here, its fixtures and the job threads it starts see the same day, whatever day it
    is (a run across midnight would otherwise pull a window that misses the upstream's day)."""
    with time_machine.travel(datetime(2026, 3, 10, 12, 0, tzinfo=UTC), tick=True):
        yield


@pytest.fixture
def jobs_project(pinned_clock, project, sqlite_upstream):
    write_api_project(project)
    project.write_config(API_CONFIG + PULLED.format(initial=1, lookback=1))
    project.write_data("events.csv", "event_id,ts,tenant,cost_usd,input_tokens\ne1,2026-01-05T10:00:00Z,acme,0.5,10\n")
    ingest_project(project)
    return project


@pytest.fixture
def client(jobs_project):
    app = create_app(jobs_project.settings(), version_ttl=0)
    yield app.test_client()
    app.extensions["roi"].store.engine.dispose()


def _join_job_threads() -> None:
    for thread in threading.enumerate():
        if thread.name.startswith("roi-job-"):
            thread.join(timeout=60)


def test_jobs_lists_every_job_with_its_schedule_last_run_and_source_state(client, jobs_project, open_store):
    settings = jobs_project.settings()
    store = open_store(settings)
    JobRunner(settings, store, sleep=lambda s: None).fire("source:api", datetime(2026, 3, 2, tzinfo=UTC))
    answer = client.get("/api/v1/jobs", headers=READER_HEADERS)
    assert answer.status_code == 200
    document = answer.get_json()
    jobs = {job["id"]: job for job in document["jobs"]}
    assert set(jobs) == {"source:bot", "source:api", "report:monthly"}
    assert jobs["source:api"]["schedule"] == "*/15 * * * *"
    assert jobs["source:bot"]["schedule"] is None
    assert jobs["report:monthly"]["schedule"] == "0 6 2 * *" and jobs["report:monthly"]["source_state"] is None
    assert jobs["source:api"]["last_run"]["status"] == "succeeded"
    assert jobs["source:api"]["source_state"]["consecutive_failures"] == 0
    assert jobs["source:api"]["source_state"]["watermark"] is not None
    assert [run["job"] for run in document["runs"]] == ["source:api"]
    assert document["runs"][0]["scheduled_for"] == "2026-03-02T00:00:00+00:00"


def test_a_failing_source_shows_its_error_and_streak(client, jobs_project, sqlite_upstream, open_store):
    today = datetime.now(UTC).date().isoformat()
    sqlite_upstream.put_day(today)
    sqlite_upstream.fail(today)
    settings = jobs_project.settings()
    runner = JobRunner(settings, open_store(settings), sleep=lambda s: None)
    runner.run_now("source:api")
    runner.run_now("source:api")
    document = client.get("/api/v1/jobs?job=source:api&limit=1", headers=READER_HEADERS).get_json()
    (job,) = [job for job in document["jobs"] if job["id"] == "source:api"]
    assert job["source_state"]["consecutive_failures"] == 2
    assert f"upstream refused {today}" in job["source_state"]["last_error"]
    assert len(document["runs"]) == 1 and document["runs"][0]["status"] == "failed"


def test_bad_parameters_and_unknown_jobs_are_problems(client):
    answer = client.get("/api/v1/jobs?limit=0", headers=READER_HEADERS)
    assert answer.status_code == 400 and answer.mimetype == "application/problem+json"
    assert answer.get_json()["parameter"] == "limit"
    answer = client.get("/api/v1/jobs?job=source:nope", headers=READER_HEADERS)
    assert answer.status_code == 404 and "no job named 'source:nope'" in answer.get_json()["detail"]
    assert client.get("/api/v1/jobs").status_code == 401
    assert client.get("/api/v1/jobs/runs/999", headers=READER_HEADERS).status_code == 404


def test_running_a_job_needs_an_admin_and_records_a_manual_run(client, jobs_project, sqlite_upstream):
    sqlite_upstream.put_day(datetime.now(UTC).date().isoformat())
    assert client.post("/api/v1/jobs/source:api/run", headers=READER_HEADERS).status_code == 403
    answer = client.post("/api/v1/jobs/source:api/run", headers=ADMIN_HEADERS)
    assert answer.status_code == 202
    run = answer.get_json()["run"]
    assert run["job"] == "source:api" and run["trigger"] == "manual"
    assert answer.headers["Location"] == f"/api/v1/jobs/runs/{run['id']}"
    _join_job_threads()
    done = client.get(answer.headers["Location"], headers=READER_HEADERS).get_json()
    assert done["status"] == "succeeded" and done["batches"] == 2 and done["rows"] == 4
    missing = client.post("/api/v1/jobs/source:gone/run", headers=ADMIN_HEADERS)
    assert missing.status_code == 404 and missing.mimetype == "application/problem+json"


def test_running_a_job_that_is_running_is_a_409(client, jobs_project, open_store):
    store = open_store(jobs_project.settings())
    lock = pulls_and_jobs.JobLock(store.engine, "report:monthly")
    assert lock.acquire()
    try:
        answer = client.post("/api/v1/jobs/report:monthly/run", headers=ADMIN_HEADERS)
    finally:
        lock.release()
    assert answer.status_code == 409 and "still in progress" in answer.get_json()["detail"]
    assert pulls_and_jobs.job_runs(store.engine, job_id="report:monthly")[0].status == "skipped"


def test_the_openapi_document_describes_the_jobs_endpoints(client):
    document = client.get("/api/v1/openapi.json", headers=READER_HEADERS).get_json()
    assert {"/api/v1/jobs", "/api/v1/jobs/{job_id}/run", "/api/v1/jobs/runs/{run_id}"} <= set(document["paths"])
    assert "202" in document["paths"]["/api/v1/jobs/{job_id}/run"]["post"]["responses"]


def test_roi_jobs_shows_jobs_and_runs_and_runs_one(runner, jobs_project, sqlite_upstream):
    sqlite_upstream.put_day(datetime.now(UTC).date().isoformat())
    config = str(jobs_project.config_path)
    ran = runner.invoke(main, ["--config", config, "jobs", "run", "source:api"])
    assert ran.exit_code == 0, ran.output
    assert "source:api succeeded" in ran.output and "(cli)" in ran.output and "2 batches, 4 rows" in ran.output
    listed = runner.invoke(main, ["--config", config, "jobs"])
    assert listed.exit_code == 0, listed.output
    assert "source:api" in listed.output and "*/15 * * * *" in listed.output and "(on demand)" in listed.output
    assert "#1 source:api succeeded" in listed.output
    unknown = runner.invoke(main, ["--config", config, "jobs", "--job", "source:nope"])
    assert unknown.exit_code == 1 and "no job named 'source:nope'" in unknown.output


def test_roi_ingest_since_until_backfills_with_progress_lines(runner, jobs_project, sqlite_upstream):
    for day in ("2026-02-01", "2026-02-02", "2026-02-03"):
        sqlite_upstream.put_day(day)
    config = str(jobs_project.config_path)
    result = runner.invoke(main, ["--config", config, "ingest", "--source", "api", "--since", "2026-02-01",
                                  "--until", "2026-02-03"])
    assert result.exit_code == 0, result.output
    assert "api: day 2026-02-02 read (2/3)" in result.output  # not a terminal: plain lines
    assert "api: days 2026-02-01 to 2026-02-03 (UTC); watermark" in result.output
    backwards = runner.invoke(main, ["--config", config, "ingest", "--since", "2026-02-03", "--until", "2026-02-01"])
    assert backwards.exit_code == 2 and "--until: 2026-02-01 is before --since 2026-02-03" in backwards.output


def test_structured_logs_are_one_json_object_per_line(capsys):
    import logging

    from roi.logs import configure_logging

    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging(structured=True)
        logging.getLogger("roi.jobs").info("job %s: started", "source:api")
        try:
            raise ValueError("boom")
        except ValueError:
            logging.getLogger("roi.jobs").exception("job failed")
    finally:
        root.handlers[:], root.level = saved
    lines = capsys.readouterr().err.strip().splitlines()
    first, second = (json.loads(line) for line in lines)
    assert (first["level"], first["logger"], first["message"]) == ("info", "roi.jobs", "job source:api: started")
    assert second["level"] == "error" and "ValueError: boom" in second["exception"]
