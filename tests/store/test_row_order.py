"""A figure finance reads does not depend on the order rows are stored or returned in (issue 12, item 18).

The same events, ingested as batches in two different orders, on SQLite and on PostgreSQL, give
bit-identical report JSON: fractional metrics are summed in exact units and cells come back in
one order (day, then dimensions by code point) whatever the database's collation."""

from __future__ import annotations

import gc
import json
import warnings

from click.testing import CliRunner

from roi.cli import main
from tests.conftest import PG_URL, Project, _drop_pg_database, _fresh_pg_database, _sqlite_url

# 0.1 + 0.2 + 0.3 is 0.6000000000000001 one way round and 0.6 the other; 5.61 likewise comes out
# as 5.609999999999999 for some orders of its parts
PARTS = [0.1, 0.2, 0.3, 1.87, 1.87, 1.87, 0.7, 0.01, 0.05, 2.03]
TENANTS = ["acme", "Ähnlich", "zeta", "Zulu", "élan", "b"]  # code point order differs from a locale's
HEADER = ("event_id,ts,tenant,channel,topic,provider,model,input_tokens,output_tokens,cached_input_tokens,"
          "cost_usd,outcome,human_review_minutes")


def _batches() -> list[str]:
    """Ten files; each puts one part of every cell's review minutes and cost in the same cells."""
    files = []
    for index, part in enumerate(PARTS):
        lines = [HEADER]
        for day in (3, 4):
            for number, tenant in enumerate(TENANTS):
                outcome = ("resolved", "escalated", "abandoned")[(index + number) % 3]
                lines.append(f"f{index}-{day}-{number},2026-01-{day:02d}T10:00:00Z,{tenant},web,billing,openai,"
                             f"gpt-4o-mini,100,10,0,{part * (number + 1) / 7},{outcome},{part * (number + 1)}")
        files.append("\n".join(lines) + "\n")
    return files


def _report(project: Project, files: list[str]) -> str:
    runner = CliRunner()
    for name, text in files:
        project.write_data(name, text)
        result = runner.invoke(main, ["--config", str(project.config_path), "ingest"])  # one batch at a time
        assert result.exit_code == 0, result.output
    result = runner.invoke(main, ["--config", str(project.config_path), "report", "--period", "2026-01",
                                  "--group-by", "tenant"])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert result.exit_code == 0, result.output
    document = json.loads(result.stdout)
    return json.dumps({"cohorts": document["cohorts"], "totals": document["totals"]}, sort_keys=True)


def test_the_same_cells_in_any_order_on_either_store_give_the_same_bits(tmp_path):
    batches = _batches()
    orders = {
        "forward": [(f"b{index:02d}.csv", text) for index, text in enumerate(batches)],
        "reverse": [(f"b{index:02d}.csv", text) for index, text in enumerate(reversed(batches))],
        "shuffled": [(f"b{index:02d}.csv", batches[(index * 7) % len(batches)]) for index in range(len(batches))],
    }
    stores = {"sqlite": None, "postgresql": None} if PG_URL else {"sqlite": None}
    answers = {}
    for store in stores:
        for order, files in orders.items():
            root = tmp_path / f"{store}-{order}"
            root.mkdir()
            if store == "sqlite":
                url, dropped = _sqlite_url(root), None
            else:
                url, dropped = _fresh_pg_database()
            try:
                project = Project(root, url)
                from tests.conftest import BASE_MODEL

                project.write_model("support", BASE_MODEL)
                project.write_config()
                answers[(store, order)] = _report(project, files)
            finally:
                if dropped:
                    _drop_pg_database(dropped)
    first = next(iter(answers.values()))
    assert "0.6000000000000001" not in first and "5.609999999999999" not in first
    for key, answer in answers.items():
        assert answer == first, key
