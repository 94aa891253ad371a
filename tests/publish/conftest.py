"""One moto server (S3, SQS, CloudFormation) for the publish tests, started in the test process."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from datalake_cfn.local.emulator import Emulator


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    emu = Emulator().start()
    yield emu
    emu.stop()


@pytest.fixture(scope="session")
def endpoint(emulator: Emulator) -> str:
    """Spelled with `localhost`: moto's CloudFormation fetches template URLs only in that form."""
    return f"http://localhost:{emulator.port}"
