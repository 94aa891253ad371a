"""The local lake's workers take their event-source settings from lake.yaml's pipeline."""

from __future__ import annotations

from datalake_cfn.config import parse_config
from datalake_cfn.local.lake import LocalLake


def test_local_workers_abandon_an_invocation_at_the_lambda_function_timeout() -> None:
    config = parse_config(
        {
            "lake": "timeouts",
            "datasets": [{"name": "sales", "classification": "internal"}],
            "pipeline": {"timeout_seconds": 45, "batch_size": 7},
        }
    )
    settings = LocalLake(config, workers=False).worker_settings
    assert settings.function_timeout_seconds == 45
    assert settings.batch_size == 7
