"""The read throttle bounds Arrow's read-ahead, never deadlocks an open that fails, and is let go
of by Arrow before a close returns.

Arrow's `open_csv` reads and parses the first block before it returns; when that fails it waits
for its background read to end before raising. That read may be parked in the throttle with the
budget spent: the consumer was not "waiting for a batch", so nothing let it through, and the open
hung for good. Seen as a CI run whose bad-input corpus never settled, then reproduced: four
consumers stuck in `open_csv` (py-spy: BackgroundGenerator::Cleanup waiting), the I/O threads
parked in `_ReadThrottle.read`. Then, once that was fixed, a child process that had run many
failing opens aborted as it exited (PyGILState_Release): Arrow freed its reader, and the read-ahead
blocks it held as views of Python bytes, on its own threads after the interpreter was finalising.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading
import weakref

import pytest
from zone_consumer import formats
from zone_consumer.formats import InputError, _ReadThrottle, iter_batches, open_csv_stream

BLOCK = 1024


def parked_read(throttle: _ReadThrottle) -> threading.Event:
    """Spend the throttle's budget, then start one more read on a thread; set when it returns."""
    for _ in range(3):
        throttle.read(BLOCK)
    returned = threading.Event()
    threading.Thread(target=lambda: (throttle.read(BLOCK), returned.set()), daemon=True).start()
    return returned


def test_a_read_past_the_budget_waits_while_nobody_waits_for_a_batch() -> None:
    throttle = _ReadThrottle(io.BytesIO(b"x" * 16 * BLOCK), BLOCK, ahead=3)
    returned = parked_read(throttle)
    assert not returned.wait(1.5), "the throttle let Arrow read past its budget with no consumer waiting"
    throttle.close()
    assert returned.wait(5), "closing the throttle did not release the parked read"


def test_opening_the_csv_lets_a_parked_read_through() -> None:
    throttle = _ReadThrottle(io.BytesIO(b"x" * 16 * BLOCK), BLOCK, ahead=3)
    returned = parked_read(throttle)
    assert not returned.wait(0.5)
    with throttle.opening():  # what open_csv_stream wraps Arrow's open_csv in
        assert returned.wait(5), "a read parked during open_csv would hang a failing open for good"
    throttle.close()


class TrackedBytes(bytearray):
    """A read's data that can be weakly referenced (bytes cannot)."""


@pytest.fixture
def arrow_sources(monkeypatch: pytest.MonkeyPatch) -> list[weakref.ref[object]]:
    """A weak reference to every file object handed to Arrow, and to every read's data it got:
    all dead once Arrow let go of the input. (Arrow frees what it still holds on its own threads,
    taking the GIL: in a process that is exiting, that aborts it.)"""
    handed: list[weakref.ref[object]] = []

    class TrackedSource(formats._ArrowSource):
        def __init__(self, throttle: _ReadThrottle):
            super().__init__(throttle)
            handed.append(weakref.ref(self))

        def read(self, size: int = -1) -> bytes:
            data = TrackedBytes(super().read(size))
            handed.append(weakref.ref(data))
            return data  # type: ignore[return-value]

    monkeypatch.setattr(formats, "_ArrowSource", TrackedSource)
    return handed


def alive(handed: list[weakref.ref[object]]) -> list[str]:
    return [type(obj).__name__ for ref in handed if (obj := ref()) is not None]


def test_a_failed_open_returns_only_once_arrow_let_go_of_the_input(arrow_sources: list) -> None:
    data = b"id,payload\n1," + b"x" * (4 << 20) + b"\n"
    with pytest.raises(InputError, match="longer than"):
        open_csv_stream(io.BufferedReader(io.BytesIO(data)), block_size=64 << 10)
    assert len(arrow_sources) > 1
    assert not alive(arrow_sources), "Arrow still holds the input after open_csv_stream raised"


def test_closing_mid_stream_returns_only_once_arrow_let_go_of_the_input(arrow_sources: list) -> None:
    data = b"a,b\n" + b"1,2\n" * 200_000
    _, reader = open_csv_stream(io.BytesIO(data), block_size=64 << 10)
    batches = iter_batches(reader, read_ahead=1)
    next(batches)
    batches.close()  # abandoned after one batch, Arrow's read-ahead under way
    assert len(arrow_sources) > 1
    assert not alive(arrow_sources), "Arrow still holds the input after the reader was closed"


def test_a_parse_error_mid_stream_does_not_keep_arrow_holding_the_input(arrow_sources: list) -> None:
    """The error's traceback keeps the frames it passed through: none may keep Arrow's reader."""
    data = b"a,b\n" + b"1,2\n" * 200_000 + b"3,\xff\xfe\n"
    _, reader = open_csv_stream(io.BytesIO(data), block_size=64 << 10)
    with pytest.raises(InputError, match="not UTF-8"):
        for _ in iter_batches(reader, read_ahead=1):
            pass
    assert not alive(arrow_sources), "a parse error's traceback keeps Arrow's reader and the input"


RACE = """
import io, threading
from zone_consumer.formats import InputError, open_csv_stream

data = b"id,payload\\n1," + b"x" * (8 << 20) + b"\\n"
errors = []

def open_many():
    for _ in range(40):
        try:
            open_csv_stream(io.BufferedReader(io.BytesIO(data)), block_size=64 << 10)
        except InputError as exc:
            errors.append(str(exc))

threads = [threading.Thread(target=open_many) for _ in range(4)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
print(len(errors), sum("longer than" in error for error in errors))
"""


@pytest.mark.slow
@pytest.mark.parametrize("run", range(3))
def test_concurrent_opens_of_rows_longer_than_the_block_all_end(run: int) -> None:
    """The race itself: rows longer than the block fail inside open_csv, four consumers at once.
    In a child process: before the fix it hung (in Arrow's cleanup, which no timeout reaches);
    before the second fix about one child in ten aborted as it exited (so: three children)."""
    try:
        result = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("an open of a row longer than the block hung (120 s)")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["160", "160"]  # every open ended, each with the long-row error
