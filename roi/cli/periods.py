"""`roi close` and `roi periods`: closing a month, and the months' states."""

from __future__ import annotations

from pathlib import Path

import click

from ..domain import Period
from ..errors import UsageError
from ..services import closing, reports
from ..services import periods as period_states
from .context import Context, handle_errors


@click.command("close")
@click.option("--period", required=True, help="The month to close, YYYY-MM (it must have ended).")
@click.option("--revise", is_flag=True, help="Issue the next revision of a closed month (with a Revision changes sheet).")
@click.option("--force", is_flag=True, help="With --revise: issue it even when neither data nor config changed.")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Where to write the closed workbook (default reports/YYYY-MM/roi-YYYY-MM.xlsx).")
@click.pass_obj
@handle_errors
def close(obj: Context, period: str, revise: bool, force: bool, output: Path | None) -> None:
    """Close a month: store its report as a revision that never changes."""
    settings = obj.settings
    month = Period.parse(period, "--period")
    store = obj.store
    if force and not revise:
        raise UsageError("--force: only with --revise", "force")
    output = output or reports.default_report_path(settings, month, "xlsx")
    # the workbook is written as part of the close: it cannot be written, the month stays open
    state = closing.close_period(settings, store, month, revise=revise, force=force, outputs={output: "xlsx"})
    click.echo(f"closed {month}: revision {state.revision} at {state.closed_at:%Y-%m-%d %H:%M:%S} UTC")
    click.echo(f"wrote {output}", err=True)


@click.command("periods")
@click.pass_obj
@handle_errors
def periods(obj: Context) -> None:
    """List the months with data or closed: open or closed, revision, closed at, data arrived since."""
    settings = obj.settings
    states = period_states.list_periods(obj.store)
    currency = settings.service.currency
    click.echo(f"{'period':<8} {'state':<6} {'revision':>8} {'closed at (UTC)':<16} {'late rows':>10} "
               f"{'late cost (' + currency + ')':>16}")
    for state in states:
        revision = str(state.revision) if state.revision is not None else "-"
        closed_at = f"{state.closed_at:%Y-%m-%d %H:%M}" if state.closed_at else "-"
        click.echo(f"{state.period!s:<8} {state.state:<6} {revision:>8} {closed_at:<16} {state.late_rows:>10,} "
                   f"{state.late_cost:>16,.2f}")
    if not states:
        click.echo("(no months with data yet)", err=True)
