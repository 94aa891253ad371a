"""Where user transforms are found, and the check that they can run, before any object flows.

A dataset's `transform: module:function` in lake.yaml is imported by the consumer for each
object. Found only there, a typo or a missing module would send every object of the dataset to
the DLQ, one at a time. So `datalake up`, `datalake transform` and `python build.py` check every
transform at start, and report a problem the way lake.yaml's validation does: one line naming
the field (`datasets[1].transform`), exit status 2.

Every command finds transform modules the same way (:func:`add_transform_path`): first in the
directory of lake.yaml, then on the Python path of the environment (installed packages,
PYTHONPATH). The local lake's workers run in the same process, so they find the same modules.
"""

from __future__ import annotations

import importlib
import inspect
import sys
from collections.abc import Callable
from pathlib import Path

from datalake_cfn.config import ConfigError, LakeConfig


def add_transform_path(config_path: str | Path | None) -> Path | None:
    """Put the directory of lake.yaml first on the import path (once); returns it, or None without a file."""
    if config_path is None:
        return None
    path = Path(config_path)
    if not path.is_file():
        return None
    directory = str(path.resolve().parent)
    if directory not in sys.path:
        sys.path.insert(0, directory)
        importlib.invalidate_caches()
    return Path(directory)


def configured_transforms(config: LakeConfig) -> list[tuple[str, str]]:
    """(lake.yaml field, dotted path) of every user transform, in file order."""
    found = []
    for index, dataset in enumerate(config.datasets):
        if isinstance(dataset.transform, str):
            found.append((f"datasets[{index}].transform", dataset.transform))
        elif isinstance(dataset.transform, dict):
            for zone, path in dataset.transform.items():
                found.append((f"datasets[{index}].transform.{zone}", path))
    return found


def transform_problem(path: str, where: Path | None = None) -> str | None:
    """Why the transform `module:function` cannot run here, or None when it can."""
    module_name, _, attr = path.partition(":") if ":" in path else path.rpartition(".")
    looked = f"looked in {where}, then on the Python path" if where else "looked on the Python path"
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        return f"{path!r}: cannot import module {module_name!r} ({looked}): {exc}"
    except Exception as exc:  # the user's module raised while being imported
        return f"{path!r}: importing module {module_name!r} failed: {type(exc).__name__}: {exc}"
    if not hasattr(module, attr):
        return f"{path!r}: module {module_name!r} ({getattr(module, '__file__', '?')}) has no {attr!r}"
    function = getattr(module, attr)
    if not callable(function):
        return f"{path!r}: {attr!r} is a {type(function).__name__}, not a function"
    return _signature_problem(path, function)


def _signature_problem(path: str, function: Callable[..., object]) -> str | None:
    """A transform is called with one positional argument, a pyarrow RecordBatch."""
    try:
        signature = inspect.signature(function)
    except (TypeError, ValueError):  # a builtin or C function: nothing to inspect
        return None
    try:
        signature.bind(object())
    except TypeError:
        return (
            f"{path!r} must take exactly one argument (a pyarrow RecordBatch) and return a batch or table; "
            f"its signature is {signature}"
        )
    return None


def check_transforms(config: LakeConfig, source: str, config_path: str | Path | None = None) -> None:
    """Import every user transform and check its signature; a ConfigError naming each bad field."""
    where = add_transform_path(config_path)
    problems = []
    for field, path in configured_transforms(config):
        problem = transform_problem(path, where)
        if problem is not None:
            problems.append((field, problem))
    if problems:
        raise ConfigError(source, problems)
