"""`make bench`: every benchmark in turn, each printing its figures and ratios."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

BENCHMARKS = ["ingest_bench", "workbook_bench", "api_bench", "query_bench", "sql_bench", "risk_bench", "dashboard_bench"]


def main() -> None:
    only = sys.argv[1:] or BENCHMARKS
    for name in only:
        module = importlib.import_module(name)
        print(f"\n### {name}", flush=True)
        module.main()


if __name__ == "__main__":
    main()
