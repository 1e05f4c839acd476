"""The collector pause: nested and concurrent pauses, and the state it restores."""

import gc
import os
import platform
import subprocess
import sys
import threading

import pytest

from roi.process_tuning import paused_gc


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
        "import gc; from roi.process_tuning import freeze_imports\n"
        "freeze_imports(); first = gc.get_freeze_count()\n"
        "junk = [[i] for i in range(10_000)]\n"
        "freeze_imports(); print(first > 0, gc.get_freeze_count() == first)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["True", "True"]


ARENAS_SCRIPT = r"""
import ctypes, sys, tempfile, threading
from roi.process_tuning import limit_malloc_arenas
if sys.argv[1] == "limit":
    print(limit_malloc_arenas(), file=sys.stderr)
libc = ctypes.CDLL("libc.so.6")
libc.malloc.restype = ctypes.c_void_p
libc.free.argtypes = [ctypes.c_void_p]
libc.fdopen.restype = ctypes.c_void_p
barrier = threading.Barrier(8)
def work():
    barrier.wait()  # all at once: each would take an arena of its own
    blocks = [libc.malloc(1000) for _ in range(2000)]
    barrier.wait()
    for block in blocks:
        libc.free(block)
threads = [threading.Thread(target=work) for _ in range(8)]
for thread in threads: thread.start()
for thread in threads: thread.join()
with tempfile.TemporaryFile() as out:
    stream = libc.fdopen(out.fileno(), b"w")
    libc.malloc_info(0, ctypes.c_void_p(stream))
    libc.fflush(ctypes.c_void_p(stream))
    out.seek(0)
    print(out.read().decode().count("<heap nr="))
"""


def _arenas(mode: str, env: dict | None = None) -> int:
    """Arenas glibc's malloc holds after eight threads allocated at once (malloc_info's heaps)."""
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("MALLOC_ARENA_MAX", "GLIBC_TUNABLES")} | (env or {})
    done = subprocess.run([sys.executable, "-c", ARENAS_SCRIPT, mode], capture_output=True, text=True,
                          env=environment, check=True)
    return int(done.stdout.strip())


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the arena cap is glibc's")
def test_the_allocator_is_capped_at_two_arenas_when_asked_first():
    assert _arenas("free") > 2  # threads allocating at once spread over arenas of their own
    assert _arenas("limit") <= 2
    assert _arenas("limit", {"MALLOC_ARENA_MAX": "5"}) > 2  # the environment's setting wins
    assert _arenas("limit", {"GLIBC_TUNABLES": "glibc.malloc.arena_max=5"}) > 2  # and glibc's tunable


ENTRY_SCRIPT = r"""
import sys
import roi.process_tuning
seen = []
roi.process_tuning.limit_malloc_arenas = lambda: seen.append(sorted({"roi.cli", "numpy", "pyarrow"} & set(sys.modules)))
sys.argv = ["roi", "--help"]
import roi.__main__
try:
    roi.__main__.main()
except SystemExit as exit:
    print("exit", exit.code)
print(seen)
"""


def test_the_roi_command_caps_the_arenas_before_loading_the_cli():
    done = subprocess.run([sys.executable, "-c", ENTRY_SCRIPT], capture_output=True, text=True, check=True)
    lines = done.stdout.splitlines()
    assert lines[-2:] == ["exit 0", "[[]]"]  # once, before the CLI, numpy or Arrow were imported
    assert lines[0].startswith("Usage: roi [OPTIONS] COMMAND")


def test_python_dash_m_roi_runs_the_cli():
    done = subprocess.run([sys.executable, "-m", "roi", "--help"], capture_output=True, text=True)
    assert done.returncode == 0 and done.stdout.startswith("Usage: python -m roi [OPTIONS] COMMAND")
    done = subprocess.run([sys.executable, "-m", "roi", "no-such-command"], capture_output=True, text=True)
    assert done.returncode == 2 and "No such command 'no-such-command'" in done.stderr


def test_the_scheduler_child_of_roi_serve_starts_through_the_roi_entry():
    from roi.scheduler import SchedulerProcess

    command = SchedulerProcess("roi.toml").command()
    assert command[:3] == [sys.executable, "-m", "roi"]  # not roi.cli: the arena cap applies to it too


BLAS_SCRIPT = r"""
import os, sys
from roi.process_tuning import limit_blas_threads
print(limit_blas_threads(), os.environ.get("OPENBLAS_NUM_THREADS"))
import numpy
print(limit_blas_threads())  # too late once numpy is loaded
"""


@pytest.mark.parametrize(("env", "expected"), [({}, ["True 1", "False"]),
                                               ({"OPENBLAS_NUM_THREADS": "2"}, ["False 2", "False"]),
                                               ({"OMP_NUM_THREADS": "2"}, ["False None", "False"])])
def test_blas_runs_on_one_thread_unless_the_environment_says(env, expected):
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")} | env
    done = subprocess.run([sys.executable, "-c", BLAS_SCRIPT], capture_output=True, text=True, env=environment,
                          check=True)
    assert done.stdout.splitlines() == expected


def test_the_roi_command_runs_blas_on_one_thread():
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS")}
    code = "import sys, runpy; sys.argv = ['roi', '--help']; runpy.run_module('roi', run_name='__main__')"
    script = f"import atexit, os; atexit.register(lambda: print(os.environ.get('OPENBLAS_NUM_THREADS')))\n{code}"
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=environment)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "1"
