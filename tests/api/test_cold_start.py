"""A cold worker answers its first requests, all at once, without a 5xx (issue 12, item 19)."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

from .conftest import READER_HEADERS, ingest_project, write_api_project
from .test_api_server import fetch, free_port

CLIENTS = 50


def test_the_metrics_of_a_fresh_process_are_made_once_by_threads_racing_for_them():
    # a fresh interpreter: nothing made yet; 32 threads ask for the metrics at the same instant
    script = textwrap.dedent("""
        import sys, threading
        from roi.api import metrics
        barrier = threading.Barrier(32)
        failures = []
        def first_request():
            barrier.wait()
            try:
                metrics.record_request("GET", "/api/v1/periods", 200, 0.001)
                metrics.record_cache(True)
            except Exception as exc:
                failures.append(repr(exc))
        threads = [threading.Thread(target=first_request) for _ in range(32)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        text = metrics.exposition([]).decode()
        counted = [line for line in text.splitlines() if line.startswith("roi_http_requests_total{")]
        print(failures, counted)
        sys.exit(1 if failures else 0)
    """)
    environment = {key: value for key, value in os.environ.items() if key != "PROMETHEUS_MULTIPROC_DIR"}
    for _ in range(5):
        result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=60,
                                env=environment)
        assert result.returncode == 0, result.stdout + result.stderr
        assert result.stdout.rstrip().endswith("32.0']")  # every one counted, in the one series


def test_a_cold_server_answers_fifty_clients_at_once_without_a_5xx(project, tmp_path):
    write_api_project(project)
    ingest_project(project)
    port, log = free_port(), tmp_path / "serve.log"
    roi = Path(sys.executable).with_name("roi")
    with log.open("wb") as output:
        server = subprocess.Popen(
            [str(roi), "--config", str(project.config_path), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", "2", "--threads", "8"],
            stdout=output, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        # no request before the burst: wait only for the socket to accept connections
        deadline = time.monotonic() + 60
        while True:
            assert server.poll() is None, log.read_text()
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert time.monotonic() < deadline, log.read_text()
                time.sleep(0.05)
        barrier = threading.Barrier(CLIENTS)
        statuses: list[int] = []
        paths = ["/api/v1/periods", "/api/v1/roi?period=2026-01", "/api/v1/sources", "/healthz", "/api/v1/models"]

        def client(index: int) -> None:
            barrier.wait()
            try:
                statuses.append(fetch(port, paths[index % len(paths)], READER_HEADERS)[0])
            except OSError as exc:
                statuses.append(-1)
                raise AssertionError(exc) from exc

        threads = [threading.Thread(target=client, args=(index,)) for index in range(CLIENTS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(120)
        assert len(statuses) == CLIENTS
        assert sorted(set(statuses)) == [200], log.read_text()[-4000:]
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        server.wait(60)
