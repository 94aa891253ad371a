"""clean_column trims Unicode whitespace (the ASCII separators U+001C-U+001F included) and makes empty values null."""

from __future__ import annotations

import random

import pyarrow as pa
import pyarrow.compute as pc
import pytest
from zone_consumer.transforms import clean_column

ASCII = [chr(c) for c in range(128)]
UNICODE_SPACES = ["\u00a0", "\u2003", "\u3000", "\u0085", "é"]


def reference(values: list[str | None]) -> list[str | None]:
    trimmed = pc.utf8_trim_whitespace(pa.array(values, pa.string())).to_pylist()
    return [None if v is None or v == "" else v for v in trimmed]


@pytest.mark.parametrize("alphabet", [ASCII, ASCII + UNICODE_SPACES], ids=["ascii", "unicode"])
def test_clean_column_equals_unicode_trimming(alphabet: list[str]) -> None:
    rng = random.Random(7)
    values: list[str | None] = ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 5))) for _ in range(5000)]
    values[::50] = [None] * len(values[::50])
    column = pa.array(values, pa.string())
    assert clean_column(column).to_pylist() == reference(values)
    assert clean_column(column.slice(13, 700)).to_pylist() == reference(values[13:713])


@pytest.mark.parametrize("separator", ["\x1c", "\x1d", "\x1e", "\x1f"])
def test_the_ascii_separators_that_unicode_calls_whitespace_are_trimmed(separator: str) -> None:
    values = [f"{separator}a{separator}", separator, " b "]
    assert clean_column(pa.array(values)).to_pylist() == ["a", None, "b"]
