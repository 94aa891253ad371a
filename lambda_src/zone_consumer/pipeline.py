"""One object through one hop: read (streaming) -> transform -> write into the next zone.

The output key depends only on the source key and the target format, so the same event
delivered twice overwrites one object instead of adding a second; a delivery whose output
already carries the same source ETag and transform version is skipped outright. It is also
injective (see :func:`output_key`): two sources never share one output.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO, TypeVar
from urllib.parse import quote

import pyarrow as pa
import pyarrow.compute as pc

from zone_consumer import TRANSFORM_VERSION, formats
from zone_consumer.csvlines import csv_lines, trailing_fields
from zone_consumer.dedupe import BatchDigests
from zone_consumer.events import ObjectCreated
from zone_consumer.formats import (
    BatchWriter,
    CsvHeader,
    InputError,
    RowLongerThanBlock,
    open_csv_stream,
)
from zone_consumer.formats import (
    iter_batches as read_batches,
)
from zone_consumer.parallel import default_workers, ordered_map
from zone_consumer.s3io import S3ObjectWriter
from zone_consumer.spec import ConsumerSpec, DatasetRoute
from zone_consumer.spreadsheet import neutralise_formulas, restore_formulas
from zone_consumer.transforms import (
    INGESTED_AT_COLUMN,
    SOURCE_KEY_COLUMN,
    RowDeduplicator,
    apply_user_transform,
    clean_batch,
    load_user_transform,
    portable_types,
    with_ingestion_metadata,
)

CLASSIFICATION_TAG = "dataclassification"
META_PREFIX = "datalake-"
CONTENT_TYPES = {"csv": "text/csv", "parquet": "application/vnd.apache.parquet"}
CSV_SUFFIX = ".csv"
KEPT_WHOLE = "~"  # marks an output named after the whole source name (see output_key)
INGESTED_AT_TYPE = pa.timestamp("us", tz="UTC")  # one type in every typed output, rows or none
LINES_COLUMN = "_csv_line"  # the one column of a batch of encoded lines
LINES_MIN_COLUMNS = 24  # objects with at least this many columns go through the hop as CSV lines (see below)
_CONVERSION_ERROR = re.compile(r"column #(\d+): (?:Row #\d+: )?CSV conversion error")


class UnknownDataset(ValueError):
    """The object lies under no declared dataset prefix and the lake is `strict`: it is refused."""


UNDECLARED_META = f"{META_PREFIX}undeclared"
T = TypeVar("T")
_NOT_NAME = re.compile(r"[^a-z0-9_]+")
MAX_DATASET_NAME = 40


def undeclared_dataset(
    key: str, *, declared: tuple[str, ...] | list[str], default_dataset: str, classification: str
) -> DatasetRoute:
    """The dataset of a key outside every declared one: named after its first path segment.

    `misc/x.csv` -> `misc`; a segment that is not a valid dataset name, or that is one already
    declared, gets a short hash of the segment so two segments never share a name by accident
    (`Sales/` -> `sales_<hash>`, never the declared `sales`); keys at the bucket root belong to
    `default_dataset`. Classified at `classification` (fail-closed: the lake's most restrictive
    level unless lake.yaml's `default_classification` says otherwise).
    """
    segment, slash, _ = key.partition("/")
    if not slash:
        return DatasetRoute(default_dataset, "", classification)
    name = _NOT_NAME.sub("_", segment.lower()).strip("_")
    if not name or not name[0].isalpha():
        name = f"d_{name}".rstrip("_")
    if name != segment or name in declared or name == default_dataset or len(name) > MAX_DATASET_NAME:
        digest = hashlib.sha1(segment.encode()).hexdigest()[:6]
        name = f"{name[: MAX_DATASET_NAME - 7].rstrip('_')}_{digest}"
    return DatasetRoute(name, f"{segment}/", classification)


def forwarded_queue(spec: ConsumerSpec, key: str) -> str | None:
    """The own-queue dataset queue this key's event belongs in, when read from the zone's shared queue."""
    for prefix, queue in spec.forward.items():
        if key.startswith(prefix):
            return queue
    return None


def dataset_of(spec: ConsumerSpec, key: str) -> DatasetRoute:
    """The declared dataset of `key`, else its undeclared one; in a strict lake, a refusal naming the prefix."""
    dataset = spec.dataset_for_key(key)
    if dataset is not None:
        return dataset
    undeclared = undeclared_dataset(
        key,
        declared=spec.declared,
        default_dataset=spec.default_dataset,
        classification=spec.undeclared_classification,
    )
    if spec.strict:
        where = f"prefix {undeclared.prefix!r}" if undeclared.prefix else "the bucket root (no prefix)"
        known = ", ".join(repr(d.prefix) for d in spec.datasets) or "none"
        raise UnknownDataset(
            f"key {key!r} is under {where}, which is no declared dataset (declared: {known}) and the lake is "
            "strict: declare a dataset for it in lake.yaml, or move the object under a declared prefix"
        )
    return undeclared


@dataclass(frozen=True)
class HopResult:
    """What one hop did with one object."""

    source_key: str
    target_bucket: str
    target_key: str
    rows: int
    duplicates_dropped: int
    skipped: bool = False


def output_key(source_key: str, target_format: str) -> str:
    """The output's key: deterministic (redelivery overwrites) and injective (no two sources share one).

    - `<name>.csv` (lowercase `.csv`) -> `<name>.<format>`: `sales/a.csv` -> `sales/a.parquet`;
    - any other name is kept whole and marked with `~`: `sales/a.csv.gz` -> `sales/a.csv.gz~.parquet`,
      `sales/b.txt` -> `sales/b.txt~.csv`, `UP.CSV` -> `UP.CSV~.parquet`;
    - a `~` already in the name is doubled, so the mark cannot be forged: `a~.csv` -> `a~~.parquet`.

    The part before `.<format>` ends in an odd run of `~` exactly when the name was kept whole,
    and undoubling gives the source name back: the mapping can be inverted, hence injective.
    """
    if source_key.endswith(CSV_SUFFIX):
        return f"{_escaped(source_key[: -len(CSV_SUFFIX)])}.{target_format}"
    return f"{_escaped(source_key)}{KEPT_WHOLE}.{target_format}"


def source_key_of(target_key: str, target_format: str) -> str | None:
    """The inverse of :func:`output_key` (None for a key it never produces): what proves it injective."""
    suffix = f".{target_format}"
    if not target_key.endswith(suffix):
        return None
    body = target_key[: -len(suffix)]
    run = len(body) - len(body.rstrip(KEPT_WHOLE))
    kept_whole = run % 2 == 1
    if kept_whole:
        body = body[:-1]
    if re.search(r"(?<!~)~(~~)*(?!~)", body):  # an odd run of `~` inside: not an escaped name
        return None
    name = body.replace(KEPT_WHOLE * 2, KEPT_WHOLE)
    if kept_whole:
        return None if name.endswith(CSV_SUFFIX) else name
    return name + CSV_SUFFIX


def _escaped(name: str) -> str:
    return name.replace(KEPT_WHOLE, KEPT_WHOLE * 2)


def transform_name(spec: ConsumerSpec, dataset: DatasetRoute) -> str:
    steps = (["clean"] if spec.clean else []) + (["typed"] if spec.typed else [])
    if dataset.user_transform:
        steps.append(dataset.user_transform)
    return "+".join(steps) or "copy"


def lineage_metadata(obj: ObjectCreated, source: dict[str, Any], spec: ConsumerSpec, dataset: DatasetRoute) -> dict:
    """x-amz-meta-* that names the source object and the transform (ASCII only, as S3 requires)."""
    return {
        f"{META_PREFIX}source-bucket": obj.bucket,
        f"{META_PREFIX}source-key": quote(obj.key, safe="/"),
        f"{META_PREFIX}source-version": source.get("VersionId") or obj.version_id or "null",
        f"{META_PREFIX}source-etag": str(source.get("ETag", obj.etag)).strip('"'),
        f"{META_PREFIX}dataset": dataset.name,
        f"{META_PREFIX}transform": quote(transform_name(spec, dataset), safe=":+."),
        f"{META_PREFIX}transform-version": TRANSFORM_VERSION,
        **({UNDECLARED_META: "true"} if spec.dataset_for_key(obj.key) is None else {}),
    }


class ZonePipeline:
    """Runs the hop of one consumer spec against an S3 client."""

    def __init__(self, spec: ConsumerSpec, s3: Any):
        self.spec = spec
        self.s3 = s3

    # -- public ------------------------------------------------------------------------------
    def process(self, obj: ObjectCreated) -> HopResult:
        dataset = dataset_of(self.spec, obj.key)
        target_key = output_key(obj.key, self.spec.target_format)
        if self._already_done(obj, target_key):
            return HopResult(obj.key, self.spec.target_bucket, target_key, 0, 0, skipped=True)
        return with_read_retries(lambda types, block: self._run(obj, dataset, target_key, types, block))

    # -- steps -------------------------------------------------------------------------------
    def _already_done(self, obj: ObjectCreated, target_key: str) -> bool:
        """The output already holds this event's object, or a newer version of it (the event is stale)."""
        try:
            head = self.s3.head_object(Bucket=self.spec.target_bucket, Key=target_key)
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        meta = head.get("Metadata", {})
        same_source = meta.get(f"{META_PREFIX}source-key") == quote(obj.key, safe="/")
        current = meta.get(f"{META_PREFIX}transform-version") == TRANSFORM_VERSION
        if not (same_source and current and obj.etag):
            return False
        made_from = meta.get(f"{META_PREFIX}source-etag")
        return made_from == obj.etag or self._superseded(obj, made_from)

    def _superseded(self, obj: ObjectCreated, made_from: str | None) -> bool:
        """An event for an older version (a late delivery, a redrive) whose current version has its output."""
        if not obj.version_id:
            return False
        try:
            now = self.s3.head_object(Bucket=obj.bucket, Key=obj.key)
        except self.s3.exceptions.ClientError:
            return False
        return now.get("VersionId") != obj.version_id and str(now.get("ETag", "")).strip('"') == made_from

    def _get(self, obj: ObjectCreated) -> dict[str, Any]:
        args = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            args["VersionId"] = obj.version_id
        return self.s3.get_object(**args)

    def _run(
        self,
        obj: ObjectCreated,
        dataset: DatasetRoute,
        target_key: str,
        column_types: dict | None,
        block_size: int | None,
    ) -> HopResult:
        source = self._get(obj)
        writer = S3ObjectWriter(
            self.s3,
            self.spec.target_bucket,
            target_key,
            tags={CLASSIFICATION_TAG: dataset.classification},
            metadata=lineage_metadata(obj, source, self.spec, dataset),
            content_type=CONTENT_TYPES[self.spec.target_format],
            kms_key_id=self.spec.target_kms_key_id,
        )
        try:
            rows, dropped = transform_stream(
                source["Body"],
                writer,
                spec=self.spec,
                dataset=dataset,
                source_key=obj.key,
                ingested_at=obj.event_time,
                column_types=column_types,
                block_size=block_size,
            )
            writer.commit()
        except BaseException:
            writer.abort()
            raise
        finally:
            source["Body"].close()
        return HopResult(obj.key, self.spec.target_bucket, target_key, rows, dropped)


class _WidenColumn(Exception):
    def __init__(self, column_types: dict[str, pa.DataType]):
        self.column_types = column_types


def with_read_retries(run: Callable[[dict[str, pa.DataType] | None, int | None], T]) -> T:
    """`run(column_types, block_size)`, run again from the object's start while a later block
    shows the first read's guess wrong: a column typed from the first block that a later one
    breaks is read as text, and a row longer than the first read's block (BLOCK_SIZE, small to
    keep memory down) is read with blocks of MAX_ROW_BYTES, the longest row the lake reads.
    Each retry changes one column or the block size once: bounded by the column count."""
    column_types: dict[str, pa.DataType] | None = None
    block_size: int | None = None  # BLOCK_SIZE, read when the stream is opened
    for _ in range(10_002):
        try:
            return run(column_types, block_size)
        except _WidenColumn as widen:
            column_types = widen.column_types
        except RowLongerThanBlock:
            block_size = formats.MAX_ROW_BYTES
    raise InputError("could not settle on column types")  # pragma: no cover - bounded above


def transform_stream(
    source: BinaryIO,
    sink: BinaryIO,
    *,
    spec: ConsumerSpec,
    dataset: DatasetRoute,
    source_key: str,
    ingested_at: str,
    column_types: dict[str, pa.DataType] | None = None,
    block_size: int | None = None,
) -> tuple[int, int]:
    """The zone engine on byte streams: what both the consumer and `datalake transform` run.

    Returns (rows written, duplicate rows dropped).
    """
    if spec.typed and block_size is None:
        # The typed hop infers column types from its first block: a smaller one would see less of
        # the data and more often guess a type a later block breaks (then widened to text).
        block_size = formats.MAX_ROW_BYTES
    header, reader = open_csv_stream(source, column_types=column_types, infer_types=spec.typed, block_size=block_size)
    try:
        return _write_batches(reader, header, sink, spec, dataset, source_key, ingested_at, column_types)
    finally:
        # Closing the throttle releases Arrow's I/O thread, which may wait in it for the next
        # block: an object abandoned mid-stream (a bad row, a re-read with larger blocks) would
        # otherwise keep that thread waiting, and Arrow's pool waits for it when the process exits.
        reader.close()


def _write_batches(
    reader: Any,
    header: CsvHeader,
    sink: BinaryIO,
    spec: ConsumerSpec,
    dataset: DatasetRoute,
    source_key: str,
    ingested_at: str,
    column_types: dict[str, pa.DataType] | None,
) -> tuple[int, int]:
    batches = _transformed_batches(reader, header, spec, dataset, source_key, ingested_at, column_types)
    dedupe = batches.deduplicator
    writer: BatchWriter | None = None
    escape = neutralise_formulas if spec.target_format == "csv" else None  # on the writer thread
    try:
        for batch in batches:
            if writer is None and batches.lines_schema is not None:  # already encoded (and escaped) lines
                writer = BatchWriter(sink, batches.lines_schema, "csv", lines=True)
            elif writer is None:
                writer = BatchWriter(sink, batch.schema, spec.target_format, prepare=escape)
            writer.write(batch)
    except BaseException:
        if writer is not None:
            writer.abort()  # stops its background thread; the caller discards the sink
        batches.close()  # the reading thread and the generators stop now, not when collected
        raise
    if writer is None:  # header only: an empty object with the header's columns
        names = header.columns + ([SOURCE_KEY_COLUMN, INGESTED_AT_COLUMN] if spec.clean else [])
        schema = pa.schema(
            [(name, INGESTED_AT_TYPE if spec.typed and name == INGESTED_AT_COLUMN else pa.string()) for name in names]
        )
        writer = BatchWriter(sink, schema, spec.target_format)
    writer.close()
    return writer.rows, dedupe.dropped if dedupe else 0


class _TransformedBatches:
    """Iterator of output batches that keeps the deduplicator for the caller's statistics."""

    def __init__(
        self,
        iterator: Generator[pa.RecordBatch, None, None],
        deduplicator: RowDeduplicator | None,
        lines_schema: pa.Schema | None = None,
    ):
        self._iterator = iterator
        self.deduplicator = deduplicator
        self.lines_schema = lines_schema  # set when the batches are CSV lines of this schema (see csvlines)

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._iterator

    def close(self) -> None:
        self._iterator.close()


def _transformed_batches(
    reader: Any,
    header: CsvHeader,
    spec: ConsumerSpec,
    dataset: DatasetRoute,
    source_key: str,
    ingested_at: str,
    column_types: dict | None,
) -> _TransformedBatches:
    deduplicator = RowDeduplicator() if spec.clean else None
    user: Callable | None = load_user_transform(dataset.user_transform) if dataset.user_transform else None

    def finish(batch: pa.RecordBatch) -> Iterator[pa.RecordBatch]:
        if spec.clean:
            batch = with_ingestion_metadata(batch, source_key, ingested_at)
        elif spec.typed:
            batch = _lineage_types(batch)
        # CSV outputs are opened in spreadsheets: the writer makes formulas text (transform_stream)
        yield from apply_user_transform(user, batch, dataset.user_transform or "") if user is not None else [batch]

    # The landing hop to CSV of a wide object without a user transform: every per-batch step
    # (cleaning, lineage, formula escaping, CSV encoding, digest) before de-duplication, in that order, so
    # the de-duplicator compares and keeps encoded lines (an injective rendering of the cleaned row)
    # and the writer copies bytes (see csvlines). It pays where the digest's per-cell join is the
    # cost (60 columns: 30% less CPU); with a few long columns hashing the longer lines costs more
    # than it saves. A user transform must see de-duplicated batches, so not then.
    as_lines = (
        deduplicator is not None
        and spec.target_format == "csv"
        and user is None
        and len(header.columns) >= LINES_MIN_COLUMNS
    )
    lines_schema = (
        pa.schema([(name, pa.string()) for name in [*header.columns, SOURCE_KEY_COLUMN, INGESTED_AT_COLUMN]])
        if as_lines
        else None
    )

    lineage_suffix = lineage_suffix_bytes(source_key, ingested_at) if as_lines else 0

    def clean(batch: pa.RecordBatch) -> pa.RecordBatch:
        return clean_batch(batch, header.columns)

    def digest(cleaned: pa.RecordBatch) -> tuple[pa.RecordBatch, BatchDigests]:
        assert deduplicator is not None
        if as_lines:
            lines = csv_lines(neutralise_formulas(with_ingestion_metadata(cleaned, source_key, ingested_at)))
            cleaned = pa.RecordBatch.from_arrays([lines], names=[LINES_COLUMN])
        return cleaned, deduplicator.digest(cleaned, constant_suffix=lineage_suffix)

    def prepared() -> Iterator[tuple[pa.RecordBatch, BatchDigests]]:
        """Cleaned and digested batches: on a worker pool (DATALAKE_WORKERS), else cleaned on the
        reader thread, as it parses, and digested here on the main thread, or on the reader when
        this thread is not ready for the batch (the split that keeps both cores busy without a
        pool: which thread has more to do depends on the input)."""
        workers = default_workers()
        if workers:
            return ordered_map(lambda b: digest(clean(b)), _typed_batches(reader, header, column_types), workers)
        # The reader digests the batches the main thread is not ready for (see formats._background),
        # but not CSV lines: encoding them too made the reader, already the wide input's bottleneck, slower.
        spare = None if as_lines else digest
        cleaned = _typed_batches(reader, header, column_types, clean, spare=spare)
        return (item if isinstance(item, tuple) else digest(item) for item in cleaned)

    def generate() -> Generator[pa.RecordBatch, None, None]:
        try:
            if deduplicator is not None:
                for batch, digests in prepared():
                    ready = deduplicator.push(batch, digests)  # the rows may be held back (spilled) until the end
                    if ready is not None:
                        yield from [ready] if as_lines else finish(ready)
            else:
                for batch in _typed_batches(reader, header, column_types):
                    # a CSV the pipeline wrote: its formula cells were neutralised on the way in
                    named = pa.RecordBatch.from_arrays(batch.columns, names=header.columns)
                    yield from finish(portable_types(restore_formulas(named)))
            if deduplicator is not None:
                for held in deduplicator.drain():
                    yield from [held] if as_lines else finish(held)
        finally:
            if deduplicator is not None:
                deduplicator.close()

    return _TransformedBatches(generate(), deduplicator, lines_schema)


def lineage_suffix_bytes(source_key: str, ingested_at: str) -> int:
    """The bytes every CSV line of a landing hop ends in: its lineage fields and the line break.

    They are the same on every row of the object, so the digest of a line leaves them out
    (see RowDigester): 47 bytes of a line on the bench's inputs, more with a longer key.
    """
    fields = trailing_fields({SOURCE_KEY_COLUMN: source_key, INGESTED_AT_COLUMN: ingested_at}, neutralise_formulas)
    return len(fields.encode("utf-8")) + 1


def _lineage_types(batch: pa.RecordBatch) -> pa.RecordBatch:
    """`_ingested_at` as one timestamp type: inference gives s or ns depending on the value's digits."""
    index = batch.schema.get_field_index(INGESTED_AT_COLUMN)
    if index < 0 or not pa.types.is_timestamp(batch.schema.field(index).type):
        return batch
    try:
        column = pc.cast(batch.column(index), INGESTED_AT_TYPE, safe=False)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):  # a naive timestamp: not one the pipeline wrote
        return batch
    return batch.set_column(index, INGESTED_AT_COLUMN, column)


def _typed_batches(
    reader: Any,
    header: CsvHeader,
    column_types: dict | None,
    prepare: Callable | None = None,
    spare: Callable | None = None,
) -> Iterator[Any]:
    """Batches as read (and prepared); a type guessed from the first block that a later block breaks is widened."""
    try:
        yield from read_batches(reader, header, prepare=prepare, spare=spare)
    except InputError as exc:
        match = _CONVERSION_ERROR.search(str(exc))
        if not match:
            raise
        failed = f"c{match.group(1)}"
        types = dict(column_types or {field.name: field.type for field in reader.schema})
        if types.get(failed) == pa.string():
            raise
        types[failed] = pa.string()
        raise _WidenColumn(types) from None
