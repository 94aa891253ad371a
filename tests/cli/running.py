"""`datalake up` as a user runs it: the installed console script in the background, stopped by Ctrl-C."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from cli_helpers import DATALAKE


class RunningLake:
    """A running `datalake up`, its stdout read line by line on a thread as it comes.

    A thread, not select() + readline(): readline() pulls every line the pipe holds into the
    file object's buffer, where select() no longer sees them, so a line printed together with
    the one before it sat unread until the next one came, and the live view prints only
    when its counts change (a CI run waited 60 s for a line that had been printed).
    """

    def __init__(self, process: subprocess.Popen[str]):
        self.process = process
        self.lines: list[str] = []
        self.stderr = ""
        self._changed = threading.Condition()
        self._readers = [
            threading.Thread(target=self._read_stdout, daemon=True),
            threading.Thread(target=self._read_stderr, daemon=True),
        ]
        for reader in self._readers:
            reader.start()

    @property
    def stdout(self) -> str:
        with self._changed:
            return "".join(self.lines)

    def _read_stdout(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self._changed:
                self.lines.append(line)
                self._changed.notify_all()
        with self._changed:
            self._changed.notify_all()

    def _read_stderr(self) -> None:
        assert self.process.stderr is not None
        self.stderr = self.process.stderr.read()

    def wait_for(self, needle: str, timeout: float = 60) -> str:
        """Wait until a line matches the regular expression `needle`; returns everything read so far."""
        deadline = time.monotonic() + timeout
        with self._changed:
            while not any(re.search(needle, line) for line in self.lines):
                left = deadline - time.monotonic()
                assert left > 0 and self.process.poll() is None, f"{needle!r} not printed:\n{''.join(self.lines)}"
                self._changed.wait(timeout=min(left, 1.0))
            return "".join(self.lines)

    def finish(self, timeout: float = 30) -> None:
        """Wait for the process to exit (killing it after `timeout`) and for its output to be read."""
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        for reader in self._readers:
            reader.join(timeout=10)


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
        lake.finish()
