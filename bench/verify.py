"""Do two engines' outputs hold the same rows? An order-independent digest, in bounded memory.

DuckDB and Polars do not keep input order after DISTINCT/unique, and the engines quote
differently (pandas quotes only where needed, Arrow quotes every string), so outputs are
compared as *row sets*: each output is parsed back with every column as text and every
empty cell as null, each row gets a 128-bit digest (datalake's keyed row digest, with a
fixed key so digests are comparable across files), and the digests are summed modulo
2^64 per half. Two outputs with the same header, row count and sums hold the same rows
(rows are distinct after de-duplication, so a multiset sum of strong digests suffices).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

SEED = 1234


@dataclass(frozen=True)
class RowSetDigest:
    columns: tuple[str, ...]
    rows: int
    high_sum: int
    low_sum: int

    def as_dict(self) -> dict:
        return asdict(self)


def row_set_digest(path: Path) -> RowSetDigest:
    import numpy as np
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from zone_consumer.dedupe import RowDigester

    with path.open("rb") as handle:
        header = handle.readline().decode("utf-8").rstrip("\r\n")
    columns = tuple(name.strip('"') for name in header.split(","))
    reader = pacsv.open_csv(
        path,
        read_options=pacsv.ReadOptions(block_size=8 << 20),
        parse_options=pacsv.ParseOptions(newlines_in_values=True),
        convert_options=pacsv.ConvertOptions(
            column_types=dict.fromkeys(columns, pa.string()), strings_can_be_null=True, quoted_strings_can_be_null=True
        ),
    )
    digest = RowDigester(seed=SEED)
    rows, high, low = 0, 0, 0
    for batch in reader:
        h, lo = digest(batch)
        rows += batch.num_rows
        high = (high + int(h.sum(dtype=np.uint64))) % 2**64  # array sums wrap modulo 2^64 silently
        low = (low + int(lo.sum(dtype=np.uint64))) % 2**64
    return RowSetDigest(columns, rows, high, low)
