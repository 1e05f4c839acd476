"""`roi demo`: the plain demo reconciles and is deterministic; `--upstreams` joins LiteLLM cost and Zendesk outcomes."""

from __future__ import annotations

import json
import socket
from pathlib import Path

import pytest

from roi import services
from roi.cli import main
from roi.config import load_config
from roi.demo import run_demo
from roi.demo.upstreams import PARTNERS, generate, joined_cohorts
from roi.domain import Period
from roi.services import reports
from roi.valuation import ADDITIVE

PERIOD = Period(2026, 10)
REPORT = Path("reports/2026-10/roi-2026-10.json")
# figures that take the fixed cost no cohort carries; net_value loses it
WITH_UNALLOCATED = {"fixed_cost": 1, "total_cost": 1, "net_value": -1}


@pytest.fixture(scope="module")
def plain(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("plain") / "demo"
    lines: list[str] = []
    run_demo(folder, echo=lines.append)
    assert "\nTOTAL " in "\n".join(lines)
    return folder


def _report(folder: Path) -> dict:
    return json.loads((folder / REPORT).read_text(encoding="utf-8"))


def test_plain_demo_totals_reconcile_with_its_cohorts(plain):
    report = _report(plain)
    totals, cohorts = report["totals"], report["cohorts"]
    unallocated = totals["unallocated_fixed_cost"]
    assert unallocated == pytest.approx(150.0)  # the sms pilot has no traffic
    assert sum(item["amount"] for item in report["unallocated_fixed_costs"]) == pytest.approx(unallocated)
    assert len(cohorts) == 13
    for name in ADDITIVE:
        expected = sum(cohort[name] for cohort in cohorts) + WITH_UNALLOCATED.get(name, 0) * unallocated
        assert totals[name] == pytest.approx(expected, abs=1e-6), name
    assert totals["fixed_cost"] == pytest.approx(1200 + 450 + 2000 + 150, abs=1e-6)
    assert totals["cost_per_resolved_case"] == pytest.approx(totals["total_cost"] / totals["net_resolved"])


def test_plain_demo_is_deterministic(plain, tmp_path):
    again = tmp_path / "demo"
    run_demo(again, echo=lambda line: None)
    first, second = _report(plain), _report(again)
    assert first.pop("generated_at") != "" and second.pop("generated_at") != ""
    assert first == second
    assert "gateway" not in (plain / "roi.toml").read_text(encoding="utf-8")


def test_upstreams_demo_joins_litellm_cost_and_zendesk_outcomes(plain, tmp_path, runner, monkeypatch):
    key, token = "sk-test-litellm-key-31d7", "zd-test-token-0b5e"  # non-default keys: both sides read the env
    monkeypatch.setenv("ROI_DEMO_LITELLM_KEY", key)
    monkeypatch.setenv("ROI_DEMO_ZENDESK_TOKEN", token)
    folder = tmp_path / "demo"
    result = runner.invoke(main, ["demo", "--dir", str(folder), "--upstreams"])
    assert result.exit_code == 0, result.output
    assert key not in result.output and token not in result.output
    assert "pulled gateway" in result.output and "pulled helpdesk" in result.output
    assert "equal for all 4 cohorts" in result.output

    settings = load_config(folder / "roi.toml")
    store = services.store_for(settings)
    try:
        frame = reports.build_report(settings, store, PERIOD, ["tenant", "channel"])
    finally:
        store.close()
    report = {(record["cohort"]["tenant"], record["cohort"]["channel"]): record for record in frame.cohort_records()}
    joined = joined_cohorts(generate(PERIOD), PERIOD)
    table = result.output.split("\nJoined cohorts 2026-10:", 1)[1].splitlines()
    assert set(joined) == {(tenant, channel) for tenant in PARTNERS for channel in ("web", "email")}
    for cohort, figures in joined.items():
        record = report[cohort]
        assert figures.calls > 0 and figures.net_resolved > 0
        assert record["requests"] == figures.calls
        assert record["token_cost"] == pytest.approx(figures.cost, rel=1e-9)
        assert record["total_cost"] == pytest.approx(figures.cost, rel=1e-9)  # no fixed cost, no review
        assert (record["resolved"], record["reopened"]) == (figures.resolved, figures.reopened)
        assert record["cost_per_resolved_case"] == pytest.approx(figures.cost / figures.net_resolved, rel=1e-9)
        assert record["escalated"] > 0 and record["abandoned"] > 0
        line = next(line for line in table if line.startswith(f"{cohort[0]} / {cohort[1]} "))
        printed = line.split()
        assert printed[-2] == printed[-1] == f"{figures.cost_per_resolved_case:.4f}"  # joined, and the report's
        assert printed[3:6] == [f"{figures.calls:,}", f"{figures.cost:,.4f}", f"{figures.resolved:,}"]

    # the brands of the plain demo keep their figures: the new sources only add cohorts
    plain_cohorts = {(item["cohort"]["tenant"], item["cohort"]["channel"]): item for item in _report(plain)["cohorts"]}
    for cohort, figures in plain_cohorts.items():
        for name in ADDITIVE:
            assert report[cohort][name] == pytest.approx(figures[name], abs=1e-9), (cohort, name)

    # the servers lived for the run only
    for name in ("gateway", "helpdesk"):
        url = settings.source(name).options["base_url"]
        host, port = url.removeprefix("http://").split(":")
        with pytest.raises(OSError):
            socket.create_connection((host, int(port)), timeout=2).close()


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file's bytes, but SQLite's shared-memory index of the write-ahead log (-shm), which any
    reader of the store rewrites."""
    return {str(path.relative_to(folder)): path.read_bytes() for path in sorted(folder.rglob("*"))
            if path.is_file() and not path.name.endswith("-shm")}


def test_demo_refuses_a_folder_it_did_not_make_and_changes_nothing(tmp_path, runner):
    project = tmp_path / "project"
    project.mkdir()
    (project / "roi.toml").write_text("[service]\ncurrency = 'EUR'\n", encoding="utf-8")
    (project / "roi.db").write_bytes(b"ingested data")
    before = _snapshot(project)
    result = runner.invoke(main, ["demo", "--dir", str(project)])
    assert result.exit_code == 2
    assert result.stderr == (f"error: --dir: {project} is not empty and is not a folder roi demo made (no .roi-demo "
                             "in it); give a new or empty folder\n")
    assert _snapshot(project) == before
    file = tmp_path / "file"
    file.write_text("x", encoding="utf-8")
    assert runner.invoke(main, ["demo", "--dir", str(file)]).exit_code == 2 and file.read_text() == "x"


def test_demo_rebuilds_its_own_folder_but_refuses_one_with_closed_months(plain, tmp_path, runner):
    import shutil

    import time_machine

    own = tmp_path / "own"
    shutil.copytree(plain, own)
    assert (own / ".roi-demo").is_file()
    lines: list[str] = []
    run_demo(own, echo=lines.append)  # its own folder, nothing closed: rebuilt
    assert _report(own)["totals"] == _report(plain)["totals"]
    assert lines[-2].startswith("next: ") and "--config" in lines[-2] and lines[-2].split()[1].endswith("roi")
    with time_machine.travel("2026-11-15T12:00:00Z", tick=False):
        closed = runner.invoke(main, ["--config", str(own / "roi.toml"), "close", "--period", "2026-09"])
        assert closed.exit_code == 0, closed.output
    before = _snapshot(own)
    refused = runner.invoke(main, ["demo", "--dir", str(own)])
    assert refused.exit_code == 2
    assert refused.stderr == (f"error: --dir: {own} holds closed months (2026-09 r1) that a new demo would drop; "
                              "remove the folder to start again, or give another --dir\n")
    assert _snapshot(own) == before
