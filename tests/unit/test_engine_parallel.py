"""The landing hop's worker pool: order kept, errors in order, nothing left running, digests thread-safe."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import pytest
from zone_consumer.dedupe import RowDeduplicator, RowDigester
from zone_consumer.parallel import default_workers, ordered_map


def test_results_come_in_input_order_whatever_finishes_first():
    def slow_for_small(n: int) -> int:
        time.sleep(0.002 * (10 - n % 10))
        return n * n

    assert list(ordered_map(slow_for_small, range(50), workers=2, in_flight=3)) == [n * n for n in range(50)]


def test_at_most_in_flight_items_are_pulled_ahead_of_the_consumer():
    pulled = []

    def items():
        for n in range(20):
            pulled.append(n)
            yield n

    results = ordered_map(lambda n: n, items(), workers=2, in_flight=2)
    assert next(results) == 0
    assert len(pulled) <= 2 + 1  # the item whose submission filled the window, at most one more
    results.close()


def test_a_failing_item_raises_at_its_turn_after_the_earlier_results():
    def fail_at_3(n: int) -> int:
        if n == 3:
            raise ValueError("bad batch 3")
        return n

    got = []
    with pytest.raises(ValueError, match="bad batch 3"):
        for value in ordered_map(fail_at_3, range(10), workers=2):
            got.append(value)
    assert got == [0, 1, 2]


def test_an_error_of_the_source_surfaces_on_the_caller():
    def items():
        yield 1
        raise OSError("read failed")

    with pytest.raises(OSError, match="read failed"):
        list(ordered_map(lambda n: n, items(), workers=2))


def test_closing_early_leaves_no_worker_running():
    before = {t.name for t in threading.enumerate()}
    results = ordered_map(lambda n: time.sleep(0.01) or n, range(100), workers=2, in_flight=4)
    assert [next(results) for _ in range(3)] == [0, 1, 2]
    results.close()
    assert not {t.name for t in threading.enumerate() if t.name.startswith("datalake-worker")} - before


def test_zero_workers_is_a_plain_map_on_the_calling_thread():
    caller = threading.get_ident()
    assert list(ordered_map(lambda n: threading.get_ident() == caller, range(3), workers=0)) == [True] * 3


COMMON = ("y" * 900, "common")  # a row every batch holds: its digest must be the same in every batch


def _batch(seed: int, rows: int) -> pa.RecordBatch:
    rng = np.random.default_rng(seed)
    width = int(rng.integers(1, 3000))  # each batch asks for a different number of keys first
    a = [("x" * int(rng.integers(0, width))) + str(i) for i in range(rows)] + [COMMON[0]]
    b = [None if i % 5 == 0 else "v" for i in range(rows)] + [COMMON[1]]
    return pa.record_batch([pa.array(a), pa.array(b)], ["a", "b"])


def test_digests_computed_on_threads_use_one_key_sequence():
    """The digester's keys grow lazily; batches digested on several threads must share them."""
    for attempt in range(5):
        shared = RowDigester(seed=attempt)
        batches = [_batch(seed, 50) for seed in range(32)]
        with ThreadPoolExecutor(max_workers=4) as pool:
            digests = list(pool.map(shared, batches))
        common = {(int(h[-1]), int(low[-1])) for h, low in digests}
        assert len(common) == 1
        again = [shared(b) for b in batches]  # and the same digests when computed in turn afterwards
        for (h1, l1), (h2, l2) in zip(digests, again, strict=True):
            assert np.array_equal(h1, h2) and np.array_equal(l1, l2)


def test_pushing_precomputed_digests_drops_the_same_rows_as_pushing_plain_batches():
    values = [str(i % 700) for i in range(4000)]
    batches = [pa.record_batch([pa.array(values[s : s + 400])], ["v"]) for s in range(0, 4000, 400)]
    plain = RowDeduplicator(seed=4)
    kept_plain = [plain.push(b) for b in batches]
    ahead = RowDeduplicator(seed=4)
    with ThreadPoolExecutor(max_workers=2) as pool:
        digests = list(pool.map(ahead.digest, batches))
    kept_ahead = [ahead.push(b, d) for b, d in zip(batches, digests, strict=True)]
    assert [k.to_pydict() for k in kept_plain] == [k.to_pydict() for k in kept_ahead]
    assert sum(k.num_rows for k in kept_ahead) == 700
    assert plain.dropped == ahead.dropped == 4000 - 700


def test_the_pool_is_off_unless_datalake_workers_sets_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("DATALAKE_WORKERS", raising=False)
    assert default_workers() == 0
    monkeypatch.setenv("DATALAKE_WORKERS", "2")
    assert default_workers() == 2


def test_the_reader_spares_only_items_the_consumer_is_not_ready_for():
    """An item that would wait in a full hand-off queue is passed through `spare` first; order is kept."""
    from zone_consumer.formats import _background

    spared: list[int] = []

    def spare(item: int) -> tuple[int]:
        spared.append(item)
        return (item,)

    received = []
    for item in _background(iter(range(40)), depth=1, name="test-reader", spare=spare):
        time.sleep(0.005)  # a slow consumer: the queue is full whenever the next item is ready
        received.append(item)
    assert [item[0] if isinstance(item, tuple) else item for item in received] == list(range(40))
    assert [item[0] for item in received if isinstance(item, tuple)] == spared
    assert len(spared) >= 30  # all but the first few, which found the queue empty
