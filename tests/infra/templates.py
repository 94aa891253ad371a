"""Reading synthesized templates in tests: resources by type or construct path, and CFN references."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from datalake_cfn.config import LakeConfig
from datalake_cfn.infra.deployment import Deployment
from datalake_cfn.naming import LakeNames


@dataclass
class StackTemplate:
    """One synthesized template, with lookups by `aws:cdk:path` (relative to the stack)."""

    name: str
    template: dict[str, Any]
    _by_path: dict[str, str] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        for logical_id, resource in self.resources.items():
            path = resource.get("Metadata", {}).get("aws:cdk:path")
            if path:
                self._by_path[path.split("/", 1)[1]] = logical_id

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Outputs", {})

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def id_of(self, path: str) -> str:
        """Logical id of the resource at construct path `path` (e.g. `ZoneRaw/Key/Resource`)."""
        try:
            return self._by_path[path]
        except KeyError:
            raise KeyError(f"no resource at {path!r}; some paths: {sorted(self._by_path)[:20]}") from None

    def at(self, path: str) -> dict[str, Any]:
        return self.resources[self.id_of(path)]

    def props(self, path: str) -> dict[str, Any]:
        return self.at(path).get("Properties", {})

    def one(self, resource_type: str, **properties: Any) -> tuple[str, dict[str, Any]]:
        """The single resource of a type whose properties include `properties`."""
        matches = [
            (k, v)
            for k, v in self.of_type(resource_type).items()
            if all(v.get("Properties", {}).get(p) == value for p, value in properties.items())
        ]
        assert len(matches) == 1, f"{len(matches)} {resource_type} match {properties}"
        return matches[0]


@dataclass
class Synthesized:
    """Both templates of one lake."""

    config: LakeConfig
    outdir: Path
    prod: StackTemplate
    security: StackTemplate

    @property
    def deployment(self) -> Deployment:
        return Deployment.for_config(self.config)

    @property
    def names(self) -> LakeNames:
        return self.deployment.names

    @classmethod
    def load(cls, config: LakeConfig, outdir: Path) -> Synthesized:
        names = Deployment.for_config(config).names
        return cls(
            config=config,
            outdir=outdir,
            prod=_load(outdir, names.prod_stack),
            security=_load(outdir, names.security_stack),
        )


def _load(outdir: Path, stack: str) -> StackTemplate:
    return StackTemplate(stack, json.loads((outdir / f"{stack}.template.json").read_text(encoding="utf-8")))


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn_of(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def flatten(value: Any) -> str:
    """A CFN string value with references rendered readably: `{"Ref": X}` -> `<X>`, GetAtt -> `<X.Attr>`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(flatten(part) for part in parts)
        if "Ref" in value:
            return f"<{value['Ref']}>"
        if "Fn::GetAtt" in value:
            return "<{}.{}>".format(*value["Fn::GetAtt"])
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return policy_document["Statement"]


def statement(policy_document: dict[str, Any], sid: str) -> dict[str, Any]:
    found = [s for s in statements(policy_document) if s.get("Sid") == sid]
    assert found, f"no statement {sid!r}; Sids: {[s.get('Sid') for s in statements(policy_document)]}"
    return found[0]
