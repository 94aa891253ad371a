"""What the stacks upload: the consumer Lambda's code, its managed layer, the Glue job scripts.

The consumer bundle is built in Python, without Docker: `lambda_src/zone_consumer` (plus the package's
`__init__`), the installed pure-Python AWS Lambda Powertools, and the top-level modules of any
user transforms named in lake.yaml. boto3 and pyarrow are NOT bundled: they come from the
AWS-managed "AWS SDK for pandas" layer, which is kept current by AWS and is the reason the
runtime imports nothing else.

The layer is pinned here, in one place: AWS SDK for pandas release `SDK_PANDAS_RELEASE`, built for
`LAMBDA_PYTHON` (the newest Python that has a managed layer), x86_64. Layer ARNs differ per region
(publisher account and version number), so the table below is copied from the release's
`docs/source/layers.rst`. To upgrade: take the new release's table, update the three constants and
the table together, and redeploy (a layer change updates the functions in place).
"""

from __future__ import annotations

import atexit
import hashlib
import importlib.util
import shutil
import tempfile
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from datalake_cfn.config import LakeConfig

SDK_PANDAS_RELEASE = "3.17.0"
LAMBDA_PYTHON = "3.14"
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

PACKAGE_ROOT = Path(__file__).resolve().parent.parent  # src/datalake_cfn
REPO_ROOT = PACKAGE_ROOT.parent.parent
GLUE_DIR = REPO_ROOT / "glue_scripts"
LAMBDA_SRC = REPO_ROOT / "lambda_src"
HANDLER = "zone_consumer.handler.handler"
_IGNORE = shutil.ignore_patterns("__pycache__", "*.pyc", "*.pyo", "*.dist-info", "tests")


class AssetError(ValueError):
    """The stacks cannot be built from this lake.yaml in this environment (message says how to fix)."""


def sdk_pandas_layer_arn(region: str) -> str:
    """The managed AWS SDK for pandas layer of this region, from the pinned release."""
    try:
        account, version = SDK_PANDAS_LAYERS[region]
    except KeyError:
        raise AssetError(
            f"region {region!r} has no AWS SDK for pandas {SDK_PANDAS_RELEASE} layer for Python {LAMBDA_PYTHON}; "
            f"use one of {sorted(SDK_PANDAS_LAYERS)} or add the region to datalake/infra/assets.py"
        ) from None
    partition = "aws-cn" if region.startswith("cn-") else "aws"
    return f"arn:{partition}:lambda:{region}:{account}:layer:{LAYER_NAME}:{version}"


def user_transform_modules(config: LakeConfig) -> list[str]:
    """Modules of the user transforms in lake.yaml that the runtime does not already ship.

    A transform in a third-party package ships its whole top-level package; one in datalake
    itself (e.g. the sample `zone_consumer.samples:mask_emails`) ships just that module.
    """
    modules: set[str] = set()
    for dataset in config.datasets:
        paths = [dataset.transform] if isinstance(dataset.transform, str) else list((dataset.transform or {}).values())
        for path in paths:
            module = path.split(":", 1)[0] if ":" in path else path.rsplit(".", 1)[0]
            if module == "zone_consumer" or module.startswith("zone_consumer."):
                continue
            modules.add(module if module.startswith("datalake_cfn.") else module.split(".", 1)[0])
    return sorted(modules)


@dataclass(frozen=True)
class ConsumerBundle:
    """A directory ready for `lambda.Code.from_asset`, and its content hash (the asset's identity)."""

    path: Path
    fingerprint: str


def build_consumer_bundle(config: LakeConfig) -> ConsumerBundle:
    """Stage the consumer's code into a fresh directory (cached per set of user modules)."""
    return _build_bundle(tuple(user_transform_modules(config)))


@cache
def _build_bundle(user_modules: tuple[str, ...]) -> ConsumerBundle:
    staging = Path(tempfile.mkdtemp(prefix="datalake-consumer-"))
    atexit.register(shutil.rmtree, staging, True)
    shutil.copytree(LAMBDA_SRC / "zone_consumer", staging / "zone_consumer", ignore=_IGNORE)
    for module in ("aws_lambda_powertools", *user_modules):
        _copy_module(module, staging)
    return ConsumerBundle(path=staging, fingerprint=_fingerprint(staging))


def _copy_module(module: str, staging: Path) -> None:
    if module.startswith("datalake_cfn."):
        _copy_datalake_module(module, staging)
        return
    spec = importlib.util.find_spec(module)
    if spec is None or (spec.origin is None and not spec.submodule_search_locations):
        raise AssetError(
            f"module {module!r} (named by a transform in lake.yaml) is not importable here; "
            "install it or put it on PYTHONPATH before `datalake synth`, so it can be bundled with the consumer"
        )
    if spec.submodule_search_locations:
        source = Path(next(iter(spec.submodule_search_locations)))
        shutil.copytree(source, staging / source.name, ignore=_IGNORE)
    else:
        source = Path(spec.origin or "")
        if source.suffix != ".py":
            raise AssetError(f"module {module!r} is compiled ({source.name}); only pure-Python transforms can ship")
        shutil.copy2(source, staging / source.name)


def _copy_datalake_module(module: str, staging: Path) -> None:
    """One module of the datalake package (not the whole package: the CLI and CDK stay out)."""
    relative = Path(*module.split("."))
    source = PACKAGE_ROOT.parent / relative.with_suffix(".py")
    if not source.is_file():
        raise AssetError(f"transform module {module!r} is not a module file of the datalake package")
    target = staging / relative.with_suffix(".py")
    target.parent.mkdir(parents=True, exist_ok=True)
    for parent in target.relative_to(staging).parents:
        init = staging / parent / "__init__.py"
        if parent != Path(".") and not init.exists():
            init.write_text("")
    shutil.copy2(source, target)


def _fingerprint(root: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(p for p in root.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(root)).encode())
        digest.update(path.read_bytes())
    return digest.hexdigest()


def glue_job_scripts(glue_dir: Path = GLUE_DIR) -> list[Path]:
    """Every `glue_scripts/*.py` is a Glue job (the file stem names the job); `_`-prefixed files are helpers."""
    if not glue_dir.is_dir():
        return []
    return sorted(p for p in glue_dir.glob("*.py") if not p.name.startswith("_"))
