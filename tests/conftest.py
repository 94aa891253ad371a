"""Settings every test shares: no real AWS, ever."""

import os
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
def kill_emulator() -> Callable[[int], psutil.Process]:
    """Kill the emulator process of the lake a CLI process runs (SIGKILL), as a crash would; the killed process."""

    def kill(cli_pid: int) -> psutil.Process:
        (emulator,) = [
            child
            for child in psutil.Process(cli_pid).children()
            if "datalake_cfn.local.emulator_process" in child.cmdline()
        ]
        emulator.kill()
        return emulator

    return kill
