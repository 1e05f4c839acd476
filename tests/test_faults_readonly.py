"""A read-only SQLite store: reading commands work, writing ones fail in one line naming the database.

Root writes through file modes, so as root the commands run as `nobody` (setpriv): the
permissions are real, nothing is mocked."""

from __future__ import annotations

import json
import os
import shutil
import stat
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from excel_scenario import json_report, make_scenario

NOBODY = ["setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@pytest.fixture
def shared_folder():
    """A folder outside pytest's private tmp tree, so another user can reach it."""
    folder = Path(tempfile.mkdtemp(prefix="roi-readonly-", dir="/tmp"))
    folder.chmod(0o755)
    yield folder
    for path in [folder, *folder.rglob("*")]:
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    shutil.rmtree(folder)


def _as_other_user() -> list[str]:
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: cannot drop to a user the file modes apply to")
    return NOBODY


def _roi(config: Path, *args: str) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if key != "TMPDIR"}
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return subprocess.run([*_as_other_user(), sys.executable, "-m", "roi", "--config", str(config), *args],
                          capture_output=True, text=True, cwd=config.parent, env=env, timeout=120, check=False)


def _figures(document: dict) -> dict:
    return {key: value for key, value in document.items() if key != "generated_at"}


@pytest.mark.parametrize("folder_writable", [False, True], ids=["read-only-folder", "writable-folder"])
def test_a_read_only_store_serves_reading_commands_and_refuses_writing_ones(shared_folder, folder_writable):
    config = make_scenario(shared_folder / "project")
    root = config.parent
    before = json_report(config, "2026-03")
    database = root / "roi.db"
    for path in root.rglob("*"):
        path.chmod(0o755 if path.is_dir() else 0o644)
    database.chmod(0o444)
    root.chmod(0o777 if folder_writable else 0o555)
    out = shared_folder / "out"
    out.mkdir(mode=0o777)
    out.chmod(0o777)

    report = _roi(config, "report", "--period", "2026-03")
    assert report.returncode == 0, report.stderr
    assert _figures(json.loads(report.stdout)) == _figures(before)
    workbook = _roi(config, "report", "--period", "2026-03", "--format", "xlsx", "-o", str(out / "march.xlsx"))
    assert workbook.returncode == 0, workbook.stderr
    assert (out / "march.xlsx").stat().st_size > 0
    for args in (["periods"], ["jobs"], ["config", "check"]):
        done = _roi(config, *args)
        assert done.returncode == 0, (args, done.stderr)
        assert done.stderr == "", (args, done.stderr)
    assert "2026-03  open" in _roi(config, "periods").stdout

    expected = (f"error: database sqlite:///{database}: attempt to write a readonly database "
                "(the database is read-only here: reading commands work, this one writes)\n")
    for args in (["ingest", "--force"], ["close", "--period", "2026-03", "-o", str(out / "closed.xlsx")]):
        done = _roi(config, *args)
        assert done.returncode == 1, (args, done.stdout, done.stderr)
        assert done.stderr.splitlines()[-1] + "\n" == expected, (args, done.stderr)
        assert "Traceback" not in done.stderr
    assert not (out / "closed.xlsx").exists()
    assert stat.S_IMODE(database.stat().st_mode) == 0o444
    root.chmod(0o755)
    after = json_report(config, "2026-03")
    assert _figures(after) == _figures(before) and after.get("state") != "closed"  # nothing changed, nothing closed
