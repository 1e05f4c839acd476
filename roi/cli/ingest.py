"""`roi ingest`: the connectors run once now, a line per source, progress on stderr."""

from __future__ import annotations

import sys
from datetime import timedelta

import click

from ..errors import UsageError
from ..services import ingest as ingesting
from ..terminal import IngestProgress
from .context import Context, handle_errors


@click.command()
@click.option("--source", "source_name", default=None, help="Only this source.")
@click.option("--force", is_flag=True, help="Re-read batches even when unchanged since the last ingest.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Pulled sources: pull from this day (YYYY-MM-DD, configured timezone) instead of the watermark.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None,
              help="Pulled sources: pull up to and including this day (default: today).")
@click.pass_obj
@handle_errors
def ingest(obj: Context, source_name: str | None, force: bool, since, until) -> None:
    """Run the connectors once now (pulled sources: from their watermark, or --since/--until)."""
    settings = obj.settings
    if since and until and until < since:
        raise UsageError(f"--until: {until:%Y-%m-%d} is before --since {since:%Y-%m-%d}", "until")
    for option, day in (("--since", since), ("--until", until)):
        if day is not None and not 1900 <= day.year <= 2999:  # as periods: the calendar must hold the window
            raise UsageError(f"{option}: {day.date().isoformat()} is out of range; give a day in the years 1900 to 2999",
                             option.lstrip("-"))
    store = obj.store
    bar = IngestProgress(sys.stderr) if sys.stderr.isatty() else None
    try:
        results = ingesting.pull(settings, store, source_name, force=force, progress=bar.rows if bar else None,
                                 on_batch=bar.batch if bar else _batch_lines,
                                 since=since.date() if since else None, until=until.date() if until else None)
    finally:
        if bar:
            bar.finish()
    runs = [result.run for result in results]
    if since or until:
        for run in runs:
            if not run.windowed and not run.failed:
                click.echo(f"note: {run.source} reads files whole, not by day: --since/--until do not apply to it",
                           err=True)
    header = f"{'source':<20} {'files':>6} {'unchanged':>9} {'rows read':>11} {'stored':>11} {'duplicates':>10} {'quarantined':>11} {'unpriced':>9}"
    click.echo(header)
    for run in runs:
        click.echo(
            f"{run.source:<20} {run.files:>6} {run.unchanged:>9} {run.rows_read:>11,} {run.stored:>11,} "
            f"{run.duplicates:>10,} {run.quarantined:>11,} {run.unpriced:>9,}"
        )
    _print_windows(results)
    for run in runs:
        for moved in run.moved:
            click.echo(f"note: {run.source}: {moved}: a file renamed or moved keeps its stored batch, not counted twice",
                       err=True)
    failed = [run for run in runs if run.failed]
    for run in failed:
        for error in run.errors:
            click.echo(f"error: {error}", err=True)
    if failed:
        sys.exit(1)


def _batch_lines(source: str, key: str, done: int, total: int) -> None:
    """Progress in logs (stderr not a terminal): a plain line per batch read."""
    kind, _, name = key.partition(":")
    if kind == "day":
        click.echo(f"{source}: day {name} read ({done}/{total})", err=True)
    else:
        click.echo(f"{source}: read {name}", err=True)


def _print_windows(results) -> None:
    for result in results:
        if result.run.windowed and result.window is not None and not result.run.failed:
            last = result.window.end - timedelta(days=1)
            mark = result.watermark.isoformat(timespec="seconds") if result.watermark else "none"
            click.echo(f"{result.run.source}: days {result.window.start:%Y-%m-%d} to {last:%Y-%m-%d} (UTC); "
                       f"watermark {mark}")
