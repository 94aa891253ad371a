"""Reading rendered templates in tests: resources by type or logical id, and CFN references."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames


@dataclass
class StackTemplate:
    """One rendered template."""

    name: str
    template: dict[str, Any]
    path: Path | None = None

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return self.template["Resources"]

    @property
    def outputs(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Outputs", {})

    @property
    def parameters(self) -> dict[str, dict[str, Any]]:
        return self.template.get("Parameters", {})

    def of_type(self, resource_type: str) -> dict[str, dict[str, Any]]:
        return {k: v for k, v in self.resources.items() if v["Type"] == resource_type}

    def at(self, logical_id: str) -> dict[str, Any]:
        try:
            return self.resources[logical_id]
        except KeyError:
            raise KeyError(f"no resource {logical_id!r}; some ids: {sorted(self.resources)[:30]}") from None

    def props(self, logical_id: str) -> dict[str, Any]:
        return self.at(logical_id).get("Properties", {})

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
class Rendered:
    """Both templates of one lake, as `python build.py` wrote them."""

    config: LakeConfig
    outdir: Path
    prod: StackTemplate
    security: StackTemplate

    @property
    def names(self) -> LakeNames:
        """The names as they appear in the templates (`${AWS::AccountId}` placeholders)."""
        return LakeNames.for_template(self.config)

    @classmethod
    def load(cls, config: LakeConfig, outdir: Path) -> Rendered:
        return cls(config=config, outdir=outdir, prod=_load(outdir, "prod"), security=_load(outdir, "security"))


def _load(outdir: Path, stack: str) -> StackTemplate:
    path = outdir / "templates" / f"{stack}.json"
    return StackTemplate(stack, json.loads(path.read_text(encoding="utf-8")), path)


def ref(logical_id: str) -> dict[str, str]:
    return {"Ref": logical_id}


def arn_of(logical_id: str) -> dict[str, list[str]]:
    return {"Fn::GetAtt": [logical_id, "Arn"]}


def sub(text: str) -> dict[str, str]:
    return {"Fn::Sub": text}


def flatten(value: Any) -> str:
    """A CFN string value rendered readably: Sub -> its text, `{"Ref": X}` -> `${X}`, GetAtt -> `${X.Attr}`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        if "Fn::Sub" in value:
            text = value["Fn::Sub"]
            return text if isinstance(text, str) else text[0]
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(flatten(part) for part in parts)
        if "Ref" in value:
            return "${" + value["Ref"] + "}"
        if "Fn::GetAtt" in value:
            att = value["Fn::GetAtt"]
            return "${" + ".".join(att if isinstance(att, list) else att.split(".", 1)) + "}"
    return json.dumps(value, sort_keys=True)


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def statements(policy_document: dict[str, Any]) -> list[dict[str, Any]]:
    return policy_document["Statement"]


def statement(policy_document: dict[str, Any], sid: str) -> dict[str, Any]:
    found = [s for s in statements(policy_document) if s.get("Sid") == sid]
    assert found, f"no statement {sid!r}; Sids: {[s.get('Sid') for s in statements(policy_document)]}"
    return found[0]
