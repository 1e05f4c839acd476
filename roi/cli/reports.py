"""`roi report` (one month) and `roi trend` (months side by side)."""

from __future__ import annotations

import json
from pathlib import Path

import click

from ..domain import REPORT_METRICS, Period, parse_group_by
from ..errors import UsageError
from ..services import analysis, reports, trend
from ..services.valued import ValuedMonths
from ..terminal import report_table, trend_table
from .context import Context, handle_errors
from .options import FILTER_HELP, check_sort, chosen_filters, emit, output_format


@click.command()
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--group-by", "group_by", default=None, help="Dimensions, comma separated (default: [report] group_by).")
@click.option("--filter", "filters", multiple=True, metavar="DIM=VALUE[,VALUE]", help=FILTER_HELP)
@click.option("--sort", default=None, metavar="[-]METRIC",
              help="Order cohorts by a metric, '-' first for largest first (table default: -net_value).")
@click.option("--limit", default=None, type=click.IntRange(1), help="Only the first N cohorts (totals cover all).")
@click.option("--format", "fmt", type=click.Choice(["table", *reports.FORMATS]), default=None,
              help="Default: a table on a terminal, JSON when piped (or from -o's extension).")
@click.option("-o", "--output", type=click.Path(dir_okay=False, allow_dash=True, path_type=Path), default=None,
              help="Write here ('-': stdout) instead of stdout (xlsx: default reports/YYYY-MM/roi-YYYY-MM.xlsx).")
@click.option("--uncertainty", is_flag=True,
              help="JSON: add Monte Carlo bands, sensitivity and the change since last month (docs/metrics.md).")
@click.pass_obj
@handle_errors
def report(obj: Context, period: str, group_by: str | None, filters: tuple[str, ...], sort: str | None,
           limit: int | None, fmt: str | None, output: Path | None, uncertainty: bool) -> None:
    """One month's report: per cohort cost, failure cost, value, net value and ROI."""
    settings = obj.settings
    month = Period.parse(period)
    groups = parse_group_by(group_by, settings.dimensions, "--group-by") if group_by is not None else None
    chosen = chosen_filters(settings, filters)
    fmt = output_format(fmt, output)
    check_sort(sort)
    if (sort or limit) and fmt in ("csv", "xlsx"):
        raise UsageError(f"--sort/--limit: apply to the table and JSON; the {fmt} holds every cohort", "sort")
    if uncertainty and fmt != "json":
        raise UsageError("--uncertainty: only with --format json (the workbook has Risk and Sensitivity sheets)",
                         "uncertainty")
    store = obj.store
    if uncertainty:  # bands surround today's figures, so a closed month's report is built now too
        answer, analysed = analysis.analysis_report(settings, store, month, groups, chosen, sort=sort, limit=limit)
    else:
        answer = reports.report(settings, store, month, groups, chosen,
                                formats=(fmt,) if fmt in reports.FORMATS else ("json",))
    if answer.note:
        click.echo(f"note: {answer.note}", err=True)
    if answer.warning:
        click.echo(f"warning: {answer.warning}", err=True)
    if fmt == "table":
        document, total = reports.document(store, answer, sort=sort or "-net_value", limit=limit)
        table = report_table(document, shown=total,
                             warning="no data for this month" if not answer.has_data else None)
        emit((table + "\n").encode(), fmt, output)
        return
    if fmt == "json" and (sort or limit or uncertainty):
        document = analysed if uncertainty else reports.document(store, answer, sort=sort, limit=limit)[0]
        rendered = (json.dumps(document, indent=2, allow_nan=False) + "\n").encode()
    else:
        rendered = reports.content(settings, store, answer, fmt)
    if output is None and fmt == "xlsx":
        output = reports.default_report_path(settings, month, "xlsx")
    emit(rendered, fmt, output)


@click.command("trend")
@click.option("--months", "count", default=trend.DEFAULT_MONTHS, show_default=True, type=click.IntRange(1, 120),
              help="How many months, ending with --to.")
@click.option("--to", "last", default=None, help="The last month, YYYY-MM (default: the latest with data).")
@click.option("--group-by", "group_by", default=None, help="Dimensions, comma separated (default: [report] group_by).")
@click.option("--filter", "filters", multiple=True, metavar="DIM=VALUE[,VALUE]", help=FILTER_HELP)
@click.option("--metric", default="net_value", show_default=True, type=click.Choice(REPORT_METRICS),
              help="The figure a table shows (JSON carries net_value, roi, cost_per_resolved_case and this one).")
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default=None,
              help="Default: a table on a terminal, JSON when piped.")
@click.pass_obj
@handle_errors
def trend_command(obj: Context, count: int, last: str | None, group_by: str | None, filters: tuple[str, ...],
                  metric: str, fmt: str | None) -> None:
    """Each month's figures per cohort: the last --months months (like GET /api/v1/roi/trend)."""
    settings = obj.settings
    groups = parse_group_by(group_by, settings.dimensions, "--group-by") if group_by is not None else None
    chosen = chosen_filters(settings, filters)
    months = ValuedMonths(settings, obj.store)
    first, to = trend.default_range(months, None, Period.parse(last, "--to") if last else None, count)
    metrics = list(dict.fromkeys([*trend.DEFAULT_METRICS, metric]))
    document = trend.trend(settings, months, first, to, groups, chosen, metrics)
    if output_format(fmt, None) == "table":
        click.echo(trend_table(document, metric))
    else:
        click.echo(json.dumps(document, indent=2, allow_nan=False))
