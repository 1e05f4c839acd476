"""`roi jobs` and `roi jobs run`: the scheduled jobs, their runs, one run now."""

from __future__ import annotations

import sys

import click

from ..services import jobs as job_service
from .context import Context, handle_errors


@click.group(invoke_without_command=True)
@click.option("--job", "job_id", default=None, help="Only this job's runs, e.g. source:NAME or report:monthly.")
@click.option("--limit", default=20, show_default=True, type=click.IntRange(1, 10_000), help="Runs to show.")
@click.pass_context
@handle_errors
def jobs(ctx: click.Context, job_id: str | None, limit: int) -> None:
    """The scheduled jobs, their next run, and the latest runs."""
    if ctx.invoked_subcommand is not None:
        return
    settings = ctx.obj.settings
    store = ctx.obj.store
    if job_id is not None:
        job_service.find_job(settings, job_id)
    next_runs = job_service.stored_next_runs(store)
    last = job_service.last_runs(store)
    click.echo(f"{'job':<28} {'schedule':<16} {'next run':<26} last run")
    for spec in job_service.job_specs(settings):
        upcoming = next_runs.get(spec.id)
        recent = last.get(spec.id)
        click.echo(
            f"{spec.id:<28} {spec.schedule or '(on demand)':<16} "
            f"{upcoming.isoformat(timespec='minutes') if upcoming else '-':<26} "
            f"{recent.status + ' ' + recent.started_at.isoformat(timespec='seconds') if recent else '-'}"
        )
    runs = job_service.recent_runs(store, job_id=job_id, limit=limit)
    click.echo("")
    click.echo(f"runs (latest {limit}):" if runs else "no runs yet")
    for run in runs:
        click.echo(run_line(run))


@jobs.command("run")
@click.argument("job_id")
@click.pass_obj
@handle_errors
def jobs_run(obj: Context, job_id: str) -> None:
    """Run one job now (recorded like a scheduled run)."""
    settings = obj.settings
    record = job_service.JobRunner(settings, obj.store).run_now(job_id, trigger="cli")
    click.echo(run_line(record))
    if record.status != "succeeded":
        sys.exit(1)


def run_line(run) -> str:
    took = ""
    if run.finished_at and run.started_at:
        took = f" in {(run.finished_at - run.started_at).total_seconds():.1f}s"
    line = (f"#{run.id} {run.job_id} {run.status} scheduled {run.scheduled_for.isoformat(timespec='seconds')} "
            f"({run.trigger}){took}: {run.batches} batches, {run.rows:,} rows, {run.quarantined:,} quarantined")
    if run.detail:
        line += f"; {run.detail}"
    if run.error:
        line += f"; error: {run.error}"
    return line
