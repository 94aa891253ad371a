"""One engine run in a process of its own: `python -m bench.child ENGINE IN OUT [--typed]`.

The parent measures this process's peak RSS (wait4's ru_maxrss) and wall time; the child
reports, as one JSON line on stdout, how long the libraries took to import and how long
the transformation itself took (wall and CPU, all threads), so start-up and work can be
told apart.
"""

from __future__ import annotations

import importlib
import json
import os
import sys
import time
from pathlib import Path

from bench.measure import peak_rss_mb

MODULES = {
    "pandas": ["pandas"],
    "duckdb": ["duckdb"],
    "polars": ["polars"],
    "datalake": ["datalake_cfn.cli.perf", "datalake_cfn.config", "zone_consumer.pipeline"],
    "floor": ["pyarrow.csv", "zone_consumer.formats"],
}


def main(argv: list[str]) -> None:
    engine, source, target = argv[:3]
    typed = argv[3:] == ["--typed"]
    started = time.perf_counter()
    for module in MODULES[engine]:
        importlib.import_module(module)
    from bench.engines import ENGINES, TYPED_ENGINES

    imported, cpu_before = time.perf_counter(), os.times()
    (TYPED_ENGINES if typed else ENGINES)[engine](Path(source), Path(target))
    finished, cpu_after = time.perf_counter(), os.times()
    cpu = (cpu_after.user - cpu_before.user) + (cpu_after.system - cpu_before.system)
    report = {"import_seconds": imported - started, "seconds": finished - imported, "cpu_seconds": cpu}
    print(json.dumps({**report, "peak_rss_mb": peak_rss_mb()}))


if __name__ == "__main__":
    main(sys.argv[1:])
