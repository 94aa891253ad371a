"""The bounded-memory row deduplicator: exact, order-preserving, the same in memory and spilled."""

from __future__ import annotations

import os
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest
from zone_consumer.dedupe import RowDeduplicator, RowDigester, _DigestTable


def batch(rows: list[tuple], names: tuple[str, ...] = ("a", "b")) -> pa.RecordBatch:
    columns = list(zip(*rows, strict=True)) if rows else [[] for _ in names]
    return pa.RecordBatch.from_arrays([pa.array(list(c), pa.string()) for c in columns], names=list(names))


def run(deduplicator: RowDeduplicator, batches: list[pa.RecordBatch]) -> list[tuple]:
    """Push every batch, drain, and return the rows that came out, in output order."""
    out: list[pa.RecordBatch] = []
    with deduplicator:
        for b in batches:
            ready = deduplicator.push(b)
            if ready is not None:
                out.append(ready)
        out.extend(deduplicator.drain())
    return [tuple(row.values()) for b in out for row in b.to_pylist()]


def first_occurrences(rows: list[tuple]) -> list[tuple]:
    seen: set[tuple] = set()
    return [r for r in rows if not (r in seen or seen.add(r))]


def random_rows(n: int, seed: int, distinct: int) -> list[tuple]:
    """Rows drawn from a small pool, so many repeat, with nulls, empties and padding."""
    rng = random.Random(seed)
    values = [None, "", " ", "x", "x ", "é", "a,b", 'q"q', "line\nbreak", "0", "00", "long" * 50]
    pool = [(rng.choice(values), rng.choice(values), str(rng.randrange(distinct))) for _ in range(distinct)]
    return [rng.choice(pool) for _ in range(n)]


def test_duplicates_across_batches_are_dropped_and_order_is_kept():
    rows = [("1", "a"), ("2", "b"), ("1", "a"), ("3", None), ("2", "b"), ("3", None), ("4", "d")]
    batches = [batch(rows[:2]), batch(rows[2:5]), batch(rows[5:])]
    dedupe = RowDeduplicator()
    assert run(dedupe, batches) == [("1", "a"), ("2", "b"), ("3", None), ("4", "d")]
    assert dedupe.dropped == 3
    assert not dedupe.spilled


def test_null_and_empty_string_are_different_values():
    rows = [("a", None), ("a", ""), (None, "a"), ("", "a"), (None, None), ("", ""), ("a", None)]
    assert run(RowDeduplicator(), [batch(rows)]) == rows[:-1]


def test_a_value_boundary_cannot_be_confused_with_the_data():
    rows = [("ab", "c"), ("a", "bc"), ("abc", ""), ("", "abc"), ("a\x1fb", "c"), ("a", "b\x1fc"), ("a\x00", None)]
    assert run(RowDeduplicator(), [batch(rows)]) == rows


def test_distinct_rows_are_all_kept():
    rows = [(str(i), f"value {i % 7}") for i in range(20_000)]
    assert run(RowDeduplicator(), [batch(rows[i : i + 3000]) for i in range(0, len(rows), 3000)]) == rows


def test_matches_a_set_based_reference_on_random_data():
    rows = random_rows(30_000, seed=7, distinct=4_000)
    batches = [batch(rows[i : i + 2_500], ("a", "b", "c")) for i in range(0, len(rows), 2_500)]
    assert run(RowDeduplicator(), batches) == first_occurrences(rows)


def test_spilling_gives_the_same_rows_in_the_same_order(tmp_path: Path):
    rows = random_rows(30_000, seed=11, distinct=9_000)
    batches = [batch(rows[i : i + 1_000], ("a", "b", "c")) for i in range(0, len(rows), 1_000)]
    spilling = RowDeduplicator(memory_limit=16 << 10, spill_dir=str(tmp_path))  # ~600 digests in memory
    out = run(spilling, batches)
    assert spilling.spilled
    assert out == first_occurrences(rows)
    assert spilling.dropped == len(rows) - len(out)
    assert list(tmp_path.iterdir()) == []  # the spill files are gone


def test_spilling_keeps_rows_emitted_before_the_spill_out_of_the_held_back_part(tmp_path: Path):
    early = [(str(i), "early") for i in range(500)]
    late = [(str(i), "early") for i in range(0, 500, 3)] + [(str(i), "late") for i in range(500)]
    dedupe = RowDeduplicator(memory_limit=8 << 10, spill_dir=str(tmp_path))  # 512 slots: ~300 digests
    emitted_first = dedupe.push(batch(early[:250]))
    assert emitted_first is not None and emitted_first.num_rows == 250
    out = run(dedupe, [batch(early[250:]), batch(late)])
    assert dedupe.spilled
    assert [tuple(r.values()) for r in emitted_first.to_pylist()] + out == first_occurrences(early + late)


def test_close_removes_the_spill_even_when_not_drained(tmp_path: Path):
    dedupe = RowDeduplicator(memory_limit=1 << 10, spill_dir=str(tmp_path))
    for i in range(5):
        dedupe.push(batch([(str(i * 100 + j), "v") for j in range(100)]))
    assert dedupe.spilled and list(tmp_path.iterdir())
    dedupe.close()
    assert list(tmp_path.iterdir()) == []


def test_a_row_has_the_same_digest_whatever_batch_it_is_in():
    digest = RowDigester(seed=3)
    row = ("needle", "x" * 10)
    alone = digest(batch([row]))
    among_short = digest(batch([("a", "b"), row, ("c", None)]))
    among_huge = digest(batch([("h" * 100_000, "y"), row] + [(str(i), "") for i in range(50)]))
    for h, low, i in ((alone[0], alone[1], 0), (among_short[0], among_short[1], 1), (among_huge[0], among_huge[1], 1)):
        assert (h[i], low[i]) == (alone[0][0], alone[1][0])


