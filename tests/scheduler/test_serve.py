"""`roi serve` runs the API and one scheduler process; `roi scheduler` stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import time_machine

from roi.scheduler import ServiceScheduler
from roi.store import state
from tests.api.conftest import API_CONFIG, READER_HEADERS, ingest_project, write_api_project
from tests.api.test_api_server import fetch, free_port

NIGHTLY = """
[[sources]]
name = "nightly"
type = "events"
path = "data/*.csv"
schedule = "0 0 * * *"
"""


def _schedulers_of(config: Path) -> list[int]:
    """Pids of `roi ... scheduler` processes started for this config."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            arguments = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(config).encode() in arguments and b"scheduler" in arguments:
            found.append(int(entry.name))
    return found


def _wait_for(condition, what: str, log: Path, seconds: float = 90) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what}; log:\n{log.read_text()}"
        time.sleep(0.2)


def test_roi_serve_runs_the_due_jobs_in_one_scheduler_process(project, tmp_path, open_store):
    write_api_project(project)
    project.write_config(API_CONFIG + NIGHTLY)
    settings = ingest_project(project)
    store = open_store(settings)
    with time_machine.travel(datetime.now(UTC) - timedelta(days=2), tick=False):
        scheduler = ServiceScheduler(settings, store, inline=True)
        scheduler.start()  # the service last ran two days ago: tonight's firing is due
        scheduler.shutdown()

    port, log = free_port(), tmp_path / "serve.log"
    roi = Path(sys.executable).with_name("roi")
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(roi), "--config", str(project.config_path), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "2"], stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        def run_landed() -> bool:
            try:
                status, _, body = fetch(port, "/api/v1/jobs?job=source:nightly", READER_HEADERS)
            except OSError:
                return False
            runs = json.loads(body)["runs"] if status == 200 else []
            return bool(runs) and runs[0]["status"] == "succeeded"

        _wait_for(run_landed, "the scheduler of roi serve ran the due job", log)
        assert len(_schedulers_of(project.config_path)) == 1  # one, not one per worker
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
    _wait_for(lambda: not _schedulers_of(project.config_path), "the scheduler stopped with the server", log)
    runs = state.job_runs(store.engine, job_id="source:nightly")
    assert len(runs) == 1 and runs[0].trigger == "schedule"
    lines = [line for line in log.read_text().splitlines() if line.startswith("{")]
    assert any(json.loads(line)["logger"] == "roi.jobs" for line in lines)  # structured, not on a terminal


def test_roi_scheduler_stops_on_sigterm(project, tmp_path):
    process = subprocess.Popen([sys.executable, "-m", "roi.cli", "--config", str(project.config_path), "scheduler"],
                               stderr=subprocess.PIPE, text=True)
    try:
        first = json.loads(process.stderr.readline())  # it has started once it announces the next runs
        assert first["message"] == "job report:monthly: next run at " + first["message"].rsplit(" ", 1)[-1]
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        rest = [json.loads(line) for line in process.stderr.read().splitlines() if line.strip()]
        assert any("received SIGTERM" in line["message"] for line in rest)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        process.stderr.close()


def test_a_scheduler_whose_server_is_gone_stops_by_itself(project):
    # roi serve passes its own pid; a scheduler whose parent is another process (its server died
    # and it was re-parented) does not run on alone
    result = subprocess.run(
        [sys.executable, "-m", "roi.cli", "--config", str(project.config_path), "scheduler", "--parent-pid", "1"],
        capture_output=True, text=True, timeout=60,
    )
    assert result.returncode == 0
    assert "the process that started the scheduler is gone" in result.stderr
