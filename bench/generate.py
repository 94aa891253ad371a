"""Seeded, realistic CSV inputs for the benchmark.

The columns are what a landing zone really receives from an export: ids, ISO timestamps,
names padded with stray spaces, floats, ints, categories, mostly-empty columns, free text
that needs quoting (commas, doubled quotes, the odd line break), whitespace-only cells, and
exact duplicate rows, some of which differ only by padding (so they are duplicates only
*after* cleaning, which is what the lake's contract says). Headers are deliberately messy
so the snake_case renaming is exercised.

Generation is vectorised (numpy + Arrow's CSV writer) so the 2 GB file takes seconds, and
it is deterministic for a given seed and size: every engine reads the very same bytes.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

SEED = 20260101
CHUNK_ROWS = 200_000
ROW_BYTES = 89  # about the average line length, to size the last chunk
DUPLICATE_SHARE = 0.02  # share of rows that repeat an earlier row of the same chunk
HEADER = [
    "Order ID",
    "Customer ID",
    "Created At",
    "Customer Name",
    "unitPrice",
    "Quantity",
    "Country",
    "Discount",
    "Status",
    "Notes",
    "",  # a blank header: the lake names it column_<n>
]
FIRST_NAMES = np.array(["Ada", "Grace", "Alan", "Edsger", "Barbara", "Donald", "Frances", "Ken", "Radia", "Niklaus"])
LAST_NAMES = np.array(["Lovelace", "Hopper", "Turing", "Dijkstra", "Liskov", "Knuth", "Allen", "Thompson", "Wirth"])
COUNTRIES = np.array(["FR", "DE", "US", "GB", "JP", "BR", "IN", "", "ES", "IT"])
STATUSES = np.array(["shipped", "  pending", "cancelled  ", "returned", " delivered "])
NOTES = np.array(
    [
        "",
        "",
        "",
        "   ",
        "gift wrap",
        "leave at the door, ring twice",
        'customer said "urgent"',
        "call before delivery; fragile",
        "second floor\nback entrance",  # a quoted line break: parsers must keep it in one value
    ]
)
NOTE_WEIGHTS = np.array([0.40, 0.15, 0.10, 0.05, 0.1, 0.08, 0.05, 0.065, 0.005])
SIZES = {"1MB": 1 << 20, "10MB": 10 << 20, "100MB": 100 << 20, "1GB": 1 << 30, "2GB": 2 << 30}


def parse_size(text: str) -> int:
    """'100MB' -> bytes; accepts the names in SIZES or a number with KB/MB/GB."""
    if text in SIZES:
        return SIZES[text]
    match = re.fullmatch(r"(\d+(?:\.\d+)?)\s*([KMG]?)B?", text.strip().upper())
    if not match:
        raise ValueError(f"size {text!r}: write it like 100MB or 2GB")
    scale = {"": 1, "K": 1 << 10, "M": 1 << 20, "G": 1 << 30}[match.group(2)]
    return int(float(match.group(1)) * scale)


def _padded(rng: np.random.Generator, values: pa.Array) -> pa.Array:
    """Add stray leading/trailing spaces to about a third of the values."""
    n = len(values)
    left = pa.array(np.where(rng.random(n) < 0.2, " ", ""))
    right = pa.array(np.where(rng.random(n) < 0.2, "  ", ""))
    return pc.binary_join_element_wise(left, values, right, "")


def _chunk(rng: np.random.Generator, first_id: int, rows: int) -> pa.Table:
    ids = np.arange(first_id, first_id + rows)
    seconds = rng.integers(1_735_689_600, 1_767_225_600, rows).astype("datetime64[s]")
    price = np.round(rng.gamma(2.0, 30.0, rows), 2)
    discount = np.where(rng.random(rows) < 0.8, "", np.round(rng.random(rows) * 0.3, 3).astype(str))
    names = pc.binary_join_element_wise(
        pa.array(FIRST_NAMES[rng.integers(0, len(FIRST_NAMES), rows)]),
        pa.array(LAST_NAMES[rng.integers(0, len(LAST_NAMES), rows)]),
        " ",
    )
    columns = {
        "c0": pc.binary_join_element_wise("ORD-", pa.array(np.char.zfill(ids.astype(str), 10)), ""),
        "c1": pa.array(rng.integers(1, 250_000, rows).astype(str)),
        "c2": pc.strftime(pa.array(seconds), format="%Y-%m-%dT%H:%M:%SZ"),
        "c3": _padded(rng, names),
        "c4": pa.array(price.astype(str)),
        "c5": pa.array(rng.integers(1, 20, rows).astype(str)),
        "c6": pa.array(COUNTRIES[rng.integers(0, len(COUNTRIES), rows)]),
        "c7": pa.array(discount),
        "c8": pa.array(STATUSES[rng.integers(0, len(STATUSES), rows)]),
        "c9": pa.array(NOTES[rng.choice(len(NOTES), rows, p=NOTE_WEIGHTS)]),
        "c10": pa.array(np.where(rng.random(rows) < 0.9, "", "x")),
    }
    table = pa.table(columns)
    # Exact duplicates: rows that repeat an earlier row; half of them re-padded, so they are
    # duplicates only once cleaned.
    dupes = int(rows * DUPLICATE_SHARE)
    target = rng.choice(np.arange(rows // 2, rows), dupes, replace=False)
    source = rng.integers(0, rows // 2, dupes)
    take = np.arange(rows)
    take[target] = source
    table = table.take(pa.array(take))
    repad = np.zeros(rows, dtype=bool)
    repad[target[: dupes // 2]] = True
    names_col = table.column("c3").combine_chunks()
    repadded = pc.binary_join_element_wise("  ", pc.utf8_trim_whitespace(names_col), " ", "")
    return table.set_column(3, "c3", pc.if_else(pa.array(repad), repadded, names_col))


def _quoted_where_needed(values: pa.Array) -> pa.Array:
    """RFC 4180 quoting, only for values with a comma, a quote or a line break (as most exporters do)."""
    needs = pc.match_substring_regex(values, r'[,"\n\r]')
    quoted = pc.binary_join_element_wise('"', pc.replace_substring(values, '"', '""'), '"', "")
    return pc.if_else(needs, quoted, values)


def _csv_bytes(table: pa.Table) -> bytes:
    """The rows of `table` as CSV lines, built column-wise (no per-row Python)."""
    columns = [_quoted_where_needed(column.combine_chunks()) for column in table.columns]
    lines = pc.binary_join_element_wise(*columns, ",")
    lines = pc.binary_join_element_wise(lines, "\n", "")
    offsets = np.frombuffer(lines.buffers()[1], dtype=np.int32)[lines.offset : lines.offset + len(lines) + 1]
    return lines.buffers()[2].to_pybytes()[offsets[0] : offsets[-1]]


def generate(path: Path, size: int, seed: int = SEED) -> Path:
    """Write a CSV of about `size` bytes (whole rows; at least 50 of them) to `path`."""
    rng = np.random.default_rng(seed)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(path.suffix + ".partial")
    with partial.open("wb") as out:
        out.write((",".join(HEADER) + "\n").encode())
        first_id = 1
        while out.tell() < size:
            remaining = size - out.tell()
            rows = CHUNK_ROWS if remaining > 40 << 20 else max(50, remaining // ROW_BYTES + 1)
            out.write(_csv_bytes(_chunk(rng, first_id, rows)))
            first_id += rows
    partial.replace(path)
    return path


def dataset_file(data_dir: Path, size_name: str, seed: int = SEED) -> Path:
    """The cached input of a size, generated on first use (bench/data/ is git-ignored)."""
    path = data_dir / f"orders-{size_name}-seed{seed}.csv"
    if not path.exists():
        generate(path, parse_size(size_name), seed)
    return path
