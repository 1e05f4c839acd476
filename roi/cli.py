"""The `roi` command line: click commands that call services.

Exit status: 0 success, 2 bad usage or config, 1 failure; the reason is one
line on stderr.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import sys
from datetime import timedelta
from importlib.metadata import version as package_version
from pathlib import Path

import click

from . import services
from .config import Settings
from .connectors import registry
from .domain import REPORT_METRICS, Period, parse_group_by
from .errors import ConfigError, RoiError, UsageError
from .estimates import describe
from .process_tuning import freeze_imports
from .services import closing, reports, risk, trend
from .services import ingest as ingesting
from .services import jobs as job_service
from .services import periods as period_states
from .services import quarantine as quarantined_rows
from .services.files import write_atomically
from .services.validation import load_checked_config, source_warnings
from .services.valued import ValuedMonths
from .terminal import IngestProgress, report_table, trend_table


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._settings: Settings | None = None
        self._store = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_checked_config(self.config_path)
        return self._settings

    @property
    def store(self):
        """The command's store, opened once and closed (pool disposed) when the command ends."""
        if self._store is None:
            self._store = services.store_for(self.settings)
            click.get_current_context().call_on_close(self._store.close)
        return self._store


def handle_errors(command):
    """Turn roi's errors into exit codes and one line per problem on stderr."""

    @functools.wraps(command)
    def wrapper(*args, **kwargs):
        try:
            return command(*args, **kwargs)
        except ConfigError as exc:
            for problem in exc.problems:
                click.echo(f"error: {problem}", err=True)
            sys.exit(2)
        except UsageError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(2)
        except RoiError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except services.DatabaseError as exc:  # a read-only, full or unreachable database: which, and why
            context = click.get_current_context(silent=True)
            settings = getattr(context.find_root().obj, "_settings", None) if context else None
            url = settings.service.database_url if settings is not None else "(the configured database)"
            click.echo(f"error: {services.database_failure(url, exc)}", err=True)
            sys.exit(1)
        except BrokenPipeError:  # `roi report | head`: the reader has gone, nothing to say to it
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            sys.exit(1)
        except OSError as exc:  # an output path or folder that cannot be written: a reason, not a traceback
            where = f"{exc.filename}: " if exc.filename else ""
            click.echo(f"error: {where}{exc.strerror or exc}", err=True)
            sys.exit(1)

    return wrapper


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_version("roi"), "-V", "--version", prog_name="roi", message="%(prog)s %(version)s")
@click.option(
    "--config",
    "config_path",
    envvar="ROI_CONFIG",
    default=None,
    help="Service config (TOML). Default: $ROI_CONFIG, else ./roi.toml.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log progress to stderr.")
