"""$TMPDIR that cannot be used is an error naming it (docs/connectors.md), never a silent /tmp."""

from __future__ import annotations

import numpy as np
import pytest
from click.testing import CliRunner
from mounts import fill, tmpfs

from roi.cli import main
from roi.dedup import SeenIds
from roi.errors import RoiError

EVENTS = """
    event_id,ts,tenant,channel,input_tokens,output_tokens,cost_usd,outcome
    e1,2026-02-10T10:00:00Z,acme,web,100,10,0.75,resolved
    """


def _ingest(project, monkeypatch, tmpdir):
    project.write_data("a.csv", EVENTS)
    monkeypatch.setenv("TMPDIR", str(tmpdir))
    result = CliRunner().invoke(main, ["--config", str(project.config_path), "ingest"])
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exc_info
    return result


def _stored_rows(project) -> int:
    from roi import services

    store = services.store_for(project.settings())
    try:
        return int(sum(batch.rows_stored for batch in store.batches()))
    finally:
        store.close()


def test_a_missing_tmpdir_stops_the_ingest_naming_it(project, monkeypatch, tmp_path):
    missing = tmp_path / "no-such-folder"
    result = _ingest(project, monkeypatch, missing)
    assert result.exit_code == 1
    assert result.stderr == (f"error: temporary folder {missing} (TMPDIR) does not exist; "
                             "point TMPDIR at a folder with room\n")
    monkeypatch.delenv("TMPDIR")
    assert _stored_rows(project) == 0


def test_a_tmpdir_that_is_a_file_stops_the_ingest(project, monkeypatch, tmp_path):
    (tmp_path / "afile").write_text("x")
    result = _ingest(project, monkeypatch, tmp_path / "afile")
    assert result.exit_code == 1
    assert f"temporary folder {tmp_path / 'afile'} (TMPDIR) is not a folder" in result.stderr


def test_a_read_only_tmpdir_stops_the_ingest(project, monkeypatch, tmp_path):
    with tmpfs(tmp_path / "ro", read_only=True) as folder:
        result = _ingest(project, monkeypatch, folder)
    assert result.exit_code == 1
    assert result.stderr == (f"error: temporary folder {folder} (TMPDIR) cannot be written: Read-only file system; "
                             "point TMPDIR at a folder with room\n")


def test_a_full_tmpdir_stops_the_ingest(project, monkeypatch, tmp_path):
    with tmpfs(tmp_path / "full", size_kib=64) as folder:
        fill(folder)
        result = _ingest(project, monkeypatch, folder)
    assert result.exit_code == 1
    assert "(TMPDIR) cannot be written: No space left on device" in result.stderr


def test_a_usable_tmpdir_holds_the_spilled_ids_and_the_ingest_lands(project, monkeypatch, tmp_path):
    folder = tmp_path / "tmp"
    folder.mkdir()
    result = _ingest(project, monkeypatch, folder)
    assert result.exit_code == 0, result.output
    assert _stored_rows(project) == 1


def test_the_dedup_spill_fails_naming_tmpdir_when_it_fills_mid_run(monkeypatch, tmp_path):
    with tmpfs(tmp_path / "small", size_kib=64) as folder:
        monkeypatch.setenv("TMPDIR", str(folder))
        seen = SeenIds(memory_ids=1 << 12, filter_words=2)
        with pytest.raises(RoiError) as caught:
            for start in range(0, 1 << 16, 1 << 11):
                seen.admit(np.arange(start, start + (1 << 11), dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        seen.close()
    assert str(caught.value).startswith(f"deduplicating event ids: cannot use a temporary file in {folder} (TMPDIR)")
