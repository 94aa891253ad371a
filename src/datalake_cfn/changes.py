"""What an update from one rendered template to another does to each resource.

A resource is replaced when its logical id disappears (CloudFormation creates the new one and
deletes the old) or when a create-only property changes. The create-only properties of every
resource type come from the CloudFormation resource schemas that ship with cfn-lint, so this
works offline, before any change set exists (and where moto's change sets report no
`Replacement` at all). `datalake plan` and the update-in-place test both read it.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Any, Literal

PROTECTED_TYPES = (
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::SQS::Queue",
    "AWS::IAM::Role",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Lambda::Function",
    "AWS::CloudTrail::Trail",
)
"""Resources whose replacement or removal loses data, keys or identities: refused unless allowed."""

_MISSING = object()
Action = Literal["add", "modify", "replace", "remove"]


@dataclass(frozen=True)
class ResourceChange:
    action: Action
    logical_id: str
    resource_type: str
    reason: str = ""

    @property
    def destructive(self) -> bool:
        return self.action in ("replace", "remove") and self.resource_type in PROTECTED_TYPES


@cache
def create_only_paths(resource_type: str, region: str = "us-east-1") -> tuple[tuple[str, ...], ...]:
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    try:
        schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    except Exception:  # a type cfn-lint does not know: nothing is known to be create-only
        return ()
    return tuple(
        tuple(pointer.removeprefix("/properties/").split("/")) for pointer in schema.get("createOnlyProperties", [])
    )


def _values_at(properties: Any, path: tuple[str, ...]) -> list[Any]:
    """Values at a JSON-pointer-like path (`*` for every list item); a marker where absent."""
    if not path:
        return [properties]
    head, rest = path[0], path[1:]
    if head == "*":
        return [v for item in properties for v in _values_at(item, rest)] if isinstance(properties, list) else []
    if isinstance(properties, dict) and head in properties:
        return _values_at(properties[head], rest)
    return [_MISSING]


def _shown(values: list[Any]) -> str:
    return ", ".join("(absent)" if v is _MISSING else repr(v) for v in values)


def resource_changes(old: dict[str, Any], new: dict[str, Any]) -> list[ResourceChange]:
    """Every added, modified, replaced or removed resource from `old` to `new`, sorted by logical id."""
    changes = []
    old_resources, new_resources = old.get("Resources", {}), new.get("Resources", {})
    for logical_id in sorted(old_resources.keys() | new_resources.keys()):
        before, after = old_resources.get(logical_id), new_resources.get(logical_id)
        if before is None:
            changes.append(ResourceChange("add", logical_id, after["Type"]))
        elif after is None:
            changes.append(ResourceChange("remove", logical_id, before["Type"], "no longer in the template"))
        elif after["Type"] != before["Type"]:
            changes.append(
                ResourceChange("replace", logical_id, before["Type"], f"type {before['Type']} -> {after['Type']}")
            )
        elif before != after:
            changes.append(_modification(logical_id, before, after))
    return changes


def _modification(logical_id: str, before: dict[str, Any], after: dict[str, Any]) -> ResourceChange:
    for path in create_only_paths(before["Type"]):
        was = _values_at(before.get("Properties", {}), path)
        now = _values_at(after.get("Properties", {}), path)
        if was != now:
            reason = f"create-only {'/'.join(path)}: {_shown(was)} -> {_shown(now)}"
            return ResourceChange("replace", logical_id, before["Type"], reason)
    return ResourceChange("modify", logical_id, before["Type"])


def replacements(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """One line per resource the update would replace or delete."""
    return [
        f"{c.logical_id} ({c.resource_type}) {'is gone' if c.action == 'remove' else 'is replaced'}: {c.reason}"
        for c in resource_changes(old, new)
        if c.action in ("replace", "remove")
    ]
