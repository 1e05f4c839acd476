"""The collector pause: nested and concurrent pauses, and the state it restores."""

import gc
import threading

from roi.runtime import paused_gc


def test_pause_nests_and_restores():
    assert gc.isenabled()
    with paused_gc():
        assert not gc.isenabled()
        with paused_gc():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still holds
    assert gc.isenabled()


def test_a_collector_disabled_before_stays_disabled():
    gc.disable()
    try:
        with paused_gc():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_overlapping_pauses_in_threads_end_with_the_last():
    inside, release = threading.Event(), threading.Event()

    def other() -> None:
        with paused_gc():
            inside.set()
            release.wait(5)

    thread = threading.Thread(target=other)
    with paused_gc():
        thread.start()
        assert inside.wait(5)
    assert not gc.isenabled()  # the other thread's pause is still on
    release.set()
    thread.join(5)
    assert gc.isenabled()


def test_an_error_inside_still_ends_the_pause():
    try:
        with paused_gc():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_start_up_is_frozen_once_per_process():
    """A process that runs many commands (a test run) freezes only what was there at the first."""
    import subprocess
    import sys

    code = (
        "import gc; from roi.runtime import freeze_imports\n"
        "freeze_imports(); first = gc.get_freeze_count()\n"
        "junk = [[i] for i in range(10_000)]\n"
        "freeze_imports(); print(first > 0, gc.get_freeze_count() == first)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]