@click.pass_context
def main(ctx: click.Context, config_path: str | None, verbose: bool) -> None:
    """roi: what your production AI systems cost and what they are worth."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s %(message)s")
    freeze_imports()
    ctx.obj = Context(config_path)


@main.group()
def config() -> None:
    """Inspect the config."""


@config.command("check")
@click.pass_obj
@handle_errors
def config_check(obj: Context) -> None:
    """Validate the config and its value models; print what was found."""
    settings = obj.settings
    for warning in source_warnings(settings):
        click.echo(f"warning: {warning}", err=True)
    click.echo(f"config {settings.path}: ok (hash {settings.config_hash})")
    service = settings.service
    click.echo(f"  currency {service.currency}, timezone {service.timezone}")
    click.echo(f"  dimensions: {', '.join(settings.dimensions)}")
    click.echo(f"  report: group_by {', '.join(settings.report.group_by) or '(none)'}, schedule {settings.report.schedule}")
    click.echo(f"sources ({len(settings.sources)}):")
    for source in settings.sources:
        state = "" if source.enabled else " (disabled)"
        schedule = f", schedule {source.schedule}" if source.schedule else ""
        # validated options: secrets are SecretStr there and print as '**********'
        validated = registry.validate_options(source, settings.base_dir).model_dump(exclude_defaults=True)
        options = ", ".join(f"{key}={_without_password(value)}" for key, value in sorted(validated.items()))
        click.echo(f"  {source.name}: {source.type}{schedule}{' reprice' if source.reprice else ''}{state} [{options}]")
    click.echo(f"value models ({len(settings.value_models)}):")
    for model in settings.value_models.values():
        click.echo(f"  {model.name}: {model.description}")
        for version in model.versions:
            click.echo(
                f"    from {version.effective_from}: value/resolution {describe(version.value_per_resolution)}, "
                f"escalation {describe(version.escalation_cost)}, reopen {describe(version.reopen_cost)}, "
                f"abandonment {describe(version.abandonment_cost)}, review/hour {describe(version.review_cost_per_hour)}"
            )
    click.echo(f"assignment rules ({len(settings.assignments)}, first match wins):")
    for index, rule in enumerate(settings.assignments):
        match = ", ".join(f"{k}={v}" for k, v in rule.match.items()) or "(every cell)"
        click.echo(f"  {index + 1}. {match} -> {rule.model}")
    click.echo(f"fixed costs ({len(settings.fixed_costs)}):")
    for cost in settings.fixed_costs:
        match = ", ".join(f"{k}={v}" for k, v in cost.match.items()) or "every cell"
        click.echo(f"  {cost.name}: {cost.amount:,.2f} {service.currency}/month by {cost.allocate_by}, over {match}")
    click.echo(f"pricing overrides: {len(settings.pricing.overrides)}; api tokens: {len(settings.api.tokens)}")


_URL_PASSWORD = re.compile(r"(://[^/?#@:\s]*:)[^@\s]*@")


def _without_password(value: object) -> str:
    """An option as shown: a password inside a URL (a sql source's url, a base_url) is a secret too."""
    return _URL_PASSWORD.sub(r"\1***@", str(value))


@main.command()
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


FILTER_HELP = "Only these values of a dimension, DIM=VALUE[,VALUE] (repeatable; '(unattributed)' for none)."


def _filters(settings: Settings, given: tuple[str, ...]) -> dict[str, list[str]]:
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


def _check_sort(sort: str | None) -> None:
    if sort and sort.lstrip("-") not in REPORT_METRICS:
        raise UsageError(f"--sort: {sort.lstrip('-')!r} is not a metric; one of {', '.join(REPORT_METRICS)}", "sort")


def _output_format(fmt: str | None, output: Path | None) -> str:
    """--format, else from -o's extension, else a table on a terminal and JSON anywhere else."""
    if fmt is not None:
        return fmt
    if output is not None and str(output) != "-":
        suffix = output.suffix.lstrip(".").lower()
        return suffix if suffix in reports.FORMATS else "json"
    return "table" if sys.stdout.isatty() else "json"


def _emit(data: bytes, fmt: str, output: Path | None) -> None:
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


@main.command()
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
    chosen = _filters(settings, filters)
    fmt = _output_format(fmt, output)
    _check_sort(sort)
    if (sort or limit) and fmt in ("csv", "xlsx"):
        raise UsageError(f"--sort/--limit: apply to the table and JSON; the {fmt} holds every cohort", "sort")
    if uncertainty and fmt != "json":
        raise UsageError("--uncertainty: only with --format json (the workbook has Risk and Sensitivity sheets)",
                         "uncertainty")
    store = obj.store
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
        _emit((table + "\n").encode(), fmt, output)
        return
    if fmt == "json" and (sort or limit or uncertainty):
        document, _total = reports.document(store, answer, sort=sort, limit=limit)
        if uncertainty:
            risk.add_analysis(settings, store, month, groups, chosen, document)
        rendered = (json.dumps(document, indent=2, allow_nan=False) + "\n").encode()
    else:
        rendered = reports.content(settings, store, answer, fmt)
    if output is None and fmt == "xlsx":
        output = reports.default_report_path(settings, month, "xlsx")
    _emit(rendered, fmt, output)


@main.command("trend")
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
    chosen = _filters(settings, filters)
    months = ValuedMonths(settings, obj.store)
    first, to = trend.default_range(months, None, Period.parse(last, "--to") if last else None, count)
    metrics = list(dict.fromkeys([*trend.DEFAULT_METRICS, metric]))
    document = trend.trend(settings, months, first, to, groups, chosen, metrics)
    if _output_format(fmt, None) == "table":
        click.echo(trend_table(document, metric))
    else:
        click.echo(json.dumps(document, indent=2, allow_nan=False))


@main.command("quarantine")
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
    if _output_format(fmt, None) == "json":
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


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Folder for the demo company's data, config, store and reports.")
@click.option("--upstreams", is_flag=True,
              help="Also pull a LiteLLM proxy (cost) and a Zendesk account (outcomes), played by local servers "
                   "for the run, and show their joined cohorts.")
@handle_errors
def demo(directory: Path, upstreams: bool) -> None:
    """Make a demo company, ingest it, and write the latest month's report."""
    from .demo import run_demo

    run_demo(directory, echo=click.echo, upstreams=upstreams)


@main.command()
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
    from .logs import configure_logging
    from .scheduler import SchedulerProcess
    from .serving import serve as run_server

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


@main.command("scheduler")
@click.option("--once", is_flag=True, help="Run the jobs that are due now (missed ones within grace), then exit.")
@click.option("--parent-pid", type=int, default=None, hidden=True)  # roi serve: stop when the server is gone
@click.option("--heartbeat", type=click.Path(dir_okay=False), default=None, hidden=True)  # roi serve: /healthz
@click.pass_obj
@handle_errors
def scheduler_command(obj: Context, once: bool, parent_pid: int | None, heartbeat: str | None) -> None:
    """The scheduler alone: sources on their schedule, the monthly report (until SIGTERM)."""
    from . import scheduler as scheduling
    from .logs import configure_logging

    settings = obj.settings
    configure_logging(verbose=True)
    store = obj.store
    if once:
        for run in scheduling.run_once(settings, store):
            click.echo(_run_line(run))
        return
    from .services.heartbeat import Heartbeat

    scheduling.run_forever(settings, store, parent_pid=parent_pid,
                           heartbeat=Heartbeat(heartbeat) if heartbeat else None)


@main.group(invoke_without_command=True)
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
        click.echo(_run_line(run))


@jobs.command("run")
@click.argument("job_id")
@click.pass_obj
@handle_errors
def jobs_run(obj: Context, job_id: str) -> None:
    """Run one job now (recorded like a scheduled run)."""
    settings = obj.settings
    record = job_service.JobRunner(settings, obj.store).run_now(job_id, trigger="cli")
    click.echo(_run_line(record))
    if record.status != "succeeded":
        sys.exit(1)


def _run_line(run) -> str:
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


@main.command("close")
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


@main.command("periods")
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


if __name__ == "__main__":  # pragma: no cover
    main()
