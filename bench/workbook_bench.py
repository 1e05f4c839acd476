"""Workbook benchmark: the finance workbook of 1,000 cohorts with 12 months of trend.

Stores 250 tenants x 4 channels (1,000 cohorts) x 2 models x 12 months of daily
cells (about 730,000 cells) in SQLite, with two value models (one changing
version mid-month) and two fixed costs, then times `services.reports.build_report` and `services.workbook.workbook_for`
(report frame, 11 earlier months valued for the trend, data quality, layout,
rendering) in a fresh process and reports its peak memory (ru_maxrss of that
process, imports included; with --trace also the Python allocation peak from
tracemalloc, a slow second run). Targets: under 10 s and under 1 GB.

Run alone: .venv/bin/python bench/workbook_bench.py [--trace]
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import tempfile
import textwrap
import time
import tracemalloc
from datetime import date
from pathlib import Path

import numpy as np
from synthetic import last_months, store_months

TENANTS = 250
CHANNELS = ("web", "chat", "email", "voice")
MODELS = ("gpt-4o-mini", "gpt-4o")
MONTHS = 12
TARGET_SECONDS = 10.0
TARGET_BYTES = 1 << 30
CONFIG = """
[service]
database_url = "sqlite:///{db}"
currency = "USD"
timezone = "UTC"

[report]
group_by = ["tenant", "channel"]

[[fixed_costs]]
name = "platform"
amount = 5000.0
allocate_by = "requests"

[[fixed_costs]]
name = "voice-line"
amount = 1200.0
allocate_by = "cases"
match = {{ channel = "voice" }}

[[assignments]]
match = {{ channel = "voice" }}
model = "voice"
[[assignments]]
match = {{}}
model = "support"
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
[[versions]]
effective_from = {change}
value_per_resolution = {value2}
escalation_cost = 2.5
reopen_cost = 8.0
abandonment_cost = 0.75
review_cost_per_hour = 50.0
"""


def make_project(root: Path) -> Path:
    from roi.config import load_config
    from roi.services import store_for

    months = last_months(MONTHS)
    last_year, last_month = months[-1]
    change = date(last_year, last_month, 15).isoformat()
    (root / "models").mkdir(parents=True, exist_ok=True)
    (root / "models" / "support.toml").write_text(MODEL.format(name="support", value=6.5, value2=7.0, change=change))
    (root / "models" / "voice.toml").write_text(MODEL.format(name="voice", value=9.0, value2=9.5, change=change))
    config = root / "roi.toml"
    config.write_text(textwrap.dedent(CONFIG.format(db=root / "roi.db")))
    store = store_for(load_config(config))
    cells = store_months(store, months, np.random.default_rng(11), tenants=TENANTS, channels=CHANNELS,
                         models=MODELS, unpriced_model="gpt-4o")
    store.engine.dispose()
    print(f"  stored {TENANTS * len(CHANNELS):,} cohorts x {len(MODELS)} models x {MONTHS} months: {cells:,} cells")
    return config


def measure(config: Path, trace: bool) -> dict[str, float]:
    """Build the workbook of the last month once; runs in a fresh process."""
    from roi import services
    from roi.config import load_config
    from roi.domain import Period
    from roi.services import reports, workbook

    settings = load_config(config)
    store = services.store_for(settings)
    year, month = last_months(MONTHS)[-1]
    if trace:
        tracemalloc.start()
    started, cpu = time.perf_counter(), time.process_time()
    period = Period(year, month)
    content = workbook.workbook_for(settings, store, reports.build_report(settings, store, period))
    seconds = time.perf_counter() - started
    figures = {"seconds": seconds, "cpu": time.process_time() - cpu, "bytes": len(content),
               "maxrss": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024}
    if trace:
        figures["traced_peak"] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return figures


def _child(config: Path, trace: bool) -> dict[str, float]:
    command = [sys.executable, __file__, "--measure", str(config)] + (["--trace"] if trace else [])
    output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def main(trace: bool = False) -> None:
    print(f"workbook: {TENANTS * len(CHANNELS):,} cohorts, {MONTHS} months of trend")
    with tempfile.TemporaryDirectory(prefix="roi-workbook-bench-") as folder:
        config = make_project(Path(folder))
        timed = _child(config, trace=False)
        traced = _child(config, trace=True) if trace else None
    mib = 1024 * 1024
    ok_time = timed["seconds"] < TARGET_SECONDS
    ok_memory = timed["maxrss"] < TARGET_BYTES
    print(f"  build_workbook: {timed['seconds']:.2f} s (target < {TARGET_SECONDS:.0f} s) "
          f"{'ok' if ok_time else 'MISSED'}, {timed['cpu']:.2f} s of CPU (the same on a busy machine); "
          f"workbook {timed['bytes'] / mib:.1f} MiB")
    print(f"  peak memory: {timed['maxrss'] / mib:.0f} MiB resident, whole process (target < 1024 MiB) "
          f"{'ok' if ok_memory else 'MISSED'}")
    if traced is not None:
        print(f"  Python allocations peak (tracemalloc): {traced['traced_peak'] / mib:.0f} MiB "
              f"(traced run {traced['seconds']:.1f} s)")


if __name__ == "__main__":
    if len(sys.argv) >= 3 and sys.argv[1] == "--measure":
        print(json.dumps(measure(Path(sys.argv[2]), "--trace" in sys.argv)))
    else:
        main(trace="--trace" in sys.argv)
