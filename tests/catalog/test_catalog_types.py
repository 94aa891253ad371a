"""Glue type names and storage settings, as the crawler writes them (pure, no lake)."""

from __future__ import annotations

import pyarrow as pa
import pytest

from datalake_cfn.catalog import (
    LAZY_SIMPLE_SERDE,
    OPEN_CSV_SERDE,
    Column,
    glue_type,
    merge_columns,
    merge_types,
    storage_format,
)


@pytest.mark.parametrize(
    ("arrow", "parquet", "csv"),
    [
        (pa.int8(), "tinyint", "bigint"),
        (pa.int32(), "int", "bigint"),
        (pa.uint32(), "bigint", "bigint"),
        (pa.int64(), "bigint", "bigint"),
        (pa.float32(), "float", "double"),
        (pa.float64(), "double", "double"),
        (pa.bool_(), "boolean", "boolean"),
        (pa.string(), "string", "string"),
        (pa.date32(), "date", "string"),
        (pa.timestamp("us", "UTC"), "timestamp", "string"),
        (pa.decimal128(12, 2), "decimal(12,2)", "double"),
        (pa.binary(), "binary", "string"),
        (pa.list_(pa.int64()), "array<bigint>", "string"),
        (pa.struct([("A", pa.string()), ("n", pa.int32())]), "struct<a:string,n:int>", "string"),
        (pa.null(), "string", "string"),
    ],
)
def test_arrow_types_map_to_the_crawler_names(arrow: pa.DataType, parquet: str, csv: str) -> None:
    assert glue_type(arrow, "parquet") == parquet
    assert glue_type(arrow, "csv") == csv


def test_merged_types_hold_both() -> None:
    assert merge_types("int", "bigint") == "bigint"
    assert merge_types("bigint", "double") == "double"
    assert merge_types("date", "string") == "string"
    merged = merge_columns([[Column("a", "int"), Column("b", "string")], [Column("a", "bigint"), Column("c", "date")]])
    assert merged == [Column("a", "bigint"), Column("b", "string"), Column("c", "date")]


def test_csv_serde_follows_quoting() -> None:
    assert storage_format("csv", quoted=True).serde == OPEN_CSV_SERDE
    plain = storage_format("csv", quoted=False, compression="gzip")
    assert plain.serde == LAZY_SIMPLE_SERDE and plain.serde_parameters == {"field.delim": ","}
    assert plain.table_parameters["compressionType"] == "gzip" and plain.table_parameters["areColumnsQuoted"] == "false"
    with pytest.raises(ValueError, match="csv and parquet"):
        storage_format("json")
