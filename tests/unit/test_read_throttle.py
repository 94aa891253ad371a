"""The read throttle bounds Arrow's read-ahead, and never deadlocks an open that fails.

Arrow's `open_csv` reads and parses the first block before it returns; when that fails it waits
for its background read to end before raising. That read may be parked in the throttle with the
budget spent: the consumer was not "waiting for a batch", so nothing let it through, and the open
hung for good. Seen as a CI run whose bad-input corpus never settled, then reproduced: four
consumers stuck in `open_csv` (py-spy: BackgroundGenerator::Cleanup waiting), the I/O threads
parked in `_ReadThrottle.read`.
"""

from __future__ import annotations

import io
import subprocess
import sys
import threading

import pytest
from zone_consumer.formats import _ReadThrottle

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
def test_concurrent_opens_of_rows_longer_than_the_block_all_end() -> None:
    """The race itself: rows longer than the block fail inside open_csv, four consumers at once.
    In a child process: before the fix it hung (in Arrow's cleanup, which no timeout reaches)."""
    try:
        result = subprocess.run([sys.executable, "-c", RACE], capture_output=True, text=True, timeout=120)
    except subprocess.TimeoutExpired:
        pytest.fail("an open of a row longer than the block hung (120 s)")
    assert result.returncode == 0, result.stderr[-3000:]
    assert result.stdout.split() == ["160", "160"]  # every open ended, each with the long-row error
