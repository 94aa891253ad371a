"""The consumer bundle and the managed layer: the Lambda gets the runtime and nothing it cannot use."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from datalake_cfn.config import parse_config
from datalake_cfn.infra.assets import (
    LAMBDA_PYTHON,
    SDK_PANDAS_LAYERS,
    AssetError,
    build_consumer_bundle,
    glue_job_scripts,
    sdk_pandas_layer_arn,
    user_transform_modules,
)
from datalake_cfn.infra.pipeline import RUNTIME

# What the AWS SDK for pandas layer provides (besides the Lambda runtime's own boto3).
LAYER_PACKAGES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six",
    "urllib3",
    "pyarrow",
    "numpy",
    "typing_extensions",
)


def test_layer_matches_the_lambda_runtime() -> None:
    assert RUNTIME.name == f"python{LAMBDA_PYTHON}"
    arn = sdk_pandas_layer_arn("us-east-1")
    assert arn.startswith("arn:aws:lambda:us-east-1:336392948345:layer:AWSSDKPandas-Python314:")
    assert sdk_pandas_layer_arn("cn-north-1").startswith("arn:aws-cn:lambda:cn-north-1:")
    assert len(SDK_PANDAS_LAYERS) >= 25


def test_a_region_without_the_layer_is_a_clear_error() -> None:
    with pytest.raises(AssetError, match="no AWS SDK for pandas"):
        sdk_pandas_layer_arn("xx-nowhere-9")


def test_transform_modules_to_bundle() -> None:
    config = parse_config(
        {
            "lake": "acme",
            "datasets": [
                {"name": "a", "transform": "zone_consumer.samples:mask_emails"},
                {"name": "b", "transform": "zone_consumer.transforms.clean_column"},
                {"name": "c", "transform": {"staged": "acme_rules.masking:hide", "curated": "acme_rules.typing:cast"}},
            ],
        }
    )
    assert user_transform_modules(config) == ["acme_rules"]  # the samples ship inside zone_consumer


def test_bundle_imports_with_only_the_layer_packages(tmp_path: Path) -> None:
    """The handler (and the default lake's sample transform) import from the bundle + the layer alone."""
    config = parse_config(
        {"lake": "acme", "datasets": [{"name": "a", "transform": "zone_consumer.samples:mask_emails"}]}
    )
    bundle = build_consumer_bundle(config)
    assert not (bundle.path / "datalake_cfn").exists()
    layer = tmp_path / "layer"
    layer.mkdir()
    for package in LAYER_PACKAGES:
        spec = __import__(package)
        source = Path(spec.__file__)
        source = source.parent if source.name == "__init__.py" else source
        (layer / source.name).symlink_to(source)
    code = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p and 'src' not in p]"
        f" + [{str(bundle.path)!r}, {str(layer)!r}];"
        "import zone_consumer.handler, zone_consumer.samples; print(zone_consumer.handler.__file__)"
    )
    result = subprocess.run([sys.executable, "-I", "-S", "-c", code], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(bundle.path))


def test_a_missing_transform_module_is_a_clear_error() -> None:
    config = parse_config({"lake": "acme", "datasets": [{"name": "a", "transform": "no_such_module_xyz:f"}]})
    with pytest.raises(AssetError, match="no_such_module_xyz"):
        build_consumer_bundle(config)


def test_every_glue_script_but_helpers_is_a_job(tmp_path: Path) -> None:
    (tmp_path / "daily_totals.py").write_text("print('job')\n")
    (tmp_path / "_shared.py").write_text("X = 1\n")
    (tmp_path / "notes.txt").write_text("not a job\n")
    assert [p.name for p in glue_job_scripts(tmp_path)] == ["daily_totals.py"]
    assert glue_job_scripts(tmp_path / "missing") == []
