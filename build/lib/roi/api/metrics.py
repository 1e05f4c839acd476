"""Prometheus metrics: requests, latencies, cache use and job runs (prometheus_client only here, no Flask).

Under `roi serve` every worker is its own process, so the server sets
PROMETHEUS_MULTIPROC_DIR first and each scrape sums the files of all workers.
Job runs are read from the store at each scrape, so they count whichever process
ran the job. prometheus_client picks its
storage when it is first imported, so it is imported (and the metrics made) when
an app is created (`prepare()`, before the worker serves), never when roi.api is
imported; made under a lock, as the threads of a worker share them.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime
from types import SimpleNamespace

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


_made: SimpleNamespace | None = None
_making = threading.Lock()


def prepare() -> None:
    """Make the metrics now (create_app calls it, so a worker serves with them made)."""
    _metrics()


def _metrics() -> SimpleNamespace:
    """The metrics of this process, made once: two threads registering them at once would
    make prometheus_client raise DuplicateTimeseries."""
    if _made is not None:
        return _made
    with _making:
        if _made is None:
            _make()
    assert _made is not None
    return _made


def _make() -> None:
    global _made
    from prometheus_client import Counter, Histogram

    _made = SimpleNamespace(
        requests=Counter("roi_http_requests_total", "HTTP requests answered.", ["method", "endpoint", "status"]),
        latency=Histogram(
            "roi_http_request_duration_seconds",
            "Time to answer an HTTP request.",
            ["method", "endpoint"],
            buckets=_LATENCY_BUCKETS,
        ),
        cache=Counter("roi_api_cache_total", "Answers served from the per-process cache, or computed.", ["result"]),
    )


def multiprocess_dir() -> str | None:
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR") or None


def record_request(method: str, endpoint: str, status: int, seconds: float) -> None:
    found = _metrics()
    found.requests.labels(method, endpoint, str(status)).inc()
    found.latency.labels(method, endpoint).observe(seconds)


def record_cache(hit: bool) -> None:
    _metrics().cache.labels("hit" if hit else "computed").inc()


class _JobRuns:
    """Job runs as the store records them, whichever process ran them (scheduler, CLI, API)."""

    def __init__(self, summary: list[tuple[str, str, int, datetime | None]]):
        self.summary = summary

    def collect(self):
        from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily

        runs = CounterMetricFamily("roi_job_runs", "Job runs by job and status.", labels=["job", "status"])
        last = GaugeMetricFamily(
            "roi_job_last_finished_timestamp_seconds", "When the latest run of a job with this status finished.",
            labels=["job", "status"],
        )
        for job, status, count, finished in self.summary:
            runs.add_metric([job, status], count)
            if finished is not None:
                moment = finished if finished.tzinfo else finished.replace(tzinfo=UTC)
                last.add_metric([job, status], moment.timestamp())
        return [runs, last]


def exposition(job_runs: list[tuple[str, str, int, datetime | None]]) -> bytes:
    """The Prometheus text of this process (all processes under `roi serve`), and the job runs."""
    _metrics()  # the series exist (at 0) before the first request is counted
    from prometheus_client import REGISTRY, CollectorRegistry, generate_latest

    path = multiprocess_dir()
    if path is None:
        text = generate_latest(REGISTRY)
    else:
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry, path=path)
        text = generate_latest(registry)
    jobs = CollectorRegistry()
    jobs.register(_JobRuns(job_runs))
    return text + generate_latest(jobs)
