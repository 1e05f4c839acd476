"""`roi serve`: gunicorn serving create_app(settings), one app (and one engine) per worker process.

Nothing from roi.api is imported here at module level: the Prometheus
multiprocess folder must be set before prometheus_client is first imported,
and the app must be built in each worker after the fork, never in the master.
"""

from __future__ import annotations

import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable
from typing import Any

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from ..config import Settings

log = logging.getLogger("roi.api")

# No header of the request is logged (so never Authorization), only the request line.
ACCESS_LOG_FORMAT = '%(h)s %(t)s "%(r)s" %(s)s %(b)s %(M)sms'


class JsonLinesLogger(Logger):
    """gunicorn's own and access logs as one JSON object a line, like every other log of `roi serve`."""

    def setup(self, cfg) -> None:
        from ..logs import JsonFormatter

        super().setup(cfg)
        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter())


class RoiServer(BaseApplication):
    def __init__(self, settings: Settings, options: dict[str, Any]):
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self):
        from . import create_app  # in the worker, after the fork

        return create_app(self.settings)


def _check_database(settings: Settings) -> None:
    """Fail fast, in the master, with roi's own message when the database cannot be opened."""
    from .. import services

    store = services.store_for(settings)
    try:
        store.ping()
    finally:
        store.engine.dispose()  # the workers open their own engines


def serve(
    settings: Settings,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    workers: int = 2,
    threads: int = 4,
    access_log: bool = True,
    on_ready: Callable[[], None] | None = None,
) -> None:
    """Run the API until SIGTERM or SIGINT. `on_ready` runs once, in the master, when the server listens."""
    metrics_dir = tempfile.mkdtemp(prefix="roi-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    if "prometheus_client" in sys.modules:
        log.warning("prometheus_client was imported before `roi serve` set it up: /metrics shows one worker only")
    _check_database(settings)

    def when_ready(_server) -> None:
        if on_ready is not None:
            on_ready()

    def child_exit(_server, worker) -> None:
        from .metrics import mark_process_dead

        mark_process_dead(worker.pid)

    def on_exit(_server) -> None:
        shutil.rmtree(metrics_dir, ignore_errors=True)

    options = {
        "bind": f"[{host}]:{port}" if ":" in host else f"{host}:{port}",
        "workers": workers,
        "threads": threads,
        "worker_class": "gthread" if threads > 1 else "sync",
        "timeout": 120,
        "graceful_timeout": 10,
        "accesslog": "-" if access_log else None,
        "access_log_format": ACCESS_LOG_FORMAT,
        "errorlog": "-",
        "loglevel": "info",
        "proc_name": "roi",
        "control_socket_disable": True,
        # no 414 in HTML from gunicorn for a long query string: the app answers it with a problem+json 400
        "limit_request_line": 0,
        "limit_request_field_size": 0,
        "when_ready": when_ready,
        "child_exit": child_exit,
        "on_exit": on_exit,
    }
    if not sys.stderr.isatty():  # as roi.logs: plain lines for people, JSON lines for collectors
        options["logger_class"] = JsonLinesLogger
    RoiServer(settings, options).run()
