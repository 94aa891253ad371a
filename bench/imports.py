"""Cold import of the Lambda handler module, in fresh interpreters.

A Lambda cold start imports the handler before the first event; this is the part of it
the code controls. Each sample is a new `python` process (nothing cached in memory but
the OS page cache, as on a warm Lambda host), timing `import zone_consumer.handler`;
`-X importtime` names the heaviest imports.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

MODULE = "zone_consumer.handler"
GOAL_SECONDS = 0.3
CLI = Path(sys.executable).with_name("datalake")  # the installed console script
_TIMER = f"import time; t = time.perf_counter(); import {MODULE}; print(time.perf_counter() - t)"


def cold_import(samples: int = 7) -> dict:
    subprocess.run([sys.executable, "-c", f"import {MODULE}"], check=True)  # warm the page cache once
    times = [
        float(subprocess.run([sys.executable, "-c", _TIMER], check=True, capture_output=True, text=True).stdout)
        for _ in range(samples)
    ]
    return {
        "module": MODULE,
        "samples": samples,
        "median_seconds": statistics.median(times),
        "min_seconds": min(times),
        "max_seconds": max(times),
        "goal_seconds": GOAL_SECONDS,
        "heaviest": heaviest_imports(),
    }


def heaviest_imports(top: int = 8, module: str = MODULE) -> list[dict]:
    """Top-level packages by cumulative import time (microseconds), from `-X importtime`."""
    stderr = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", f"import {module}"], check=True, capture_output=True, text=True
    ).stderr
    packages: dict[str, int] = {}
    for line in stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, name = line.split("|")
        if not cumulative.strip().isdigit():
            continue
        package = name.strip().split(".")[0]
        packages[package] = max(packages.get(package, 0), int(cumulative))
    ranked = sorted(packages.items(), key=lambda item: -item[1])
    return [
        {"package": name, "seconds": micros / 1e6}
        for name, micros in ranked
        if name not in {"datalake", "datalake_cfn", "zone_consumer"}
    ][:top]


def command_start(samples: int = 7) -> dict:
    """`datalake --help` of the installed console script, wall time of the whole process (median)."""
    subprocess.run([str(CLI), "--help"], check=True, capture_output=True)  # warm the page cache once
    times = []
    for _ in range(samples):
        started = time.perf_counter()
        subprocess.run([str(CLI), "--help"], check=True, capture_output=True)
        times.append(time.perf_counter() - started)
    return {
        "module": "datalake --help",
        "samples": samples,
        "median_seconds": statistics.median(times),
        "min_seconds": min(times),
        "max_seconds": max(times),
        "goal_seconds": GOAL_SECONDS,
        "heaviest": heaviest_imports(module="datalake_cfn.cli"),
    }
