"""`datalake up` as a user runs it: the installed console script in the background, stopped by Ctrl-C."""

from __future__ import annotations

import os
import re
import selectors
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from cli_helpers import DATALAKE


@dataclass
class RunningLake:
    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    stderr: str = ""

    @property
    def stdout(self) -> str:
        return "".join(self.lines)

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        """Read stdout until a line matches the regular expression `needle`; returns everything read so far."""
        assert self.process.stdout is not None
        selector = selectors.DefaultSelector()
        selector.register(self.process.stdout, selectors.EVENT_READ)
        deadline = time.monotonic() + timeout
        while not any(re.search(needle, line) for line in self.lines):
            left = deadline - time.monotonic()
            assert left > 0 and self.process.poll() is None, f"{needle!r} not printed:\n{self.stdout}"
            if selector.select(timeout=min(left, 1.0)):
                line = self.process.stdout.readline()
                if line:
                    self.lines.append(line)
        return self.stdout


def up_environment(columns: int = 80, **extra: str) -> dict[str, str]:
    return {
        "PATH": f"{DATALAKE.parent}:/usr/bin:/bin",
        "HOME": os.environ.get("HOME", "/tmp"),
        "COLUMNS": str(columns),
        **extra,
    }


@contextmanager
def running_up(cwd: Path, *args: str, columns: int = 80) -> Iterator[RunningLake]:
    """`datalake up --port 0 ARGS` in `cwd` until the block ends, then Ctrl-C (SIGINT) and wait."""
    process = subprocess.Popen(
        [str(DATALAKE), "up", "--port", "0", *args],
        cwd=cwd,
        env=up_environment(columns),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    lake = RunningLake(process)
    try:
        yield lake
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
        try:
            rest, lake.stderr = process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            rest, lake.stderr = process.communicate()
        lake.lines.append(rest)
