"""`datalake up` on a busy port fails before it builds the lake, naming the port, with the `--port 0` hint."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest
from cli_helpers import assert_clean, run_datalake

from datalake_cfn.local.lake import EMULATOR_LOG_FILE


def test_up_on_a_busy_port_fails_before_anything_starts(tmp_path: Path) -> None:
    """The pre-flight probe answers, not the emulator's failure after its start: no emulator log, no state."""
    (tmp_path / "lake.yaml").write_text("lake: acme\n")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        result = run_datalake("up", "--port", str(port), cwd=tmp_path, timeout=30)
    assert_clean(result, 4, f"port {port} on 127.0.0.1 is in use", "stop what listens there", "--port 0")
    assert "cannot start the emulator" not in result.stderr + result.stdout
    assert not list(tmp_path.rglob(EMULATOR_LOG_FILE)) and not list(tmp_path.rglob("state"))


def _port_left_in_time_wait() -> int:
    """A port whose listener is gone but whose accepted connection, closed first, is in TIME_WAIT.

    The listener sets SO_REUSEADDR as the emulator's server does (Linux lets a later bind
    share the port with TIME_WAIT connections only of such a socket).
    """
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    port = listener.getsockname()[1]
    client = socket.create_connection(("127.0.0.1", port))
    accepted, _ = listener.accept()
    accepted.close()  # the server side closes first: its end (our port) goes to TIME_WAIT
    client.recv(1)
    client.close()
    listener.close()
    return port


def test_a_port_only_in_time_wait_counts_as_free_as_it_does_to_the_emulator() -> None:
    """Restarting a lake on the port it just left: the CLI's probe agrees with the server's (SO_REUSEADDR)."""
    from datalake_cfn.cli.lake import _check_port_free

    port = _port_left_in_time_wait()
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as plain, pytest.raises(OSError):
        plain.bind(("127.0.0.1", port))  # the precondition: a bind without SO_REUSEADDR is refused
    _check_port_free(port)  # no LakeUnavailable
