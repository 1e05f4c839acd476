"""`roi demo`: build the demo company in a folder, ingest it, write the latest month's reports."""

from __future__ import annotations

import shutil
import sys
from collections.abc import Callable
from contextlib import ExitStack
from datetime import timedelta
from pathlib import Path

from ..domain import Period
from ..errors import ConfigError, UsageError
from ..reporting.json_report import report_document
from ..services import DatabaseError, store_for
from ..services.files import write_atomically
from ..services.ingest import ingest
from ..services.periods import closed_periods
from ..services.reports import build_report, sort_records, write_reports
from ..services.validation import load_checked_config
from ..terminal import report_table
from .company import DAYS, DEMO_CONFIG, FIRST_DAY, _models_source, write_data
from .upstreams import serve_upstreams

MARKER = ".roi-demo"  # a folder holding it was made by roi demo, which may rebuild it
MARKER_TEXT = "made by `roi demo`: it may delete and rebuild this folder's data, store and reports\n"


def run_demo(folder: Path, echo: Callable[[str], None] = print, *, upstreams: bool = False) -> Path:
    """Create the demo company in `folder`, ingest it and write the latest month's reports.

    `upstreams`: also pull a LiteLLM proxy (cost) and a Zendesk account (outcomes) of two more
    brands, played by servers on 127.0.0.1 for the run (demo_upstreams), and show them joined.

    The folder must be new, empty, or one a demo made (it holds MARKER); a demo folder whose
    store holds closed months is refused too, since rebuilding it would drop their revisions.
    A refusal changes nothing."""
    claim_folder(folder)
    folder.mkdir(parents=True, exist_ok=True)
    write_atomically(folder / MARKER, MARKER_TEXT.encode("utf-8"))
    for stale in ("roi.db", "roi.db-wal", "roi.db-shm"):
        (folder / stale).unlink(missing_ok=True)
    shutil.copytree(_models_source(), folder / "models", dirs_exist_ok=True)
    period = Period.of(FIRST_DAY + timedelta(days=DAYS - 1))
    with ExitStack() as servers:
        served = None
        if upstreams:
            served = servers.enter_context(serve_upstreams(period))
        config = served.config(DEMO_CONFIG) if served else DEMO_CONFIG
        write_atomically(folder / "roi.toml", config.encode("utf-8"))
        counts = write_data(folder)
        echo(f"Northwind Commerce demo in {folder}/: {counts['customer']:,} support events, "
             f"{counts['internal']:,} knowledge-assistant events")

        settings = load_checked_config(folder / "roi.toml")
        store = store_for(settings)
        for run in ingest(settings, store):
            echo(f"  ingested {run.source}: {run.files} files, {run.rows_read:,} rows read, {run.stored:,} stored, "
                 f"{run.duplicates} duplicates, {run.quarantined} quarantined, {run.unpriced:,} unpriced")
        if served:
            served.pull(settings, store, echo)
    frame = build_report(settings, store, period)
    written = write_reports(settings, store, period)
    echo("")
    echo(summary_table(frame))
    if served:
        echo("")
        echo(served.joined_table(frame))
    echo("")
    for path in written:
        echo(f"wrote {path}")
    roi = command_name()
    echo(f"next: {roi} --config {folder / 'roi.toml'} report --period {period} --group-by topic")
    echo(f"      {roi} --config {folder / 'roi.toml'} serve    (API docs at http://127.0.0.1:8000/docs)")
    return folder


def command_name() -> str:
    """How to call roi as this run was called: bare when `roi` on the PATH is this one, else its path
    (after `make demo` roi lives in .venv/bin, which is not on the PATH)."""
    script = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if script is None or script.name != "roi":
        script = Path(sys.executable).parent / "roi"
    on_path = shutil.which("roi")
    if on_path and Path(on_path).resolve() == script.resolve():
        return "roi"
    return str(script)


def claim_folder(folder: Path) -> None:
    """Refuse a folder roi demo must not write into: a file, a folder of other files, or a demo folder
    with closed months. Nothing is changed by the check."""
    if folder.exists() and not folder.is_dir():
        raise UsageError(f"--dir: {folder} is a file; give a new or empty folder", "dir")
    if not folder.is_dir() or not any(folder.iterdir()):
        return
    if not (folder / MARKER).is_file():
        raise UsageError(f"--dir: {folder} is not empty and is not a folder roi demo made (no {MARKER} in it); "
                         "give a new or empty folder", "dir")
    if not (folder / "roi.db").exists():
        return
    try:
        settings = load_checked_config(folder / "roi.toml")
        store = store_for(settings)
    except (ConfigError, DatabaseError, OSError) as exc:
        raise UsageError(f"--dir: {folder}: cannot read its store to check for closed months ({exc}); remove the "
                         "folder to start again", "dir") from None
    try:
        closed = closed_periods(store)
    finally:
        store.close()
    if closed:
        months = ", ".join(f"{period} r{revision}" for period, revision in closed.items())
        raise UsageError(f"--dir: {folder} holds closed months ({months}) that a new demo would drop; remove the "
                         "folder to start again, or give another --dir", "dir")


def summary_table(frame) -> str:
    """A readable cohort summary of a report frame: cohorts by net value, largest first (as `roi report`
    shows a month on a terminal)."""
    document = report_document(frame)
    return report_table({**document, "cohorts": sort_records(document["cohorts"], "-net_value", None)})
