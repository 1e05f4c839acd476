"""roi.dedup.SeenIds: exactly the first occurrence of each hash is new, however many go to disk."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roi import dedup
from roi.dedup import RunReads, SeenIds, _Filter, _merged, _Run
from roi.errors import RoiError
from roi.string_hashes import hash_strings
from tests.mounts import fill, tmpfs

SETTINGS = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def reference(chunks: list[np.ndarray]) -> list[np.ndarray]:
    """The obviously correct version: a Python set of everything seen."""
    seen: set[int] = set()
    masks = []
    for chunk in chunks:
        mask = []
        for value in chunk.tolist():
            mask.append(value not in seen)
            seen.add(value)
        masks.append(np.array(mask, dtype=bool))
    return masks


# blocks of 4 hashes and merges that read 8 at a time: every path runs on small inputs
SMALL = RunReads(block_ids=4, stream_ids=8)


def test_shrinking_chunks_keep_memory_under_the_budget():
    seen = SeenIds(memory_ids=1_000)
    start = 0
    for size in range(499, 0, -7):  # each chunk smaller than the last: levels must still merge
        seen.admit(np.arange(start, start + size, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
        start += size
        assert sum(len(level) for level in seen._levels) < 1_000
    seen.close()


@SETTINGS
@given(
    st.lists(st.lists(st.integers(0, 300), max_size=40), max_size=30),
    st.sampled_from([2, 8, 64, 1 << 20]),
    st.sampled_from([2, 16, 1 << 10]),
)
def test_first_occurrences_are_new_like_a_set(raw_chunks, memory_ids, filter_words):
    # values from a small range repeat within and across chunks; spread over 64 bits as hashes are
    chunks = [np.array(chunk, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15) for chunk in raw_chunks]
    seen = SeenIds(memory_ids=memory_ids, filter_words=filter_words, reads=SMALL)
    masks = [seen.admit(chunk) for chunk in chunks]
    seen.close()
    for got, expected in zip(masks, reference(chunks), strict=True):
        assert got.tolist() == expected.tolist()
    assert seen.count == len({value for chunk in chunks for value in chunk.tolist()})


def test_many_runs_on_disk_stay_exact_and_few():
    rng = np.random.default_rng(5)
    universe = rng.integers(0, 2**64, 120_000, dtype=np.uint64)
    chunks = []
    for start in range(0, 100_000, 5_000):
        fresh = universe[start : start + 5_000]
        earlier = universe[rng.integers(0, start + 5_000, 300)]  # repeats of ids seen before, and of this chunk's
        chunks.append(rng.permutation(np.concatenate([fresh, earlier])))
    seen = SeenIds(memory_ids=2_000, filter_words=1 << 8, reads=SMALL)
    masks = [seen.admit(chunk) for chunk in chunks]
    runs = [run.size for run in seen._runs]
    in_memory = sum(len(level) for level in seen._levels)
    levels = [len(level) for level in seen._levels]
    grown = len(seen._filter.words)
    seen.close()
    expected = reference(chunks)
    assert all(np.array_equal(got, want) for got, want in zip(masks, expected, strict=True))
    assert seen.count == 100_000
    assert in_memory < 2_000  # the memory budget holds
    assert all(bigger > 2 * smaller for bigger, smaller in zip(levels, levels[1:], strict=False))
    assert sum(runs) + in_memory == 100_000
    assert all(bigger > 2 * smaller for bigger, smaller in zip(runs, runs[1:], strict=False))  # hence few runs
    assert len(runs) <= int(np.log2(100_000 / 1_000)) + 1
    assert grown * 64 >= 100_000 * dedup._BITS_PER_ID  # the filter doubled as ids came


def test_merged_runs_are_the_sorted_union():
    rng = np.random.default_rng(9)
    for left_size, right_size in [(1, 1), (3, 17), (40, 5), (64, 64), (0, 9), (100, 1)]:
        values = rng.choice(2**40, left_size + right_size, replace=False).astype(np.uint64)
        left, right = _Run(SMALL), _Run(SMALL)
        for run, part in ((left, values[:left_size]), (right, values[left_size:])):
            part = np.sort(part)
            for piece in np.array_split(part, 3):  # written in pieces: the fences follow the offsets
                run.write(piece)
            run.sealed()
        merged = _merged(left, right)
        content = np.concatenate(list(merged.chunks())) if merged.size else np.empty(0, np.uint64)
        assert content.tolist() == sorted(values.tolist())
        assert merged.fences.tolist() == content[::4].tolist()
        probes = np.sort(np.concatenate([values, values + np.uint64(1), [np.uint64(0), np.uint64(2**63)]]))
        assert merged.contains(probes).tolist() == [p in set(values.tolist()) for p in probes.tolist()]
        merged.close()


def test_fences_are_copies_so_written_pieces_can_go():
    run = _Run(SMALL)
    run.write(np.arange(10, dtype=np.uint64))
    run.write(np.arange(10, 30, dtype=np.uint64))
    assert all(fence.base is None for fence in run._fences)  # a view would keep its whole piece
    assert run.sealed().fences.tolist() == list(range(0, 30, 4))
    run.close()


def test_filter_has_no_false_negatives_and_few_false_positives_on_real_id_hashes():
    # structured ids: their hashes are linear in the bytes, so the bits the filter uses must be mixed
    ids = hash_strings(pa.array([f"ev-{i}" for i in range(64_000)]))
    words = 1 << 14  # 16 bits per id (the filter doubles at 12): about four ids to a word
    bloom = _Filter(words)
    bloom.add(np.sort(ids))
    assert bloom.may_hold(ids).all()
    others = hash_strings(pa.array([f"other-{i}" for i in range(200_000)]))
    false_positives = bloom.may_hold(others).mean()
    assert false_positives < 0.009, false_positives  # 0.75% expected at this load


def test_filter_size_must_be_a_power_of_two():
    with pytest.raises(ValueError, match="a power of two from 2, not 3"):
        _Filter(3)


def test_closing_deletes_the_temporary_files():
    before = len(os.listdir("/proc/self/fd"))
    seen = SeenIds(memory_ids=64, filter_words=2)
    for start in range(0, 2_000, 100):
        seen.admit(np.arange(start, start + 100, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15))
    assert seen._runs and len(os.listdir("/proc/self/fd")) > before
    seen.close()
    assert len(os.listdir("/proc/self/fd")) == before


def test_a_temporary_folder_that_cannot_be_used_is_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path / "missing"))
    seen = SeenIds(memory_ids=4, filter_words=2)
    with pytest.raises(RoiError) as caught:
        seen.admit(np.arange(10, dtype=np.uint64))
    message = str(caught.value)
    assert message.startswith(f"deduplicating event ids: cannot use a temporary file in {tmp_path / 'missing'} (")
    assert message.endswith("set TMPDIR to a folder with space (8 bytes per event id of the batch, twice that at times)")


def _spread(values) -> np.ndarray:
    return np.asarray(values, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)


def test_a_closed_set_refuses_to_answer_and_holds_nothing():
    seen = SeenIds(memory_ids=8, filter_words=2)
    seen.admit(_spread(range(20)))
    seen.close()
    assert seen._filter is None and not seen._levels and not seen._runs  # the memory goes before the store
    with pytest.raises(RuntimeError, match="closed"):
        seen.admit(_spread([1]))  # it would call a repeat new
    seen.close()  # idempotent


def _open_files_in(folder: Path) -> int:
    """This process's open files in `folder` (anonymous temporary files too: /proc shows their folder)."""
    count = 0
    for fd in os.listdir("/proc/self/fd"):
        with contextlib.suppress(OSError):
            count += os.readlink(f"/proc/self/fd/{fd}").startswith(f"{folder}/")
    return count


