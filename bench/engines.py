"""The same landing-zone transformation, four ways: what the benchmark compares.

The transformation is the raw -> staged hop of the lake's contract: header names made
snake_case (blank -> column_<n>, duplicates suffixed), every column read as text,
trimmed, empty -> null, exact duplicate rows (after cleaning) dropped, and the two
lineage columns `_source_key` and `_ingested_at` appended; output CSV.

- `pandas`: the original design: the whole file in a DataFrame, then `to_csv`.
- `duckdb`: what a user who outgrew pandas reaches for: one SQL statement, SELECT DISTINCT.
- `polars`: the lazy API with the streaming engine (`sink_csv`).
- `datalake`: the zone engine through `datalake transform`'s code path.

For the cost model the staged -> curated hop (types inferred, Parquet out) is also timed,
for the zone engine and for pandas (TYPED_ENGINES), on the zone engine's staged output.

Each runs in its own process (see bench.child) so its peak RSS is its own. The lineage
values are fixed so all four outputs hold exactly the same rows. Whitespace trimmed is
ASCII whitespace in DuckDB (its `trim` takes an explicit set), Unicode whitespace in the
others; the generated data only pads with spaces.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

DATASET = "orders"
SOURCE_KEY = "orders/input.csv"
INGESTED_AT = "2026-01-01T00:00:00.000Z"
BENCH_LAKE = {"lake": "bench", "datasets": [{"name": DATASET, "classification": "internal"}]}
ASCII_WHITESPACE = " \t\n\r\x0b\x0c"


def lake_names(source: Path) -> list[str]:
    """The lake's column names for the file's header (the same rule for every engine)."""
    import csv

    from zone_consumer.formats import lake_column_names

    with source.open(newline="", encoding="utf-8") as handle:
        return lake_column_names(next(csv.reader(handle)))


def run_pandas(source: Path, target: Path) -> None:
    import pandas as pd

    names = lake_names(source)
    frame = pd.read_csv(source, dtype=str, keep_default_na=False, na_filter=False)
    frame.columns = names
    for name in names:
        trimmed = frame[name].str.strip()
        frame[name] = trimmed.where(trimmed != "", None)
    frame = frame.drop_duplicates()
    frame["_source_key"] = SOURCE_KEY
    frame["_ingested_at"] = INGESTED_AT
    frame.to_csv(target, index=False)


def run_duckdb(source: Path, target: Path) -> None:
    import duckdb

    names = lake_names(source)
    columns = ", ".join(f"nullif(trim({n}, '{ASCII_WHITESPACE}'), '') AS {n}" for n in names)
    read = f"read_csv('{source}', header = true, all_varchar = true, names = {names!r}, quote = '\"', escape = '\"')"
    connection = duckdb.connect()
    connection.execute(
        f"COPY (SELECT DISTINCT *, '{SOURCE_KEY}' AS _source_key, '{INGESTED_AT}' AS _ingested_at "
        f"FROM (SELECT {columns} FROM {read})) TO '{target}' (HEADER, DELIMITER ',')"
    )
    connection.close()


def run_polars(source: Path, target: Path) -> None:
    import polars as pl

    names = lake_names(source)
    frame = pl.scan_csv(source, infer_schema=False, has_header=True, new_columns=names)
    cleaned = [pl.col(n).str.strip_chars() for n in names]
    frame = frame.select(
        [pl.when(c == "").then(None).otherwise(c).alias(n) for c, n in zip(cleaned, names, strict=True)]
    )
    frame = frame.unique().with_columns(
        pl.lit(SOURCE_KEY).alias("_source_key"), pl.lit(INGESTED_AT).alias("_ingested_at")
    )
    frame.sink_csv(target)


def run_datalake(source: Path, target: Path) -> None:
    from datalake_cfn.cli.perf import transform_file
    from datalake_cfn.config import parse_config

    config = parse_config(BENCH_LAKE)
    transform_file(config, DATASET, "raw", source, target, ingested_at=INGESTED_AT, source_key=SOURCE_KEY)


def run_datalake_typed(source: Path, target: Path) -> None:
    """The staged -> curated hop (type inference, Parquet) on a staged CSV, for the cost model."""
    from datalake_cfn.cli.perf import transform_file
    from datalake_cfn.config import parse_config

    transform_file(parse_config(BENCH_LAKE), DATASET, "staged", source, target, ingested_at=INGESTED_AT)


def run_pandas_typed(source: Path, target: Path) -> None:
    """The original design's second hop: the whole staged CSV in a DataFrame (types inferred), to Parquet."""
    import pandas as pd

    pd.read_csv(source).to_parquet(target, index=False, compression="zstd")


ENGINES: dict[str, Callable[[Path, Path], None]] = {
    "pandas": run_pandas,
    "duckdb": run_duckdb,
    "polars": run_polars,
    "datalake": run_datalake,
}
TYPED_ENGINES: dict[str, Callable[[Path, Path], None]] = {
    "datalake-per-block": run_datalake_typed,  # run with DATALAKE_ROW_GROUP_ROWS=0: one row group per block (before)
    "datalake": run_datalake_typed,
    "pandas": run_pandas_typed,
}


def run_floor(source: Path, target: Path) -> None:
    """pyarrow's own streaming CSV parse of the file, one thread, the engine's read options; nothing written.

    The "floor": no engine that parses with Arrow can beat it, so the engine's share of its
    rate says how much the cleaning, de-duplication and encoding cost on top of parsing.
    """
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from zone_consumer.formats import BLOCK_SIZE

    names = lake_names(source)
    positional = [f"c{i}" for i in range(len(names))]
    reader = pacsv.open_csv(
        str(source),
        read_options=pacsv.ReadOptions(column_names=positional, skip_rows=1, block_size=BLOCK_SIZE, use_threads=False),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(column_types=dict.fromkeys(positional, pa.string())),
    )
    for _ in reader:
        pass
    target.write_bytes(b"")


ENGINES["floor"] = run_floor
BASELINES = ("polars", "pandas", "duckdb")  # the engine's throughput is reported as a ratio to each
