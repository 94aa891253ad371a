"""Formula neutralising and restoring: the byte look-up fast path gives what the plain regexes give."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pytest
from zone_consumer.spreadsheet import ESCAPED, NEEDS_ESCAPE, NUMBER, neutralise_formulas, restore_formulas

SAMPLES = [
    "=1+1",
    "-5",
    "+x",
    "@a",
    "\tx",
    "\rx",
    "'=x",
    "''=y",
    "-",
    "",
    None,
    "-1e5",
    "--5",
    "plain",
    "a=b",
    "+3.5",
    ".5",
    "-.5e-3",
    '=HYPERLINK("http://x")',
    "'",
    "'plain",
    "'-5",
    "'@",
    "-5 apples",
    "été",
    "=é",
]


def reference_neutralise(column: pa.Array) -> pa.Array:
    """The contract written the obvious way: regexes over every value."""
    escape = pc.and_(
        pc.match_substring_regex(column, NEEDS_ESCAPE), pc.invert(pc.match_substring_regex(column, f"^{NUMBER}$"))
    )
    return pc.if_else(escape, pc.replace_substring_regex(column, "^", "'", max_replacements=1), column)


def reference_restore(column: pa.Array) -> pa.Array:
    escaped = pc.and_(
        pc.match_substring_regex(column, ESCAPED), pc.invert(pc.match_substring_regex(column, f"^'{NUMBER}$"))
    )
    return pc.if_else(escaped, pc.utf8_slice_codeunits(column, 1), column)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_neutralise_and_restore_match_the_regex_reference(seed: int):
    rng = np.random.default_rng(seed)
    values = [SAMPLES[i] for i in rng.integers(0, len(SAMPLES), 5000)]
    column = pa.array(values, pa.string())
    sliced = column.slice(7, 4000)  # a sliced column (non-zero offset) takes the same path
    for col in (column, sliced):
        batch = pa.RecordBatch.from_arrays([col], names=["v"])
        neutral = neutralise_formulas(batch).column(0)
        assert neutral.equals(reference_neutralise(col))
        restored = restore_formulas(pa.RecordBatch.from_arrays([neutral], names=["v"])).column(0)
        assert restored.equals(col)  # exact round trip, nulls included
        assert restore_formulas(batch).column(0).equals(reference_restore(col))


def test_a_column_without_trigger_bytes_is_returned_as_it_is():
    column = pa.array(["a", "b", None, "c=1"], pa.string())
    batch = pa.RecordBatch.from_arrays([column], names=["v"])
    assert neutralise_formulas(batch) is batch
    negative = pa.RecordBatch.from_arrays([pa.array(["-1", "-2.5", "+3"], pa.string())], names=["v"])
    assert neutralise_formulas(negative) is negative  # numbers start with triggers but are left alone
