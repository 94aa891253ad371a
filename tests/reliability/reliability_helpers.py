"""Small helpers shared by the reliability tests."""

from __future__ import annotations

import contextlib
import io
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import yaml

from datalake_cfn.local.connection import LakeConnection
from datalake_cfn.local.lake import write_endpoint_file

T = TypeVar("T")

RELIABILITY_LAKE = {
    "lake": "rellake",
    "datasets": [
        {"name": "sales", "classification": "internal"},
        {"name": "people", "classification": "confidential"},
        {"name": "clickstream", "classification": "public", "own_queue": True},
    ],
    "pipeline": {"max_receive_count": 3},
}


def wait_for(predicate: Callable[[], T], timeout: float, what: str, interval: float = 0.3) -> T:
    """Poll until `predicate` returns something truthy; fail with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")
        time.sleep(interval)


class TcpProxy:
    """A TCP proxy to the emulator that can be cut (every connection dropped) and restored on the same port."""

    def __init__(self, target_port: int, host: str = "127.0.0.1"):
        self.host = host
        self.target_port = target_port
        self.port = 0
        self._listener: socket.socket | None = None
        self._connections: list[socket.socket] = []
        self._lock = threading.Lock()

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> TcpProxy:
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind((self.host, self.port))
        listener.listen(64)
        self.port = listener.getsockname()[1]
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()
        return self

    def cut(self) -> None:
        """Stop listening and drop every open connection: the endpoint is unreachable."""
        with self._lock:
            listener, self._listener = self._listener, None
            connections, self._connections = self._connections, []
        if listener is not None:
            listener.close()
        for connection in connections:
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
            connection.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection((self.host, self.target_port))
            except OSError:
                client.close()
                continue
            with self._lock:
                if self._listener is not listener:
                    client.close()
                    upstream.close()
                    return
                self._connections += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(source, sink), daemon=True).start()

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            with contextlib.suppress(OSError):
                sink.shutdown(socket.SHUT_WR)


class ChaosLake:
    """An emulator with the lake provisioned in this process; its zone workers in child processes."""

    def __init__(self, lake_name: str, tmp: Path):
        from datalake_cfn.config import parse_config
        from datalake_cfn.local.lake import LocalLake

        document = dict(RELIABILITY_LAKE, lake=lake_name)
        self.tmp = tmp
        self.config_path = tmp / "lake.yaml"
        self.config_path.write_text(yaml.safe_dump(document))
        self.config = parse_config(document)
        self.lake = LocalLake(self.config, workers=False)
        self.workers: list[subprocess.Popen] = []
        self.data_dir = tmp / "data"

    def __enter__(self) -> ChaosLake:
        self.lake.start()
        # What `datalake up` writes, so that `datalake verify` finds this lake.
        write_endpoint_file(self.data_dir, self.lake.endpoint, self.lake.names.region, self.lake.names.lake)
        return self

    def __exit__(self, *exc: object) -> None:
        for worker in self.workers:
            if worker.poll() is None:
                worker.kill()
            worker.wait(timeout=30)
        self.lake.stop()

    @property
    def connection(self) -> LakeConnection:
        return self.lake.connection

    def start_worker(self, *extra: str, endpoint: str | None = None) -> subprocess.Popen:
        """A worker process for every queue of the lake; returns once it polls."""
        index = len(self.workers)
        ready = self.tmp / f"worker-{index}.ready"
        log = open(self.tmp / f"worker-{index}.log", "w")  # noqa: SIM115 - the child writes to it
        worker = subprocess.Popen(
            [
                sys.executable,
                str(Path(__file__).parent / "chaos_worker.py"),
                "--config",
                str(self.config_path),
                "--endpoint",
                endpoint or self.lake.endpoint,
                "--ready",
                str(ready),
                *extra,
            ],
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self.workers.append(worker)
        wait_for(lambda: ready.exists() or worker.poll() is not None, 60, "a worker process to start")
        assert worker.poll() is None, (self.tmp / f"worker-{index}.log").read_text()[-3000:]
        return worker

    def put(self, key: str, data: bytes) -> str:
        return self.connection.put_bytes(data, key)

    def wait_until_idle(self, timeout: float = 90) -> None:
        if not self.lake.wait_until_idle(timeout=timeout, settle=0.5):
            raise AssertionError(f"the lake did not settle in {timeout:.0f} s\n{self.diagnosis()}")

    def diagnosis(self) -> str:
        """Each worker's log tail, then what matters most last (CI shows a failure's last lines):
        the queue states and, per live worker, each busy thread's innermost frames (SIGUSR1 makes
        the worker's faulthandler dump every thread's stack into its log)."""
        for worker in self.workers:
            if worker.poll() is None:
                os.kill(worker.pid, signal.SIGUSR1)
        time.sleep(1)
        lines, summary = [], []
        for index, worker in enumerate(self.workers):
            log = (self.tmp / f"worker-{index}.log").read_text(errors="replace")
            lines.append(f"--- worker {index} (exit code {worker.poll()}), last lines of its log:\n{log[-6000:]}")
            summary += [f"  worker {index}: {thread}" for thread in busy_threads(log)]
        queues = [f"  {q.queue}: {q.visible} visible, {q.in_flight} in flight" for q in self.connection.queue_status()]
        return "\n".join([*lines, "--- queues:", *queues, "--- busy threads, innermost frame first:", *summary])

    def verify(self) -> tuple[int, str]:
        """`datalake verify` (the real command, in process) against this lake."""
        from typer.testing import CliRunner

        from datalake_cfn.cli import app

        result = CliRunner().invoke(
            app,
            ["--config", str(self.config_path), "--data", str(self.data_dir), "verify", "--wait", "30"],
            env={"COLUMNS": "200"},
        )
        if result.exception and not isinstance(result.exception, SystemExit):
            raise result.exception
        return result.exit_code, result.output

    def versions(self, zone: str, key: str) -> int:
        s3 = self.connection.client("s3")
        listing = s3.list_object_versions(Bucket=self.lake.names.bucket(zone), Prefix=key)
        return sum(1 for v in listing.get("Versions", []) if v["Key"] == key)


IDLE_FRAMES = ("in wait", "in _wait_for_tstate_lock", "in select", "in accept")
FAULTHANDLER_FRAME = re.compile(r'^\s*File "(?P<path>.+)", line (?P<line>\d+) in (?P<function>.+)$')


def busy_threads(log: str, frames: int = 8) -> list[str]:
    """One line per thread of the log's last faulthandler dump, innermost `frames` frames as
    `function (file:line)`; threads idling outside the consumer (a worker's poll) left out.

    A dump is a run of thread blocks ending with the thread the signal ran on ("Current thread")."""
    blocks = re.split(r"(?m)^(?=(?:Current thread|Thread) 0x)", log)[1:]
    ends = [i for i, block in enumerate(blocks) if block.startswith("Current thread")]
    if not ends:
        return []
    first = ends[-2] + 1 if len(ends) > 1 else 0
    threads = []
    for block in blocks[first : ends[-1] + 1]:
        found = [FAULTHANDLER_FRAME.match(line) for line in block.splitlines()[1:]]
        stack = [match for match in found if match]
        idle = not stack or any(frame in stack[0].group(0) for frame in IDLE_FRAMES)
        if idle and not any("zone_consumer" in match["path"] for match in stack):
            continue
        shown = [f"{m['function']} ({Path(m['path']).name}:{m['line']})" for m in stack[:frames]]
        threads.append(" <- ".join(shown))
    return threads


class GeneratedCsv(io.RawIOBase):
    """`size` bytes of distinct fixed-width CSV rows, made block by block on demand (nothing on disk)."""

    HEADER = b"id,amount,note\n"
    NOTE = b"lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod"

    def __init__(self, size: int, block_rows: int = 65536):
        row = b"000000000000,0000," + self.NOTE + b"\n"
        self.row_width = len(row)
        self.rows = (size - len(self.HEADER)) // len(row)
        self.size = len(self.HEADER) + self.rows * len(row)
        self.block_rows = block_rows
        template = np.frombuffer(row * block_rows, dtype=np.uint8)
        self.template = template.reshape(block_rows, len(row)).copy()
        self.powers = 10 ** np.arange(11, -1, -1, dtype=np.int64)
        self.pending = memoryview(self.HEADER)
        self.next_row = 0

    def readable(self) -> bool:
        return True

    def _block(self) -> memoryview:
        n = min(self.block_rows, self.rows - self.next_row)
        ids = np.arange(self.next_row, self.next_row + n, dtype=np.int64)
        block = self.template[:n]
        block[:, 0:12] = (ids[:, None] // self.powers % 10 + 48).astype(np.uint8)
        block[:, 13:17] = ((ids % 9973)[:, None] // self.powers[-4:] % 10 + 48).astype(np.uint8)
        self.next_row += n
        return memoryview(block.tobytes())

    def readinto(self, buffer: Any) -> int:
        if not self.pending:
            if self.next_row >= self.rows:
                return 0
            self.pending = self._block()
        n = min(len(buffer), len(self.pending))
        buffer[:n] = self.pending[:n]
        self.pending = self.pending[n:]
        return n


class CountingSink(io.RawIOBase):
    """A writable stream that only counts bytes (a 2 GB output needs no disk)."""

    def __init__(self) -> None:
        self.bytes = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        size = memoryview(data).nbytes
        self.bytes += size
        return size

    def close(self) -> None:
        """The engine closes its sink when done; the count stays readable."""
