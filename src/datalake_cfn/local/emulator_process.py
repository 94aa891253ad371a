"""The local lake's emulator in a process of its own, so it and the zone workers use both cores.

In one process, moto's request handling (XML, an MD5 of every uploaded part, spooling large
bodies to temporary files, whole-object reads) and the zone workers' Python took turns on
one interpreter lock: under a burst of uploads the workers waited for the emulator and the
emulator for the workers. Here the emulator (moto's server with this project's patches, and
the durable journal of :mod:`datalake_cfn.local.durability` when the lake has a state
directory) runs in a child process; the workers reach it over HTTP, exactly as they already
did, and as a Lambda reaches S3.

The protocol, on the child's standard streams (standard error goes to a log file):

- The parent starts ``python -m datalake_cfn.local.emulator_process --host H --port P
  [--state DIR]`` with a pipe on standard input.
- The child prints one JSON line when it serves requests, ``{"ready": true}``, or when it
  cannot, ``{"error": "...", "kind": "durability" | "address" | "other"}`` and exits 1.
- ``stop`` on standard input is a clean stop: the child stops serving, checkpoints the
  state directory, prints ``{"stopped": true, "commits": N}`` and exits 0.
- End of file on standard input without ``stop`` means the parent died (a crash, SIGKILL):
  the child exits at once, as the parent did, and the next start restores the journal, in
  which every request the child ever answered already is. The child runs in a session of
  its own, so a Ctrl-C at the terminal reaches the parent alone, which then stops it cleanly.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import select
import socket
import subprocess
import sys
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from datalake_cfn.local.durability import DurabilityError

START_SECONDS = 120.0  # importing moto and restoring a large state directory, on a slow machine
STOP_SECONDS = 600.0  # the clean stop writes a checkpoint of everything the lake holds
LOG_TAIL_CHARS = 2_000
# glibc's allocator settings for the child (GLIBC_TUNABLES, read when the process starts): every
# object body passes through moto as whole `bytes` (a 16 MiB part, a 100 MB object assembled at
# CompleteMultipartUpload and read back whole for a GET), and glibc serves each with a fresh mmap
# that the kernel zeroes page by page and takes back on free. Measured with 10 x 100 MB through the
# lake: 3.8 M page faults and 16.6 s of system time in the emulator. Huge pages for those maps (512x
# fewer faults), the largest mmap threshold glibc accepts (32 MiB: parts are reused from the heap)
# and a heap that is not trimmed back below 512 MiB bring that to 0.4 M faults and about 10 s. The
# price is memory: the child keeps up to 512 MiB of freed heap (the load run's peak, all processes
# together, went from 2,838 to 3,006 MB). glibc rewrites the variable in the child's own environment
# as it parses it, so /proc/<pid>/environ does not show all of what it applied.
ALLOCATOR_TUNABLES = {
    "glibc.malloc.mmap_threshold": str(32 << 20),
    "glibc.malloc.trim_threshold": str(512 << 20),
    "glibc.malloc.hugetlb": "1",  # madvise(MADV_HUGEPAGE) on its maps: transparent huge pages in "madvise" mode
}


def emulator_environment(environment: Mapping[str, str]) -> dict[str, str]:
    """The child's environment: the parent's, plus ALLOCATOR_TUNABLES where the user set none of them.

    Tunables the user already gives in GLIBC_TUNABLES win; another C library ignores the variable.
    """
    child = dict(environment)
    given = [item for item in child.get("GLIBC_TUNABLES", "").split(":") if item]
    named = {item.split("=", 1)[0] for item in given}
    added = [f"{name}={value}" for name, value in ALLOCATOR_TUNABLES.items() if name not in named]
    child["GLIBC_TUNABLES"] = ":".join(given + added)
    return child


class EmulatorError(RuntimeError):
    """The emulator's process did not start, or ended while the lake still needed it."""


class EmulatorAddressError(EmulatorError, OSError):
    """The emulator could not listen on its address (the port is taken)."""


