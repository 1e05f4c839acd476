"""Prometheus metrics: requests, latencies, cache use and job runs (prometheus_client only here, no Flask).

Under `roi serve` every worker is its own process, so the server sets
PROMETHEUS_MULTIPROC_DIR first and each scrape sums the files of all workers and
of the master (where the scheduler runs jobs). prometheus_client picks its
storage when it is first imported, so it is imported (and the metrics made) on
first use, never when roi.api is imported.
"""

from __future__ import annotations

import functools
import os
from types import SimpleNamespace

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@functools.cache
def _metrics() -> SimpleNamespace:
    from prometheus_client import Counter, Histogram

    return SimpleNamespace(
        requests=Counter("roi_http_requests_total", "HTTP requests answered.", ["method", "endpoint", "status"]),
        latency=Histogram(
            "roi_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "endpoint"],
            buckets=_LATENCY_BUCKETS,
        ),
        cache=Counter("roi_api_cache_total", "Answers served from the per-process cache, or computed.", ["result"]),
        job_runs=Counter("roi_job_runs_total", "Scheduled job runs.", ["job", "status"]),
        job_duration=Histogram(
            "roi_job_duration_seconds", "Time a scheduled job ran.", ["job"],
            buckets=(0.1, 0.5, 1, 5, 15, 60, 300, 900, 3600),
        ),
    )


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def record_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    found = _metrics()
    found.requests.labels(method, endpoint, str(status)).inc()
    found.latency.labels(method, endpoint).observe(seconds)


def record_cache(hit: bool) -> None:
    _metrics().cache.labels("hit" if hit else "computed").inc()


def record_job_run(job: str, status: str, seconds: float) -> None:
    """For the scheduler: one finished run of `job` (status 'ok' or 'failed')."""
    found = _metrics()
    found.job_runs.labels(job, status).inc()
    found.job_duration.labels(job).observe(seconds)


def exposition() -> bytes:
    """The Prometheus text of this process, or of all processes under `roi serve`."""
    _metrics()  # the series exist (at 0) before the first request is counted
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    path = multiprocess_dir()
    if path is None:
        return generate_latest(REGISTRY)
    from prometheus_client import multiprocess

    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=path)
    return generate_latest(registry)


def mark_process_dead(pid: int) -> None:
    """gunicorn's child_exit hook: drop a dead worker's live gauges (its counters stay summed)."""
    if multiprocess_dir() is not None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)
