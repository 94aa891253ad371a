"""What a query engine meets in a curated Parquet file: its row groups, and how long DuckDB takes to scan it.

Athena, Spark and DuckDB plan and read per row group, so a file cut into thousands of small
row groups costs them per-group overhead (footer metadata, page headers, many small reads)
that a few large ones do not. The scan reads every column (`min` of each), on DuckDB's
default threads, best of three, so the file is in the page cache and only the layout counts.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

SCAN_REPEATS = 3


def describe_parquet(path: Path) -> dict:
    """Row groups, their mean rows and compressed size, dictionary and statistics coverage, DuckDB scan time."""
    import duckdb
    import pyarrow.parquet as pq

    metadata = pq.ParquetFile(path).metadata
    groups = [metadata.row_group(i) for i in range(metadata.num_row_groups)]
    chunks = [group.column(j) for group in groups for j in range(group.num_columns)]
    dictionary = sum(1 for c in chunks if c.has_dictionary_page)
    with_stats = sum(1 for c in chunks if c.is_stats_set)
    connection = duckdb.connect()
    columns = [f'min("{name}")' for name in metadata.schema.names]
    query = f"SELECT {', '.join(columns)} FROM read_parquet('{path}')"
    times = []
    for _ in range(SCAN_REPEATS):
        started = time.perf_counter()
        connection.execute(query).fetchall()
        times.append(time.perf_counter() - started)
    connection.close()
    return {
        "row_groups": metadata.num_row_groups,
        "rows_per_row_group": metadata.num_rows / max(1, metadata.num_row_groups),
        "mb_per_row_group": sum(g.total_byte_size for g in groups) / 1e6 / max(1, len(groups)),
        "dictionary_chunks_share": dictionary / max(1, len(chunks)),
        "statistics_chunks_share": with_stats / max(1, len(chunks)),
        "duckdb_scan_seconds": min(times),
        "duckdb_scan_median_seconds": statistics.median(times),
    }
