"""Run one measured child process: wall time, peak RSS (wait4), and a memory cap.

Peak RSS comes from the kernel, not from sampling, so short peaks are not missed: the child
reports its own high-water mark (`VmHWM` of /proc/self/status, which starts afresh at exec)
as `peak_rss_mb` in its JSON line. (`wait4`'s ru_maxrss is no good here: Linux carries the
parent's high-water mark across fork+exec into it.) A sampler still watches the child so
that an approach that would exhaust the machine (pandas on a 2 GB file) is stopped at a cap
and reported as such, with the highest RSS it saw, instead of taking the host down with it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

LAMBDA_MAX_MEMORY_MB = 10_240  # the largest Lambda: an approach above it cannot run as a zone consumer


@dataclass
class ChildRun:
    """What one measured child did."""

    command: list[str]
    ok: bool
    wall_seconds: float
    peak_rss_mb: float
    cpu_seconds: float  # user + system time of the child: what a 1-vCPU Lambda would spend
    returncode: int
    report: dict = field(default_factory=dict)  # the child's JSON line
    error: str = ""

    def as_dict(self) -> dict:
        data = asdict(self)
        data.pop("command")
        return data


def memory_cap_mb() -> int:
    """The cap for one child: Lambda's maximum, or 60% of what the host has free if that is less."""
    import psutil

    return int(min(LAMBDA_MAX_MEMORY_MB, psutil.virtual_memory().available / 2**20 * 0.6))


def run_child(
    args: list[str], *, cap_mb: int | None = None, timeout: float = 3600, env: dict | None = None
) -> ChildRun:
    """Run `python <args>` from the repository root and measure it."""
    import psutil

    cap_mb = cap_mb or memory_cap_mb()
    command = [sys.executable, *args]
    root = Path(__file__).resolve().parents[1]
    with tempfile.TemporaryFile() as out, tempfile.TemporaryFile() as err:
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=out, stderr=err, cwd=root, env={**os.environ, **(env or {})})
        killed: list[str] = []
        sampled = [0.0]

        def watch() -> None:
            try:
                child = psutil.Process(process.pid)
                while process.returncode is None and not killed:
                    rss = child.memory_info().rss / 2**20
                    sampled[0] = max(sampled[0], rss)
                    if rss > cap_mb:
                        killed.append(f"stopped at the {cap_mb:,} MB memory cap (RSS {rss:,.0f} MB)")
                        child.kill()
                    elif time.perf_counter() - started > timeout:
                        killed.append(f"stopped after the {timeout:.0f} s time limit")
                        child.kill()
                    time.sleep(0.05)
            except psutil.NoSuchProcess:
                return

        watcher = threading.Thread(target=watch, daemon=True)
        watcher.start()
        _, status, usage = os.wait4(process.pid, 0)
        wall = time.perf_counter() - started
        process.returncode = os.waitstatus_to_exitcode(status)
        watcher.join(timeout=1)
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read().decode(errors="replace"), err.read().decode(errors="replace")
    report: dict = {}
    for line in reversed(stdout.strip().splitlines()):
        if line.startswith("{"):
            report = json.loads(line)
            break
    ok = process.returncode == 0 and not killed
    error = killed[0] if killed else ("" if ok else (stderr.strip().splitlines() or ["failed"])[-1][:500])
    cpu = usage.ru_utime + usage.ru_stime
    peak = float(report.get("peak_rss_mb", sampled[0]))
    return ChildRun(command, ok, wall, peak, cpu, process.returncode, report, error)


def peak_rss_mb() -> float:
    """This process's peak RSS since exec (VmHWM), for a child to report about itself."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    import resource

    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
