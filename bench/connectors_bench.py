"""Throughput of the record-at-a-time connectors: OTLP spans from a file, LiteLLM logs from a local server.

Run alone with `.venv/bin/python bench/connectors_bench.py`.
"""

from __future__ import annotations

import json
import tempfile
import textwrap
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from werkzeug.serving import make_server
from werkzeug.wrappers import Request, Response

from roi import services
from roi.config import load_config
from roi.connectors import Window
from roi.services import batches

SPANS = 50_000
LOGS = 20_000
MODEL = """
name = "support"
currency = "USD"
[[versions]]
effective_from = 2025-01-01
value_per_resolution = 5.0
"""


def _project(root: Path, sources: str) -> Path:
    (root / "models").mkdir()
    (root / "models" / "support.toml").write_text(textwrap.dedent(MODEL))
    config = root / "roi.toml"
    config.write_text(f'[service]\ndatabase_url = "sqlite:///{root / "roi.db"}"\n\n[[assignments]]\nmatch = {{}}\n'
                      f'model = "support"\n{sources}')
    return config


def _otlp_line(index: int) -> str:
    spans = [{
        "traceId": f"{index:032x}", "spanId": f"{n + 1:016x}", "name": "chat",
        "startTimeUnixNano": str(1764583200_000_000_000 + (index * 100 + n) * 1_000_000),
        "attributes": [
            {"key": "gen_ai.operation.name", "value": {"stringValue": "chat"}},
            {"key": "gen_ai.provider.name", "value": {"stringValue": "openai"}},
            {"key": "gen_ai.request.model", "value": {"stringValue": "gpt-4o-mini"}},
            {"key": "gen_ai.usage.input_tokens", "value": {"intValue": "1200"}},
            {"key": "gen_ai.usage.output_tokens", "value": {"intValue": "300"}},
        ],
    } for n in range(100)]
    return json.dumps({"resourceSpans": [{"resource": {"attributes": [
        {"key": "tenant.id", "value": {"stringValue": f"t{index % 20}"}}]}, "scopeSpans": [{"spans": spans}]}]})


def bench_otlp() -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        (root / "traces").mkdir()
        (root / "traces" / "a.jsonl").write_text("\n".join(_otlp_line(i) for i in range(SPANS // 100)) + "\n")
        config = _project(root, '[[sources]]\nname = "otel"\ntype = "otlp"\npath = "traces/*.jsonl"\n'
                                '[sources.dimensions]\ntenant = "resource.tenant.id"\n')
        settings = load_config(config)
        store = services.store_for(settings)
        started = time.perf_counter()
        run = batches.ingest_source(settings, store, settings.source("otel"))
        seconds = time.perf_counter() - started
        print(f"otlp: {run.stored:,} spans in {seconds:.2f}s = {run.stored / seconds:,.0f} spans/s")


def bench_litellm() -> None:
    rows = [{"request_id": f"r{i}", "startTime": f"2025-12-01T{i % 24:02d}:00:00Z", "spend": 0.001,
             "prompt_tokens": 100, "completion_tokens": 20, "model": "gpt-4o-mini", "custom_llm_provider": "openai",
             "end_user": f"c{i % 50}", "status": "success", "request_tags": ["channel:chat"], "metadata": {}}
            for i in range(LOGS)]

    @Request.application
    def app(request: Request) -> Response:
        page, size = int(request.args["page"]), int(request.args["page_size"])
        body = {"data": rows[(page - 1) * size: page * size], "total": len(rows), "page": page, "page_size": size,
                "total_pages": -(-len(rows) // size)}
        return Response(json.dumps(body), mimetype="application/json")

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        with tempfile.TemporaryDirectory() as folder:
            config = _project(Path(folder), f'[[sources]]\nname = "gw"\ntype = "litellm"\n'
                                            f'base_url = "http://127.0.0.1:{server.server_port}"\napi_key = "k-123456"\n')
            settings = load_config(config)
            store = services.store_for(settings)
            window = Window(datetime(2025, 12, 1, tzinfo=UTC), datetime(2025, 12, 2, tzinfo=UTC))
            started = time.perf_counter()
            run = batches.ingest_source(settings, store, settings.source("gw"), window=window)
            seconds = time.perf_counter() - started
            print(f"litellm: {run.stored:,} logs in {seconds:.2f}s over {LOGS // 100} pages of 100 "
                  f"= {run.stored / seconds:,.0f} logs/s (local server)")
    finally:
        server.shutdown()
        server.server_close()


def main() -> None:
    bench_otlp()
    bench_litellm()


if __name__ == "__main__":
    main()
