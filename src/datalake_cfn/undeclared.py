"""Objects outside every declared dataset: which undeclared dataset each belongs to, zone by zone.

The consumer picks such objects up (unless the lake is `strict`) as an undeclared dataset named
after the key's first path segment (:func:`zone_consumer.pipeline.undeclared_dataset`, the one
rule, shared here so `status`, `verify` and the crawler name the same datasets the pipeline
writes). Each is listed with its keys and a hint to declare it in lake.yaml.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from datalake_cfn.config import LakeConfig

SHOWN_KEYS = 5


@dataclass
class UndeclaredDataset:
    """One undeclared dataset of one zone and the keys found in it."""

    zone: str
    name: str
    prefix: str  # "" for objects at the bucket root
    classification: str
    keys: list[str] = field(default_factory=list)

    def hint(self) -> str:
        """What to write in lake.yaml to make it a declared dataset."""
        if self.prefix:
            return f"declare it in lake.yaml: datasets: - {{name: {self.name}, prefix: {self.prefix!r}}}"
        return "move root objects under a dataset prefix, or leave them in the default dataset"

    def describe(self, shown: int = SHOWN_KEYS) -> str:
        where = f"prefix {self.prefix!r}" if self.prefix else "the bucket root"
        keys = ", ".join(self.keys[:shown]) + (f", ... ({len(self.keys)} in all)" if len(self.keys) > shown else "")
        return f"undeclared dataset {self.name!r} ({where}, {len(self.keys)} object(s): {keys}); {self.hint()}"


def is_declared(config: LakeConfig, key: str) -> bool:
    return any(key.startswith(d.key_prefix) for d in config.datasets)


def dataset_of_key(config: LakeConfig, key: str) -> tuple[str, str]:
    """(name, prefix) of the undeclared dataset of a key outside every declared dataset."""
    from zone_consumer.pipeline import undeclared_dataset  # imports pyarrow: only when a key is looked at

    route = undeclared_dataset(
        key,
        declared=[d.name for d in config.datasets],
        default_dataset=config.default_dataset,
        classification=config.undeclared_classification,
    )
    return route.name, route.prefix


def undeclared_in(config: LakeConfig, zone: str, keys: list[str]) -> list[UndeclaredDataset]:
    """The undeclared datasets among `keys` of `zone`, by name, each with its keys."""
    found: dict[str, UndeclaredDataset] = {}
    for key in sorted(keys):
        if is_declared(config, key) or key.endswith("/"):
            continue
        name, prefix = dataset_of_key(config, key)
        entry = found.setdefault(name, UndeclaredDataset(zone, name, prefix, config.undeclared_classification))
        entry.keys.append(key)
    return [found[name] for name in sorted(found)]


def undeclared_datasets(config: LakeConfig, s3: Any, bucket_of: Any) -> list[UndeclaredDataset]:
    """Every undeclared dataset of every zone (listing each zone bucket once)."""
    result: list[UndeclaredDataset] = []
    for zone in config.zones:
        paginator = s3.get_paginator("list_objects_v2")
        keys = [o["Key"] for page in paginator.paginate(Bucket=bucket_of(zone.name)) for o in page.get("Contents", [])]
        result += undeclared_in(config, zone.name, keys)
    return result
