"""The `roi` command line: click commands that call services.

Exit status: 0 success, 2 bad usage or config, 1 failure; the reason is one
line on stderr.
"""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from . import services
from .config import Settings, load_config
from .domain import Period, display_dimension, parse_group_by
from .errors import ConfigError, RoiError, UsageError


class Context:
    def __init__(self, config_path: str | None):
        self.config_path = config_path
        self._settings: Settings | None = None

    @property
    def settings(self) -> Settings:
        if self._settings is None:
            self._settings = load_config(self.config_path)
        return self._settings


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

    return wrapper


@click.group()
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
    click.echo(f"config {settings.path}: ok (hash {settings.config_hash})")
    service = settings.service
    click.echo(f"  currency {service.currency}, timezone {service.timezone}")
    click.echo(f"  dimensions: {', '.join(settings.dimensions)}")
    click.echo(f"  report: group_by {', '.join(settings.report.group_by) or '(none)'}, schedule {settings.report.schedule}")
    click.echo(f"sources ({len(settings.sources)}):")
    for source in settings.sources:
        state = "" if source.enabled else " (disabled)"
        schedule = f", schedule {source.schedule}" if source.schedule else ""
        options = ", ".join(f"{key}={value}" for key, value in sorted(source.options.items()))
        click.echo(f"  {source.name}: {source.type}{schedule}{' reprice' if source.reprice else ''}{state} [{options}]")
    click.echo(f"value models ({len(settings.value_models)}):")
    for model in settings.value_models.values():
        click.echo(f"  {model.name}: {model.description}")
        for version in model.versions:
            click.echo(
                f"    from {version.effective_from}: value/resolution {version.value_per_resolution:g}, "
                f"escalation {version.escalation_cost:g}, reopen {version.reopen_cost:g}, "
                f"abandonment {version.abandonment_cost:g}, review/hour {version.review_cost_per_hour:g}"
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


@main.command()
@click.option("--source", "source_name", default=None, help="Only this source.")
@click.option("--force", is_flag=True, help="Re-read batches even when unchanged since the last ingest.")
@click.pass_obj
@handle_errors
def ingest(obj: Context, source_name: str | None, force: bool) -> None:
    """Run the connectors once now."""
    settings = obj.settings
    store = services.store_for(settings)
    progress = None
    if sys.stderr.isatty():
        def progress(message: str) -> None:
            click.echo(f"\r{message}", err=True, nl=False)

    runs = services.ingest(settings, store, source_name, force=force, progress=progress)
    if progress:
        click.echo("", err=True)
    header = f"{'source':<20} {'files':>6} {'unchanged':>9} {'rows read':>11} {'stored':>11} {'duplicates':>10} {'quarantined':>11} {'unpriced':>9}"
    click.echo(header)
    for run in runs:
        click.echo(
            f"{run.source:<20} {run.files:>6} {run.unchanged:>9} {run.rows_read:>11,} {run.stored:>11,} "
            f"{run.duplicates:>10,} {run.quarantined:>11,} {run.unpriced:>9,}"
        )
    failed = [run for run in runs if run.failed]
    for run in failed:
        for error in run.errors:
            click.echo(f"error: {error}", err=True)
    if failed:
        sys.exit(1)


def _period_option(value: str | None) -> Period | None:
    return Period.parse(value) if value else None


@main.command()
@click.option("--period", required=True, help="The month, YYYY-MM.")
@click.option("--group-by", "group_by", default=None, help="Dimensions, comma separated (default: [report] group_by).")
@click.option("--format", "fmt", type=click.Choice(["json", "csv", "xlsx"]), default="json", show_default=True)
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Write here instead of stdout (xlsx: default reports/YYYY-MM/roi-YYYY-MM.xlsx).")
@click.pass_obj
@handle_errors
def report(obj: Context, period: str, group_by: str | None, fmt: str, output: Path | None) -> None:
    """One month's report."""
    settings = obj.settings
    month = Period.parse(period)
    groups = parse_group_by(group_by, settings.dimensions, "--group-by") if group_by is not None else None
    store = services.store_for(settings)
    frame = services.build_report(settings, store, month, groups)
    rendered = services.render(frame, fmt, settings=settings, store=store)
    if output is None and fmt == "xlsx":
        output = services.default_report_path(settings, month, "xlsx")
    if output is None:
        click.echo(rendered, nl=False)
        return
    output.parent.mkdir(parents=True, exist_ok=True)
    if isinstance(rendered, bytes):
        output.write_bytes(rendered)
    else:
        output.write_text(rendered, encoding="utf-8")
    click.echo(f"wrote {output}", err=True)


@main.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Folder for the demo company's data, config, store and reports.")
@handle_errors
def demo(directory: Path) -> None:
    """Make a demo company, ingest it, and write the latest month's report."""
    from .demo import run_demo

    run_demo(directory, echo=click.echo)


def cohort_label(cohort: dict[str, str]) -> str:
    return " / ".join(display_dimension(value) for value in cohort.values()) or "(all)"


if __name__ == "__main__":  # pragma: no cover
    main()
