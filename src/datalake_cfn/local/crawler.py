"""The local crawl: zone objects -> Glue tables and partitions in the emulator's catalog.

It does what the lake's cloud crawler does, with pyarrow: one table per zone and dataset
(`<zone>_<dataset>`), columns from Parquet footers or from a CSV sample, the crawler's
type names and SerDes, and hive-style folders (`ingest_date=2026-11-24/`) as partitions.
Changes are merged the way the cloud crawler is configured to merge them: new columns are
added, existing columns are never dropped or retyped (the conflict is reported instead),
partitions are added and never deleted. So a second crawl over the same data changes
nothing, and an added column never costs an old partition.

Only new objects are read: schemas are cached by (bucket, key, ETag), so the crawl that
runs by itself after data lands (:func:`register_crawl_listener`) stays cheap.

The catalog learns only from data the pipeline accepted: an object whose failure sits in the
DLQ (same ETag), or that cannot be read in the zone's format (binary data, not UTF-8), is left
out and named once, printably, in the summary. A column only such bytes could have named (a
control or replacement character in its name) that no accepted object has is dropped, so a
recrawl repairs a table an earlier crawl polluted. Objects outside every declared dataset are
catalogued as the undeclared datasets the pipeline files them under (:mod:`datalake_cfn.undeclared`),
each named in the summary with its keys and a hint to declare it.
"""

from __future__ import annotations

import contextlib
import io
import logging
import struct
import threading
import zlib
from collections import Counter
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from datalake_cfn.catalog import (
    CLASSIFICATION_PARAMETER,
    CRAWLER_SCHEMA_VERSION,
    Column,
    StorageFormat,
    TableSpec,
    catalog_tables,
    merge_columns,
    storage_descriptor,
    storage_format,
    table_input,
)
from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames
from datalake_cfn.undeclared import UndeclaredDataset, dataset_of_key, is_declared, undeclared_in

logger = logging.getLogger(__name__)

CSV_SAMPLE_BYTES = 1 << 20
PARQUET_TAIL_BYTES = 64 << 10
PARTITION_BATCH = 100
_CSV_SUFFIXES = (".csv", ".csv.gz", ".tsv", ".txt")


@dataclass(frozen=True)
class ObjectSchema:
    """What one object says about its table."""

    classification: str  # csv | parquet
    columns: tuple[Column, ...]
    quoted: bool = False
    compression: str = "none"
    records: int | None = None


@dataclass(frozen=True)
class LakeObject:
    key: str
    size: int
    etag: str


@dataclass
class TableResult:
    """What a crawl did to one table."""

    table: str
    zone: str
    dataset: str
    action: str  # created | updated | unchanged | empty
    objects: int = 0
    columns: list[str] = field(default_factory=list)
    columns_added: list[str] = field(default_factory=list)
    partitions_added: int = 0
    partitions_updated: int = 0
    partitions: int = 0
    warnings: list[str] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return self.action in {"created", "updated"} or bool(self.partitions_added or self.partitions_updated)


@dataclass
class CrawlReport:
    database: str
    tables: list[TableResult] = field(default_factory=list)
    undeclared: list[UndeclaredDataset] = field(default_factory=list)

    @property
    def changed(self) -> bool:
        return any(t.changed for t in self.tables)

    def count(self, action: str) -> int:
        return sum(1 for t in self.tables if t.action == action)

    @property
    def partitions_added(self) -> int:
        return sum(t.partitions_added for t in self.tables)

    @property
    def warnings(self) -> list[str]:
        found = [printable(f"{u.zone}: {u.describe()}") for u in self.undeclared]
        return found + [printable(f"{t.table}: {w}") for t in self.tables for w in t.warnings]

    def table(self, name: str) -> TableResult:
        return next(t for t in self.tables if t.table == name)

    def summary(self) -> str:
        return (
            f"{self.count('created')} created, {self.count('updated')} updated, "
            f"{self.count('unchanged')} unchanged, {self.partitions_added} partitions added"
        )


def printable(text: str) -> str:
    """Text safe for a terminal: control and other non-printable characters as escapes (`\\x89`)."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def _junk_name(name: str) -> bool:
    """A column name only undecodable or binary bytes produce: what a crawl of accepted data never learns."""
    return "\ufffd" in name or not name.isprintable()


# -- reading schemas from objects -----------------------------------------------------------------
def classify(key: str) -> str | None:
    """The crawler's classifier by name: Parquet, CSV (plain or gzip), or nothing it catalogues."""
    lower = key.lower()
    if lower.endswith(".parquet") or lower.endswith(".parq"):
        return "parquet"
    if lower.endswith(_CSV_SUFFIXES):
        return "csv"
    return None


