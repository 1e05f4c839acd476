"""`roi quarantine`: the rows that could not be read, and why."""

from __future__ import annotations

import json

import click

from ..domain import Period
from ..services import quarantine as quarantined_rows
from .context import Context, handle_errors
from .options import output_format


@click.command("quarantine")
@click.option("--source", default=None, help="Only this source's rows.")
@click.option("--period", default=None, help="Only rows of batches that reach into this month, YYYY-MM.")
@click.option("--limit", default=50, show_default=True, type=click.IntRange(1, 100_000), help="Rows to show.")
@click.option("--after", default=0, type=click.IntRange(0), help="Rows after this id (the next page).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default=None,
              help="Default: lines on a terminal, JSON when piped.")
@click.pass_obj
@handle_errors
def quarantine(obj: Context, source: str | None, period: str | None, limit: int, after: int, fmt: str | None) -> None:
    """Rows that could not be read: where (file, line) and why, oldest first (like GET /api/v1/quarantine)."""
    month = Period.parse(period, "--period") if period else None
    rows, next_after = quarantined_rows.quarantined(obj.settings, obj.store, source=source, period=month,
                                                    after=after, limit=limit)
    if output_format(fmt, None) == "json":
        items = [{"id": row.id, "batch_id": row.batch_id, "source": row.source, "file": row.file, "line": row.line,
                  "reason": row.reason, "raw": row.raw} for row in rows]
        click.echo(json.dumps({"items": items, "next_after": next_after}, indent=2))
        return
    for row in rows:
        where = f"{row.file}:{row.line}" if row.line is not None else row.file
        click.echo(f"#{row.id} {row.source} {where}: {row.reason}")
        if row.raw:
            click.echo(f"    {row.raw[:200]}")
    if not rows:
        click.echo("no quarantined rows", err=True)
    elif next_after is not None:
        click.echo(f"(more: --after {next_after})", err=True)
