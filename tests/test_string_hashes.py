"""roi.string_hashes.hash_strings: the formula, equal in equal out, distinct in distinct out.

The reference below is the formula of the module docstring in plain Python
integers, with the weights drawn from their documented seed, block by block:

    h(s) = U[len(s)] + sum(s[i] * W[i] for i < len(s))    (mod 2**64)
"""

from __future__ import annotations

import random
import uuid
from functools import cache
from itertools import chain

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from roi import string_hashes as hashing
from roi.string_hashes import hash_strings

SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@cache
def _block(stream: int, k: int) -> tuple[int, ...]:
    generator = np.random.default_rng([hashing._SEED, stream, k])
    return tuple(int(weight) for weight in generator.bit_generator.random_raw(4096))


def _weight(stream: int, index: int) -> int:
    return _block(stream, index // 4096)[index % 4096]


def reference(value: str | bytes | None) -> int:
    """The obviously correct, slow version: a null is ""."""
    data = b"" if value is None else value.encode() if isinstance(value, str) else value
    total = _weight(1, len(data))  # U[len]
    for position, byte in enumerate(data):
        total += byte * _weight(0, position)  # W[position]
    return total % 2**64


def expected(values: list) -> np.ndarray:
    known: dict = {}
    return np.array([known[v] if v in known else known.setdefault(v, reference(v)) for v in values],
                    dtype=np.uint64)


def _chunked(values: list, cuts: list[int], kind: pa.DataType) -> pa.ChunkedArray:
    bounds = [0, *sorted(cut % (len(values) + 1) for cut in cuts), len(values)]
    return pa.chunked_array([pa.array(values[a:b], kind) for a, b in zip(bounds, bounds[1:], strict=False)],
                            type=kind)


# strings of every kind: short ids, unicode, NULs, one length repeated often (a group of its own)
_text = st.one_of(
    st.none(),
    st.text(max_size=12),
    st.text(alphabet="ab\x00é€😀", max_size=80),
    st.builds(lambda prefix, n: f"{prefix}-{n}", st.sampled_from(["ev", "id", ""]), st.integers(0, 10**9)),
    st.builds(lambda char, n: char * n, st.sampled_from("x\x00é"), st.integers(0, 5000)),
)


@st.composite
def _batches(draw):
    values = draw(st.lists(_text, max_size=40))
    values = values * draw(st.integers(1, 30))  # repeated lengths reach the "frequent length" groups
    draw(st.randoms()).shuffle(values)
    return values


@SETTINGS
@given(values=_batches(), kind=st.sampled_from([pa.string(), pa.large_string()]),
       cuts=st.lists(st.integers(0, 10**6), max_size=4), window=st.tuples(st.integers(0, 5), st.integers(0, 5)))
def test_matches_the_reference_formula(values, kind, cuts, window):
    want = expected(values)
    whole = hash_strings(pa.array(values, kind))
    assert whole.dtype == np.uint64 and whole.shape == (len(values),)
    assert (whole == want).all()
    assert (hash_strings(_chunked(values, cuts, kind)) == want).all()
    # a slice of a bigger array: non-zero offset, bytes before and after
    head, tail = window
    padded = pa.array(["pad" * 9] * head + values + ["x" * 70] * tail, kind)
    assert (hash_strings(padded.slice(head, len(values))) == want).all()


@pytest.mark.parametrize("values", [
    [f"ev-{i}" for i in range(30_000)],  # close lengths: all rows in one padded matrix
    [str(uuid.UUID(int=random.Random(1).getrandbits(128) + i)) for i in range(5000)],  # one length: no copy
    [f"ev-{i}" for i in range(3000)] + ["y" * n for n in range(0, 700, 7)] + [None] * 5,  # grouped by length
    ["a" * n for n in random.Random(2).choices(range(4000, 9000), k=40)],  # long: power-of-two groups
    ["é" * 40_000, "x" * 65_535, "x" * 65_536, "z" * 150_001, "", "q"],  # 64 KiB and more: one at a time
])
def test_every_path_matches_the_reference(values):
    random.Random(3).shuffle(values)
    for kind in (pa.string(), pa.large_string()):
        assert (hash_strings(pa.array(values, kind)) == expected(values)).all()


def test_equal_strings_hash_equal_in_any_container():
    rng = random.Random(4)
    values = [rng.choice([f"ev-{rng.randrange(500)}", "", None, "é€😀" * rng.randrange(3), "x" * rng.randrange(5000)])
              for _ in range(3000)]
    want = hash_strings(pa.array(values))
    series = pd.Series(values, dtype=object)
    candidates = {
        "large_string": pa.array(values, pa.large_string()),
        "few chunks": _chunked(values, [700, 2100], pa.string()),
        "many small chunks": pa.chunked_array([pa.array(values[i : i + 3], pa.string()) for i in range(0, len(values), 3)]),
        "large chunks": _chunked(values, [1], pa.large_string()),
        "slice": pa.array(["p"] * 11 + values + ["s"] * 7).slice(11, len(values)),
        "slice of large": pa.array(["p"] * 11 + values, pa.large_string()).slice(11),
        "dictionary": pa.array(values).dictionary_encode(),
        "binary": pa.array([None if v is None else v.encode() for v in values], pa.binary()),
        "object series": series,
        "str series": series.astype("str").where(series.notna(), None),
        "series with an index": pd.Series(values, index=range(100, 100 + len(values)), dtype=object),
    }
    for name, candidate in candidates.items():
        assert (hash_strings(candidate) == want).all(), name
    # the same string hashes the same at any row and whatever its neighbours
    ids = hash_strings(pa.array(["ev-7", "ev-77", "ev-7", "x" * 300, "ev-7"]))
    assert ids[0] == ids[2] == ids[4] == hash_strings(pa.array(["ev-7"]))[0]


def test_distinct_strings_hash_distinct_in_a_large_set():
    rng = random.Random(5)
    long = "".join(rng.choice("abcdef") for _ in range(6000))
    uuids = (f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"
             for h in (f"{rng.getrandbits(128):032x}" for _ in range(600_000)))
    values = list(dict.fromkeys(chain(  # distinct, in a fixed order
        (f"ev-{i}" for i in range(800_000)),
        uuids,
        (f"{i:x}" for i in range(300_000)),  # 1 to 5 hex digits, some equal to ids' digits
        (f"évé€😀{i}" for i in range(200_000)),
        (f"{i % 97}\x00{i}" for i in range(100_000)),
        ("\x00" * n for n in range(100)), ("a" * n for n in range(100)),  # incl. ""
        (long[:n] for n in range(4000, 4200)),  # > 4 KiB, prefixes of one another
        (long[:p] + "Z" + long[p + 1 :] for p in range(0, 6000, 7)),  # > 4 KiB, one byte apart
    )))
    assert len(values) > 2_000_000
    hashes = np.sort(hash_strings(pa.array(values)))
    assert (hashes[1:] != hashes[:-1]).all()


@pytest.mark.parametrize("length", [9, 4097, 6000, 70_000])
def test_one_byte_apart_hash_distinct(length):
    base = bytes(random.Random(6).choices(range(256), k=length))
    variants = [base]
    for position in (0, 7, 8, 4095, 4096, 5000, 69_999):
        if position < length:
            for delta in (1, 128, 255):  # 128: the largest power of two a byte difference can hold
                changed = bytearray(base)
                changed[position] = (changed[position] + delta) % 256
                variants.append(bytes(changed))
    hashes = hash_strings(pa.array(variants, pa.binary()))
    assert len(set(hashes.tolist())) == len(variants)
    assert (hashes == expected(variants)).all()


def test_what_collided_before_does_not():
    # the former hash reused the weights every 4096 bytes with an odd factor: 3 * w - 1 * (3 * w) == 0
    first, second = "d" + "x" * 4095 + "a", "a" + "x" * 4095 + "b"
    hashes = hash_strings(pa.array([first, second]))
    assert hashes[0] != hashes[1]


@pytest.mark.parametrize("pair", [
    ("a", "a\x00"), ("", "\x00"), ("\x00", "\x00\x00"), ("a" * 4096, "a" * 4097), ("", " "),
    ("x" * 65_536, "x" * 65_537), ("ab", "ba"), ("ev-1", "ev-10"),
])
def test_lengths_and_trailing_nuls_tell_strings_apart(pair):
    for kind in (pa.string(), pa.large_string()):
        hashes = hash_strings(pa.array(list(pair), kind))
        assert hashes[0] != hashes[1]


def test_nulls_hash_as_the_empty_string():
    empty = reference("")
    assert (hash_strings(pa.array(["a", None, ""])) == [reference("a"), empty, empty]).all()
    assert (hash_strings(pa.array([None, None], pa.string())) == empty).all()
    assert (hash_strings(pd.Series(["a", None, np.nan, ""], dtype=object))[1:] == empty).all()
    # a null slot may cover bytes (Arrow allows it): they are ignored
    validity = pa.py_buffer(np.packbits([1, 0, 1], bitorder="little").tobytes())
    offsets = pa.py_buffer(np.array([0, 1, 3, 5], dtype=np.int32).tobytes())
    array = pa.Array.from_buffers(pa.string(), 3, [validity, offsets, pa.py_buffer(b"abcde")])
    assert array.to_pylist() == ["a", None, "de"]
    assert (hash_strings(array) == [reference("a"), empty, reference("de")]).all()
    assert (hash_strings(array.slice(1)) == [empty, reference("de")]).all()


def test_empty_inputs():
    for values in (pa.array([], pa.string()), pa.chunked_array([], pa.large_string()), pd.Series([], dtype=object)):
        hashes = hash_strings(values)
        assert hashes.dtype == np.uint64 and hashes.shape == (0,)


def test_other_types_are_cast_to_strings():
    assert (hash_strings(pd.Series([1, 22, 333])) == expected(["1", "22", "333"])).all()


def test_weights_past_the_cache_are_the_same_draws():
    cached = len(hashing._W)
    drawn = hashing._weights(0, cached - 10, cached + 5000)
    assert (drawn[:10] == hashing._W[-10:]).all()
    assert drawn[10:].tolist() == [_weight(0, i) for i in range(cached, cached + 5000)]
    assert int(hashing._weights(1, cached + 3, cached + 4)[0]) == _weight(1, cached + 3)


def test_the_weights_are_secret_to_each_process():
    """A linear hash with known weights can be made to collide (this pair did, under a fixed seed):
    each process draws its own seed, so ids cannot be crafted against it."""
    import subprocess
    import sys

    seeds = {subprocess.run([sys.executable, "-c", "import roi.string_hashes as h; print(h._SEED)"],
                            capture_output=True, text=True, check=True).stdout for _ in range(2)}
    assert len(seeds) == 2
    crafted = hash_strings(pa.array([">I[GROSQPOU\\YO", "PPPPPPPPPPPPPP"]))
    assert crafted[0] != crafted[1]
