"""Built-in zone transforms and the registry of user transforms.

A transform works on one Arrow record batch at a time, so it never needs the whole
object in memory. The built-ins are:

- ``clean`` (out of the landing zone): trimmed strings, empty -> null, exact duplicate rows
  dropped, ingestion metadata columns added. Header names are made snake_case by the reader.
- ``typed`` (into a Parquet zone): the text columns of a clean CSV get real types.

A user transform is a dotted path `package.module:function` in lake.yaml taking and
returning a ``pyarrow.RecordBatch`` (or a Table). A function written for pandas is wrapped
with :func:`pandas_transform`.
"""

from __future__ import annotations

import functools
import importlib
from collections.abc import Callable
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zone_consumer.dedupe import RowDeduplicator, mask_array, validity_mask

BatchTransform = Callable[[pa.RecordBatch], pa.RecordBatch | pa.Table]
SOURCE_KEY_COLUMN = "_source_key"
INGESTED_AT_COLUMN = "_ingested_at"
METADATA_COLUMNS = (SOURCE_KEY_COLUMN, INGESTED_AT_COLUMN)
__all__ = ["RowDeduplicator", "clean_batch", "clean_column", "constant_column", "with_ingestion_metadata"]


class TransformError(ValueError):
    """A user transform failed or returned something that is not a batch."""


def clean_column(column: pa.Array) -> pa.Array:
    """Trim whitespace and turn empty strings into nulls.

    The null marking reuses the trimmed array's buffers with a new validity bitmap instead
    of `if_else`, which would copy every value a second time.
    """
    trimmed = pc.utf8_trim_whitespace(column)
    if len(trimmed) == 0:
        return trimmed
    offsets = np.frombuffer(trimmed.buffers()[1], dtype=np.int32)[trimmed.offset : trimmed.offset + len(trimmed) + 1]
    keep = np.diff(offsets) > 0
    valid = validity_mask(trimmed)
    if valid is not None:
        keep &= valid
    if trimmed.offset:
        return pc.if_else(mask_array(keep), trimmed, pa.nulls(len(trimmed), trimmed.type))
    validity = pa.py_buffer(np.packbits(keep, bitorder="little"))
    return pa.Array.from_buffers(trimmed.type, len(trimmed), [validity, *trimmed.buffers()[1:]])


def constant_column(value: str, n: int) -> pa.Array:
    """`n` copies of one string, built from buffers (a Python list would make pyarrow import pandas)."""
    data = value.encode("utf-8")
    offsets = np.arange(n + 1, dtype=np.int32) * np.int32(len(data))
    return pa.Array.from_buffers(pa.string(), n, [None, pa.py_buffer(offsets), pa.py_buffer(data * n)])


def portable_types(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Nanosecond timestamps become microseconds: Spark, Athena and Glue read those natively."""
    fields = [
        pa.field(f.name, pa.timestamp("us", f.type.tz)) if pa.types.is_timestamp(f.type) and f.type.unit == "ns" else f
        for f in batch.schema
    ]
    schema = pa.schema(fields)
    return batch if schema.equals(batch.schema) else batch.cast(schema)


def with_ingestion_metadata(batch: pa.RecordBatch, source_key: str, ingested_at: str) -> pa.RecordBatch:
    """Append the columns that tie every row to the object and event it came from."""
    n = batch.num_rows
    arrays = [*batch.columns, constant_column(source_key, n), constant_column(ingested_at, n)]
    names = [*batch.schema.names, SOURCE_KEY_COLUMN, INGESTED_AT_COLUMN]
    return pa.RecordBatch.from_arrays(arrays, names=names)


def clean_batch(batch: pa.RecordBatch, names: list[str]) -> pa.RecordBatch:
    """Rename positional columns to lake names and clean every text column."""
    return pa.RecordBatch.from_arrays([clean_column(col) for col in batch.columns], names=names)


@functools.cache
def load_user_transform(path: str) -> BatchTransform:
    """Import `package.module:function` (or `package.module.function`) once per process."""
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise TransformError(f"user transform {path!r}: cannot import module {module_name!r}: {exc}") from None
    function = getattr(module, attr, None)
    if not callable(function):
        raise TransformError(f"user transform {path!r}: {module_name!r} has no callable {attr!r}")
    return function


def apply_user_transform(function: BatchTransform, batch: pa.RecordBatch, path: str) -> list[pa.RecordBatch]:
    """Call a user transform and normalise its result to a list of batches."""
    try:
        result: Any = function(batch)
    except Exception as exc:
        raise TransformError(f"user transform {path!r} failed: {type(exc).__name__}: {exc}") from exc
    if isinstance(result, pa.RecordBatch):
        return [result]
    if isinstance(result, pa.Table):
        return result.to_batches()
    raise TransformError(f"user transform {path!r} returned {type(result).__name__}, not a pyarrow RecordBatch")


def pandas_transform(function: Callable[[Any], Any]) -> BatchTransform:
    """Adapt a ``DataFrame -> DataFrame`` function to the batch interface.

    Usage in a transforms module::

        @pandas_transform
        def mask_emails(df):
            df["email"] = df["email"].str.replace(r"^[^@]+", "***", regex=True)
            return df
    """

    @functools.wraps(function)
    def wrapper(batch: pa.RecordBatch) -> pa.RecordBatch | pa.Table:
        frame = batch.to_pandas()
        result = function(frame)
        return pa.Table.from_pandas(result, preserve_index=False)

    return wrapper
