"""`roi serve`: granian serving the API (create_app) and the dashboard at `/`, one app (and one engine) per
worker process.

granian (HTTP in Rust) moves the bytes without holding the GIL: on 2 cores, 50
clients fetching the 700 KB answer for 1,000 cohorts see about half the p99 they
see with gunicorn's threaded workers (bench/api_bench.py).

Nothing from roi.api is imported here at module level: the Prometheus
multiprocess folder must be set before prometheus_client is first imported,
and the app must be built in each worker process, never in the main one.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import socket
import tempfile
import time
from collections.abc import Callable, Iterable
from typing import Any
from urllib.parse import quote

from .config import Settings
from .errors import RoiError
from .services import store_for
from .services.heartbeat import ENV as HEARTBEAT_ENV

log = logging.getLogger("roi.api")
access_log = logging.getLogger("roi.access")

# granian's own records go to the root logger, which roi.logs sets up (JSON lines off a terminal)
_GRANIAN_LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {},
    "handlers": {},
    "loggers": {
        "_granian": {"handlers": [], "level": "INFO", "propagate": True},
        "granian.access": {"handlers": [], "level": "INFO", "propagate": True},
    },
}


class AccessLog:
    """One line per request: client, request line, status, bytes, milliseconds.

    No request header is logged, so never a token; the query string is (send tokens in
    `Authorization`, never in the query)."""

    def __init__(self, app: Callable):
        self.app = app

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        started = time.perf_counter()
        seen: dict[str, Any] = {}

        def record(status: str, headers: list[tuple[str, str]], exc_info=None):
            seen["status"] = status.split(" ", 1)[0]
            seen["bytes"] = next((value for name, value in headers if name.lower() == "content-length"), "-")
            return start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

        try:
            return self.app(environ, record)
        except Exception:
            seen.setdefault("status", "500")
            raise
        finally:
            # the path as sent on the wire (re-quoted): a decoded newline cannot forge a log line
            query = environ.get("QUERY_STRING", "")
            target = quote(environ.get("PATH_INFO", ""), safe="/;:@&=+$,!~*'()") + (f"?{query}" if query else "")
            access_log.info('%s "%s %s %s" %s %s %.0fms', environ.get("REMOTE_ADDR", "-"),
                            environ.get("REQUEST_METHOD"), target, environ.get("SERVER_PROTOCOL", "HTTP/1.1"),
                            seen.get("status", "-"), seen.get("bytes", "-"), (time.perf_counter() - started) * 1000)


class Site:
    """The API and the dashboard at one address: a path the dashboard's routes match goes to it, any
    other (/api/v1/..., /healthz, /docs/, /metrics, and what neither knows) to the API."""

    def __init__(self, api: Any, dashboard: Any):
        self.api = api
        self.dashboard = dashboard
        self._routes = dashboard.url_map.bind("localhost")

    def __call__(self, environ: dict, start_response: Callable) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "") or "/"
        if not path.startswith("/api/") and self._routes.test(path, environ.get("REQUEST_METHOD", "GET")):
            return self.dashboard(environ, start_response)
        return self.api(environ, start_response)


def create_site(settings: Settings, **options: Any) -> Site:
    """The API's app (create_app with `options`) and the dashboard on its store, valued months and data version;
    with `warm`, each computes ahead what is asked first (the newest months; their Risk page)."""
    from .api import create_app
    from .dashboard import create_dashboard

    api = create_app(settings, **options)
    runtime = api.extensions["roi"]
    dashboard = create_dashboard(settings, runtime.store, runtime.months, runtime.version.current,
                                 warm=bool(options.get("warm")))
    return Site(api, dashboard)


def _load_app(target: str) -> Callable:
    """Runs in each worker process: the app for the config named in `target` (JSON)."""
    from .lifeline import tie_to_parent
    from .logs import configure_logging
    from .services.heartbeat import Heartbeat
    from .services.validation import load_checked_config

    options = json.loads(target)
    configure_logging(verbose=True)  # forked workers have the main's handlers; spawned ones (3.14+) would not
    tie_to_parent(options["parent_pid"])  # a worker whose server is killed stops, and frees the port
    heartbeat = Heartbeat(options["heartbeat"]) if options.get("heartbeat") else None
    app = create_site(load_checked_config(options["config"]), scheduler_heartbeat=heartbeat, warm=True)
    return AccessLog(app) if options["access_log"] else app


def _check_database(settings: Settings) -> None:
    """Fail fast, in the main process, with roi's own message when the database cannot be opened."""
    store = store_for(settings)
    try:
        store.ping()
    finally:
        store.engine.dispose()  # the workers open their own engines


def _listen_address(host: str, port: int) -> str:
    """The IP address to bind for `host` (granian takes addresses only); the port must be free."""
    try:
        family, _, _, _, address = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)[0]
    except (socket.gaierror, UnicodeError) as exc:
        raise RoiError(f"--host {host!r}: not an address this machine can listen on: {exc}") from None
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server does
        try:
            probe.bind(address[:2])
        except OSError as exc:
            raise RoiError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    return address[0]


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
    """Run the API until SIGTERM or SIGINT. `on_ready` runs once, in the main process, when the server listens.

    A worker that dies is started again; one that dies twice within about 5 s (a crash loop)
    stops the server with status 1, for the service manager to act on. Workers end with this
    process, even when it is killed with SIGKILL (roi.lifeline)."""
    import sys

    from granian.constants import Interfaces
    from granian.server import Server

    if not settings.path:
        raise RoiError("roi serve needs a config file: each worker process reads it")
    address = _listen_address(host, port)
    _check_database(settings)
    run_dir = tempfile.mkdtemp(prefix="roi-serve-")
    metrics_dir = os.path.join(run_dir, "metrics")
    os.mkdir(metrics_dir)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    # the scheduler (started by on_ready) beats here; the workers' /healthz reads it
    heartbeat = os.path.join(run_dir, "scheduler.json")
    os.environ[HEARTBEAT_ENV] = heartbeat
    if "prometheus_client" in sys.modules:
        log.warning("prometheus_client was imported before `roi serve` set it up: /metrics shows one worker only")
    server = Server(
        json.dumps({"config": str(settings.path), "access_log": access_log, "parent_pid": os.getpid(),
                    "heartbeat": heartbeat if settings.scheduler.enabled else None}),
        address=address,
        port=port,
        interface=Interfaces.WSGI,
        workers=workers,
        blocking_threads=threads,
        websockets=False,
        log_dictconfig=_GRANIAN_LOGGING,
        respawn_failed_workers=True,
        workers_kill_timeout=10,
    )
    if on_ready is not None:
        server.on_startup(on_ready)
    try:
        server.serve(target_loader=_load_app)
    except RuntimeError as exc:  # granian's own (e.g. the port taken meanwhile): its first line, not a backtrace
        raise RoiError(f"roi serve: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}") from None
    finally:
        shutil.rmtree(run_dir, ignore_errors=True)
        os.environ.pop(HEARTBEAT_ENV, None)
