"""What a Glue table of the lake looks like: names, locations, formats and column types.

The cloud crawler and the local crawl must describe the same data the same way, so that a
query written against the local lake runs unchanged on Athena. This module is that one
description: the tables a lake has (`<zone>_<dataset>` for every zone and dataset), where
each one lives, and the Hive storage settings and Glue type names the AWS crawler gives to
CSV and Parquet. The stacks (pre-declared tables) and :mod:`datalake_cfn.local.crawler` both
build their table definitions from here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames

if TYPE_CHECKING:
    import pyarrow as pa

CLASSIFICATION_PARAMETER = "dataclassification"
CRAWLER_SCHEMA_VERSION = "1.0"

PARQUET_INPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat"
PARQUET_OUTPUT = "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat"
PARQUET_SERDE = "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
TEXT_INPUT = "org.apache.hadoop.mapred.TextInputFormat"
TEXT_OUTPUT = "org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat"
LAZY_SIMPLE_SERDE = "org.apache.hadoop.hive.serde2.lazy.LazySimpleSerDe"
OPEN_CSV_SERDE = "org.apache.hadoop.hive.serde2.OpenCSVSerde"

# The only types the crawler's built-in CSV classifier gives a column: dates and
# timestamps in text stay `string` (Athena's text SerDes would not parse them anyway).
CSV_TYPES = ("boolean", "bigint", "double", "string")
_INTEGER_TYPES = ("tinyint", "smallint", "int", "bigint")
_NUMERIC_TYPES = (*_INTEGER_TYPES, "float", "double")


@dataclass(frozen=True)
class Column:
    name: str
    type: str

    def as_glue(self) -> dict[str, str]:
        return {"Name": self.name, "Type": self.type}


@dataclass(frozen=True)
class TableSpec:
    """One catalog table: a dataset's prefix inside one zone's bucket."""

    zone: str
    dataset: str
    name: str
    bucket: str
    prefix: str
    format: str  # "csv" | "parquet": what the zone holds
    classification: str  # the dataset's `dataclassification` level

    @property
    def location(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


def catalog_tables(config: LakeConfig, names: LakeNames) -> list[TableSpec]:
    """Every table of the lake: one per zone and dataset, in zone then dataset order."""
    return [
        TableSpec(
            zone=zone.name,
            dataset=dataset.name,
            name=names.table(zone.name, dataset.name),
            bucket=names.bucket(zone.name),
            prefix=dataset.key_prefix,
            format=zone.format,
            classification=dataset.classification,
        )
        for zone in config.zones
        for dataset in config.datasets
    ]


# -- storage ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class StorageFormat:
    """Hive input/output format and SerDe, as the crawler writes them for a classification."""

    classification: str
    input_format: str
    output_format: str
    serde: str
    serde_parameters: dict[str, str] = field(default_factory=dict)
    table_parameters: dict[str, str] = field(default_factory=dict)


def storage_format(classification: str, *, quoted: bool = False, compression: str = "none") -> StorageFormat:
    """CSV gets OpenCSVSerde when its values are quoted (as the crawler decides), else LazySimpleSerDe."""
    if classification == "parquet":
        return StorageFormat(
            "parquet",
            PARQUET_INPUT,
            PARQUET_OUTPUT,
            PARQUET_SERDE,
            {"serialization.format": "1"},
            {"classification": "parquet", "compressionType": "none", "typeOfData": "file"},
        )
    if classification != "csv":
        raise ValueError(f"unsupported classification {classification!r}: the lake catalogues csv and parquet")
    serde, serde_parameters = (
        (OPEN_CSV_SERDE, {"separatorChar": ",", "quoteChar": '"'})
        if quoted
        else (LAZY_SIMPLE_SERDE, {"field.delim": ","})
    )
    return StorageFormat(
        "csv",
        TEXT_INPUT,
        TEXT_OUTPUT,
        serde,
        serde_parameters,
        {
            "classification": "csv",
            "delimiter": ",",
            "skip.header.line.count": "1",
            "areColumnsQuoted": "true" if quoted else "false",
            "columnsOrdered": "true",
            "compressionType": compression,
            "typeOfData": "file",
        },
    )


# -- types --------------------------------------------------------------------------------------
def glue_type(arrow_type: pa.DataType, classification: str = "parquet") -> str:
    """Arrow type -> the Glue/Hive type name the crawler gives the same column."""
    import pyarrow as pa

    t = arrow_type
    if classification == "csv":
        if pa.types.is_boolean(t):
            return "boolean"
        if pa.types.is_integer(t):
            return "bigint"
        if pa.types.is_floating(t) or pa.types.is_decimal(t):
            return "double"
        return "string"
    if pa.types.is_boolean(t):
        return "boolean"
    if pa.types.is_integer(t):
        width = t.bit_width + (1 if pa.types.is_unsigned_integer(t) else 0)
        return "tinyint" if width <= 8 else "smallint" if width <= 16 else "int" if width <= 32 else "bigint"
    if pa.types.is_float16(t) or pa.types.is_float32(t):
        return "float"
    if pa.types.is_float64(t):
        return "double"
    if pa.types.is_decimal(t):
        return f"decimal({t.precision},{t.scale})"
    if pa.types.is_date(t):
        return "date"
    if pa.types.is_timestamp(t):
        return "timestamp"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t) or pa.types.is_fixed_size_binary(t):
        return "binary"
    if pa.types.is_list(t) or pa.types.is_large_list(t) or pa.types.is_fixed_size_list(t):
        return f"array<{glue_type(t.value_type)}>"
    if pa.types.is_map(t):
        return f"map<{glue_type(t.key_type)},{glue_type(t.item_type)}>"
    if pa.types.is_struct(t):
        fields = ",".join(f"{t.field(i).name.lower()}:{glue_type(t.field(i).type)}" for i in range(t.num_fields))
        return f"struct<{fields}>"
    if pa.types.is_dictionary(t):
        return glue_type(t.value_type, classification)
    return "string"  # strings, nulls, times and anything Athena cannot read natively


def merge_types(current: str, new: str) -> str:
    """The type that holds both: integers widen to bigint, numbers to double, anything else to string."""
    if current == new:
        return current
    if current in _INTEGER_TYPES and new in _INTEGER_TYPES:
        return "bigint"
    if current in _NUMERIC_TYPES and new in _NUMERIC_TYPES:
        return "double"
    return "string"


def merge_columns(schemas: list[list[Column]]) -> list[Column]:
    """Union of columns by name, in order of first appearance, with merged types."""
    merged: dict[str, str] = {}
    for columns in schemas:
        for column in columns:
            merged[column.name] = (
                merge_types(merged[column.name], column.type) if column.name in merged else column.type
            )
    return [Column(name, type_) for name, type_ in merged.items()]


# -- Glue API shapes ---------------------------------------------------------------------------
def storage_descriptor(fmt: StorageFormat, columns: list[Column], location: str) -> dict[str, Any]:
    return {
        "Columns": [c.as_glue() for c in columns],
        "Location": location,
        "InputFormat": fmt.input_format,
        "OutputFormat": fmt.output_format,
        "Compressed": fmt.table_parameters.get("compressionType", "none") != "none",
        "NumberOfBuckets": -1,
        "SerdeInfo": {"SerializationLibrary": fmt.serde, "Parameters": dict(fmt.serde_parameters)},
        "BucketColumns": [],
        "SortColumns": [],
        "Parameters": dict(fmt.table_parameters),
        "StoredAsSubDirectories": False,
    }


def table_input(
    spec: TableSpec,
    fmt: StorageFormat,
    columns: list[Column],
    partition_keys: list[Column],
    parameters: dict[str, str],
) -> dict[str, Any]:
    """A Glue `TableInput`, shaped like the ones the crawler writes."""
    return {
        "Name": spec.name,
        "Description": f"{spec.dataset} in the {spec.zone} zone",
        "TableType": "EXTERNAL_TABLE",
        "Parameters": {**fmt.table_parameters, **parameters},
        "StorageDescriptor": storage_descriptor(fmt, columns, spec.location),
        "PartitionKeys": [c.as_glue() for c in partition_keys],
    }
