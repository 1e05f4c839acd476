"""API benchmark: /api/v1/roi under 50 concurrent clients against `roi serve --workers 2`.

Stores 1,000 cohorts (250 tenants x 4 channels) x 24 months of daily cells, starts
`roi serve` on a free loopback port, warms it, then loads it with wrk (Debian's
`wrk`) or, when wrk is missing, a Python client of threads in two processes.
Prints p50/p99 latency and requests/s for SQLite and, when ROI_BENCH_POSTGRES_URL
or ROI_TEST_POSTGRES_URL is set, PostgreSQL. Target: p99 < 50 ms and >= 500 req/s.

Run alone: .venv/bin/python bench/api_bench.py [--seconds 10] [--clients 50]
(ROI_BENCH_SERVE_ARGS adds options to `roi serve`, e.g. "--threads 2".)

Each query is asked once cold (the worker values the month and renders the answer),
then warmed in every worker, then loaded: the figures are for the cached answers,
which every repeated query gets until the next batch is stored.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import uuid
from pathlib import Path

import numpy as np
from synthetic import last_months, store_months

TOKEN = "bench-reader-token-0123456789"
TENANTS = 250
CHANNELS = ("web", "chat", "email", "voice")
MONTHS = 24
CONFIG = """
[service]
database_url = "{url}"
currency = "USD"
timezone = "UTC"

[report]
group_by = ["tenant", "channel"]

[[fixed_costs]]
name = "platform"
amount = 5000.0
allocate_by = "requests"

[[assignments]]
match = {{ channel = "voice" }}
model = "voice"
[[assignments]]
match = {{}}
model = "support"

