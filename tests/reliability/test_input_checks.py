"""The runtime's defences against bad input, one function at a time (fast, no lake)."""

from __future__ import annotations

import random
import re

import pyarrow as pa
import pytest
from zone_consumer.sniff import (
    decoding_problem,
    first_line_problem,
    header_problem,
    inexact_float_column,
    signature_problem,
)
from zone_consumer.spreadsheet import NUMBER, neutralise_formulas, restore_formulas

ALPHABET = ["'", "=", "+", "-", "@", "\t", "\r", "1", "5", ".", "e", "a", " ", ",", "é"]


def random_values(n: int, seed: int) -> list[str | None]:
    rng = random.Random(seed)
    values: list[str | None] = ["".join(rng.choice(ALPHABET) for _ in range(rng.randint(0, 6))) for _ in range(n)]
    values[::97] = [None] * len(values[::97])
    return values


@pytest.mark.parametrize("string_type", [pa.string(), pa.large_string()])
def test_neutralising_is_exactly_undone(string_type: pa.DataType) -> None:
    values = random_values(20_000, seed=1)
    batch = pa.record_batch([pa.array(values, string_type), pa.array(range(len(values)))], names=["text", "n"])
    for view in (batch, batch.slice(37, 5000)):  # sliced arrays have an offset into their buffers
        neutral = neutralise_formulas(view)
        assert restore_formulas(neutral).column(0).to_pylist() == view.column(0).to_pylist()
        assert neutral.column(1).equals(view.column(1))


def test_nothing_a_spreadsheet_would_evaluate_survives() -> None:
    values = random_values(20_000, seed=2)
    neutral = neutralise_formulas(pa.record_batch([pa.array(values)], names=["text"])).column(0).to_pylist()
    live = [v for v in neutral if v and v[0] in "=+-@\t\r" and not re.fullmatch(NUMBER, v)]
    assert live == []


def test_formula_examples() -> None:
    values = ['=HYPERLINK("http://x","y")', "-5", "+1+1", "@SUM(A1)", "'=x", "plain", "1e5", None]
    neutral = neutralise_formulas(pa.record_batch([pa.array(values)], names=["v"])).column(0).to_pylist()
    assert neutral == ['\'=HYPERLINK("http://x","y")', "-5", "'+1+1", "'@SUM(A1)", "''=x", "plain", "1e5", None]


def test_a_column_without_candidates_is_returned_as_is() -> None:
    column = pa.array(["a", "b", None, "c"])
    batch = pa.record_batch([column], names=["v"])
    assert neutralise_formulas(batch) is batch
    assert restore_formulas(batch) is batch


def test_a_null_whose_slot_holds_bytes_stays_null() -> None:
    """Arrow lets a null's slot keep bytes (a kernel may leave them): escaped or not, the value stays null."""
    import numpy as np

    offsets = np.array([0, 2, 4, 7], dtype=np.int32)
    validity = np.packbits(np.array([0, 1, 1], dtype=bool), bitorder="little")
    column = pa.Array.from_buffers(
        pa.string(), 3, [pa.py_buffer(validity), pa.py_buffer(offsets), pa.py_buffer(b"=a=b'=c")], null_count=1
    )
    batch = pa.record_batch([column], names=["v"])
    assert neutralise_formulas(batch).column(0).to_pylist() == [None, "'=b", "''=c"]
    assert restore_formulas(batch).column(0).to_pylist() == [None, "=b", "=c"]


@pytest.mark.parametrize(
    ("head", "expected"),
    [
        (b"\x89PNG\r\n\x1a\n....", "a PNG image"),
        (b"PK\x03\x04....", "an Excel .xlsx workbook is one"),
        (b"%PDF-1.7\n", "a PDF document"),
        (b"PAR1\x15\x04", "a Parquet file"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "legacy Office file"),
        ("id,name\n".encode("utf-16"), "UTF-16 text"),
        ("id,name\n".encode("utf-16-le"), "looks like UTF-16"),
        (b"id\x00\x07\x03,x\n1,2\n", "binary data"),
    ],
)
def test_what_the_first_bytes_say(head: bytes, expected: str) -> None:
    problem = signature_problem(head)
    assert problem is not None and expected in problem


def test_nul_bytes_after_the_header_are_not_a_signature_problem() -> None:
    assert signature_problem(b"id,note\n1,a\x00b\n") is None


def test_decoding_problems_guess_the_encoding() -> None:
    latin1 = "id,city\n1,Zürich\n".encode("latin-1")
    assert "Latin-1 / Windows-1252" in decoding_problem(latin1, latin1.index(b"\xfc"))
    assert "line 2" in decoding_problem(latin1, latin1.index(b"\xfc"))
    rng = random.Random(3)
    garbage = bytes(rng.randrange(256) for _ in range(2000))
    assert "binary data" in decoding_problem(garbage, 5)


def test_header_problems() -> None:
    assert "semicolon-separated" in (header_problem(["a;b;c"]) or "")
    assert "tab-separated" in (header_problem(["a\tb"]) or "")
    assert "looks like data" in (header_problem(["1001", "2026-01-03", "12.50"]) or "")
    assert "looks like data" in (header_problem(["31/12/2026", "-4", "1,5"]) or "")
    assert header_problem(["region", "2025", "2026"]) is None
    assert header_problem(["order id", "amount"]) is None
    assert header_problem(["a;b", "c"]) is None  # two columns: commas are the delimiter


def test_first_line_length() -> None:
    assert "longer than 1 MiB" in (first_line_problem(b"x" * (1 << 20), complete=False) or "")
    assert first_line_problem(b"x" * 100, complete=True) is None  # the whole object: a one-line header
    assert first_line_problem(b"a,b\n" + b"x" * (1 << 20), complete=False) is None


def test_integers_beyond_two_to_the_53_are_caught_in_float_columns() -> None:
    exact = pa.array([1.5, None, 2.0**52, -3.0])
    rounded = pa.array([1.0, None, float(123456789012345678901234567890)])
    batch = pa.record_batch([pa.array(["a", "b", "c", "d"]), exact], names=["s", "f"])
    assert inexact_float_column(batch) is None
    batch = pa.record_batch([pa.array([1, 2, 3]), rounded], names=["i", "f"])
    assert inexact_float_column(batch) == 1
    assert inexact_float_column(batch.slice(0, 2)) is None  # the big value is outside the slice
    with_nan = pa.array([float("nan"), None, -(2.0**60)])  # NaN and nulls are skipped by the range check
    assert inexact_float_column(pa.record_batch([with_nan], names=["f"])) == 0
    assert inexact_float_column(pa.record_batch([with_nan.slice(0, 2)], names=["f"])) is None
