"""The consumer zip and the managed layer: the Lambda gets the runtime and nothing it cannot use."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from datalake_cfn.artifacts import (
    GLUE_DIR,
    GLUE_SCRIPT_PREFIX,
    LAMBDA_PYTHON,
    RUNTIME,
    SDK_PANDAS_LAYERS,
    ZIP_DATE_TIME,
    ZIP_NAME,
    AssetError,
    consumer_files,
    glue_job_scripts,
    sdk_pandas_layer_arn,
    user_transform_modules,
    write_artifacts,
)
from datalake_cfn.config import LakeConfig, parse_config

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


def sample_lake() -> LakeConfig:
    return parse_config({"lake": "acme", "datasets": [{"name": "a", "transform": "zone_consumer.samples:mask_emails"}]})


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> list[Path]:
    return write_artifacts(sample_lake(), tmp_path_factory.mktemp("artifacts"))


def entries(archive: Path) -> list[str]:
    with zipfile.ZipFile(archive) as zipped:
        return zipped.namelist()


def test_layer_matches_the_lambda_runtime() -> None:
    assert RUNTIME == "python3.14" == f"python{LAMBDA_PYTHON}"
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


def test_a_transform_inside_the_builder_is_refused() -> None:
    config = parse_config({"lake": "acme", "datasets": [{"name": "a", "transform": "datalake_cfn.routing:f"}]})
    with pytest.raises(AssetError, match="no datalake_cfn code"):
        user_transform_modules(config)


def test_write_artifacts_writes_the_zip_and_the_glue_scripts(built: list[Path]) -> None:
    directory = built[0].parent
    assert built[0] == directory / ZIP_NAME
    assert GLUE_SCRIPT_PREFIX == "glue/"
    expected = [directory / GLUE_SCRIPT_PREFIX / p.name for p in sorted(GLUE_DIR.glob("*.py"))]
    assert built[1:] == expected and expected
    for script in expected:
        assert script.read_bytes() == (GLUE_DIR / script.name).read_bytes()


def test_the_zip_holds_the_runtime_and_no_builder_code_tests_or_bytecode(built: list[Path]) -> None:
    names = entries(built[0])
    assert "zone_consumer/handler.py" in names
    assert "zone_consumer/__init__.py" in names
    assert "zone_consumer/samples.py" in names
    assert "aws_lambda_powertools/__init__.py" in names
    assert names == sorted(names) and len(names) == len(set(names))
    for name in names:
        top = name.split("/", 1)[0]
        assert top in {"zone_consumer", "aws_lambda_powertools", "typing_extensions.py"}, name
        parts = name.split("/")
        assert "__pycache__" not in parts and "tests" not in parts[:-1], name
        assert not name.endswith((".pyc", ".pyo")), name
    sources = {p.name for p in (Path(__file__).parents[2] / "lambda_src" / "zone_consumer").glob("*.py")}
    assert {n.split("/", 1)[1] for n in names if n.startswith("zone_consumer/")} == sources


def test_the_zip_is_byte_identical_across_builds(tmp_path: Path) -> None:
    first = write_artifacts(sample_lake(), tmp_path / "one")[0]
    second = write_artifacts(sample_lake(), tmp_path / "two")[0]
    assert hashlib.sha256(first.read_bytes()).hexdigest() == hashlib.sha256(second.read_bytes()).hexdigest()
    (tmp_path / "one" / "stale.txt").write_text("x")
    again = write_artifacts(sample_lake(), tmp_path / "one")[0]  # rebuilding in place gives the same bytes too
    assert again.read_bytes() == second.read_bytes()


def test_zip_entries_carry_no_clock_or_owner(built: list[Path]) -> None:
    with zipfile.ZipFile(built[0]) as zipped:
        for info in zipped.infolist():
            assert info.date_time == ZIP_DATE_TIME
            assert (info.external_attr >> 16) & 0o777 == 0o644
            assert info.compress_type == zipfile.ZIP_DEFLATED


def test_the_zip_imports_with_only_the_layer_packages(built: list[Path], tmp_path: Path) -> None:
    """The handler (and the default lake's sample transform) import from the zip + the layer alone."""
    code = tmp_path / "code"
    with zipfile.ZipFile(built[0]) as zipped:
        zipped.extractall(code)
    assert not (code / "datalake_cfn").exists()
    layer = tmp_path / "layer"
    layer.mkdir()
    for package in LAYER_PACKAGES:
        module = __import__(package)
        source = Path(module.__file__ or "")
        source = source.parent if source.name == "__init__.py" else source
        (layer / source.name).symlink_to(source)
    script = (
        "import sys; sys.path[:] = [p for p in sys.path if 'site-packages' not in p and 'src' not in p]"
        f" + [{str(code)!r}, {str(layer)!r}];"
        "import zone_consumer.handler, zone_consumer.samples; print(zone_consumer.handler.__file__)"
    )
    result = subprocess.run([sys.executable, "-I", "-S", "-c", script], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().startswith(str(code))


def test_a_missing_transform_module_is_a_clear_error() -> None:
    config = parse_config({"lake": "acme", "datasets": [{"name": "a", "transform": "no_such_module_xyz:f"}]})
    with pytest.raises(AssetError, match="no_such_module_xyz"):
        consumer_files(config)


def test_every_glue_script_but_helpers_is_a_job(tmp_path: Path) -> None:
    (tmp_path / "daily_totals.py").write_text("print('job')\n")
    (tmp_path / "_shared.py").write_text("X = 1\n")
    (tmp_path / "notes.txt").write_text("not a job\n")
    assert [p.name for p in glue_job_scripts(tmp_path)] == ["daily_totals.py"]
    assert glue_job_scripts(tmp_path / "missing") == []