def test_a_batch_digested_in_several_steps_gives_each_row_its_own_digest():
    rows = [(str(i), None if i % 7 == 0 else "v" * (i % 13)) for i in range(40_001)]  # > DIGEST_MAX_ROWS, uneven
    digest = RowDigester(seed=11)
    whole = digest(batch(rows))
    pieces = [digest(batch(rows[start : start + 999])) for start in range(0, len(rows), 999)]
    assert np.array_equal(whole[0], np.concatenate([h for h, _ in pieces]))
    assert np.array_equal(whole[1], np.concatenate([low for _, low in pieces]))


def test_digests_of_distinct_rows_differ_and_use_all_128_bits():
    rows = [(str(i), str(i * 7919 % 1000)) for i in range(50_000)]
    h, low = RowDigester(seed=5)(batch(rows))
    assert len({(int(a), int(b)) for a, b in zip(h, low, strict=True)}) == len(rows)
    assert len(set(h.tolist())) == len(rows) and len(set(low.tolist())) == len(rows)


def _lines(bodies: list[str], suffix: str) -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([body + suffix for body in bodies], pa.binary())], ["_csv_line"])


def test_a_constant_suffix_is_left_out_of_the_digest_and_rows_keep_theirs_whatever_the_batch():
    """Lines ending in the same lineage fields: the digest skips those words; different lines still differ."""
    suffix = ',"raw/orders/2026/xy.csv","2026-12-04T01:00:00.000Z"\n'
    assert len(suffix) % 4 == 1  # whole words of the suffix and one byte of it in the last word hashed
    digest = RowDigester(seed=9)
    bodies = ["", "a", "ab", "abc", "abcd", '"x","y"', '"x","z"', "é" * 7, "q" * 5000] + [str(i) for i in range(3000)]
    h, low = digest(_lines(bodies, suffix), constant_suffix=len(suffix))
    assert len({(int(a), int(b)) for a, b in zip(h, low, strict=True)}) == len(bodies)
    alone = digest(_lines(['"x","z"'], suffix), constant_suffix=len(suffix))
    assert (alone[0][0], alone[1][0]) == (h[6], low[6])  # the same line in a batch of another width
    other_suffix = digest(_lines(['"x","z"'], suffix.replace("xy.csv", "yy.csv")), constant_suffix=len(suffix))
    assert (other_suffix[0][0], other_suffix[1][0]) == (h[6], low[6])  # the skipped words are the suffix's alone


def test_a_constant_suffix_is_a_promise_about_one_column():
    with pytest.raises(ValueError, match="single column"):
        RowDigester(seed=1)(batch([("a", "b")]), constant_suffix=4)


def test_non_string_columns_are_digested_by_value():
    b = pa.RecordBatch.from_arrays([pa.array([1, 2, 1, None, None]), pa.array([1.5, 2.0, 1.5, None, 0.0])], ["i", "f"])
    out = run(RowDeduplicator(), [b])
    assert out == [(1, 1.5), (2, 2.0), (None, None), (None, 0.0)]


@pytest.mark.parametrize("limit", [1 << 10, 1 << 20])
def test_empty_batches_and_zero_rows(limit: int, tmp_path: Path):
    dedupe = RowDeduplicator(memory_limit=limit, spill_dir=str(tmp_path))
    assert run(dedupe, [batch([]), batch([("a", "b")]), batch([])]) == [("a", "b")]


def test_spill_dir_defaults_to_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("DATALAKE_SPILL_DIR", str(tmp_path))
    dedupe = RowDeduplicator(memory_limit=1 << 10)
    dedupe.push(batch([(str(i), "v") for i in range(200)]))
    assert dedupe.spilled
    assert [p.name.startswith("datalake-dedupe-") for p in tmp_path.iterdir()] == [True]
    dedupe.close()
    assert not os.listdir(tmp_path)


def test_the_digest_table_grows_in_steps_to_its_bound_and_keeps_every_digest():
    rng = np.random.default_rng(7)
    high, low = (rng.integers(1, 2**63, size=300_000, dtype=np.uint64) for _ in range(2))
    table = _DigestTable(max_bytes=16 << 20)  # 1 M slots of 16 bytes
    capacities = [table.capacity]
    for start in range(0, len(high), 10_000):
        assert table.insert(high[start : start + 10_000], low[start : start + 10_000]).all()
        capacities.append(table.capacity)
    steps = sorted(set(capacities))
    assert steps == [min(_DigestTable.MIN_CAPACITY * _DigestTable.GROWTH**i, 1 << 20) for i in range(len(steps))]
    assert steps[-1] == 1 << 20 and table.size == len(high)  # the last step stops at the bound
    assert not table.insert(high[::7], low[::7]).any()  # every one is found again after the growths
    assert table.insert(low[:5], high[:5]).all()  # the halves swapped: new digests
    assert len(table.entries()) == len(high) + 5


def test_true_and_validity_masks_read_the_bitmaps_of_sliced_arrays() -> None:
    from zone_consumer.dedupe import true_mask, validity_mask

    values = [True, None, False, True, None, True, False, True, True, None, False]
    array = pa.array(values, pa.bool_())
    for start, length in [(0, 11), (3, 5), (9, 2), (4, 0)]:
        view = array.slice(start, length)
        expected = [bool(v) for v in values[start : start + length]]
        assert true_mask(view).tolist() == expected
        valid = [v is not None for v in values[start : start + length]]
        mask = validity_mask(view)
        assert (None if mask is None else mask.tolist()) == (None if all(valid) else valid)  # None: no null in view
    assert validity_mask(pa.array([True, False])) is None