def test_a_full_temporary_disk_closes_the_set_and_its_files(monkeypatch, tmp_path):
    with tmpfs(tmp_path / "small", size_kib=64) as folder:
        monkeypatch.setenv("TMPDIR", str(folder))
        seen = SeenIds(memory_ids=8, filter_words=2)
        seen.admit(_spread(range(4)))
        seen.admit(_spread(range(4, 12)))  # spilled, twice, and merged: one run on disk, one file open
        assert len(seen._runs) == 1 and _open_files_in(folder) == 1
        fill(folder, leave=4096)  # a page: the folder's probe passes, a run of 8 KiB does not fit
        with pytest.raises(RoiError, match=f"cannot use a temporary file in {folder} \\(TMPDIR\\)"):
            seen.admit(_spread(range(12, 12 + 1024)))
        assert _open_files_in(folder) == 0  # the failed run's file and the one before it are closed
        with pytest.raises(RuntimeError, match="closed"):
            seen.admit(_spread([0]))


def test_a_run_cut_short_is_an_error_and_needles_below_it_are_absent():
    run = _Run(SMALL)
    run.write(np.arange(100, 140, dtype=np.uint64))
    run.sealed()
    assert not run.contains(np.array([1, 2, 99], dtype=np.uint64)).any()
    os.ftruncate(run.file.fileno(), 8 * 30)
    with pytest.raises(RoiError, match=r"gave 0 of 32 bytes; was it cut short\?"):
        run.contains(np.array([137], dtype=np.uint64))  # one block: read by itself
    with pytest.raises(RoiError, match=r"gave 48 of 64 bytes; was it cut short\?"):
        list(run.chunks())  # reads of 8 hashes: the fourth finds 6
    run.close()


