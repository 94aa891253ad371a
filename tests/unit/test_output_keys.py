"""Output keys are an injective function of the source key: two sources never share one output.

Property-based (hypothesis): over generated sets of keys built from the parts that collided in
the field (`.csv`/`.CSV`/`.csv.gz`/`.txt`/no extension, `~`, dots, Unicode, nested prefixes),
every hop of the default chain (CSV -> CSV -> Parquet) maps distinct keys to distinct keys.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from zone_consumer.pipeline import output_key, source_key_of

FORMATS = ("csv", "parquet")
# Pieces that make near-identical names likely, so collisions would be found, not just possible.
PIECES = st.sampled_from(["a", "b", "UP", "x.y", "~", "~~", ".", ".csv", ".CSV", ".gz", ".txt", ".parquet", "é", " "])
NAMES = st.lists(PIECES, min_size=0, max_size=6).map("".join) | st.text(max_size=12)
KEYS = st.builds(lambda prefix, name: prefix + name, st.sampled_from(["", "sales/", "sales/2026/", "misc/"]), NAMES)


@settings(max_examples=400, deadline=None)
@given(st.sets(KEYS, min_size=2, max_size=40))
def test_no_two_source_keys_share_an_output_on_any_hop(keys: set[str]) -> None:
    for fmt in FORMATS:
        outputs = {output_key(key, fmt) for key in keys}
        assert len(outputs) == len(keys), f"collision into {fmt}"
    staged = {output_key(key, "csv") for key in keys}  # raw -> staged -> curated, composed
    assert len({output_key(key, "parquet") for key in staged}) == len(keys)


@settings(max_examples=400, deadline=None)
@given(KEYS, st.sampled_from(FORMATS))
def test_the_source_key_can_be_read_back_from_the_output_key(key: str, fmt: str) -> None:
    out = output_key(key, fmt)
    assert out.endswith(f".{fmt}")
    assert source_key_of(out, fmt) == key


@pytest.mark.parametrize(
    ("source", "fmt", "expected"),
    [
        ("sales/a.csv", "parquet", "sales/a.parquet"),
        ("sales/a.csv", "csv", "sales/a.csv"),
        ("sales/a.csv.gz", "parquet", "sales/a.csv.gz~.parquet"),
        ("sales/b.txt", "csv", "sales/b.txt~.csv"),
        ("UP.CSV", "parquet", "UP.CSV~.parquet"),
        ("notes", "csv", "notes~.csv"),
        ("a~b.csv", "parquet", "a~~b.parquet"),
    ],
)
def test_the_rule_reads_as_documented(source: str, fmt: str, expected: str) -> None:
    assert output_key(source, fmt) == expected


def test_the_pairs_that_collided_in_the_field_no_longer_do() -> None:
    for pair in [
        ("sales/zipped.csv.gz", "sales/zipped.csv"),
        ("sales/notes.txt", "sales/notes.csv"),
        ("UP.CSV", "UP.csv"),
    ]:
        for fmt in FORMATS:
            assert output_key(pair[0], fmt) != output_key(pair[1], fmt)
