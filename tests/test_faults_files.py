"""Files roi writes are whole or not there, follow the umask, and a close completes or leaves nothing."""

from __future__ import annotations

import gc
import os
import stat
import warnings
from datetime import UTC, datetime
from pathlib import Path

import pytest
import time_machine
from click.testing import CliRunner
from excel_scenario import cli, json_report, make_scenario
from mounts import fill, tmpfs
from openpyxl import load_workbook

from roi import services
from roi.cli import main
from roi.config import load_config
from roi.domain import Period
from roi.errors import RoiError
from roi.services import periods, reports
from roi.services.files import write_atomically
from roi.services.jobs import REPORT_JOB, JobRunner

MARCH = Period(2026, 3)


def run(config: Path, *args: str):
    """The CLI as a user runs it: whatever its exit code, no exception escapes."""
    result = CliRunner().invoke(main, ["--config", str(config), *args])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ResourceWarning)
        gc.collect()
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    assert "Traceback" not in result.output
    return result


def _state(config: Path, period: Period = MARCH):
    settings = load_config(config)
    store = services.store_for(settings)
    try:
        return periods.period_state(store, period)
    finally:
        store.close()


def _leftovers(folder: Path) -> list[str]:
    return sorted(name for name in os.listdir(folder) if name.endswith(".tmp"))


def test_a_full_disk_leaves_the_old_file_whole_and_the_error_names_the_path(tmp_path):
    with tmpfs(tmp_path / "disk", size_kib=64) as disk:
        target = disk / "report.xlsx"
        target.write_bytes(b"the good old report")
        fill(disk, leave=2048)
        with pytest.raises(RoiError) as caught:
            write_atomically(target, os.urandom(16 * 1024))
        assert str(caught.value) == f"{target}: cannot write: No space left on device"
        assert target.read_bytes() == b"the good old report"
        assert _leftovers(disk) == []


def test_report_o_on_a_full_disk_keeps_the_good_file_and_says_which_path(tmp_path):
    config = make_scenario(tmp_path / "project")
    good = cli(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(tmp_path / "good.xlsx"))
    assert good.exit_code == 0
    with tmpfs(tmp_path / "disk", size_kib=128) as disk:
        target = disk / "roi.xlsx"
        old = (tmp_path / "good.xlsx").read_bytes()
        assert len(old) < 120 * 1024, "the workbook must fit the small disk for this test"
        target.write_bytes(old)
        fill(disk, leave=1024)  # far less than a workbook
        result = run(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(target))
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines()[-1] == f"error: {target}: cannot write: No space left on device"
        assert target.read_bytes() == old
        load_workbook(target)  # still a whole workbook
        assert _leftovers(disk) == []


def test_close_on_a_full_disk_leaves_the_month_open_then_closes_it_once_there_is_room(tmp_path, database_url):
    config = make_scenario(tmp_path / "project", database_url)
    with tmpfs(tmp_path / "disk", size_kib=64) as disk:
        fill(disk, leave=1024)
        target = disk / "march.xlsx"
        result = run(config, "close", "--period", "2026-03", "-o", str(target))
        assert result.exit_code == 1
        assert result.stderr.strip().splitlines()[-1] == f"error: {target}: cannot write: No space left on device"
        assert "closed 2026-03" not in result.stdout
        assert not target.exists() and _leftovers(disk) == []
    assert _state(config).state == "open" and _state(config).revision is None
    again = cli(config, "close", "--period", "2026-03")
    assert "closed 2026-03: revision 1" in again.stdout
    written = config.parent / "reports" / "2026-03" / "roi-2026-03.xlsx"
    load_workbook(written)


