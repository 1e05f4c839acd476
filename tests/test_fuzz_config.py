"""Damaged configs and value models: `roi config check` and `roi report` refuse them with one line per
problem naming the file, never a traceback, and nothing non-finite passes (issue: bad config never costs
money)."""

from __future__ import annotations

import math
import os

from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from roi.cli import main
from tests.conftest import BASE_MODEL

EXAMPLES = int(os.environ.get("ROI_FUZZ_EXAMPLES", "40"))

# values a damaged line may take: wrong types, non-finite and huge numbers, far dates, injections
VALUES = st.sampled_from([
    "inf", "-inf", "nan", "+inf", "1e400", "-1", "0", "1e-320", '"12"', '"${NOT_SET_ANYWHERE}"', "true", "[]",
    "{}", "2026-13-45", "0001-01-01", "9999-12-31", '"=1+1"', '"\\u0000"', '"x"', "0x10", "1_000", "'''a'''",
])


def _damage(text: str, data) -> str:
    lines = text.splitlines()
    for _ in range(data.draw(st.integers(1, 3), label="damages")):
        index = data.draw(st.integers(0, len(lines) - 1), label="line")
        kind = data.draw(st.sampled_from(["value", "drop", "duplicate", "bytes", "key"]), label="kind")
        line = lines[index]
        if kind == "value" and "=" in line and not line.lstrip().startswith("#"):
            lines[index] = line.split("=", 1)[0] + "= " + data.draw(VALUES, label="value")
        elif kind == "drop":
            del lines[index]
        elif kind == "duplicate":
            lines.insert(index, line)
        elif kind == "bytes":
            cut = data.draw(st.integers(0, len(line)), label="cut")
            lines[index] = line[:cut] + data.draw(st.text(max_size=4), label="text") + line[cut:]
        elif kind == "key" and "=" in line:
            lines[index] = data.draw(st.sampled_from(["colour", "amout", "grup_by", "[x"]), label="key") + " =" + \
                line.split("=", 1)[1]
        if not lines:
            lines = [""]
    return "\n".join(lines) + "\n"


def _problems(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("error: ")]


@settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data(), which=st.sampled_from(["config", "model"]))
def test_a_damaged_config_or_model_is_refused_by_name_or_runs_with_finite_figures(project, runner, data, which):
    project.write_data("events.csv", "event_id,ts,tenant,channel,input_tokens,output_tokens,cost_usd,outcome\n"
                                     "e1,2026-01-10T10:00:00Z,acme,web,100,20,0.25,resolved\n")
    project.write_config()  # the fixture's project is shared by the examples: each damages a fresh copy
    project.write_model("support", BASE_MODEL)
    target = project.config_path if which == "config" else project.root / "models" / "support.toml"
    target.write_bytes(_damage(target.read_text(), data).encode("utf-8", "surrogatepass"))
    checked = runner.invoke(main, ["--config", str(project.config_path), "config", "check"])
    assert checked.exit_code in (0, 2), checked.output
    event(f"config check exit {checked.exit_code}")
    assert "Traceback" not in checked.output and checked.exception is None or isinstance(checked.exception,
                                                                                           SystemExit)
    if checked.exit_code == 2:
        problems = _problems(checked.stderr)
        assert problems and all(target.name in line or "roi.toml" in line for line in problems), checked.stderr
        return
    ingested = runner.invoke(main, ["--config", str(project.config_path), "ingest"])
    assert ingested.exit_code in (0, 1, 2) and not isinstance(ingested.exception, Exception) or \
        isinstance(ingested.exception, SystemExit), ingested.output
    report = runner.invoke(main, ["--config", str(project.config_path), "report", "--period", "2026-01",
                                  "--format", "json"])
    assert report.exit_code in (0, 1, 2), report.output
    event(f"report exit {report.exit_code}")
    assert "Traceback" not in report.output
    if report.exit_code == 0:
        import json

        document = json.loads(report.stdout)
        for record in [*document["cohorts"], document["totals"]]:
            for name, value in record.items():
                if isinstance(value, float):
                    assert math.isfinite(value), (name, value)
