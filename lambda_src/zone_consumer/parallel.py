"""Per-batch work on a small thread pool, results in input order, a bounded number in flight.

Why threads and not processes: the per-batch work of the landing hop (cleaning with Arrow's
string kernels, the row digest with numpy) runs mostly inside Arrow and numpy kernels that
release the GIL, so two threads use two cores without copying batches between processes;
only the step that must see every row in order (the de-duplicator's insert) stays on the
calling thread. The bound on batches in flight is what keeps memory flat: each one holds a
parsed and a cleaned copy of an input block.
"""

from __future__ import annotations

import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")


def default_workers() -> int:
    """DATALAKE_WORKERS, else 0: the batch work stays on the calling thread.

    Measured on the bench's 100 MB inputs on 2 cores (docs/performance.md), two workers gave the
    same MB/s on `orders` and `text` and 8% more on `wide`, for 25-35 MB more peak RSS (a second
    batch in flight): the reader and writer threads already keep the second core busy. In Lambda
    a function below 1,769 MB does not even get one full vCPU. So the pool is there for a
    deployment that measures a gain on its own data, and off by default."""
    configured = os.environ.get("DATALAKE_WORKERS", "")
    return max(0, int(configured)) if configured.strip() else 0


def ordered_map(
    function: Callable[[T], R], items: Iterable[T], workers: int | None = None, in_flight: int | None = None
) -> Iterator[R]:
    """`function(item)` for every item, computed on `workers` threads, yielded in the order of `items`.

    At most `in_flight` items (default: `workers`) are submitted and not yet yielded. Items are
    pulled from `items` on the calling thread, so its exceptions surface here in order; an
    exception of `function` is raised when its result's turn comes. Closing the iterator
    early cancels what has not started and waits for what has, so no worker outlives it.
    With 0 workers it is a plain `map` on the calling thread.
    """
    workers = default_workers() if workers is None else workers
    if workers <= 0:
        yield from map(function, items)
        return
    limit = max(1, in_flight or workers)
    pending: deque[Future[R]] = deque()
    pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="datalake-worker")
    try:
        for item in items:
            pending.append(pool.submit(function, item))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        pool.shutdown(wait=True)
