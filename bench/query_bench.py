"""Query benchmark: distinct cohort questions against `roi serve --workers 2`, each new to the server.

The store holds 1M generated events over 3 months summed into ~265k daily cells (200
tenants x 4 channels x 40 topics x 8 languages x 8 models; bench/cohort_store.py, seeded).
`roi serve` starts, values the months in the background, and then:

1. cold questions: one client asks questions no worker has answered (any grouping of up to
   three dimensions, with and without filters), one at a time; p50/p99 of each first answer;
2. a mix of 9,600 distinct questions (3 months x 200 tenants x 16 groupings of topic, model,
   channel, language), every one new to the server when the run starts, each asked once, by 50
   clients with wrk (a Lua script hands each connection the next question);
3. `roi report --format json` of a month grouped by five dimensions (~24k cohorts), end to end, with
   the month valued already and valuing it first (the first report after new data).

Targets (issue: one query path): cold p99 < 100 ms; the mix p99 < 100 ms and >= 500 req/s on
SQLite and PostgreSQL; the five-dimension report under 2 s.

Run alone: .venv/bin/python bench/run.py query_bench
"""

from __future__ import annotations

import itertools
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from api_bench import _postgres_database, free_port, get, run_python_client, start_server, stop_server
from cohort_store import CHANNELS, LANGUAGES, MODELS, MONTHS, TENANTS, event_cells, store_cells

TOKEN = "bench-reader-token-0123456789"
DIMENSIONS = ("tenant", "channel", "topic", "language", "model")
CONFIG = """
[service]
database_url = "{url}"
currency = "USD"
timezone = "UTC"

[report]
group_by = ["tenant", "channel"]

[scheduler]
enabled = false

[[fixed_costs]]
name = "vector-db"
amount = 1200.0
allocate_by = "requests"
match = {{ channel = "web" }}

[[fixed_costs]]
name = "platform"
amount = 5000.0
allocate_by = "cases"

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
description = "Benchmark model."
currency = "USD"
[[versions]]
effective_from = 2026-01-01
value_per_resolution = {value}
escalation_cost = 2.00
reopen_cost = 9.00
abandonment_cost = 0.50
review_cost_per_hour = 45.0
[[versions]]
effective_from = 2026-08-15
value_per_resolution = {later}
escalation_cost = 2.50
reopen_cost = 9.00
abandonment_cost = 0.50
review_cost_per_hour = 48.0
"""


def make_project(root: Path, url: str, cells) -> Path:
    from roi.store import open_store

    (root / "models").mkdir(parents=True)
    (root / "models" / "support.toml").write_text(MODEL.format(name="support", value=6.5, later=7.25))
    (root / "models" / "voice.toml").write_text(MODEL.format(name="voice", value=9.0, later=9.5))
    config = root / "roi.toml"
    config.write_text(CONFIG.format(url=url, token=TOKEN))
    store = open_store(url)
    store_cells(store, cells)
    store.engine.dispose()
    return config


def _periods() -> list[str]:
    return [f"{year}-{month:02d}" for year, month in MONTHS]


def cold_questions(count: int, seed: int) -> list[str]:
    """Distinct questions of up to three grouping dimensions, half of them filtered."""
    rng = random.Random(seed)
    groupings = [list(group) for size in (1, 2, 3) for group in itertools.combinations(DIMENSIONS, size)]
    found: set[str] = set()
    while len(found) < count:
        query = f"period={rng.choice(_periods())}&group_by={','.join(rng.choice(groupings))}"
        if rng.random() < 0.5:
            name, values = rng.choice([("tenant", [f"tenant-{i:03d}" for i in range(TENANTS)]),
                                       ("channel", list(CHANNELS)), ("language", list(LANGUAGES)),
                                       ("model", [model for _, model in MODELS])])
            query += f"&{name}={rng.choice(values)}"
        found.add(f"/api/v1/roi?{query}")
    return sorted(found, key=lambda _: rng.random())


def mix_questions() -> list[str]:
    """3 months x 200 tenants x 16 groupings, each once: 9,600 distinct questions (more than a run asks)."""
    groupings = ("topic,model", "channel,topic", "language,model", "topic", "model", "channel,language",
                 "topic,language", "channel,model", "channel", "language", "model,topic", "topic,channel",
                 "model,language", "language,channel", "model,channel", "language,topic")
    paths = [f"/api/v1/roi?period={period}&group_by={group}&tenant=tenant-{tenant:03d}"
             for period in _periods() for tenant in range(TENANTS) for group in groupings]
    random.Random(5).shuffle(paths)
    return paths


def wait_until_valued(port: int, timeout: float = 300) -> float:
    """Until /healthz says every month the server values ahead is ready; the seconds it took."""
    import json

    started = time.monotonic()
    while time.monotonic() - started < timeout:
        status, body = get(port, "/healthz")
        if status == 200 and json.loads(body).get("months_ready", True):
            return time.monotonic() - started
        time.sleep(0.2)
    raise RuntimeError("the server did not value its months in time")


def run_cold(port: int, paths: list[str]) -> dict[str, float]:
    latencies = []
    for path in paths:
        started = time.perf_counter()
        status, body = get(port, path, TOKEN)
        latencies.append((time.perf_counter() - started) * 1000)
        if status != 200:
            raise RuntimeError(f"{path}: {status} {body[:200]!r}")
    return {"p50": float(np.percentile(latencies, 50)), "p99": float(np.percentile(latencies, 99)),
            "max": float(max(latencies))}


