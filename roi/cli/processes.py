"""The long-running commands: `roi serve` (the API and the scheduler) and `roi scheduler` alone."""

from __future__ import annotations

import click

from .context import Context, handle_errors
from .jobs import run_line


@click.command()
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535), help="Port to listen on.")
@click.option("--workers", default=2, show_default=True, type=click.IntRange(1, 64), help="Worker processes.")
@click.option("--threads", default=4, show_default=True, type=click.IntRange(1, 64),
              help="Python threads per worker that run requests (1: one request at a time per worker).")
@click.option("--no-access-log", is_flag=True, help="Do not log one line per request.")
@click.pass_obj
@handle_errors
def serve(obj: Context, host: str, port: int, workers: int, threads: int, no_access_log: bool) -> None:
    """The JSON API (granian) and the scheduler."""
    from ..logs import configure_logging
    from ..scheduler import SchedulerProcess
    from ..serving import serve as run_server

    settings = obj.settings
    configure_logging(verbose=True)
    # on_ready runs once, in the main process, when the server listens: it starts the one scheduler process
    scheduler = SchedulerProcess(settings.path) if settings.scheduler.enabled else None
    try:
        run_server(settings, host=host, port=port, workers=workers, threads=threads,
                   access_log=not no_access_log, on_ready=scheduler.start if scheduler else None)
    finally:
        if scheduler is not None:
            scheduler.stop()


@click.command("scheduler")
@click.option("--once", is_flag=True, help="Run the jobs that are due now (missed ones within grace), then exit.")
@click.option("--parent-pid", type=int, default=None, hidden=True)  # roi serve: stop when the server is gone
@click.option("--heartbeat", type=click.Path(dir_okay=False), default=None, hidden=True)  # roi serve: /healthz
@click.pass_obj
@handle_errors
def scheduler_command(obj: Context, once: bool, parent_pid: int | None, heartbeat: str | None) -> None:
    """The scheduler alone: sources on their schedule, the monthly report (until SIGTERM)."""
    from .. import scheduler as scheduling
    from ..logs import configure_logging

    settings = obj.settings
    configure_logging(verbose=True)
    store = obj.store
    if once:
        for run in scheduling.run_once(settings, store):
            click.echo(run_line(run))
        return
    from ..services.heartbeat import Heartbeat

    scheduling.run_forever(settings, store, parent_pid=parent_pid,
                           heartbeat=Heartbeat(heartbeat) if heartbeat else None)