[api]
tokens = [{{ name = "bench", token = "{token}", role = "reader" }}]
"""
MODEL = """
name = "{name}"
currency = "USD"
[[versions]]
effective_from = 2020-01-01
value_per_resolution = {value}
escalation_cost = 2.0
reopen_cost = 9.0
abandonment_cost = 0.5
review_cost_per_hour = 45.0
"""


def make_project(root: Path, url: str) -> Path:
    from roi.config import load_config
    from roi.services import store_for

    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models" / "support.toml").write_text(MODEL.format(name="support", value=6.5))
    (root / "models" / "voice.toml").write_text(MODEL.format(name="voice", value=9.0))
    config = root / "roi.toml"
    config.write_text(textwrap.dedent(CONFIG.format(url=url, token=TOKEN)))
    store = store_for(load_config(config))
    started = time.perf_counter()
    store_months(store, last_months(MONTHS), np.random.default_rng(7), tenants=TENANTS, channels=CHANNELS)
    store.engine.dispose()
    print(f"  stored {TENANTS * len(CHANNELS):,} cohorts x {MONTHS} months of daily cells "
          f"in {time.perf_counter() - started:.1f} s")
    return config


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(config: Path, port: int, workers: int) -> subprocess.Popen:
    roi = Path(sys.executable).with_name("roi")
    command = [str(roi), "--config", str(config), "serve", "--host", "127.0.0.1", "--port", str(port),
               "--workers", str(workers), "--no-access-log", *os.environ.get("ROI_BENCH_SERVE_ARGS", "").split()]
    log = config.parent / "serve.log"
    with log.open("wb") as output:
        server = subprocess.Popen(command, stdout=output, stderr=output, start_new_session=True)
    server.log = log  # type: ignore[attr-defined]
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"roi serve exited: {log.read_text()[-2000:]}")
        try:
            status, _ = get(port, "/healthz")
            if status == 200:
                return server
        except OSError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError("roi serve did not answer /healthz within 60 s")


def stop_server(server: subprocess.Popen) -> None:
    os.killpg(server.pid, signal.SIGTERM)
    try:
        server.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait()


def get(port: int, path: str, token: str | None = None, extra: dict | None = None) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    headers.update(extra or {})
    try:
        connection.request("GET", path, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


# ------------------------------------------------------------------ load generators


def _unit(value: str, unit: str) -> float:
    scale = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}[unit]
    return float(value) * scale


def run_wrk(port: int, path: str, clients: int, seconds: int, extra: dict) -> dict[str, float]:
    headers = [f"Authorization: Bearer {TOKEN}", *(f"{name}: {value}" for name, value in extra.items())]
    command = ["wrk", "-t2", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               *(part for header in headers for part in ("-H", header)), f"http://127.0.0.1:{port}{path}"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    figures = {}
    for label in ("50", "99"):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        figures[f"p{label}"] = _unit(*match.groups()) if match else float("nan")
    figures["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["errors"] = float(errors.group(1)) if errors else 0.0
    socket_errors = re.search(r"Socket errors: (.*)", output)
    if socket_errors:
        figures["errors"] += sum(int(n) for n in re.findall(r"\d+", socket_errors.group(1)))
    return figures


def _client_process(port: int, path: str, threads: int, seconds: float, extra: dict, queue) -> None:
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    deadline = time.perf_counter() + seconds

    def loop() -> None:
        mine = []
        bad = 0
        while time.perf_counter() < deadline:
            started = time.perf_counter()
            try:
                status, _ = get(port, path, TOKEN, extra)
            except OSError:
                status = 0
            mine.append((time.perf_counter() - started) * 1000)
            bad += status != 200
        with lock:
            latencies.extend(mine)
            errors[0] += bad

    workers = [threading.Thread(target=loop) for _ in range(threads)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()
    queue.put((latencies, errors[0]))


def run_python_client(port: int, path: str, clients: int, seconds: int, extra: dict) -> dict[str, float]:
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    processes = [context.Process(target=_client_process, args=(port, path, clients // 2, seconds, extra, queue))
                 for _ in range(2)]
    started = time.perf_counter()
    for process in processes:
        process.start()
    results = [queue.get() for _ in processes]
    elapsed = time.perf_counter() - started
    for process in processes:
        process.join()
    latencies = np.array([value for found, _ in results for value in found])
    return {
        "p50": float(np.percentile(latencies, 50)),
        "p99": float(np.percentile(latencies, 99)),
        "rps": len(latencies) / elapsed,
        "errors": float(sum(bad for _, bad in results)),
    }


# ------------------------------------------------------------------ main


def bench_database(label: str, url: str, *, seconds: int, clients: int, workers: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="roi-api-bench-"))
    try:
        print(f"{label}:")
        config = make_project(root, url)
        port = free_port()
        server = start_server(config, port, workers)
        try:
            year, month = last_months(MONTHS)[-1]
            latest = f"{year:04d}-{month:02d}"
            gzip = {"Accept-Encoding": "gzip"}
            queries = [
                ("roi, 1,000 cohorts", f"/api/v1/roi?period={latest}", {}),
                ("roi, 1,000 cohorts, gzip", f"/api/v1/roi?period={latest}", gzip),
                ("roi, top 20 by net_value", f"/api/v1/roi?period={latest}&sort=-net_value&limit=20", {}),
                ("roi, one tenant", f"/api/v1/roi?period={latest}&tenant=tenant-007", {}),
            ]
            for name, path, extra in queries:
                started = time.perf_counter()
                status, body = get(port, path, TOKEN, extra)
                cold = (time.perf_counter() - started) * 1000
                if status != 200:
                    raise RuntimeError(f"{path}: HTTP {status}: {body[:300]!r}\n{server.log.read_text()[-3000:]}")
                for _ in range(4 * workers):  # every worker values the month once
                    get(port, path, TOKEN, extra)
                load = run_wrk if shutil.which("wrk") else run_python_client
                figures = load(port, path, clients, seconds, extra)
                verdict = "ok" if figures["p99"] < 50 and figures["rps"] >= 500 else "BELOW TARGET"
                print(f"  {name:<26} {len(body) / 1024:5.0f} KiB  first {cold:5.0f} ms  "
                      f"p50 {figures['p50']:6.2f} ms  p99 {figures['p99']:6.2f} ms  "
                      f"{figures['rps']:6.0f} req/s  errors {int(figures['errors'])}  [{verdict}]")
            print(f"  (load: {'wrk' if shutil.which('wrk') else 'python threads'}, {clients} clients, "
                  f"{seconds} s each, roi serve --workers {workers})")
        finally:
            stop_server(server)
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _postgres_database(base_url: str):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool

    name = f"roi_api_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(base_url, isolation_level="AUTOCOMMIT", poolclass=NullPool)
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(base_url).set(database=name).render_as_string(hide_password=False)

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=int(os.environ.get("ROI_BENCH_SECONDS", "8")))
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--workers", type=int, default=2)
    args, _ = parser.parse_known_args()
    print("API benchmark: /api/v1/roi, 1,000 cohorts x 24 months stored (target p99 < 50 ms, >= 500 req/s)")
    options = {"seconds": args.seconds, "clients": args.clients, "workers": args.workers}
    with tempfile.TemporaryDirectory() as folder:
        bench_database("SQLite", f"sqlite:///{folder}/bench.db", **options)
    base = os.environ.get("ROI_BENCH_POSTGRES_URL") or os.environ.get("ROI_TEST_POSTGRES_URL")
    if not base:
        print("PostgreSQL: skipped (set ROI_BENCH_POSTGRES_URL or ROI_TEST_POSTGRES_URL)")
        return
    url, drop = _postgres_database(base)
    try:
        bench_database("PostgreSQL", url, **options)
    finally:
        drop()


if __name__ == "__main__":
    main()