def test_close_with_a_reports_folder_that_cannot_be_made_closes_nothing(tmp_path, database_url):
    config = make_scenario(tmp_path / "project", database_url)
    blocker = config.parent / "reports"
    blocker.write_text("a file where the reports folder should be\n")
    result = run(config, "close", "--period", "2026-03")
    assert result.exit_code == 1
    assert result.stderr.strip() == f"error: {blocker / '2026-03' / 'roi-2026-03.xlsx'}: cannot write: Not a directory"
    assert _state(config).state == "open"
    blocker.unlink()
    assert "revision 1" in cli(config, "close", "--period", "2026-03").stdout  # not "already closed"


def test_close_into_a_read_only_folder_closes_nothing(tmp_path, database_url):
    config = make_scenario(tmp_path / "project", database_url)
    with tmpfs(tmp_path / "readonly", read_only=True) as folder:
        target = folder / "march.xlsx"
        result = run(config, "close", "--period", "2026-03", "-o", str(target))
        assert result.exit_code == 1
        assert result.stderr.strip() == f"error: {target}: cannot write: Read-only file system"
    assert _state(config).state == "open"
    assert "revision 1" in cli(config, "close", "--period", "2026-03").stdout


def test_the_monthly_job_that_cannot_write_its_reports_does_not_close_the_month(tmp_path, database_url):
    config = make_scenario(tmp_path / "project", database_url)
    text = config.read_text().replace("[report]\n", "[report]\nclose_after_days = 1\n")
    config.write_text(text)
    (config.parent / "reports").write_text("not a folder\n")
    settings = load_config(config)
    store = services.store_for(settings)
    try:
        with time_machine.travel(datetime(2026, 4, 3, 6, 0, 5, tzinfo=UTC), tick=False):
            run_ = JobRunner(settings, store).fire(REPORT_JOB, datetime(2026, 4, 2, 6, 0, tzinfo=UTC))
        assert run_.status == "failed"
        assert "roi-2026-03" in run_.error and "Not a directory" in run_.error
        assert periods.period_state(store, MARCH).state == "open"
        (config.parent / "reports").unlink()
        with time_machine.travel(datetime(2026, 4, 3, 7, 0, 5, tzinfo=UTC), tick=False):
            again = JobRunner(settings, store).fire(REPORT_JOB, datetime(2026, 4, 3, 7, 0, tzinfo=UTC))
        assert again.status == "succeeded", again.error
        assert "closed 2026-03 (revision 1)" in again.detail
        xlsx = config.parent / "reports" / "2026-03" / "roi-2026-03.xlsx"
        assert xlsx.read_bytes() == reports.export(settings, store, MARCH, "xlsx").content
    finally:
        store.close()


@pytest.mark.parametrize("mask", [0o022, 0o077])
def test_report_files_follow_the_umask_from_the_cli_and_the_scheduled_job(tmp_path, mask):
    config = make_scenario(tmp_path / "project")
    expected = 0o666 & ~mask
    old = os.umask(mask)
    try:
        output = tmp_path / "out.xlsx"
        cli(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(output))
        csv_output = tmp_path / "out.csv"
        cli(config, "report", "--period", "2026-03", "--format", "csv", "-o", str(csv_output))
        settings = load_config(config)
        store = services.store_for(settings)
        try:
            with time_machine.travel(datetime(2026, 4, 2, 6, 0, 5, tzinfo=UTC), tick=False):
                record = JobRunner(settings, store).fire(REPORT_JOB, datetime(2026, 4, 2, 6, 0, tzinfo=UTC))
        finally:
            store.close()
        assert record.status == "succeeded", record.error
        scheduled = sorted((config.parent / "reports" / "2026-03").iterdir())
        assert [path.name for path in scheduled] == ["roi-2026-03.json", "roi-2026-03.xlsx"]
        close_output = tmp_path / "closed.xlsx"
        cli(config, "close", "--period", "2026-03", "-o", str(close_output))
    finally:
        os.umask(old)
    for path in [output, csv_output, *scheduled, close_output]:
        assert stat.S_IMODE(path.stat().st_mode) == expected, (path, oct(path.stat().st_mode))
    assert json_report(config, "2026-03")["state"] == "closed"
