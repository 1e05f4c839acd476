"""ValuedMonths: a month valued once per data version and config, kept in memory and in cache_dir."""

from __future__ import annotations

import logging
import os

import pytest

from roi.domain import Period
from roi.services import Store, store_for
from roi.services.ingest import ingest
from roi.services.reports import build_report
from roi.services.valued import ValuedMonths

JANUARY = Period(2026, 1)


def _events(project, name: str, *ids: str) -> None:
    rows = "\n".join(f"{event},2026-01-{10 + index:02d}T10:00:00Z,acme,web,100,20,0.25,resolved"
                     for index, event in enumerate(ids))
    project.write_data(name, "event_id,ts,tenant,channel,input_tokens,output_tokens,cost_usd,outcome\n" + rows + "\n")


class NoCells(Store):
    """A store whose cells cannot be read: what answers from it came from somewhere else."""

    def cells(self, start, end):
        raise AssertionError("the month was valued again instead of loaded")


@pytest.fixture
def loaded(project):
    _events(project, "a.csv", "e1", "e2", "e3")
    settings = project.settings()
    store = store_for(settings)
    ingest(settings, store)
    yield settings, store
    store.close()


def test_another_process_loads_the_month_from_the_cache_folder(loaded):
    settings, store = loaded
    first = ValuedMonths(settings, store).get(JANUARY)
    files = list((settings.base_dir / ".roi-cache").glob("valued-2026-01-*.npz"))
    assert len(files) == 1 and oct(files[0].stat().st_mode & 0o777) == oct(0o666 & ~_umask())

    again = ValuedMonths(settings, NoCells(store.engine)).get(JANUARY, store.data_version())
    assert again.fingerprint == first.fingerprint
    assert again.cohorts(["tenant"]).equals(first.cohorts(["tenant"]))
    assert again.totals() == first.totals()
    frame = build_report(settings, NoCells(store.engine), JANUARY, ["tenant", "channel"],
                         months=ValuedMonths(settings, NoCells(store.engine)), version=store.data_version())
    assert frame.totals["requests"] == 3


def test_new_data_gives_a_new_file_and_the_old_one_goes(project, loaded):
    settings, store = loaded
    months = ValuedMonths(settings, store)
    assert months.get(JANUARY).totals()["requests"] == 3
    _events(project, "b.csv", "e4")
    ingest(settings, store)
    assert months.get(JANUARY).totals()["requests"] == 4  # a new data version: valued anew
    files = list((settings.base_dir / ".roi-cache").glob("valued-2026-01-*.npz"))
    assert len(files) == 1


def test_a_damaged_file_is_valued_again_with_a_warning(loaded, caplog):
    settings, store = loaded
    ValuedMonths(settings, store).get(JANUARY)
    (path,) = (settings.base_dir / ".roi-cache").glob("*.npz")
    whole = path.read_bytes()
    for damage in (b"not an archive", b"", whole[: len(whole) // 3]):  # junk, empty, cut short
        path.write_bytes(damage)
        caplog.clear()
        with caplog.at_level(logging.WARNING, logger="roi.reports"):
            month = ValuedMonths(settings, store).get(JANUARY)
        assert month.totals()["requests"] == 3
        assert f"valued cells in {path} cannot be read" in caplog.text
        assert path.read_bytes() == whole  # valued again and written whole


def test_an_empty_cache_dir_keeps_months_in_memory_only(project):
    text = project.config_path.read_text().replace('reports_dir = "reports"', 'reports_dir = "reports"\ncache_dir = ""')
    project.config_path.write_text(text)
    _events(project, "a.csv", "e1")
    settings = project.settings()
    assert settings.service.cache_dir == ""
    store = store_for(settings)
    try:
        ingest(settings, store)
        assert ValuedMonths(settings, store).get(JANUARY).totals()["requests"] == 1
    finally:
        store.close()
    assert not (project.root / ".roi-cache").exists()


def test_a_cache_folder_that_cannot_be_written_costs_speed_not_answers(loaded, caplog):
    settings, store = loaded
    blocker = settings.base_dir / ".roi-cache"
    blocker.write_text("a file where the folder should be")
    months = ValuedMonths(settings, store)
    with caplog.at_level(logging.WARNING, logger="roi.reports"):
        assert months.get(JANUARY).totals()["requests"] == 3
        months.clear()
        assert months.get(JANUARY).totals()["requests"] == 3
    assert caplog.text.count("cannot keep valued months") == 1  # said once


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_warm_up_asked_while_one_runs_runs_again_for_the_new_data(project, loaded):
    import threading

    settings, store = loaded

    class Gated(Store):
        """Cells wait for the gate; once `refuse` is set, reading them fails the test."""

        gate = threading.Event()
        refuse = False

        def cells(self, start, end):
            assert not self.refuse, "valued on a question instead of ahead of it"
            assert self.gate.wait(30)
            return super().cells(start, end)

    gated = Gated(store.engine)
    months = ValuedMonths(settings, gated)
    first = months.warm()
    _events(project, "b.csv", "e4")
    ingest(settings, store)  # a new data version while the first warm-up waits on the gate
    assert months.warm() is None  # one runs: this one is remembered, not lost
    Gated.gate.set()
    first.join(30)
    assert not first.is_alive() and months.ready
    Gated.refuse = True
    assert months.get(JANUARY, store.data_version()).totals()["requests"] == 4
