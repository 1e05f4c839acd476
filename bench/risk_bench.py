"""Risk benchmark: Monte Carlo bands, sensitivity and the change bridge, from the stored months.

Two SQLite projects of synthetic daily cells (bench/synthetic.py's shape), four value models
(one per channel) whose five assumptions are all ranges: 20 uncertain parameters, one model
changing version mid-month.

1. bands: 10,000 draws x 1,000 cohorts (250 tenants x 4 channels, 30,000 cells a month), end to
   end in a fresh process: the month's cells read from the store and valued, then the bands;
   wall and CPU time, and the process's peak RSS (imports included). Targets: < 1 s, < 500 MB.
   Then the same with `[uncertainty] outcome_rates = true` (each cohort's resolution rate drawn
   too, from its own stream): same targets.
2. sensitivity: 20 parameters x 1,000 cohorts, from the valued month. Target: < 1 s.
3. the change bridge of 36,000 cohorts (9,000 tenants x 4 channels, 3 days of cells each in
   two months), from the two valued months. Target: < 2 s.

Each line also gives the report (services.reports.build_report) of the same question from the
same valued month, measured in the same process, as the reference.

Run alone: .venv/bin/python bench/run.py risk_bench
"""

from __future__ import annotations

import json
import os
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd

CHANNELS = ("web", "chat", "email", "voice")
MONTHS = ((2026, 8), (2026, 9))
TARGETS = {"bands": 1.0, "bands with drawn rates": 1.0, "sensitivity": 1.0, "changes": 2.0}
TARGET_BYTES = 500 * 1024 * 1024
CONFIG = """
[service]
database_url = "sqlite:///{db}"
currency = "USD"
timezone = "UTC"
cache_dir = ""

[report]
group_by = ["tenant", "channel"]

[uncertainty]
draws = 10000
seed = 1
outcome_rates = {outcome_rates}

[[fixed_costs]]
name = "platform"
amount = 5000.0
allocate_by = "requests"

{assignments}
"""
MODEL = """
name = "{name}"
currency = "USD"
[[versions]]
effective_from = 2020-01-01
value_per_resolution = {{ low = {value_low}, mode = {value}, high = {value_high} }}
escalation_cost = {{ low = 1.5, mode = 2.0, high = 3.0 }}
reopen_cost = {{ mean = 9.0, sd = 1.5 }}
abandonment_cost = {{ low = 0.0, mode = 0.5, high = 1.5 }}
review_cost_per_hour = {{ mean = 45.0, sd = 6.0 }}
[[versions]]
effective_from = {change}
value_per_resolution = {{ low = {value_low}, mode = {value2}, high = {value_high} }}
escalation_cost = {{ low = 1.5, mode = 2.5, high = 3.5 }}
reopen_cost = {{ mean = 8.0, sd = 1.5 }}
abandonment_cost = {{ low = 0.0, mode = 0.75, high = 1.5 }}
review_cost_per_hour = {{ mean = 50.0, sd = 6.0 }}
"""


def cells_of(year: int, month: int, rng: np.random.Generator, tenants: int, days: int) -> pd.DataFrame:
    first = pd.Timestamp(year=year, month=month, day=1)
    dates = pd.date_range(first, periods=days, freq=f"{max(28 // days, 1)}D").date
    names = np.array([f"tenant-{index:05d}" for index in range(tenants)], dtype=object)
    grid = pd.MultiIndex.from_product([dates, names, CHANNELS], names=["day", "tenant", "channel"]).to_frame(
        index=False)
    count = len(grid)
    for name, value in (("topic", ""), ("language", "en"), ("plan_tier", ""), ("provider", "openai"),
                        ("model", "gpt-4o-mini")):
        grid[name] = value
    requests = rng.integers(5, 60, count)
    grid["requests"] = requests
    grid["input_tokens"] = requests * 900
    grid["output_tokens"] = requests * 200
    grid["cached_input_tokens"] = requests * 100
    grid["token_cost"] = requests * rng.uniform(0.0005, 0.002, count)
    grid["unpriced_requests"] = 0
    grid["resolved"] = rng.integers(0, 20, count)
    grid["escalated"] = rng.integers(0, 5, count)
    grid["abandoned"] = rng.integers(0, 3, count)
    grid["reopened"] = rng.integers(0, 2, count)
    grid["human_review_minutes"] = rng.uniform(0, 10, count)
    return grid


