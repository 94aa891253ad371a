"""Settings every test shares: no real AWS, ever."""

import os
import subprocess
from collections.abc import Callable

import psutil
import pytest

# boto3 must never find real credentials or reach AWS from a test.
os.environ.setdefault("AWS_ACCESS_KEY_ID", "testing")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "testing")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ.pop("AWS_PROFILE", None)
os.environ.setdefault("JSII_SILENCE_WARNING_DEPRECATED_NODE_VERSION", "1")
os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")


def pytest_sessionfinish(session: object, exitstatus: int) -> None:
    """Collect abandoned Arrow readers while Python is still whole.

    A CSV streaming reader over a Python file object whose cleanup is still pending when the
    process exits can deadlock Arrow's thread-pool teardown (apache/arrow#50482, open): one CI
    run printed its summary and then never exited. The engine now closes its readers itself
    (pipeline.transform_stream); this catches what a test left for the garbage collector.
    """
    import gc

    gc.collect()


@pytest.fixture
def emulator_death() -> Callable[[subprocess.Popen, float], str]:
    """Kill (SIGKILL, as a crash would) the emulator of the lake a running CLI process holds, wait for the
    CLI to end, and check that it ends as documented: status 4, the emulator's death named, no traceback.
    Returns the CLI's stderr for the caller's own checks."""

    def kill(cli: subprocess.Popen, timeout: float) -> str:
        (emulator,) = [
            child
            for child in psutil.Process(cli.pid).children()
            if "datalake_cfn.local.emulator_process" in child.cmdline()
        ]
        emulator.kill()
        _, err = cli.communicate(timeout=timeout)
        assert cli.returncode == 4, err
        assert f"emulator (process {emulator.pid}) was killed by signal 9" in err
        assert "Traceback" not in err
        return err

    return kill
