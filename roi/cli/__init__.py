"""The `roi` command line: click commands that call services.

Exit status: 0 success, 2 bad usage or config, 1 failure; the reason is one
line on stderr. The root group is here; its commands live in one module per
command group.
"""

from __future__ import annotations

import logging
from importlib.metadata import version as package_version

import click

from ..process_tuning import freeze_imports
from .config_check import config
from .context import Context
from .demo import demo
from .ingest import ingest
from .jobs import jobs
from .periods import close, periods
from .processes import scheduler_command, serve
from .quarantine import quarantine
from .reports import report, trend_command


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


for command in (config, ingest, report, trend_command, quarantine, demo, serve, scheduler_command, jobs, close, periods):
    main.add_command(command)
