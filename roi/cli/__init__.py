"""The `roi` command line: click commands that call services.

Exit status: 0 success, 2 bad usage or config, 1 failure; the reason is one
line on stderr. The root group is here; its commands live in one module per
command group.
"""

from __future__ import annotations

import importlib
import logging
from importlib.metadata import version as package_version

import click

from ..process_tuning import freeze_imports
from .context import Context

# command name -> the module and function that hold it: a command's module (and what it imports:
# pandas, SQLAlchemy, the workbook writer...) loads only when that command runs, so `roi report`
# starts without the scheduler's or the workbook's libraries
COMMANDS = {
    "close": "periods:close",
    "config": "config_check:config",
    "demo": "demo:demo",
    "ingest": "ingest:ingest",
    "jobs": "jobs:jobs",
    "periods": "periods:periods",
    "quarantine": "quarantine:quarantine",
    "report": "reports:report",
    "scheduler": "processes:scheduler_command",
    "serve": "processes:serve",
    "trend": "reports:trend_command",
}


class LazyGroup(click.Group):
    """A group whose commands are imported when asked for (click's documented lazy-loading pattern)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted([*super().list_commands(ctx), *COMMANDS])

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return super().get_command(ctx, cmd_name)
        module, _, name = COMMANDS[cmd_name].partition(":")
        return getattr(importlib.import_module(f"{__name__}.{module}"), name)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
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