def make_project(root: Path, tenants: int, days: int) -> Path:
    import uuid
    from datetime import UTC, datetime

    from roi.config import load_config
    from roi.services import store_for
    from roi.store import BatchResult

    (root / "models").mkdir(parents=True, exist_ok=True)
    rules = []
    for index, channel in enumerate(CHANNELS):
        value = 6.0 + index
        (root / "models" / f"{channel}.toml").write_text(MODEL.format(
            name=channel, value=value, value2=value + 0.5, value_low=value - 2, value_high=value + 3,
            change="2026-09-15" if channel == "web" else "2030-01-01"))
        rules.append(f'[[assignments]]\nmatch = {{ channel = "{channel}" }}\nmodel = "{channel}"\n')
    rules.append('[[assignments]]\nmatch = {}\nmodel = "web"\n')
    config = root / "roi.toml"
    for path, rates in ((config, "false"), (root / "roi-rates.toml", "true")):
        path.write_text(textwrap.dedent(CONFIG.format(db=root / "roi.db", assignments="\n".join(rules),
                                                      outcome_rates=rates)))
    store = store_for(load_config(config))
    rng = np.random.default_rng(17)
    for year, month in MONTHS:
        cells = cells_of(year, month, rng, tenants, days)
        store.replace_batch(source="bench", key=f"{year}-{month}", label=f"{year}-{month}",
                            fingerprint=uuid.uuid4().hex, started_at=datetime(2026, 10, 1, tzinfo=UTC), cells=cells,
                            rejects=[], result=BatchResult(rows_read=len(cells), rows_stored=len(cells)))
    store.engine.dispose()
    return config


def measure(config: Path, task: str) -> dict[str, float]:
    """One task in a fresh process (its peak RSS is the task's, imports included)."""
    from roi import services
    from roi.config import load_config
    from roi.domain import Period
    from roi.process_tuning import freeze_imports
    from roi.services import reports, risk
    from roi.services.valued import ValuedMonths

    settings = load_config(config)
    store = services.store_for(settings)
    freeze_imports()  # as the roi command does once its imports are done (roi.cli)
    period = Period(*MONTHS[-1])
    started, cpu = time.perf_counter(), time.process_time()
    months = ValuedMonths(settings, store, files=False)
    month = months.get(period)
    if task == "changes":
        months.get(period.previous())
    valued = time.perf_counter() - started
    run, run_cpu = time.perf_counter(), time.process_time()
    if task.startswith("bands"):
        result = risk.bands(settings, store, period, months=months)
        cohorts, extra = len(result.figures["net_value_p50"]), len(result.parameters)
    elif task == "sensitivity":
        result = risk.tornado(settings, store, period, months=months)
        cohorts, extra = len(result.net_value), len(result.swings)
    else:
        result = risk.change_bridge(settings, store, period, months=months)
        cohorts, extra = len(result.previous), float(result.totals["change"])
    seconds, cpu_seconds = time.perf_counter() - run, time.process_time() - run_cpu
    total, total_cpu = time.perf_counter() - started, time.process_time() - cpu
    reference = time.perf_counter()
    reports.build_report(settings, store, period, months=months, detail=False)
    report_seconds = time.perf_counter() - reference
    store.engine.dispose()
    return {"task": task, "cells": month.cell_count, "cohorts": cohorts, "extra": extra, "valued": valued,
            "seconds": seconds, "cpu": cpu_seconds, "total": total, "total_cpu": total_cpu,
            "report": report_seconds, "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}


def _child(config: Path, task: str) -> dict[str, float]:
    # BLAS on one thread, as the `roi` command runs it (roi.process_tuning.limit_blas_threads)
    environment = {"OPENBLAS_NUM_THREADS": "1", **os.environ}
    output = subprocess.run([sys.executable, __file__, "--measure", str(config), task], capture_output=True,
                            text=True, check=True, env=environment).stdout
    return json.loads(output.strip().splitlines()[-1])


def main() -> None:
    mib = 1024 * 1024
    with tempfile.TemporaryDirectory(prefix="roi-risk-bench-") as folder:
        small = make_project(Path(folder) / "small", tenants=250, days=30)
        large = make_project(Path(folder) / "large", tenants=9_000, days=3)
        print("machine shared with other work: compare the ratios and CPU seconds, not only the wall times")
        rates = small.with_name("roi-rates.toml")
        for config, task in ((small, "bands"), (rates, "bands with drawn rates"), (small, "sensitivity"),
                             (large, "changes")):
            found = _child(config, task)
            target = TARGETS[task]
            drawn = f"10,000 draws x {found['cohorts']:,} cohorts, {found['extra']} parameters"
            what = {"bands": drawn, "bands with drawn rates": f"{drawn} and each cohort's resolution rate",
                    "sensitivity": f"{found['extra']} parameters x {found['cohorts']:,} cohorts",
                    "changes": f"bridge of {found['cohorts']:,} cohorts"}[task]
            banded = task.startswith("bands")
            ok = found["seconds"] < target and (not banded or found["total"] < target)
            print(f"  {task}: {what}: {found['seconds']:.3f} s ({found['cpu']:.3f} s CPU); end to end from the "
                  f"store ({found['cells']:,} cells a month, valued {found['valued']:.3f} s): {found['total']:.3f} s "
                  f"({found['total_cpu']:.3f} s CPU); peak RSS {found['maxrss'] / mib:.0f} MB; the report of the "
                  f"same question {found['report']:.3f} s (ratio {found['seconds'] / found['report']:.1f}x)")
            memory_ok = not banded or found["maxrss"] < TARGET_BYTES
            print(f"    target < {target:g} s{' and < 500 MB' if banded else ''}: "
                  f"{'ok' if ok and memory_ok else 'MISSED'}")


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]), sys.argv[3])))
    else:
        main()
