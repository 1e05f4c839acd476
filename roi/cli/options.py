"""Options shared by the report commands: filters, sort, the output format, and where output goes."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from ..config import Settings
from ..domain import REPORT_METRICS
from ..errors import UsageError
from ..services import reports
from ..services.files import write_atomically

FILTER_HELP = ("Only these values of a dimension, DIM=VALUE[,VALUE] (repeatable; '(unattributed)' for none; "
               "'\\,' for a comma inside a value).")


def chosen_filters(settings: Settings, given: tuple[str, ...]) -> dict[str, list[str]]:
    raw: dict[str, str] = {}
    for text in given:
        name, sep, values = text.partition("=")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--filter: {text!r} is not DIM=VALUE[,VALUE], e.g. tenant=acme,globex", "filter")
        if name in raw:
            raise UsageError(f"--filter: {name} given twice; list its values once, separated by commas", "filter")
        raw[name] = values
    return reports.parse_filters(settings, raw)


def check_sort(sort: str | None) -> None:
    if sort and sort.lstrip("-") not in REPORT_METRICS:
        raise UsageError(f"--sort: {sort.lstrip('-')!r} is not a metric; one of {', '.join(REPORT_METRICS)}", "sort")


def output_format(fmt: str | None, output: Path | None) -> str:
    """--format, else from -o's extension, else a table on a terminal and JSON anywhere else."""
    if fmt is not None:
        return fmt
    if output is not None and str(output) != "-":
        suffix = output.suffix.lstrip(".").lower()
        return suffix if suffix in reports.FORMATS else "json"
    return "table" if sys.stdout.isatty() else "json"


def emit(data: bytes, fmt: str, output: Path | None) -> None:
    """To stdout (no -o, or -o -), else atomically to the file. A workbook never goes to a terminal."""
    if output is None or str(output) == "-":
        if fmt == "xlsx" and sys.stdout.isatty():
            raise UsageError("-o -: a workbook is binary and stdout is a terminal; give -o FILE.xlsx or pipe it",
                             "output")
        if fmt == "xlsx":
            sys.stdout.flush()
            sys.stdout.buffer.write(data)
            sys.stdout.buffer.flush()
        else:
            click.echo(data.decode("utf-8"), nl=False)
        return
    write_atomically(output, data)
    click.echo(f"wrote {output}", err=True)
