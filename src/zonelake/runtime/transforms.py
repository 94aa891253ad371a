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
import hashlib
import importlib
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

BatchTransform = Callable[[pa.RecordBatch], pa.RecordBatch | pa.Table]
SOURCE_KEY_COLUMN = "_source_key"
INGESTED_AT_COLUMN = "_ingested_at"
METADATA_COLUMNS = (SOURCE_KEY_COLUMN, INGESTED_AT_COLUMN)
ROW_SEPARATOR = "\x1f"
NULL_MARK = "\x00"


class TransformError(ValueError):
    """A user transform failed or returned something that is not a batch."""


def clean_column(column: pa.Array) -> pa.Array:
    """Trim whitespace and turn empty strings into nulls."""
    trimmed = pc.utf8_trim_whitespace(column)
    return pc.if_else(pc.equal(trimmed, ""), pa.scalar(None, pa.string()), trimmed)


class RowDeduplicator:
    """Drops rows already seen in this object, keeping one 16-byte digest per distinct row.

    Digests rather than rows keep memory proportional to the number of distinct rows times
    16 bytes, not to the data; BLAKE2b-128 makes a false "duplicate" practically impossible.
    """

    def __init__(self) -> None:
        self._seen: set[bytes] = set()
        self.dropped = 0

    def __call__(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        if batch.num_rows == 0 or batch.num_columns == 0:
            return batch
        joined = pc.binary_join_element_wise(
            *batch.columns, ROW_SEPARATOR, null_handling="replace", null_replacement=NULL_MARK
        )
        keep = []
        seen = self._seen
        for value in joined.to_pylist():
            digest = hashlib.blake2b(value.encode("utf-8", "surrogatepass"), digest_size=16).digest()
            if digest in seen:
                keep.append(False)
            else:
                seen.add(digest)
                keep.append(True)
        kept = batch.filter(pa.array(keep, pa.bool_()))
        self.dropped += batch.num_rows - kept.num_rows
        return kept


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
    arrays = [*batch.columns, pa.array([source_key] * n, pa.string()), pa.array([ingested_at] * n, pa.string())]
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
