"""Where the engine's CPU goes on one input, stage by stage, and what goals 1 and 3 leave for it.

The engines table says how fast the whole hop is; this says which of its steps cost what,
measured on one thread in this process with the engine's own functions, in the engine's
order: parse (the engine's streaming reader, the floor's work), clean, digest, insert into
the digest table, lineage columns, formula escaping, CSV encoding (into /dev/null). A wide
input goes through the hop as CSV lines (see zone_consumer.csvlines), so there the lines
are encoded before the digest and writing them is a copy.

Why it is in the bench: goal 1 (1.5x Polars' speed) and goal 3 (half of the floor's rate)
are wall-clock goals on this machine's cores, so they set a CPU budget, cores x allowed
seconds, that no scheduling can exceed (`bench.report.stage_budgets`). Set against the sum of the stages, it says
whether a goal is out of reach of the stages as they are (then only cheaper stages help,
not more overlap), and which stage would have to give.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

STAGE_ORDER = ("parse", "clean", "encode lines", "digest", "insert", "lineage", "escape formulas", "encode CSV")


def measure_stages(source: Path) -> dict[str, Any]:
    """CPU seconds of each stage of the landing hop over `source`, on this thread, one batch at a time."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    from zone_consumer.csvlines import csv_lines, lines_bytes
    from zone_consumer.dedupe import RowDeduplicator
    from zone_consumer.formats import open_csv_stream
    from zone_consumer.pipeline import LINES_COLUMN, LINES_MIN_COLUMNS, lineage_suffix_bytes
    from zone_consumer.spreadsheet import neutralise_formulas
    from zone_consumer.transforms import clean_batch, with_ingestion_metadata

    from bench.engines import INGESTED_AT, SOURCE_KEY

    seconds = dict.fromkeys(STAGE_ORDER, 0.0)

    def timed(stage: str, step: Callable[..., Any], *args: Any) -> Any:
        started = time.thread_time()
        result = step(*args)
        seconds[stage] += time.thread_time() - started
        return result

    rows = 0
    process_started = time.process_time()
    with source.open("rb") as stream, open(os.devnull, "wb") as devnull:
        header, reader = open_csv_stream(stream)
        as_lines = len(header.columns) >= LINES_MIN_COLUMNS
        suffix = lineage_suffix_bytes(SOURCE_KEY, INGESTED_AT) if as_lines else 0  # what the digest leaves out
        sink = pa.PythonFile(devnull, mode="w")
        writer: Any = None
        with RowDeduplicator() as deduplicator:
            try:
                while True:
                    try:
                        batch = timed("parse", reader.read_next_batch)
                    except StopIteration:
                        break
                    cleaned = timed("clean", clean_batch, batch, header.columns)
                    if as_lines:
                        lined = timed("lineage", with_ingestion_metadata, cleaned, SOURCE_KEY, INGESTED_AT)
                        escaped = timed("escape formulas", neutralise_formulas, lined)
                        lines = timed("encode lines", csv_lines, escaped)
                        cleaned = pa.RecordBatch.from_arrays([lines], names=[LINES_COLUMN])
                    digests = timed("digest", deduplicator.digest, cleaned, suffix)
                    kept = timed("insert", deduplicator.push, cleaned, digests)
                    if kept is None:  # held back: spilling, not what a 100 MB input does
                        raise RuntimeError(f"{source.name}: the deduplicator spilled; measure a smaller input")
                    rows += kept.num_rows
                    if as_lines:
                        timed("encode CSV", sink.write, lines_bytes(kept.column(0)))  # what the writer does with lines
                        continue
                    lined = timed("lineage", with_ingestion_metadata, kept, SOURCE_KEY, INGESTED_AT)
                    escaped = timed("escape formulas", neutralise_formulas, lined)
                    if writer is None:
                        writer = pacsv.CSVWriter(sink, escaped.schema)
                    timed("encode CSV", writer.write_batch, escaped)
            finally:
                reader.close()
        if writer is not None:
            writer.close()
    stages = {stage: value for stage, value in seconds.items() if value or stage in ("parse", "clean", "digest")}
    return {
        "input_bytes": source.stat().st_size,
        "rows": rows,
        "as_lines": as_lines,
        "stages": stages,
        "cpu_seconds": sum(stages.values()),
        "process_cpu_seconds": time.process_time() - process_started,  # with Arrow's I/O thread
    }