def column_name(raw: str, position: int) -> str:
    """The crawler's column names: lowercase; a blank header becomes `col<position>`."""
    name = raw.strip().lower()
    return name or f"col{position}"


def unique_names(raw: list[str]) -> list[str]:
    names: list[str] = []
    for position, header in enumerate(raw):
        base = column_name(header, position)
        name, suffix = base, 1
        while name in names:
            name, suffix = f"{base}_{suffix}", suffix + 1
        names.append(name)
    return names


def parquet_schema(data_tail: bytes) -> ObjectSchema:
    """Schema and row count from the end of a Parquet object (footer + length + magic)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from datalake_cfn.catalog import glue_type

    metadata = pq.read_metadata(pa.BufferReader(b"PAR1" + data_tail))
    schema = metadata.schema.to_arrow_schema()
    names = unique_names(schema.names)
    columns = tuple(Column(n, glue_type(f.type, "parquet")) for n, f in zip(names, schema, strict=True))
    return ObjectSchema("parquet", columns, records=metadata.num_rows)


def csv_schema(sample: bytes, complete: bool, compression: str = "none") -> ObjectSchema:
    """Columns and crawler types from the first bytes of a CSV (header + sample rows)."""
    import csv

    import pyarrow as pa
    import pyarrow.csv as pacsv
    from zone_consumer import sniff

    from datalake_cfn.catalog import glue_type

    problem = sniff.signature_problem(sample)
    if problem:
        raise ValueError(problem)
    sample = sample.removeprefix(b"\xef\xbb\xbf")
    _check_utf8(sample, complete)
    text_head = sample[:65536].decode("utf-8", errors="replace")
    header = next(csv.reader(io.StringIO(text_head, newline="")), [])
    if not header:
        raise ValueError("no header row")
    quoted = b'"' in sample  # quoted values anywhere: the crawler then picks OpenCSVSerde
    names = unique_names(header)
    positional = [f"c{i}" for i in range(len(names))]
    cut = sample if complete or b"\n" not in sample else sample[: sample.rfind(b"\n") + 1]
    for attempt in range(5):  # a sample cut inside a quoted multi-line value: drop its last line, retry
        try:
            table = pacsv.read_csv(
                io.BytesIO(cut),
                read_options=pacsv.ReadOptions(column_names=positional, skip_rows=1),
                parse_options=pacsv.ParseOptions(newlines_in_values=True),
                convert_options=pacsv.ConvertOptions(strings_can_be_null=True),
            )
            break
        except pa.ArrowInvalid:
            if complete or attempt == 4 or b"\n" not in cut[:-1]:
                raise
            cut = cut[: cut.rfind(b"\n", 0, len(cut) - 1) + 1]
    columns = tuple(Column(n, glue_type(f.type, "csv")) for n, f in zip(names, table.schema, strict=True))
    return ObjectSchema("csv", columns, quoted=quoted, compression=compression)


def _check_utf8(sample: bytes, complete: bool) -> None:
    """The pipeline reads UTF-8 only: a sample that is not (a character cut at its end aside) is refused."""
    from zone_consumer import sniff

    try:
        sample.decode("utf-8")
    except UnicodeDecodeError as exc:
        if complete or exc.start < len(sample) - 3:
            raise ValueError(sniff.decoding_problem(sample, exc.start)) from None


class ObjectReader:
    """Reads just enough of each object (a Parquet footer, a CSV sample) through S3."""

    def __init__(self, s3: Any):
        self.s3 = s3

    def _range(self, bucket: str, key: str, spec: str) -> bytes:
        return self.s3.get_object(Bucket=bucket, Key=key, Range=f"bytes={spec}")["Body"].read()

    def schema(self, bucket: str, obj: LakeObject) -> ObjectSchema:
        classification = classify(obj.key)
        if classification == "parquet":
            tail = self._range(bucket, obj.key, f"-{min(PARQUET_TAIL_BYTES, obj.size)}")
            if tail[-4:] != b"PAR1":
                raise ValueError("not a Parquet file (no PAR1 magic at the end)")
            footer_length = struct.unpack("<I", tail[-8:-4])[0]
            if footer_length + 8 > len(tail):
                tail = self._range(bucket, obj.key, f"-{footer_length + 8}")
            return parquet_schema(tail[-(footer_length + 8) :])
        if classification == "csv":
            head = self._range(bucket, obj.key, f"0-{CSV_SAMPLE_BYTES - 1}")
            complete = obj.size <= CSV_SAMPLE_BYTES
            compression = "none"
            if head[:2] == b"\x1f\x8b":
                compression = "gzip"
                head = zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(head, CSV_SAMPLE_BYTES)
                complete = False
            return csv_schema(head, complete, compression)
        raise ValueError("not a CSV or Parquet object")


# -- partitions -----------------------------------------------------------------------------------
@dataclass(frozen=True)
class Layout:
    """How a table's objects are laid out under its location."""

    keys: tuple[str, ...]
    values: dict[str, tuple[str, ...]]  # object key -> partition values
    excluded: tuple[str, ...] = ()


