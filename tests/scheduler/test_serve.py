"""`roi serve` runs the API and one scheduler process; `roi scheduler` stops cleanly on SIGTERM."""

from __future__ import annotations

import contextlib
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
from roi.store import pulls_and_jobs
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


def _wait_for(condition, what, log: Path, seconds: float = 90) -> None:
    """Wait until `condition()`; `what` names it (or, a function, says it at the time of a failure)."""
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"{what() if callable(what) else what}; log:\n{log.read_text()}"
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
    runs = pulls_and_jobs.job_runs(store.engine, job_id="source:nightly")
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


def _children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == pid:
                found.append(int(entry.name))
    return found


def _alive(pid: int) -> bool:
    """Running (a zombie left for a PID 1 that does not reap has exited)."""
    try:
        return (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def _described(pids: list[int]) -> str:
    """The processes of `pids` still alive, with their state and command line (for a failure message)."""
    found = []
    for pid in pids:
        if _alive(pid):
            with contextlib.suppress(OSError):
                state = (Path("/proc") / str(pid) / "stat").read_text().rsplit(")", 1)[1].split()[0]
                command = (Path("/proc") / str(pid) / "cmdline").read_bytes().replace(b"\0", b" ").decode()[:200]
                found.append(f"{pid} ({state}) {command}")
    return "; ".join(found) or "none"


def _port_is_free(port: int) -> bool:
    import socket

    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as roi serve binds: TIME_WAIT is no bar
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _start(project, port: int, log: Path) -> subprocess.Popen:
    roi = Path(sys.executable).with_name("roi")
    with log.open("ab") as output:
        return subprocess.Popen(
            [str(roi), "--config", str(project.config_path), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "2"], stdout=output, stderr=subprocess.STDOUT, start_new_session=True)


def _health(port: int) -> tuple[int, dict] | None:
    """/healthz's status and document, less months_ready (a worker's warm-up, asserted elsewhere)."""
    try:
        status, _, body = fetch(port, "/healthz")
    except OSError:
        return None
    document = json.loads(body)
    assert isinstance(document.pop("months_ready"), bool)
    return status, document


def test_kill_9_of_roi_serve_ends_its_workers_and_scheduler_and_frees_the_port(project, tmp_path):
    write_api_project(project)
    ingest_project(project)
    port, log = free_port(), tmp_path / "serve.log"
    server = _start(project, port, log)
    try:
        _wait_for(lambda: _health(port) == (200, {"status": "ok", "database": "ok", "scheduler": "running"}),
                  "roi serve answers, its scheduler running", log)
        children = _children_of(server.pid)
        schedulers = _schedulers_of(project.config_path)
        assert len(schedulers) == 1 and schedulers[0] in children
        workers = [pid for pid in children if pid not in schedulers]
        assert len(workers) == 2

        # the scheduler alone dies: /healthz says so (503) at once, and it is started again
        os.kill(schedulers[0], signal.SIGKILL)
        _wait_for(lambda: _health(port) == (503, {"status": "degraded", "database": "ok", "scheduler": "stopped"}),
                  "/healthz reports the stopped scheduler", log, seconds=10)
        _wait_for(lambda: (_health(port) or (0, {}))[1].get("scheduler") == "running",
                  "the scheduler was started again", log, seconds=60)
        children = _children_of(server.pid)

        os.kill(server.pid, signal.SIGKILL)
        server.wait(10)
        # each child stops on SIGTERM at once, or is ended outright 5 s later (roi.lifeline); the margin
        # beyond that is for a busy CI machine (it failed once at 10.03 s), and a failure names who is left
        _wait_for(lambda: not any(_alive(pid) for pid in children),
                  lambda: f"the workers and the scheduler exited (left: {_described(children)})", log, seconds=20)
        _wait_for(lambda: _port_is_free(port), "the port is free", log, seconds=10)
        assert _health(port) is None  # nobody answers on it any more
    finally:
        with contextlib.suppress(ProcessLookupError):  # whatever is left of its process group
            os.killpg(server.pid, signal.SIGKILL)
        server.wait()

    again = _start(project, port, log)  # a restart on the same port works
    try:
        _wait_for(lambda: _health(port) == (200, {"status": "ok", "database": "ok", "scheduler": "running"}),
                  "roi serve started again on the same port", log)
    finally:
        os.killpg(again.pid, signal.SIGTERM)
        assert again.wait(60) == 0
    _wait_for(lambda: not _schedulers_of(project.config_path), "the scheduler stopped with the server", log)