LUA = """
local paths = {{{paths}}}
local counter = 0
local thread_index = 0
local threads = {{}}
function setup(thread)
  thread:set("offset", thread_index)
  thread_index = thread_index + 1
  table.insert(threads, thread)
end
function init(args)
  counter = 0
end
request = function()
  local index = (counter * {threads} + offset) % #paths + 1
  counter = counter + 1
  return wrk.format("GET", paths[index], {{["Authorization"] = "Bearer {token}"}})
end
"""


def run_mix(port: int, paths: list[str], clients: int, seconds: int, root: Path) -> dict[str, float]:
    """wrk with a script that hands out the questions in turn (each asked once while the list lasts)."""
    from api_bench import _unit

    if not shutil.which("wrk"):
        print("    (wrk not found: a Python client sharing the CPU asks the questions in turn)")
        return run_python_client(port, paths[0], clients, seconds, {})
    script = root / "mix.lua"
    threads = 2
    script.write_text(LUA.format(paths=", ".join(f'"{path}"' for path in paths), threads=threads, token=TOKEN))
    command = ["wrk", f"-t{threads}", f"-c{clients}", f"-d{seconds}s", "--latency", "--timeout", "10s",
               "-s", str(script), f"http://127.0.0.1:{port}/"]
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    import re

    figures = {}
    for label in ("50", "99"):
        match = re.search(rf"^\s+{label}%\s+([\d.]+)(us|ms|s|m)\s*$", output, re.M)
        figures[f"p{label}"] = _unit(*match.groups()) if match else float("nan")
    figures["rps"] = float(re.search(r"Requests/sec:\s+([\d.]+)", output).group(1))
    figures["requests"] = float(re.search(r"(\d+) requests in", output).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    figures["errors"] = float(errors.group(1)) if errors else 0.0
    return figures


def report_five(config: Path, *, cold: bool, runs: int = 3) -> tuple[float, float, int]:
    """`roi report --format json` grouped by five dimensions, end to end: the best of `runs` wall
    seconds, that run's CPU seconds (the command's process), and how many cohorts it wrote.
    `cold`: with no valued month kept in the cache folder (the first report after new data), else
    with the one the server kept."""
    import json
    import resource

    roi = Path(sys.executable).with_name("roi")
    output = config.parent / "five.json"
    best = (float("inf"), 0.0)
    for _ in range(runs):
        if cold:
            shutil.rmtree(config.parent / ".roi-cache", ignore_errors=True)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        subprocess.run([str(roi), "--config", str(config), "report", "--period", _periods()[1], "--format", "json",
                        "--group-by", ",".join(DIMENSIONS), "-o", str(output)], check=True, capture_output=True)
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
        best = min(best, (wall, cpu))
    return best[0], best[1], len(json.loads(output.read_bytes())["cohorts"])


def bench_database(label: str, url: str, cells, *, seconds: int, clients: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="roi-query-bench-"))
    server = None
    try:
        config = make_project(root, url, cells)
        port = free_port()
        started = time.perf_counter()
        server = start_server(config, port, 2)
        ready = wait_until_valued(port)
        print(f"{label}: serving after {time.perf_counter() - started - ready:.1f} s, "
              f"months valued {ready:.1f} s later")
        cold = run_cold(port, cold_questions(200, seed=hash(label) % 1000))
        print(f"  cold questions (200, one at a time): p50 {cold['p50']:.1f} ms, p99 {cold['p99']:.1f} ms, "
              f"max {cold['max']:.1f} ms  (target p99 < 100 ms)")
        paths = mix_questions()
        mix = run_mix(port, paths, clients, seconds, root)
        asked = mix.get("requests", 0)
        print(f"  mix of {len(paths):,} distinct questions, {clients} clients, {seconds} s: "
              f"p50 {mix['p50']:.1f} ms, p99 {mix['p99']:.1f} ms, {mix['rps']:,.0f} req/s, "
              f"{asked:,.0f} asked ({min(asked, len(paths)):,.0f} distinct), {mix['errors']:.0f} errors "
              f"(target p99 < 100 ms, >= 500 req/s)")
        kept, kept_cpu, cohorts = report_five(config, cold=False)
        cold_report, cold_cpu, _ = report_five(config, cold=True)
        print(f"  roi report --format json, 5 dimensions, {_periods()[1]} ({cohorts:,} cohorts), best of 3 end to "
              f"end: {kept:.2f} s (CPU {kept_cpu:.2f} s) with the month the server valued, {cold_report:.2f} s "
              f"(CPU {cold_cpu:.2f} s) valuing it first, as after new data (target < 2 s)")
    finally:
        if server is not None:
            stop_server(server)
        shutil.rmtree(root, ignore_errors=True)


def main() -> None:
    seconds = int(os.environ.get("ROI_BENCH_SECONDS", "5"))
    started = time.perf_counter()
    cells = event_cells()
    print(f"{len(cells):,} daily cells from 1,000,000 generated events ({time.perf_counter() - started:.1f} s)")
    root = Path(tempfile.mkdtemp(prefix="roi-query-db-"))
    try:
        bench_database("SQLite", f"sqlite:///{root / 'roi.db'}", cells, seconds=seconds, clients=50)
    finally:
        shutil.rmtree(root, ignore_errors=True)
    base = os.environ.get("ROI_BENCH_POSTGRES_URL") or os.environ.get("ROI_TEST_POSTGRES_URL")
    if base:
        url, drop = _postgres_database(base)
        try:
            bench_database("PostgreSQL", url, cells, seconds=seconds, clients=50)
        finally:
            drop()
    else:
        print("PostgreSQL: skipped (set ROI_TEST_POSTGRES_URL)")


if __name__ == "__main__":
    main()
