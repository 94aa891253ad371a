"""What the prod template runs but does not contain: the consumer's zip, its managed layer, the Glue scripts.

The consumer zip is built in Python, without Docker: `lambda_src/zone_consumer`, the installed
pure-Python AWS Lambda Powertools, and the top-level modules of any user transforms named in
lake.yaml. boto3, pyarrow, pandas and numpy are NOT bundled: they come from the AWS-managed
"AWS SDK for pandas" layer, which is kept current by AWS and is the reason the runtime imports
nothing else. Nothing of `datalake_cfn` ships (the runtime imports nothing from it), nor tests or
bytecode.

The zip's bytes depend only on its inputs (sorted entries, fixed timestamps and permissions), so
the same sources give the same sha256: the publisher's immutable versions and CloudFormation's
"code changed?" both rest on that.

The layer is pinned here, in one place: AWS SDK for pandas release `SDK_PANDAS_RELEASE`, built for
`LAMBDA_PYTHON` (the newest Python that has a managed layer), x86_64. Layer ARNs differ per region
(publisher account and version number), so the table below is copied from the release's
`docs/source/layers.rst`. To upgrade: take the new release's table, update the three constants and
the table together, and redeploy (a layer change updates the functions in place).
"""

from __future__ import annotations

import importlib.util
import shutil
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

from datalake_cfn.config import LakeConfig

SDK_PANDAS_RELEASE = "3.17.0"
LAMBDA_PYTHON = "3.14"
RUNTIME = f"python{LAMBDA_PYTHON}"
LAYER_NAME = "AWSSDKPandas-Python314"

# region -> (publisher account, layer version) of `LAYER_NAME` in release SDK_PANDAS_RELEASE (x86_64).
SDK_PANDAS_LAYERS: dict[str, tuple[str, int]] = {
    "af-south-1": ("336392948345", 8),
    "ap-northeast-1": ("336392948345", 9),
    "ap-northeast-2": ("336392948345", 9),
    "ap-northeast-3": ("336392948345", 9),
    "ap-south-1": ("336392948345", 9),
    "ap-southeast-1": ("336392948345", 9),
    "ap-southeast-2": ("336392948345", 9),
    "ca-central-1": ("336392948345", 9),
    "eu-central-1": ("336392948345", 9),
    "eu-north-1": ("336392948345", 9),
    "eu-west-1": ("336392948345", 9),
    "eu-west-2": ("336392948345", 9),
    "eu-west-3": ("336392948345", 9),
    "sa-east-1": ("336392948345", 9),
    "us-east-1": ("336392948345", 9),
    "us-east-2": ("336392948345", 9),
    "us-west-1": ("336392948345", 9),
    "us-west-2": ("336392948345", 9),
    "ap-east-1": ("839552336658", 6),
    "ap-south-2": ("246107603503", 6),
    "ap-southeast-3": ("258944054355", 6),
    "ap-southeast-4": ("945386623051", 6),
    "ca-west-1": ("941713567376", 3),
    "eu-central-2": ("956415814219", 6),
    "eu-south-1": ("774444163449", 6),
    "eu-south-2": ("982086096842", 6),
    "il-central-1": ("263840725265", 6),
    "me-central-1": ("593833071574", 6),
    "cn-north-1": ("406640652441", 5),
    "cn-northwest-1": ("406640652441", 5),
}

PACKAGE_ROOT = Path(__file__).resolve().parent  # src/datalake_cfn
REPO_ROOT = PACKAGE_ROOT.parent.parent
GLUE_DIR = REPO_ROOT / "glue_scripts"
LAMBDA_SRC = REPO_ROOT / "lambda_src"
HANDLER = "zone_consumer.handler.handler"
RUNTIME_PACKAGE = "zone_consumer"
BUNDLED_PACKAGES = ("aws_lambda_powertools", "typing_extensions")  # Powertools imports typing_extensions
ZIP_NAME = "zone-consumer.zip"
"""The consumer zip's key under the published version's prefix (the template's `${CodeKeyPrefix}`)."""
GLUE_SCRIPT_PREFIX = "glue/"
"""Where the Glue scripts sit under the published version's prefix (and under the build's artifacts/)."""

ZIP_DATE_TIME = (1980, 1, 1, 0, 0, 0)  # the earliest a zip can say: no build clock in the bytes
ZIP_FILE_MODE = 0o644
_SKIPPED_DIRS = frozenset({"__pycache__", "tests", "test"})
_SKIPPED_SUFFIXES = (".pyc", ".pyo")


class AssetError(ValueError):
    """The artifacts cannot be built from this lake.yaml in this environment (message says how to fix)."""


def sdk_pandas_layer_arn(region: str) -> str:
    """The managed AWS SDK for pandas layer of this region, from the pinned release."""
    try:
        account, version = SDK_PANDAS_LAYERS[region]
    except KeyError:
        raise AssetError(
            f"region {region!r} has no AWS SDK for pandas {SDK_PANDAS_RELEASE} layer for Python {LAMBDA_PYTHON}; "
            f"use one of {sorted(SDK_PANDAS_LAYERS)}, pass SdkPandasLayerArn, or add the region to "
            "datalake_cfn/artifacts.py"
        ) from None
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return f"arn:{partition}:lambda:{region}:{account}:layer:{LAYER_NAME}:{version}"


