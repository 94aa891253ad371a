"""One object through one hop: read (streaming) -> transform -> write into the next zone.

The output key depends only on the source key and the target format, so the same event
delivered twice overwrites one object instead of adding a second; a delivery whose output
already carries the same source ETag and transform version is skipped outright.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, BinaryIO
from urllib.parse import quote

import pyarrow as pa

from zone_consumer import TRANSFORM_VERSION
from zone_consumer.events import ObjectCreated
from zone_consumer.formats import (
    BatchWriter,
    CsvHeader,
    InputError,
    open_csv_stream,
)
from zone_consumer.formats import (
    iter_batches as read_batches,
)
from zone_consumer.s3io import S3ObjectWriter
from zone_consumer.spec import ConsumerSpec, DatasetRoute
from zone_consumer.spreadsheet import neutralise_formulas, restore_formulas
from zone_consumer.transforms import (
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
_INPUT_SUFFIXES = re.compile(r"(\.(csv|tsv|txt))?(\.gz)?$", re.IGNORECASE)
_CONVERSION_ERROR = re.compile(r"column #(\d+): (?:Row #\d+: )?CSV conversion error")


class UnknownDataset(ValueError):
    """The object lies under no dataset prefix of the lake: nobody knows how to process it."""


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
    """sales/2026/a.csv.gz -> sales/2026/a.parquet: deterministic, so redelivery overwrites."""
    stem = _INPUT_SUFFIXES.sub("", source_key)
    return f"{stem}.{target_format}"


def transform_name(spec: ConsumerSpec, dataset: DatasetRoute) -> str:
    steps = (["clean"] if spec.clean else []) + (["typed"] if spec.target_format == "parquet" else [])
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
    }


class ZonePipeline:
    """Runs the hop of one consumer spec against an S3 client."""

    def __init__(self, spec: ConsumerSpec, s3: Any):
        self.spec = spec
        self.s3 = s3

    # -- public ------------------------------------------------------------------------------
    def process(self, obj: ObjectCreated) -> HopResult:
        dataset = self.spec.dataset_for_key(obj.key)
        if dataset is None:
            raise UnknownDataset(
                f"key {obj.key!r} is under no dataset prefix of this lake "
                f"({', '.join(d.prefix for d in self.spec.datasets) or 'none configured'})"
            )
        target_key = output_key(obj.key, self.spec.target_format)
        if self._already_done(obj, target_key):
            return HopResult(obj.key, self.spec.target_bucket, target_key, 0, 0, skipped=True)
        column_types: dict[str, pa.DataType] | None = None
        for _ in range(10_001):  # each retry widens one more column to text: bounded by the column count
            try:
                return self._run(obj, dataset, target_key, column_types)
            except _WidenColumn as widen:
                column_types = widen.column_types
        raise InputError("could not settle on column types")  # pragma: no cover - bounded above

    # -- steps -------------------------------------------------------------------------------
    def _already_done(self, obj: ObjectCreated, target_key: str) -> bool:
        try:
            head = self.s3.head_object(Bucket=self.spec.target_bucket, Key=target_key)
        except self.s3.exceptions.ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return False
            raise
        meta = head.get("Metadata", {})
        return (
            meta.get(f"{META_PREFIX}source-etag") == obj.etag
            and meta.get(f"{META_PREFIX}source-key") == quote(obj.key, safe="/")
            and meta.get(f"{META_PREFIX}transform-version") == TRANSFORM_VERSION
            and bool(obj.etag)
        )

    def _get(self, obj: ObjectCreated) -> dict[str, Any]:
        args = {"Bucket": obj.bucket, "Key": obj.key}
        if obj.version_id:
            args["VersionId"] = obj.version_id
        return self.s3.get_object(**args)

    def _run(self, obj: ObjectCreated, dataset: DatasetRoute, target_key: str, column_types: dict | None) -> HopResult:
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


def transform_stream(
    source: BinaryIO,
    sink: BinaryIO,
    *,
    spec: ConsumerSpec,
    dataset: DatasetRoute,
    source_key: str,
    ingested_at: str,
    column_types: dict[str, pa.DataType] | None = None,
) -> tuple[int, int]:
    """The zone engine on byte streams: what both the consumer and `datalake transform` run.

    Returns (rows written, duplicate rows dropped).
    """
    typed = spec.target_format == "parquet"
    header, reader = open_csv_stream(source, column_types=column_types, infer_types=typed)
    batches = _transformed_batches(reader, header, spec, dataset, source_key, ingested_at, column_types)
    dedupe = _dedupe_of(batches)
    writer: BatchWriter | None = None
    try:
        for batch in batches:
            if writer is None:
                writer = BatchWriter(sink, batch.schema, spec.target_format)
            writer.write(batch)
    except BaseException:
        if writer is not None:
            writer.abort()  # stops its background thread; the caller discards the sink
        raise
    if writer is None:  # header only: an empty object with the header's columns
        names = header.columns + (["_source_key", "_ingested_at"] if spec.clean else [])
        schema = pa.schema([(name, pa.string()) for name in names])
        writer = BatchWriter(sink, schema, spec.target_format)
    writer.close()
    return writer.rows, dedupe.dropped if dedupe else 0


def _dedupe_of(batches: Any) -> RowDeduplicator | None:
    return getattr(batches, "deduplicator", None)


class _TransformedBatches:
    """Iterator of output batches that keeps the deduplicator for the caller's statistics."""

    def __init__(self, iterator: Iterator[pa.RecordBatch], deduplicator: RowDeduplicator | None):
        self._iterator = iterator
        self.deduplicator = deduplicator

    def __iter__(self) -> Iterator[pa.RecordBatch]:
        return self._iterator


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
        outputs = apply_user_transform(user, batch, dataset.user_transform or "") if user is not None else [batch]
        for output in outputs:  # CSV outputs are opened in spreadsheets: formulas become text
            yield neutralise_formulas(output) if spec.target_format == "csv" else output

    def generate() -> Iterator[pa.RecordBatch]:
        try:
            for batch in _typed_batches(reader, header, column_types):
                if deduplicator is not None:  # the rows may be held back (spilled) until the end
                    ready = deduplicator.push(clean_batch(batch, header.columns))
                    if ready is not None:
                        yield from finish(ready)
                else:  # a CSV the pipeline wrote: its formula cells were neutralised on the way in
                    named = pa.RecordBatch.from_arrays(batch.columns, names=header.columns)
                    yield from finish(portable_types(restore_formulas(named)))
            if deduplicator is not None:
                for held in deduplicator.drain():
                    yield from finish(held)
        finally:
            if deduplicator is not None:
                deduplicator.close()

    return _TransformedBatches(generate(), deduplicator)


def _typed_batches(reader: Any, header: CsvHeader, column_types: dict | None) -> Iterator[pa.RecordBatch]:
    """Batches as read; a type guessed from the first block that a later block breaks is widened."""
    try:
        yield from read_batches(reader, header)
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
