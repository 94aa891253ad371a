"""A user transform that fails while FAIL is set: a stand-in for a transient outage."""

import pyarrow as pa

FAIL = True


def maybe_fail(batch: pa.RecordBatch) -> pa.RecordBatch:
    if FAIL:
        raise ConnectionError("reference service unavailable")
    return batch