def _folders(relative_key: str) -> list[str]:
    return relative_key.split("/")[:-1]


def partition_layout(prefix: str, keys: list[str], fixed: tuple[str, ...] | None = None) -> Layout:
    """Partition keys from the folders between the table location and each object.

    `k=v` folders give key `k` (hive style); plain folders give `partition_0`, `partition_1`...
    as the crawler names them. Objects that do not fit the layout the most objects share
    (or `fixed`, the keys an existing table already has) are excluded and reported.
    """
    folders = {key: _folders(key[len(prefix) :]) for key in keys}

    def key_names(parts: list[str]) -> tuple[str, ...]:
        if all("=" in p for p in parts):
            return tuple(p.split("=", 1)[0].lower() for p in parts)
        return tuple(f"partition_{i}" for i in range(len(parts)))

    names_of = {key: key_names(parts) for key, parts in folders.items()}
    if fixed is None:
        hive = Counter(n for n in names_of.values() if n and not n[0].startswith("partition_"))
        if hive:  # the layout most objects share; the others are left out and reported
            fixed = max(hive.items(), key=lambda item: (item[1], len(item[0])))[0]
        else:  # plain folders: partitions only when every object is at the same depth
            depths = set(names_of.values())
            fixed = depths.pop() if len(depths) == 1 else ()
    values: dict[str, tuple[str, ...]] = {}
    excluded: list[str] = []
    for key, parts in folders.items():
        if not fixed:
            values[key] = ()
        elif names_of[key] == fixed:
            values[key] = tuple(unquote(p.split("=", 1)[1]) if "=" in p else p for p in parts)
        else:
            excluded.append(key)
    return Layout(fixed, values, tuple(sorted(excluded)))


def partition_location(spec: TableSpec, layout: Layout, values: tuple[str, ...]) -> str:
    if layout.keys and not layout.keys[0].startswith("partition_"):
        folders = [f"{k}={v}" for k, v in zip(layout.keys, values, strict=True)]
    else:
        folders = list(values)
    return spec.location + "".join(f"{f}/" for f in folders)


# -- the crawl ------------------------------------------------------------------------------------
def _comparable_table(table: dict[str, Any]) -> dict[str, Any]:
    sd = table.get("StorageDescriptor", {})
    return {
        "Parameters": dict(table.get("Parameters", {})),
        "TableType": table.get("TableType"),
        "Columns": [(c["Name"], c["Type"]) for c in sd.get("Columns", [])],
        "Location": sd.get("Location"),
        "InputFormat": sd.get("InputFormat"),
        "OutputFormat": sd.get("OutputFormat"),
        "Serde": (sd.get("SerdeInfo", {}).get("SerializationLibrary"), sd.get("SerdeInfo", {}).get("Parameters", {})),
        "SdParameters": dict(sd.get("Parameters", {})),
        "PartitionKeys": [(c["Name"], c["Type"]) for c in table.get("PartitionKeys", [])],
    }


def _comparable_partition(partition: dict[str, Any]) -> dict[str, Any]:
    sd = partition.get("StorageDescriptor", {})
    return {
        "Columns": [(c["Name"], c["Type"]) for c in sd.get("Columns", [])],
        "Location": sd.get("Location"),
        "Serde": sd.get("SerdeInfo", {}).get("SerializationLibrary"),
        "Parameters": dict(partition.get("Parameters", {})),
    }


