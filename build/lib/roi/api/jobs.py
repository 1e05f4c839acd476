"""GET /api/v1/jobs (the scheduled jobs and their runs) and POST /api/v1/jobs/{id}/run (admin)."""

from __future__ import annotations

import threading
from datetime import datetime
from typing import Any

from flask import Response
from pydantic import BaseModel, Field

from ..services import jobs as job_service
from ..services.jobs import JobBusy, JobRunner, JobRunRecord, find_job, job_specs
from .auth import requires_role
from .context import api_blueprint, dumps, runtime
from .problems import ApiProblem, problem_docs
from .schemas import Query

blueprint = api_blueprint("jobs", __name__, "Scheduled jobs (source pulls, the monthly report) and their runs.")

JOB_PATTERN = r"^(source:[A-Za-z0-9][A-Za-z0-9_.-]*|report:monthly)$"


class JobsQuery(Query):
    job: str | None = Field(None, pattern=JOB_PATTERN, max_length=220,
                            description="Only this job's runs: source:NAME or report:monthly.")
    limit: int = Field(50, ge=1, le=1000, description="Runs to return, latest first.")


class JobPath(Query):
    job_id: str = Field(pattern=JOB_PATTERN, max_length=220, description="source:NAME or report:monthly.")


class RunPath(Query):
    run_id: int = Field(ge=1, le=2**62, description="A run's id.")


class JobRun(BaseModel):
    id: int
    job: str
    trigger: str = Field(description="schedule, manual (API), or cli.")
    scheduled_for: datetime
    started_at: datetime | None
    finished_at: datetime | None
    status: str = Field(description="running, succeeded, failed, skipped, missed or interrupted.")
    batches: int
    rows: int
    quarantined: int
    error: str | None
    detail: str | None


class SourceState(BaseModel):
    watermark: datetime | None = Field(description="Everything before this instant has landed.")
    last_success_at: datetime | None
    last_failure_at: datetime | None
    last_error: str | None
    consecutive_failures: int


class JobInfo(BaseModel):
    id: str
    kind: str = Field(description="source or report.")
    target: str
    schedule: str | None = Field(description="Cron (configured timezone); null: runs only when asked.")
    description: str
    next_run_at: datetime | None
    last_run: JobRun | None
    source_state: SourceState | None = Field(description="Pull jobs: the source's watermark and failure streak.")


class Jobs(BaseModel):
    jobs: list[JobInfo]
    runs: list[JobRun]


class RunAccepted(BaseModel):
    run: JobRun


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.isoformat()


def _run(record: JobRunRecord) -> dict[str, Any]:
    return {
        "id": record.id,
        "job": record.job_id,
        "trigger": record.trigger,
        "scheduled_for": _iso(record.scheduled_for),
        "started_at": _iso(record.started_at),
        "finished_at": _iso(record.finished_at),
        "status": record.status,
        "batches": record.batches,
        "rows": record.rows,
        "quarantined": record.quarantined,
        "error": record.error,
        "detail": record.detail,
    }


def _source_state(found: job_service.SourceState | None) -> dict[str, Any] | None:
    if found is None:
        return None
    return {
        "watermark": _iso(found.watermark),
        "last_success_at": _iso(found.last_success_at),
        "last_failure_at": _iso(found.last_failure_at),
        "last_error": found.last_error,
        "consecutive_failures": found.consecutive_failures,
    }


@blueprint.get("/jobs", summary="Scheduled jobs, their next run, and the latest runs",
               responses={200: Jobs, 404: problem_docs(404, "`job` names no job of the config.")})
def jobs(query: JobsQuery) -> Response:
    """Every job the config defines (one per enabled source, and the monthly report) with its
    schedule, next run and last run; then the latest runs, skipped and missed firings included."""
    current = runtime()
    settings = current.settings
    if query.job is not None:
        find_job(settings, query.job)
    next_runs = job_service.stored_next_runs(current.store)
    last = job_service.last_runs(current.store)
    sources = job_service.source_states(current.store)
    document = {
        "jobs": [
            {
                "id": spec.id,
                "kind": spec.kind,
                "target": spec.target,
                "schedule": spec.schedule,
                "description": spec.description,
                "next_run_at": _iso(next_runs.get(spec.id)),
                "last_run": _run(last[spec.id]) if spec.id in last else None,
                "source_state": _source_state(sources.get(spec.target)) if spec.kind == "source" else None,
            }
            for spec in job_specs(settings)
        ],
        "runs": [_run(record) for record in job_service.recent_runs(current.store, job_id=query.job, limit=query.limit)],
    }
    return Response(dumps(document), mimetype="application/json")


@blueprint.get("/jobs/runs/<int:run_id>", summary="One run of a job",
               responses={200: JobRun, 404: problem_docs(404, "No run with that id.")})
def job_run(path: RunPath) -> Response:
    """A run's status and counts; poll it after POST /jobs/{id}/run."""
    record = job_service.job_run(runtime().store, path.run_id)
    if record is None:
        raise ApiProblem(404, f"run_id: no run {path.run_id}", parameter="run_id")
    return Response(dumps(_run(record)), mimetype="application/json")


@blueprint.post(
    "/jobs/<job_id>/run",
    summary="Run a job now (admin)",
    responses={
        202: RunAccepted,
        404: problem_docs(404, "No job with that id in the config."),
        409: problem_docs(409, "The job is already running (the attempt is recorded as skipped)."),
    },
)
@requires_role("admin")
def run_job(path: JobPath) -> Response:
    """Starts the job in the background and answers at once with its run (status `running`);
    `Location` is the run to poll. The run is recorded like a scheduled one, trigger `manual`."""
    current = runtime()
    runner = JobRunner(current.settings, current.store)
    find_job(current.settings, path.job_id)
    try:
        claim = runner.claim(path.job_id, runner.clock(), "manual")
    except JobBusy as exc:
        raise ApiProblem(409, str(exc), parameter="job_id") from None
    assert claim is not None  # a manual run's time is its own: nobody else claims it
    threading.Thread(target=claim.execute, name=f"roi-job-{path.job_id}", daemon=True).start()
    record = job_service.job_run(current.store, claim.run_id)
    body = dumps({"run": _run(record)})
    return Response(body, status=202, mimetype="application/json",
                    headers={"Location": f"/api/v1/jobs/runs/{claim.run_id}"})