def _linear_hashes(ids: list[str], seed: int) -> np.ndarray:
    """roi.string_hashes's formula, h(s) = U[len(s)] + sum(s[i] * W[i]), under weights drawn from `seed`."""
    rng = np.random.default_rng(seed)
    weights, length_weights = (rng.integers(0, 2**64, 64, dtype=np.uint64) for _ in range(2))
    lengths = np.array([len(value) for value in ids])
    hashes = np.empty(len(ids), dtype=np.uint64)
    for length in np.unique(lengths):
        at = np.flatnonzero(lengths == length)
        data = np.frombuffer("".join(ids[i] for i in at).encode(), np.uint8).reshape(len(at), length)
        with np.errstate(over="ignore"):
            hashes[at] = (data.astype(np.uint64) * weights[:length]).sum(axis=1, dtype=np.uint64)
            hashes[at] += length_weights[length]
    return hashes


def test_the_filter_stays_even_for_every_seed_of_the_linear_hash():
    # zero-padded ids under a linear hash: for some weights their top bits cluster, and a filter
    # that took its word from them gave up to 2.1% false positives over these 40 seeds
    ids = [f"ev-{i:07d}" for i in range(64_000)]
    others = [f"other-{i}" for i in range(100_000)]
    worst = 0.0
    for seed in range(40):
        bloom = _Filter(1 << 14)  # 16 bits per id
        members = _linear_hashes(ids, seed)
        bloom.add(members)
        assert bloom.may_hold(members).all()
        worst = max(worst, float(bloom.may_hold(_linear_hashes(others, seed)).mean()))
    assert worst < 0.0095, worst  # 0.83% at worst with the word from the mixed hash


@pytest.mark.parametrize(("block", "stream"), [(4, 8), (5, 7), (512, 1 << 16)])
def test_run_lookups_agree_with_a_set_in_both_ways_of_reading(block, stream):
    """Few blocks (read one by one, grouped by two here) or many (the run streamed), a partial last
    block, needles on fences and beside them, sorted or not, with repeats."""
    rng = np.random.default_rng(block)
    branches = set()
    reads = RunReads(block_ids=block, stream_ids=stream, buffer_blocks=2)
    for _ in range(80):
        size = int(rng.integers(1, 600 * block))  # up to 600 blocks
        values = np.unique(rng.integers(0, int(rng.choice([size * 2, 2**64 - 1])), size, dtype=np.uint64))
        run = _Run(reads)
        for piece in np.array_split(values, int(rng.integers(1, 5))):
            run.write(piece)
        run.sealed()
        count = int(rng.choice([3, 40, 400]))
        needles = np.concatenate([
            rng.choice(values, count), run.fences[rng.integers(0, len(run.fences), count // 4 + 1)],
            rng.choice(values, count // 4) + np.uint64(1), rng.choice(values, count // 4) - np.uint64(1),
            values[-3:], np.array([0, 2**64 - 1], dtype=np.uint64),
        ])
        if rng.random() < 0.5:
            needles = np.sort(needles)
        members = set(values.tolist())
        assert run.contains(needles).tolist() == [value in members for value in needles.tolist()]
        touched = np.unique(np.searchsorted(run.fences, np.sort(needles), side="right") - 1)
        branches.add("stream" if (touched >= 0).sum() * 8 > len(run.fences) else "blocks")
        run.close()
    assert branches == {"stream", "blocks"}
