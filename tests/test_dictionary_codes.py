"""Dictionary codes of text columns, the shared step of pricing and cell sums."""

import pyarrow as pa

from roi.dictionary_codes import dictionary_codes


def _decoded(column) -> list[str]:
    codes, values = dictionary_codes(column)
    return [values[code] for code in codes.tolist()]


def test_plain_strings_with_nulls_decode_to_themselves_and_blank():
    column = pa.array(["a", None, "b", "a", ""])
    assert _decoded(column) == ["a", "", "b", "a", ""]


def test_a_null_in_the_dictionary_and_a_null_index_are_both_blank():
    column = pa.DictionaryArray.from_arrays(pa.array([0, None, 1, 2], pa.int32()), pa.array([None, "x", "x"]))
    assert _decoded(column) == ["", "", "x", "x"]


def test_chunked_columns_decode_across_chunks():
    column = pa.chunked_array([pa.array(["a", "b"]).dictionary_encode(), pa.array(["b", None]).dictionary_encode()])
    assert _decoded(column) == ["a", "b", "b", ""]


def test_an_empty_column_has_no_codes():
    codes, _ = dictionary_codes(pa.array([], pa.string()))
    assert len(codes) == 0


def test_null_indices_into_a_full_int8_dictionary():
    values = pa.array([f"v{i}" for i in range(128)])
    column = pa.DictionaryArray.from_arrays(pa.array([0, None, 127], pa.int8()), values)
    assert _decoded(column) == ["v0", "", "v127"]