class EmulatorProcess:
    """The parent's handle on the emulator's process: what :class:`Emulator` offers, over a pipe."""

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        *,
        state_dir: Path | None = None,
        log_file: Path | None = None,
    ):
        from datalake_cfn.local.emulator import free_port

        self.host = host
        self.port = port or free_port(host)
        self.state_dir = state_dir
        self.log_file = log_file
        self.commits = 0  # commits of the durable journal, known after a clean stop
        self._process: subprocess.Popen[str] | None = None
        self._log: IO[str] | None = None

    @property
    def endpoint(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def alive(self) -> bool:
        return self._process is not None and self._process.poll() is None

    def death_notice(self, wait: float = 0.0) -> str | None:
        """Why the lake lost its emulator, if the process ended without being stopped.

        `wait`: seconds to give a process that may be dying to end. A request refused because the
        emulator was killed can come back a moment before the kernel reports the process ended
        (its sockets close first), and the caller then wants the cause, not "not yet".
        """
        process = self._process
        if process is None:
            return None
        if wait > 0:
            with contextlib.suppress(subprocess.TimeoutExpired):
                process.wait(wait)
        else:
            process.poll()
        if process.returncode is None:
            return None
        code = process.returncode
        how = f"was killed by signal {-code}" if code < 0 else f"exited with code {code}"
        if self.log_file is not None:
            where = f"; what it logged is in {self.log_file}"
        else:  # its log is a temporary file nobody else can open: show its end
            where = f"; its log ends with:\n{self._log_tail()}"
        return f"the local lake's emulator (process {process.pid}) {how}{where}"

    def start(self) -> EmulatorProcess:
        command = [sys.executable, "-m", __name__, "--host", self.host, "--port", str(self.port)]
        if self.state_dir is not None:
            command += ["--state", str(self.state_dir)]
        if self.log_file is not None:
            self.log_file.parent.mkdir(parents=True, exist_ok=True)
            self._log = open(self.log_file, "a", encoding="utf-8")  # noqa: SIM115 - the child's, until stop()
        else:
            self._log = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115 - read if the child fails
        self._process = subprocess.Popen(
            command,
            env=emulator_environment(os.environ),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=self._log,
            text=True,
            start_new_session=True,
        )
        message = self._read_message(START_SECONDS, "start")
        if message.get("ready"):
            return self
        error = f"the local lake's emulator did not start: {message.get('error', message)}"
        kind = message.get("kind")
        if kind not in ("durability", "address"):
            error += f"; its log ends with:\n{self._log_tail()}"
        self._wait_and_close()
        if kind == "durability":
            raise DurabilityError(message["error"])
        if kind == "address":
            raise EmulatorAddressError(error)
        raise EmulatorError(error)

    def stop(self) -> None:
        """Stop cleanly (the child checkpoints its state directory) and wait for it."""
        process = self._process
        if process is None:
            return
        try:
            if process.poll() is None:
                try:
                    assert process.stdin is not None
                    process.stdin.write("stop\n")
                    process.stdin.flush()
                except BrokenPipeError:
                    pass
                else:
                    message = self._read_message(STOP_SECONDS, "stop")
                    self.commits = int(message.get("commits", 0))
        finally:
            self._wait_and_close()

    def _read_message(self, timeout: float, what: str) -> dict[str, Any]:
        """The child's next protocol line; its log's tail if it ended or fell silent instead."""
        process = self._process
        assert process is not None and process.stdout is not None
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if line:
            try:
                return json.loads(line)
            except ValueError:
                pass
        if process.poll() is None and not ready:
            process.kill()
            reason = f"it did not {what} within {timeout:.0f} s"
        else:
            process.wait(timeout=10)
            reason = f"it exited with code {process.returncode} during {what}"
        raise EmulatorError(f"the local lake's emulator failed: {reason}; its log ends with:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        if self._log is None:
            return ""
        self._log.flush()
        if self.log_file is not None:  # appended to across restarts: read its end only
            with open(self.log_file, "rb") as log:
                log.seek(max(0, log.seek(0, os.SEEK_END) - 4 * LOG_TAIL_CHARS))
                return log.read().decode("utf-8", errors="replace")[-LOG_TAIL_CHARS:]
        self._log.seek(0)
        return self._log.read()[-LOG_TAIL_CHARS:]

    def _wait_and_close(self) -> None:
        process, self._process = self._process, None
        if process is not None:
            if process.stdin is not None:
                with contextlib.suppress(BrokenPipeError):
                    process.stdin.close()  # end of file: a child that is still running exits now
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait()
            if process.stdout is not None:
                process.stdout.close()
        if self._log is not None:
            self._log.close()
            self._log = None


# -- the child ------------------------------------------------------------------------------------------
def serve(host: str, port: int, state_dir: Path | None, protocol: IO[str]) -> int:
    """Serve until the parent says stop (clean) or goes away (exit at once)."""
    import logging

    from datalake_cfn.local.durability import DurableState, attach
    from datalake_cfn.local.emulator import Emulator

    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    emulator = Emulator(host=host, port=port)
    state = DurableState(state_dir) if state_dir is not None else None

    def say(message: dict[str, Any]) -> None:
        protocol.write(json.dumps(message) + "\n")
        protocol.flush()

    try:
        check_address(host, port)
    except OSError as exc:
        say({"error": f"cannot listen on {host}:{port}: {exc}", "kind": "address"})
        return 1
    try:
        if state is not None:
            attach(state, emulator)
            state.open()
        emulator.start()
    except DurabilityError as exc:
        say({"error": str(exc), "kind": "durability"})
        return 1
    except Exception as exc:  # reported to the parent, which raises it with the log's tail
        logging.getLogger(__name__).exception("the emulator did not start")
        say({"error": f"{type(exc).__name__}: {exc}", "kind": "other"})
        return 1
    say({"ready": True})
    command = sys.stdin.readline()
    if command.strip() != "stop":
        os._exit(0)  # the parent died: so does the emulator, and the journal holds every answer it gave
    emulator.stop()
    if state is not None:
        state.close()
    say({"stopped": True, "commits": state.commits if state is not None else 0})
    return 0


def check_address(host: str, port: int) -> None:
    """Raise OSError if the port is taken: moto's server would log the error in its thread and never start.

    The probe binds as the server's own socket does (SO_REUSEADDR), so a port that only has
    connections of a stopped lake in TIME_WAIT counts as free, as it is to the server.
    """
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server's own socket
        probe.bind((host, port))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m datalake_cfn.local.emulator_process")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--state", type=Path, default=None)
    args = parser.parse_args(argv)
    protocol = os.fdopen(os.dup(sys.stdout.fileno()), "w", encoding="utf-8")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())  # whatever else prints goes to the log, not the protocol
    return serve(args.host, args.port, args.state, protocol)


if __name__ == "__main__":
    sys.exit(main())
