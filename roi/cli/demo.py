"""`roi demo`: a demo company made, ingested and reported."""

from __future__ import annotations

from pathlib import Path

import click

from .context import handle_errors


@click.command()
@click.option("--dir", "directory", type=click.Path(file_okay=False, path_type=Path), default=Path("demo"),
              show_default=True, help="Folder for the demo company's data, config, store and reports.")
@click.option("--upstreams", is_flag=True,
              help="Also pull a LiteLLM proxy (cost) and a Zendesk account (outcomes), played by local servers "
                   "for the run, and show their joined cohorts.")
@handle_errors
def demo(directory: Path, upstreams: bool) -> None:
    """Make a demo company, ingest it, and write the latest month's report."""
    from ..demo import run_demo

    run_demo(directory, echo=click.echo, upstreams=upstreams)
