"""What one consumer needs to know about its lake, as plain JSON.

The runtime cannot depend on pydantic or lake.yaml parsing (it must stay small for the
Lambda), so the stacks and the local lake both hand it this compact, already-validated
spec, derived from LakeConfig by :mod:`datalake_cfn.routing`.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field

SPEC_ENV = "DATALAKE_SPEC"


@dataclass(frozen=True)
class DatasetRoute:
    """One dataset as the consumer of a zone sees it."""

    name: str
    prefix: str
    classification: str
    user_transform: str | None = None


@dataclass(frozen=True)
class ConsumerSpec:
    """One consumer: which zone it reads, where it writes, how it fails."""

    lake: str
    source_zone: str
    target_zone: str
    target_bucket: str
    target_format: str  # "csv" | "parquet"
    clean: bool  # the source is the landing zone: untrusted input gets the cleaning transform
    datasets: tuple[DatasetRoute, ...]
    dlq_url: str | None = None
    max_receive_count: int = 3
    target_kms_key_id: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    # Objects outside every declared dataset (the zone notifies its queue of every key, see routing):
    strict: bool = False  # True: dead-letter them; False: an undeclared dataset at `undeclared_classification`
    undeclared_classification: str = ""
    default_dataset: str = "unsorted"  # the undeclared dataset of keys at the bucket root
    declared: tuple[str, ...] = ()  # every declared dataset name (an undeclared one must not take one)
    forward: dict[str, str] = field(default_factory=dict)  # own-queue dataset prefix -> its queue's name

    @property
    def typed(self) -> bool:
        """The hop writes Parquet, so it reads its input with inferred column types (a CSV hop keeps text)."""
        return self.target_format == "parquet"

    def dataset_for_key(self, key: str) -> DatasetRoute | None:
        """The dataset whose prefix the key lies under (prefixes never overlap: config enforces it)."""
        for dataset in self.datasets:
            if key.startswith(dataset.prefix):
                return dataset
        return None

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"), sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ConsumerSpec:
        data = json.loads(text)
        data["datasets"] = tuple(DatasetRoute(**d) for d in data["datasets"])
        data["declared"] = tuple(data.get("declared", ()))
        return cls(**data)

    @classmethod
    def from_env(cls) -> ConsumerSpec:
        text = os.environ.get(SPEC_ENV)
        if not text:
            raise RuntimeError(f"{SPEC_ENV} is not set: the consumer does not know its zone")
        return cls.from_json(text)
