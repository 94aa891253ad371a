"""The local lake's emulator runs in a process of its own, and that process never outlives its lake."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import time
from collections.abc import Callable
from pathlib import Path

import psutil
import pytest

from datalake_cfn.local.durability import DurabilityError, DurableState
from datalake_cfn.local.emulator import local_client
from datalake_cfn.local.emulator_process import (
    ALLOCATOR_TUNABLES,
    EmulatorAddressError,
    EmulatorError,
    EmulatorProcess,
    emulator_environment,
)

REGION = "us-east-1"


def _gone(pid: int, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if not psutil.pid_exists(pid) or psutil.Process(pid).status() == psutil.STATUS_ZOMBIE:
            return True
        time.sleep(0.05)
    return False


def _lock_free(state_dir: Path, seconds: float) -> bool:
    """The threads of a killed process let go of its files a moment after its main thread is a zombie."""
    deadline = time.monotonic() + seconds
    while True:
        state = DurableState(state_dir)
        try:
            state.open()
        except DurabilityError:
            if time.monotonic() > deadline:
                return False
            time.sleep(0.05)
        else:
            state.close()
            return True


def test_serves_from_another_process_and_stops_cleanly(tmp_path: Path) -> None:
    emulator = EmulatorProcess(state_dir=tmp_path / "state").start()
    try:
        child = emulator._process
        assert child is not None and child.pid != os.getpid()
        s3 = local_client("s3", emulator.endpoint, REGION)
        s3.create_bucket(Bucket="in-a-child")
        s3.put_object(Bucket="in-a-child", Key="a.csv", Body=b"a\n1\n")
        assert [o["Key"] for o in s3.list_objects_v2(Bucket="in-a-child")["Contents"]] == ["a.csv"]
    finally:
        emulator.stop()
    assert child.returncode == 0
    assert emulator.commits >= 2  # the bucket and the object were journalled before their responses
    assert not emulator.alive
    again = EmulatorProcess(state_dir=tmp_path / "state").start()  # the directory was released
    try:
        body = local_client("s3", again.endpoint, REGION).get_object(Bucket="in-a-child", Key="a.csv")["Body"]
        assert body.read() == b"a\n1\n"
    finally:
        again.stop()


def test_the_child_starts_with_the_allocator_tunables(monkeypatch: pytest.MonkeyPatch) -> None:
    # what the child was given: glibc rewrites GLIBC_TUNABLES in the child's own environment as it parses it
    started: list[dict[str, str]] = []
    real_popen = subprocess.Popen

    def recording_popen(*args: object, **kwargs: object) -> subprocess.Popen:
        started.append(dict(kwargs["env"]))  # type: ignore[arg-type]
        return real_popen(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(subprocess, "Popen", recording_popen)
    monkeypatch.setenv("GLIBC_TUNABLES", "glibc.malloc.arena_max=4")
    emulator = EmulatorProcess().start()
    try:
        assert emulator.alive
    finally:
        emulator.stop()
    (environment,) = started
    assert environment["GLIBC_TUNABLES"].split(":") == [
        "glibc.malloc.arena_max=4",
        *(f"{name}={value}" for name, value in ALLOCATOR_TUNABLES.items()),
    ]
    assert environment["PATH"] == os.environ["PATH"]


def test_the_allocator_tunables_keep_what_the_user_set() -> None:
    untouched = {"PATH": "/bin"}
    child = emulator_environment(untouched)
    assert untouched == {"PATH": "/bin"} and child["PATH"] == "/bin"
    assert child["GLIBC_TUNABLES"].split(":") == [f"{name}={value}" for name, value in ALLOCATOR_TUNABLES.items()]
    mine = "glibc.malloc.arena_max=2:glibc.malloc.hugetlb=0"
    merged = emulator_environment({"GLIBC_TUNABLES": mine})["GLIBC_TUNABLES"].split(":")
    assert merged[:2] == ["glibc.malloc.arena_max=2", "glibc.malloc.hugetlb=0"]  # the user's, first and kept
    assert [item.split("=")[0] for item in merged].count("glibc.malloc.hugetlb") == 1
    assert f"glibc.malloc.mmap_threshold={32 << 20}" in merged


def test_the_emulator_dies_with_a_killed_parent(tmp_path: Path) -> None:
    """A lake killed with SIGKILL leaves no emulator behind holding its port and its state directory."""
    script = textwrap.dedent(
        f"""
        import sys, time
        from pathlib import Path
        from datalake_cfn.local.emulator_process import EmulatorProcess
        emulator = EmulatorProcess(state_dir=Path({str(tmp_path / "state")!r})).start()
        print(emulator._process.pid, emulator.port, flush=True)
        time.sleep(600)
        """
    )
    parent = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, text=True)
    try:
        assert parent.stdout is not None
        child_pid, port = (int(field) for field in parent.stdout.readline().split())
        assert psutil.pid_exists(child_pid)
        parent.kill()
        parent.wait(timeout=30)
        assert _gone(child_pid, 10), "the emulator outlived its parent"
    finally:
        parent.kill()
    assert _lock_free(tmp_path / "state", 10), "the dead emulator still holds the state directory"
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        probe.bind(("127.0.0.1", port))


def test_a_held_state_directory_is_a_durability_error(tmp_path: Path) -> None:
    holder = DurableState(tmp_path / "state")
    holder.open()
    try:
        with pytest.raises(DurabilityError, match="in use by another running lake"):
            EmulatorProcess(state_dir=tmp_path / "state", log_file=tmp_path / "emulator.log").start()
    finally:
        holder.close()


def test_a_taken_port_is_an_address_error() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmulatorAddressError, match=f"cannot listen on 127.0.0.1:{port}") as raised:
            EmulatorProcess(port=port).start()
    assert isinstance(raised.value, OSError)  # what `datalake up` turns into "try --port 0"


def test_a_child_that_fails_at_start_is_reported_with_its_log(tmp_path: Path) -> None:
    """A state path under a file: the child cannot make its directory, and the error shows its log."""
    not_a_directory = tmp_path / "file"
    not_a_directory.write_text("x")
    with pytest.raises(EmulatorError) as raised:
        EmulatorProcess(state_dir=not_a_directory / "state", log_file=tmp_path / "emulator.log").start()
    message = str(raised.value)
    assert "did not start: NotADirectoryError" in message
    assert "Traceback" in message and "the emulator did not start" in message  # the tail of emulator.log
    assert not isinstance(raised.value, OSError)


def test_datalake_up_stops_with_status_4_when_its_emulator_dies(
    lake_yaml: Path, tmp_path: Path, emulator_death: Callable[[subprocess.Popen, float], str]
) -> None:
    """The installed `datalake up`: a dead emulator ends the live view with a reason, not stale counts."""
    data_dir = tmp_path / "lake"
    command = [str(Path(sys.executable).parent / "datalake"), "--config", str(lake_yaml), "--data", str(data_dir)]
    up = subprocess.Popen(
        [*command, "up", "--port", "0"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={**os.environ, "COLUMNS": "200", "PYTHONPATH": str(Path(__file__).parent)},
    )
    try:
        deadline = time.monotonic() + 60
        while not (data_dir / "endpoint.json").exists():
            assert up.poll() is None and time.monotonic() < deadline, "datalake up did not start"
            time.sleep(0.2)
        err = emulator_death(up, 60)
    finally:
        up.kill()
    assert str(data_dir / "emulator.log") in err and "restores its state" in err
