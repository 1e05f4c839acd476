"""Dashboard benchmark: 20 signed-in users clicking through distinct pages of `roi serve --workers 2`.

The store is the query benchmark's (bench/cohort_store.py: 1M generated events over 3 months,
~265k daily cells), on SQLite and, when ROI_TEST_POSTGRES_URL is set, PostgreSQL. `roi serve` starts and values its months; then 20 users, each a thread with
its own keep-alive connection and session cookie (signed in through the form, CSRF token and
all), click through rounds of pages, each round new to the server: the Overview of a month, the
Cohorts table of a grouping filtered to one tenant, its next page sorted by ROI, its CSV, One
cohort, Risk of the Cohorts page's question (10,000 Monte Carlo draws, the tornado, the bridge
from the month before), Risk of a whole month in the config's grouping (tenant, channel: every
cohort's bands; 3 distinct questions, so most of these are answered from the page cache),
Assumptions and Operations. The value models' assumptions are ranges here (their point values
are the query benchmark's), so the Risk page draws. For comparison, in the same run, each user also asks the
API the Cohorts page's question (`GET /api/v1/roi` with the same grouping, filter, sort, limit).

Printed: p50/p95/max per page (the HTML with its data: the pages are rendered on the server),
the ratio of the Cohorts page to the API's JSON of the same question, each page's transfer (HTML
plus its CSS, script and Chart.js, uncompressed), and the CPU time of the server's processes.
Target (issue 16): p95 < 200 ms for every page; a page's transfer < 1 MB.

Run alone: .venv/bin/python bench/run.py dashboard_bench
"""

from __future__ import annotations

import http.client
import os
import random
import re
import shutil
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from pathlib import Path

import numpy as np
from api_bench import _postgres_database, free_port, start_server, stop_server
from cohort_store import TENANTS, event_cells
from query_bench import TOKEN, _periods, make_project, wait_until_valued

USERS = 20
GROUPINGS = ("topic", "channel,topic", "language,model", "topic,model", "channel,language", "model")
ASSETS = ("/static/dashboard/dashboard.css", "/static/dashboard/dashboard.js", "/static/dashboard/chart.min.js")


class User:
    """One browser: a keep-alive connection and a session cookie."""

    def __init__(self, port: int):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
        self.cookie = ""

    def request(self, method: str, path: str, body: str | None = None, token: str | None = None) -> tuple[int, bytes]:
        headers = {"Cookie": self.cookie} if self.cookie else {}
        if token:
            headers = {"Authorization": f"Bearer {token}"}
        if body is not None:
            headers["Content-Type"] = "application/x-www-form-urlencoded"
        self.connection.request(method, path, body=body, headers=headers)
        response = self.connection.getresponse()
        data = response.read()
        cookie = response.getheader("Set-Cookie")
        if cookie and not token:
            self.cookie = cookie.split(";", 1)[0]
        return response.status, data

    def sign_in(self) -> None:
        _, page = self.request("GET", "/sign-in")
        csrf = re.search(rb'name="csrf_token" value="([^"]+)"', page).group(1).decode()
        status, _ = self.request("POST", "/sign-in", urllib.parse.urlencode(
            {"csrf_token": csrf, "token": TOKEN, "next": "/"}))
        if status != 303:
            raise RuntimeError(f"sign-in: {status}")


def clicks(user: int, round_: int) -> list[tuple[str, str]]:
    """The pages one user opens in one round: (kind, path), distinct across users and rounds."""
    periods = _periods()
    period = periods[(user + round_) % len(periods)]
    tenant = f"tenant-{(user * 7 + round_ * 61) % TENANTS:03d}"
    group = GROUPINGS[(user + round_ * 5) % len(GROUPINGS)]
    table = urllib.parse.urlencode({"period": period, "group_by": group, "tenant": tenant})
    return [
        ("overview", f"/?period={period}"),
        ("cohorts", f"/cohorts?{table}"),
        ("cohorts page 2", f"/cohorts?{table}&sort=-roi&page=2&per_page=25"),
        ("cohorts csv", f"/cohorts.csv?{table}"),
        ("one cohort", "/cohort?" + urllib.parse.urlencode({"period": period, "group_by": "tenant,channel",
                                                            "tenant": tenant, "channel": "web"})),
        ("risk (one tenant)", f"/risk?{table}"),
        ("risk (a month, all cohorts)", f"/risk?period={period}"),
        ("assumptions", "/assumptions"),
        ("operations", "/operations"),
        ("api: the cohorts question", f"/api/v1/roi?{table}&sort=-net_value&limit=50"),
    ]


