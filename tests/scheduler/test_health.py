"""/healthz says whether the scheduler runs: the heartbeat its process writes, read on a pinned clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import time_machine

from roi.api import create_app
from roi.services.heartbeat import RUNNING, STARTING, STOPPED, Heartbeat

NOON = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)


def _health(app) -> tuple[int, dict]:
    """The status and the document, less months_ready (no warm-up runs here: always true)."""
    response = app.test_client().get("/healthz")
    document = response.get_json()
    assert document.pop("months_ready") is True
    return response.status_code, document


def test_healthz_reports_the_scheduler_from_its_heartbeat(project, tmp_path):
    heartbeat = Heartbeat(tmp_path / "scheduler.json")
    app = create_app(project.settings(), scheduler_heartbeat=heartbeat)
    try:
        with time_machine.travel(NOON, tick=False) as clock:
            assert _health(app) == (503, {"status": "degraded", "database": "ok", "scheduler": "stopped"})
            heartbeat.write(STARTING)  # roi serve starts it
            assert _health(app) == (200, {"status": "ok", "database": "ok", "scheduler": "starting"})
            clock.shift(timedelta(seconds=60))
            heartbeat.write(RUNNING)  # it beats
            clock.shift(timedelta(seconds=14))
            assert _health(app) == (200, {"status": "ok", "database": "ok", "scheduler": "running"})
            clock.shift(timedelta(seconds=2))  # no beat for 16 s: hung or killed
            assert _health(app) == (503, {"status": "degraded", "database": "ok", "scheduler": "stopped"})
            heartbeat.write(RUNNING)
            assert _health(app)[1]["scheduler"] == "running"
            heartbeat.write(STOPPED)  # its process exited: said at once
            assert _health(app)[0] == 503
            heartbeat.write(STARTING)
            clock.shift(timedelta(minutes=3))  # started, never beat
            assert _health(app)[1]["scheduler"] == "stopped"
            (tmp_path / "scheduler.json").write_text("{half a")
            assert _health(app)[1]["scheduler"] == "stopped"
    finally:
        app.extensions["roi"].store.engine.dispose()


def test_healthz_with_the_scheduler_disabled_or_run_elsewhere(project, tmp_path):
    project.write_config("[scheduler]\nenabled = false\n")
    app = create_app(project.settings(), scheduler_heartbeat=Heartbeat(tmp_path / "never-written.json"))
    try:
        assert _health(app) == (200, {"status": "ok", "database": "ok", "scheduler": "disabled"})
    finally:
        app.extensions["roi"].store.engine.dispose()
