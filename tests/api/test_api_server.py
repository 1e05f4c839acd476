"""`roi serve` as a user starts it: granian on a free loopback port, spoken to over HTTP."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from email.message import Message
from pathlib import Path

import pytest

from .conftest import ADMIN, READER, READER_HEADERS, ingest_project, run_cli, write_api_project


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def fetch(port: int, path: str, headers: dict | None = None) -> tuple[int, Message, bytes]:
    request = urllib.request.Request(f"http://127.0.0.1:{port}{path}", headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            return response.status, response.headers, response.read()  # names case-insensitive
    except urllib.error.HTTPError as error:
        return error.code, error.headers, error.read()


@pytest.fixture
def start_serve(project, tmp_path):
    """Starts `roi serve` for the project and waits until /healthz answers; stopped at the end."""
    stops = []

    def start(host: str = "127.0.0.1", workers: int = 2):
        port = free_port()
        log = tmp_path / f"serve-{port}.log"
        roi = Path(sys.executable).with_name("roi")
        with log.open("wb") as output:
            process = subprocess.Popen(
                [str(roi), "--config", str(project.config_path), "serve", "--host", host, "--port", str(port),
                 "--workers", str(workers)],
                stdout=output, stderr=subprocess.STDOUT, start_new_session=True,
            )

        def stop() -> None:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()

        stops.append(stop)
        deadline = time.monotonic() + 60
        while True:
            assert process.poll() is None, log.read_text()
            try:
                if fetch(port, "/healthz")[0] == 200:
                    return port, log, stop
            except OSError:
                pass
            assert time.monotonic() < deadline, log.read_text()
            time.sleep(0.2)

    yield start
    for stop in stops:
        stop()


@pytest.fixture
def server(project, start_serve):
    write_api_project(project)
    ingest_project(project)
    port, log, stop = start_serve()
    return port, project, log, stop


def test_roi_serve_answers_over_http(server, runner):
    port, project, log, stop = server
    status, _, body = fetch(port, "/healthz")
    assert status == 200 and json.loads(body)["status"] == "ok"

    status, headers, body = fetch(port, "/api/v1/roi?period=2026-01")
    assert status == 401 and headers["Content-Type"] == "application/problem+json"

    result = run_cli(runner, project, "report", "--period", "2026-01")
    expected = json.loads(result.stdout)
    for _ in range(4):  # both workers, by the Flask path and by the fast path
        status, headers, body = fetch(port, "/api/v1/roi?period=2026-01", READER_HEADERS)
        assert status == 200
        answer = json.loads(body)
        answer.pop("generated_at")
        assert answer == {key: value for key, value in expected.items() if key != "generated_at"}

    status, _, body = fetch(port, "/api/v1/roi?period=2026-99", READER_HEADERS)
    assert status == 400 and json.loads(body)["parameter"] == "period"

    # a long query string is the app's 400; past 64 KiB the server refuses the request line itself
    status, headers, body = fetch(port, "/api/v1/roi?period=2026-01&tenant=" + "x" * 20_000, READER_HEADERS)
    assert status == 400 and headers["Content-Type"] == "application/problem+json"
    assert json.loads(body)["parameter"] == "tenant"
    status, _, _ = fetch(port, "/api/v1/roi?period=2026-01&tenant=" + "x" * 70_000, READER_HEADERS)
    assert status == 414

    status, _, body = fetch(port, "/api/v1/openapi.json", READER_HEADERS)
    assert status == 200 and "/api/v1/roi" in json.loads(body)["paths"]

    status, headers, body = fetch(port, "/metrics", {"Authorization": f"Bearer {ADMIN}"})
    assert status == 200 and headers["Content-Type"].startswith("text/plain")
    text = body.decode()
    # counted in every worker, summed by the multiprocess collector
    served = [line for line in text.splitlines()
              if line.startswith('roi_http_requests_total{') and 'endpoint="/api/v1/roi"' in line
              and 'status="200"' in line]
    assert served and sum(float(line.rsplit(" ", 1)[1]) for line in served) >= 4

    # the access log has the request lines but never a token
    stop()
    logged = log.read_text()
    assert READER not in logged and ADMIN not in logged
    # not on a terminal: every line, the server's own and the access log included, is one JSON object
    records = [json.loads(line) for line in logged.splitlines() if line.strip()]
    messages = [record["message"] for record in records]
    assert any('"GET /api/v1/roi?period=2026-01 HTTP/1.1" 200' in message for message in messages)
    assert any("Listening at" in message for message in messages)


def _roi_serve(project, *args: str) -> subprocess.CompletedProcess:
    roi = Path(sys.executable).with_name("roi")
    return subprocess.run([str(roi), "--config", str(project.config_path), "serve", *args],
                          capture_output=True, text=True, timeout=60)


def test_a_taken_port_or_an_unknown_host_is_one_line_and_exit_1(project, tmp_path):
    write_api_project(project)
    ingest_project(project)
    before = set(Path(tempfile.gettempdir()).glob("roi-metrics-*"))
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = _roi_serve(project, "--host", "127.0.0.1", "--port", str(port))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == f"error: cannot listen on 127.0.0.1:{port}: Address already in use"
    assert "Traceback" not in result.stderr
    result = _roi_serve(project, "--host", "no-such-host.invalid", "--port", str(free_port()))
    assert result.returncode == 1 and "error: --host 'no-such-host.invalid': not an address" in result.stderr
    assert set(Path(tempfile.gettempdir()).glob("roi-metrics-*")) == before  # nothing left behind


def test_a_host_name_is_resolved_to_listen_on(project, start_serve):
    write_api_project(project)
    ingest_project(project)
    port, _, _ = start_serve(host="localhost", workers=1)
    assert fetch(port, "/healthz")[0] == 200


def test_the_access_log_quotes_the_path_and_logs_failures(caplog):
    from roi.serving import AccessLog

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/boom":
            raise RuntimeError("boom")
        start_response("404 NOT FOUND", [("Content-Length", "9")])
        return [b"not found"]

    logged = AccessLog(app)
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": '/x\n127.0.0.1 "GET /forged', "QUERY_STRING": "a=1",
               "REMOTE_ADDR": "10.0.0.1", "SERVER_PROTOCOL": "HTTP/1.1"}
    with caplog.at_level("INFO", logger="roi.access"):
        assert logged(environ, lambda status, headers: None) == [b"not found"]
        with pytest.raises(RuntimeError):
            logged({**environ, "PATH_INFO": "/boom", "QUERY_STRING": ""}, lambda status, headers: None)
    lines = [record.getMessage() for record in caplog.records]
    assert lines[0].startswith('10.0.0.1 "GET /x%0A127.0.0.1%20%22GET%20/forged?a=1 HTTP/1.1" 404 9 ')
    assert lines[1].startswith('10.0.0.1 "GET /boom HTTP/1.1" 500 - ')
    assert all("\n" not in line for line in lines)