def run_users(port: int, rounds: int, think: float, first_round: int = 0) -> tuple[dict[str, list[float]], dict[str, int]]:
    """Every user signs in, then opens its pages one after the other, reading each for `think` seconds
    on average (uniform between half and one and a half times it; 0: no pause at all)."""
    latencies: dict[str, list[float]] = defaultdict(list)
    sizes: dict[str, int] = {}
    errors: list[str] = []
    lock = threading.Lock()
    start = threading.Barrier(USERS)

    def browse(index: int) -> None:
        user = User(port)
        try:
            user.sign_in()
            pauses = random.Random(index)
            start.wait()
            if think:  # people do not click in step: each starts within one reading time of the others
                time.sleep(pauses.uniform(0, think))
            for round_ in range(first_round, first_round + rounds):
                for kind, path in clicks(index, round_):
                    if think:
                        time.sleep(pauses.uniform(think / 2, think * 1.5))
                    token = TOKEN if path.startswith("/api/") else None
                    began = time.perf_counter()
                    status, body = user.request("GET", path, token=token)
                    elapsed = (time.perf_counter() - began) * 1000
                    with lock:
                        if status != 200:
                            errors.append(f"{path}: {status}")
                        latencies[kind].append(elapsed)
                        sizes[kind] = max(sizes.get(kind, 0), len(body))
        except Exception as exc:  # noqa: BLE001 - reported below
            with lock:
                errors.append(repr(exc))
        finally:
            user.connection.close()

    threads = [threading.Thread(target=browse, args=(index,)) for index in range(USERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if errors:
        raise RuntimeError(f"{len(errors)} failed requests, e.g. {errors[:3]}")
    return latencies, sizes


def asset_bytes(port: int) -> dict[str, int]:
    user = User(port)
    try:
        return {path: len(user.request("GET", path)[1]) for path in ASSETS}
    finally:
        user.connection.close()


def server_cpu(server) -> float:
    """User + system CPU seconds of the server's processes (its session), from /proc."""
    total = 0.0
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[3]) == server.pid:  # the session id: roi serve starts its own session
            total += (int(fields[11]) + int(fields[12])) / ticks
    return total


def report(server, port: int, rounds: int, think: float, first: int, label: str, assets: dict[str, int]) -> None:
    cpu_before, wall, client_cpu = server_cpu(server), time.perf_counter(), time.process_time()
    latencies, sizes = run_users(port, rounds, think, first)
    wall, client_cpu = time.perf_counter() - wall, time.process_time() - client_cpu
    cpu = server_cpu(server) - cpu_before
    count = sum(len(values) for values in latencies.values())
    print(f"  {USERS} users {label}, {rounds} rounds each of distinct pages: {count} requests in {wall:.1f} s "
          f"({count / wall:.0f} req/s); server CPU {cpu:.1f} s ({cpu / count * 1000:.1f} ms a request), "
          f"this client's CPU {client_cpu:.1f} s (2 cores shared with other work)")
    charts = sum(assets.values())
    plain = assets[ASSETS[0]]
    for kind, values in latencies.items():
        p50, p95 = np.percentile(values, 50), np.percentile(values, 95)
        with_assets = sizes[kind] + (charts if kind in ("overview", "one cohort") or kind.startswith("risk")
                                     else plain)
        transfer = (f", transfer {with_assets / 1024:,.0f} KB with its assets"
                    if not kind.startswith(("api", "cohorts csv")) else f", {sizes[kind] / 1024:,.1f} KB")
        print(f"    {kind:<27} p50 {p50:6.1f} ms  p95 {p95:6.1f} ms  max {max(values):6.1f} ms{transfer}")
    ratio = np.percentile(latencies["cohorts"], 95) / np.percentile(latencies["api: the cohorts question"], 95)
    print(f"    the Cohorts page's p95 is {ratio:.2f} x the API's JSON of the same question "
          "(target: every page p95 < 200 ms, a page < 1 MB)")


def with_ranges(models: Path) -> None:
    """Every model's value per resolution a triangular range and its escalation cost a normal one,
    around the same point values."""
    for path in models.glob("*.toml"):
        text = re.sub(r"^value_per_resolution = ([\d.]+)$",
                      lambda m: f"value_per_resolution = {{ low = {float(m[1]) * 0.7:.2f}, mode = {m[1]}, "
                                f"high = {float(m[1]) * 1.2:.2f} }}", path.read_text(), flags=re.M)
        text = re.sub(r"^escalation_cost = ([\d.]+)$", r"escalation_cost = { mean = \1, sd = 0.5 }", text, flags=re.M)
        path.write_text(text)


def main() -> None:
    rounds = int(os.environ.get("ROI_BENCH_DASHBOARD_ROUNDS", "5"))
    started = time.perf_counter()
    cells = event_cells()
    print(f"{len(cells):,} daily cells from 1,000,000 generated events ({time.perf_counter() - started:.1f} s)")
    root = Path(tempfile.mkdtemp(prefix="roi-dashboard-db-"))
    try:
        bench_database("SQLite", f"sqlite:///{root / 'roi.db'}", cells, rounds)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = os.environ.get("ROI_BENCH_POSTGRES_URL") or os.environ.get("ROI_TEST_POSTGRES_URL")
    if base:
        url, drop = _postgres_database(base)
        try:
            bench_database("PostgreSQL", url, cells, rounds)
        finally:
            drop()
    else:
        print("PostgreSQL: skipped (set ROI_TEST_POSTGRES_URL)")


def bench_database(label: str, url: str, cells, rounds: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="roi-dashboard-bench-"))
    server = None
    try:
        config = make_project(root, url, cells)
        with_ranges(root / "models")
        port = free_port()
        server = start_server(config, port, 2)
        ready = wait_until_valued(port)
        print(f"{label}, roi serve --workers 2: months valued {ready:.1f} s after it answered")
        print("  assets (each page's own, cached by the browser after the first): " + ", ".join(
            f"{Path(path).name} {size / 1024:,.0f} KB" for path, size in asset_bytes(port).items()))
        think = float(os.environ.get("ROI_BENCH_THINK_SECONDS", "1.0"))
        assets = asset_bytes(port)
        # people read a page before the next click; then, for comparison, the same users never pausing
        for scenario, pause, first in ((f"reading each page {think:g} s on average", think, 0),
                                       ("never pausing (closed loop, the machine's limit)", 0.0, rounds)):
            report(server, port, rounds, pause, first, scenario, assets)
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(root, ignore_errors=True)


if __name__ == "__main__":
    main()
