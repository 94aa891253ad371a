"""`datalake up` on a busy port fails at once, naming the port, with the `--port 0` hint."""

from __future__ import annotations

import socket
import time
from pathlib import Path

from cli_helpers import assert_clean, run_datalake


def test_up_on_a_busy_port_fails_within_5_seconds(tmp_path: Path) -> None:
    (tmp_path / "lake.yaml").write_text("lake: acme\n")
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        started = time.monotonic()
        result = run_datalake("up", "--port", str(port), cwd=tmp_path, timeout=30)
        elapsed = time.monotonic() - started
    assert_clean(result, 4, f"port {port}", "--port 0")
    assert elapsed < 5, f"took {elapsed:.1f} s"