_CATALOG_LOCKS: dict[tuple[str | None, str], threading.RLock] = {}
_CATALOG_LOCKS_GUARD = threading.Lock()


def _catalog_lock(endpoint: str | None, database: str) -> threading.RLock:
    """One lock per catalog: crawls of the same database (the listener's, a command's) take turns."""
    with _CATALOG_LOCKS_GUARD:
        return _CATALOG_LOCKS.setdefault((endpoint, database), threading.RLock())


class LocalCrawler:
    """Crawls a lake's zones into its Glue database; one instance keeps its schema cache."""

    def __init__(
        self,
        connection: Any,
        config: LakeConfig | None = None,
        names: LakeNames | None = None,
        *,
        sample: int | None = None,
        register_partitions: bool = True,
    ):
        """`sample`: read the schemas of only the first N objects of a table (the rest are listed, not read);
        `register_partitions=False`: leave partitions to someone else (the Glue crawler, on AWS)."""
        self.sample = sample
        self.register_partitions = register_partitions
        self.connection = connection
        self.config = config or connection.config
        self.names = names or connection.names
        self.s3 = connection.client("s3")
        self.glue = connection.client("glue")
        self.reader = ObjectReader(self.s3)
        self._schemas: dict[tuple[str, str, str], ObjectSchema | str] = {}
        self._rejected: dict[tuple[str, str, str], str] = {}
        self._lock = _catalog_lock(getattr(connection, "endpoint", None), self.names.glue_database)

    # -- public -------------------------------------------------------------------------------
    def crawl(self, only: Iterable[tuple[str, str]] | None = None) -> CrawlReport:
        """Crawl every table (or only these (zone, dataset) pairs); serialised per crawler."""
        wanted = set(only) if only is not None else None
        with self._lock:
            self.ensure_database()
            report = CrawlReport(self.names.glue_database)
            self._rejected = self._dead_lettered()
            undeclared = [u for u in self._undeclared() if wanted is None or (u.zone, u.name) in wanted]
            report.undeclared = undeclared
            for spec in catalog_tables(self.config, self.names) + [self._undeclared_spec(u) for u in undeclared]:
                if wanted is None or (spec.zone, spec.dataset) in wanted:
                    report.tables.append(self.crawl_table(spec))
            return report

    def _undeclared(self) -> list[UndeclaredDataset]:
        found = []
        for zone in self.config.zones:
            paginator = self.s3.get_paginator("list_objects_v2")
            pages = paginator.paginate(Bucket=self.names.bucket(zone.name))
            found += undeclared_in(
                self.config, zone.name, [o["Key"] for page in pages for o in page.get("Contents", [])]
            )
        return found

    def _undeclared_spec(self, dataset: UndeclaredDataset) -> TableSpec:
        zone = self.config.zone(dataset.zone)
        return TableSpec(
            zone=zone.name,
            dataset=dataset.name,
            name=self.names.table(zone.name, dataset.name),
            bucket=self.names.bucket(zone.name),
            prefix=dataset.prefix,
            format=zone.format,
            classification=dataset.classification,
        )

    def _dead_lettered(self) -> dict[tuple[str, str, str], str]:
        """(bucket, key, ETag) -> reason, of every object whose failure sits in the DLQ."""
        letters = getattr(self.connection, "dead_letters", None)
        if letters is None:
            return {}
        from zone_consumer.events import MalformedEvent, objects_in_body

        rejected: dict[tuple[str, str, str], str] = {}
        try:
            entries = letters()
        except Exception as exc:  # no DLQ (a foreign lake) must not stop the crawl
            logger.warning("cannot read the DLQ: %s", exc)
            return {}
        for letter in entries:
            if getattr(letter, "resolved", False):
                continue
            try:
                objects = objects_in_body(letter.body)
            except MalformedEvent:
                continue
            for obj in objects:
                rejected[(obj.bucket, obj.key, obj.etag)] = letter.reason
        return rejected

    def ensure_database(self) -> None:
        database = self.names.glue_database
        try:
            self.glue.get_database(Name=database)
        except self.glue.exceptions.EntityNotFoundException:
            with contextlib.suppress(self.glue.exceptions.AlreadyExistsException):  # `up`'s listener got there first
                self.glue.create_database(
                    DatabaseInput={
                        "Name": database,
                        "Description": f"The {self.names.lake} lake: one table per zone and dataset",
                    }
                )

    def crawl_table(self, spec: TableSpec) -> TableResult:
        with self._lock:
            return self._crawl_table(spec)

    def _crawl_table(self, spec: TableSpec) -> TableResult:
        result = TableResult(spec.name, spec.zone, spec.dataset, "unchanged")
        existing = self.get_table(spec.name)
        objects = self._list(spec)
        for key, obj in list(objects.items()):  # the pipeline refused it: the catalog must not learn from it
            reason = self._rejected.get((spec.bucket, key, obj.etag))
            if reason is not None:
                del objects[key]
                result.warnings.append(f"{key}: rejected by the pipeline ({reason}); left out")
        if not objects:
            result.action = "empty" if existing is None else "unchanged"
            if existing is not None:
                result.warnings.append("no objects left under the location; the table is kept (delete behaviour LOG)")
            return result
        read = dict(sorted(objects.items())[: self.sample]) if self.sample else objects
        schemas = self._schemas_of(spec.bucket, read, result)
        fixed = tuple(c["Name"] for c in existing.get("PartitionKeys", [])) if existing else None
        candidates = sorted(k for k in objects if classify(k)) if self.sample else sorted(schemas)
        layout = partition_layout(spec.prefix, candidates, fixed)
        for key in layout.excluded:
            result.warnings.append(f"{key}: not in the table's partition layout {list(layout.keys)}; left out")

        def kind(key: str) -> str | None:
            return schemas[key].classification if key in schemas else classify(key)

        included = [k for k in candidates if k in layout.values]
        classification = self._classification(spec, existing, [schemas[k] for k in included if k in schemas])
        for key in [k for k in included if kind(k) != classification]:
            result.warnings.append(f"{key}: a {kind(key)} object in a {classification} table; left out")
        included = [k for k in included if kind(k) == classification]
        members = [schemas[k] for k in included if k in schemas]
        if not included or not members:
            result.action = "empty" if existing is None else "unchanged"
            return result
        fmt = storage_format(
            classification,
            quoted=any(s.quoted for s in members),
            compression=next((s.compression for s in members if s.compression != "none"), "none"),
        )
        discovered = merge_columns([list(s.columns) for s in members])
        columns = self._merged_with_existing(existing, discovered, result)
        partition_keys = [Column(k, "string") for k in layout.keys]
        parameters = self._parameters(spec, [objects[k] for k in included], members, len(members) == len(included))
        desired = table_input(spec, fmt, columns, partition_keys, parameters)
        result.objects = len(included)
        result.columns = [c.name for c in columns]
        if existing is None:
            try:
                self.glue.create_table(DatabaseName=self.names.glue_database, TableInput=desired)
            except self.glue.exceptions.AlreadyExistsException:  # another process's crawl got there first
                self.glue.update_table(DatabaseName=self.names.glue_database, TableInput=desired)
            result.action = "created"
        elif _comparable_table(existing) != _comparable_table(desired):
            self.glue.update_table(DatabaseName=self.names.glue_database, TableInput=desired)
            result.action = "updated"
        if layout.keys and self.register_partitions:
            self._sync_partitions(spec, layout, included, fmt, columns, result)
        return result

    # -- steps --------------------------------------------------------------------------------
    def get_table(self, name: str) -> dict[str, Any] | None:
        try:
            return self.glue.get_table(DatabaseName=self.names.glue_database, Name=name)["Table"]
        except self.glue.exceptions.EntityNotFoundException:
            return None

    def _list(self, spec: TableSpec) -> dict[str, LakeObject]:
        objects: dict[str, LakeObject] = {}
        paginator = self.s3.get_paginator("list_objects_v2")
        for page in paginator.paginate(Bucket=spec.bucket, Prefix=spec.prefix):
            for item in page.get("Contents", []):
                key = item["Key"]
                base = key.rsplit("/", 1)[-1]
                if key.endswith("/") or base.startswith(("_", ".")) or item["Size"] == 0:
                    continue  # folder markers, Spark's _SUCCESS and .crc files, empty objects
                if not spec.prefix and "/" in key:
                    continue  # the bucket root's undeclared dataset holds only the keys at the root
                objects[key] = LakeObject(key, item["Size"], item.get("ETag", "").strip('"'))
        return objects

    def _schemas_of(self, bucket: str, objects: dict[str, LakeObject], result: TableResult) -> dict[str, ObjectSchema]:
        todo = [o for o in objects.values() if (bucket, o.key, o.etag) not in self._schemas]

        def read(obj: LakeObject) -> tuple[LakeObject, ObjectSchema | str]:
            if classify(obj.key) is None:
                return obj, "not a CSV or Parquet object"
            try:
                return obj, self.reader.schema(bucket, obj)
            except Exception as exc:  # one unreadable object must not stop the crawl of the rest
                return obj, f"cannot read its schema: {type(exc).__name__}: {exc}"

        if todo:
            with ThreadPoolExecutor(max_workers=min(8, len(todo))) as pool:
                for obj, schema in pool.map(read, todo):
                    self._schemas[(bucket, obj.key, obj.etag)] = schema
        schemas: dict[str, ObjectSchema] = {}
        for obj in objects.values():
            schema = self._schemas[(bucket, obj.key, obj.etag)]
            if isinstance(schema, str):
                result.warnings.append(f"{obj.key}: {schema}; left out")
            else:
                schemas[obj.key] = schema
        return schemas

    @staticmethod
    def _classification(spec: TableSpec, existing: dict[str, Any] | None, members: list[ObjectSchema]) -> str:
        if existing is not None and existing.get("Parameters", {}).get("classification"):
            return existing["Parameters"]["classification"]
        counts = Counter(s.classification for s in members)
        if not counts:
            return spec.format
        return max(counts, key=lambda c: (counts[c], c == spec.format))

    @staticmethod
    def _merged_with_existing(
        existing: dict[str, Any] | None, discovered: list[Column], result: TableResult
    ) -> list[Column]:
        """MergeNewColumns: keep every existing column as it is, append the new ones."""
        if existing is None:
            return discovered
        current = [Column(c["Name"], c["Type"]) for c in existing["StorageDescriptor"].get("Columns", [])]
        learned = {c.name for c in discovered}
        junk = [c for c in current if _junk_name(c.name) and c.name not in learned]
        for column in junk:  # learned from bytes the pipeline refuses: a recrawl repairs the table
            result.warnings.append(
                f"column {column.name!r} came from unreadable data, no accepted object has it; dropped"
            )
        current = [c for c in current if c not in junk]
        known = {c.name: c.type for c in current}
        for column in discovered:
            if column.name in known and known[column.name] != column.type:
                result.warnings.append(
                    f"column {column.name!r} is {column.type} in new data but {known[column.name]} in the table; "
                    "kept as is (schema change logged, not applied)"
                )
        added = [c for c in discovered if c.name not in known]
        result.columns_added = [c.name for c in added]
        return current + added

    def _parameters(
        self, spec: TableSpec, objects: list[LakeObject], members: list[ObjectSchema], complete: bool = True
    ) -> dict[str, str]:
        size = sum(o.size for o in objects)
        parameters = {
            "objectCount": str(len(objects)),
            "sizeKey": str(size),
            "UPDATED_BY_CRAWLER": self.names.crawler,
            "CrawlerSchemaSerializerVersion": CRAWLER_SCHEMA_VERSION,
            "CrawlerSchemaDeserializerVersion": CRAWLER_SCHEMA_VERSION,
            CLASSIFICATION_PARAMETER: spec.classification,
        }
        records = [s.records for s in members]
        if complete and all(r is not None for r in records):  # an exact count, or none
            total = sum(r or 0 for r in records)
            parameters["recordCount"] = str(total)
            parameters["averageRecordSize"] = str(size // total) if total else "0"
        return parameters

    def _sync_partitions(
        self,
        spec: TableSpec,
        layout: Layout,
        included: list[str],
        fmt: StorageFormat,
        columns: list[Column],
        result: TableResult,
    ) -> None:
        database = self.names.glue_database
        existing: dict[tuple[str, ...], dict[str, Any]] = {}
        paginator = self.glue.get_paginator("get_partitions")
        for page in paginator.paginate(DatabaseName=database, TableName=spec.name):
            for partition in page.get("Partitions", []):
                existing[tuple(partition["Values"])] = partition
        wanted = sorted({layout.values[k] for k in included})
        result.partitions = len(set(wanted) | set(existing))
        to_create, to_update = [], []
        for values in wanted:
            partition_input = {
                "Values": list(values),
                "StorageDescriptor": storage_descriptor(fmt, columns, partition_location(spec, layout, values)),
                "Parameters": dict(fmt.table_parameters),
            }
            if values not in existing:
                to_create.append(partition_input)
            elif _comparable_partition(existing[values]) != _comparable_partition(partition_input):
                to_update.append(partition_input)  # InheritFromTable: partitions follow the table's columns
        for start in range(0, len(to_create), PARTITION_BATCH):
            response = self.glue.batch_create_partition(
                DatabaseName=database,
                TableName=spec.name,
                PartitionInputList=to_create[start : start + PARTITION_BATCH],
            )
            for error in response.get("Errors", []):
                result.warnings.append(f"partition {error.get('PartitionValues')}: {error.get('ErrorDetail')}")
        for partition_input in to_update:
            self.glue.update_partition(
                DatabaseName=database,
                TableName=spec.name,
                PartitionValueList=partition_input["Values"],
                PartitionInput=partition_input,
            )
        result.partitions_added = len(to_create)
        result.partitions_updated = len(to_update)
        gone = sorted(set(existing) - set(wanted))
        if gone:
            result.warnings.append(f"{len(gone)} partition(s) have no objects any more; kept (delete behaviour LOG)")


def _connection_of(target: Any) -> Any:
    """A LocalLake or a LakeConnection -> the LakeConnection."""
    return getattr(target, "connection", target)


def crawl(
    target: Any,
    config: LakeConfig | None = None,
    names: LakeNames | None = None,
    only: Iterable[tuple[str, str]] | None = None,
) -> CrawlReport:
    """Crawl the lake behind `target` (a LocalLake or a LakeConnection) once."""
    return LocalCrawler(_connection_of(target), config, names).crawl(only)


# -- crawling by itself ---------------------------------------------------------------------------
class CrawlScheduler:
    """Debounces "objects landed" into one crawl of the affected datasets.

    Every zone of an affected dataset is crawled (by the time an object reaches curated, the
    raw and staged objects it came from have landed too). A crawl failure is logged and kept
    in `last_error`; it never reaches the worker that reported the objects.
    """

    def __init__(self, crawler: LocalCrawler, debounce_seconds: float = 1.0):
        self.crawler = crawler
        self.debounce_seconds = debounce_seconds
        self.last_report: CrawlReport | None = None
        self.last_error: str = ""
        self.crawls = 0
        self._pending: set[str] = set()
        self._timer: threading.Timer | None = None
        self._lock = threading.Lock()
        self._idle = threading.Event()
        self._idle.set()

    def __call__(self, zone: str, objects: list[Any]) -> None:
        datasets = set()
        for obj in objects:
            for dataset in self.crawler.config.datasets:
                if obj.key.startswith(dataset.key_prefix):
                    datasets.add(dataset.name)
            if not is_declared(self.crawler.config, obj.key):
                datasets.add(dataset_of_key(self.crawler.config, obj.key)[0])
        if datasets:
            self.schedule(datasets)

    def schedule(self, datasets: Iterable[str]) -> None:
        with self._lock:
            self._pending |= set(datasets)
            self._idle.clear()
            if self._timer is not None:
                self._timer.cancel()
            self._timer = threading.Timer(self.debounce_seconds, self._run)
            self._timer.daemon = True
            self._timer.start()

    def _run(self) -> None:
        with self._lock:
            datasets, self._pending = self._pending, set()
            self._timer = None
        try:
            only = [(zone.name, d) for zone in self.crawler.config.zones for d in sorted(datasets)]
            self.last_report = self.crawler.crawl(only)
            self.crawls += 1
            self.last_error = ""
        except Exception as exc:
            logger.exception("automatic crawl failed")
            self.last_error = f"{type(exc).__name__}: {exc}"
        finally:
            with self._lock:
                if not self._pending and self._timer is None:
                    self._idle.set()

    def wait_idle(self, timeout: float = 30.0) -> bool:
        """Block until no crawl is pending or running; False on timeout."""
        return self._idle.wait(timeout)

    def cancel(self) -> None:
        with self._lock:
            if self._timer is not None:
                self._timer.cancel()
                self._timer = None
            self._pending.clear()
            self._idle.set()


def register_crawl_listener(lake: Any, debounce_seconds: float = 1.0) -> CrawlScheduler:
    """Make the local lake crawl by itself, `debounce_seconds` after data stops landing."""
    scheduler = CrawlScheduler(LocalCrawler(lake.connection, lake.config, lake.names), debounce_seconds)
    lake.add_listener(scheduler)
    return scheduler