def user_transform_modules(config: LakeConfig) -> list[str]:
    """Top-level modules of the user transforms in lake.yaml that the runtime does not already ship.

    A transform in a third-party package ships its whole top-level package; one inside
    `zone_consumer` (e.g. the sample `zone_consumer.samples:mask_emails`) ships with the runtime.
    """
    modules: set[str] = set()
    for dataset in config.datasets:
        paths = [dataset.transform] if isinstance(dataset.transform, str) else list((dataset.transform or {}).values())
        for path in paths:
            module = path.split(":", 1)[0] if ":" in path else path.rsplit(".", 1)[0]
            top = module.split(".", 1)[0]
            if top == RUNTIME_PACKAGE:
                continue
            if top == "datalake_cfn":
                raise AssetError(
                    f"transform {path!r}: the consumer ships no datalake_cfn code (lambda_src imports nothing from "
                    "it); put the transform in zone_consumer or in a package of your own"
                )
            modules.add(top)
    return sorted(modules)


# -- the consumer zip ------------------------------------------------------------------------------
def _tree_files(source: Path, arcbase: str) -> Iterator[tuple[str, Path]]:
    """(entry name, file) for every shippable file under `source`: no bytecode, caches, tests, metadata."""
    for path in source.rglob("*"):
        relative = path.relative_to(source)
        if not path.is_file() or path.suffix in _SKIPPED_SUFFIXES:
            continue
        if any(part in _SKIPPED_DIRS or part.endswith(".dist-info") for part in relative.parts[:-1]):
            continue
        yield f"{arcbase}/{relative.as_posix()}", path


def _module_files(module: str) -> Iterator[tuple[str, Path]]:
    """The files of an importable top-level module or package, as zip entries at the zip's root."""
    spec = importlib.util.find_spec(module)
    if spec is None or (spec.origin is None and not spec.submodule_search_locations):
        raise AssetError(
            f"module {module!r} (named by a transform in lake.yaml) is not importable here; "
            "install it or put it on PYTHONPATH before `build.py`, so it can be bundled with the consumer"
        )
    if spec.submodule_search_locations:
        source = Path(next(iter(spec.submodule_search_locations)))
        yield from _tree_files(source, source.name)
        return
    source = Path(spec.origin or "")
    if source.suffix != ".py":
        raise AssetError(f"module {module!r} is compiled ({source.name}); only pure-Python transforms can ship")
    yield source.name, source


def consumer_files(config: LakeConfig) -> list[tuple[str, Path]]:
    """Every entry of the consumer zip, sorted by name: the runtime, Powertools, the user transforms."""
    entries = dict(_tree_files(LAMBDA_SRC / RUNTIME_PACKAGE, RUNTIME_PACKAGE))
    for module in (*BUNDLED_PACKAGES, *user_transform_modules(config)):
        for name, path in _module_files(module):
            entries.setdefault(name, path)
    return sorted(entries.items())


def write_zip(entries: list[tuple[str, Path]], target: Path) -> Path:
    """A zip whose bytes depend only on the entries' names and contents (no clock, owner or umask)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with zipfile.ZipFile(target, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, path in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE_TIME)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3  # unix, so the permissions below are read
            info.external_attr = (stat.S_IFREG | ZIP_FILE_MODE) << 16
            archive.writestr(info, path.read_bytes(), compresslevel=9)
    return target


def write_consumer_zip(config: LakeConfig, directory: Path) -> Path:
    return write_zip(consumer_files(config), directory / ZIP_NAME)


# -- Glue ------------------------------------------------------------------------------------------
def glue_job_scripts(glue_dir: Path = GLUE_DIR) -> list[Path]:
    """Every `glue_scripts/*.py` is a Glue job (the file stem names the job); `_`-prefixed files are helpers."""
    if not glue_dir.is_dir():
        return []
    return sorted(p for p in glue_dir.glob("*.py") if not p.name.startswith("_"))


def write_glue_scripts(directory: Path, glue_dir: Path = GLUE_DIR) -> list[Path]:
    """The Glue scripts under `<directory>/glue/` (helpers too: a job may import them via --extra-py-files)."""
    target = directory / GLUE_SCRIPT_PREFIX
    target.mkdir(parents=True, exist_ok=True)
    written = []
    for script in sorted(glue_dir.glob("*.py")) if glue_dir.is_dir() else []:
        destination = target / script.name
        destination.write_bytes(script.read_bytes())
        written.append(destination)
    return written


def write_artifacts(config: LakeConfig, directory: Path) -> list[Path]:
    """Everything the prod template's `CodeBucket`/`CodeKeyPrefix` must hold, written under `directory`.

    `directory/zone-consumer.zip` and `directory/glue/<script>.py`: the publisher uploads the
    directory as is under the version's prefix.
    """
    directory.mkdir(parents=True, exist_ok=True)
    stale = directory / GLUE_SCRIPT_PREFIX
    if stale.is_dir():
        shutil.rmtree(stale)  # a deleted script must not linger in the next publish
    return [write_consumer_zip(config, directory), *write_glue_scripts(directory)]
