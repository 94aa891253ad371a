"""Acceptance 5: adding a zone and a dataset never renames or replaces an existing resource.

A resource is replaced when its logical id changes (CloudFormation creates a new one and deletes
the old) or when a create-only property changes. The create-only properties of every resource
type come from the CloudFormation resource schemas shipped with cfn-lint.
"""

from __future__ import annotations

from typing import Any

import pytest
from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

from tests.infra.templates import Synthesized

PROTECTED = (
    "AWS::S3::Bucket",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::SQS::Queue",
    "AWS::IAM::Role",
    "AWS::Glue::Database",
    "AWS::Glue::Table",
    "AWS::Lambda::Function",
)
MISSING = object()


def create_only_paths(region: str, resource_type: str) -> list[list[str]]:
    schema = PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, resource_type).schema
    return [pointer.removeprefix("/properties/").split("/") for pointer in schema.get("createOnlyProperties", [])]


def values_at(properties: Any, path: list[str]) -> list[Any]:
    """Values at a JSON-pointer-like path (`*` for every list item); MISSING where absent."""
    if not path:
        return [properties]
    head, rest = path[0], path[1:]
    if head == "*":
        return [v for item in properties for v in values_at(item, rest)] if isinstance(properties, list) else []
    if isinstance(properties, dict) and head in properties:
        return values_at(properties[head], rest)
    return [MISSING]


def replacements(old: dict[str, Any], new: dict[str, Any], region: str) -> list[str]:
    problems = []
    for logical_id, before in old["Resources"].items():
        after = new["Resources"].get(logical_id)
        if after is None:
            problems.append(f"{logical_id} ({before['Type']}) is gone: it would be deleted (or renamed)")
            continue
        if after["Type"] != before["Type"]:
            problems.append(f"{logical_id} changes type {before['Type']} -> {after['Type']}")
            continue
        for path in create_only_paths(region, before["Type"]):
            was = values_at(before.get("Properties", {}), path)
            now = values_at(after.get("Properties", {}), path)
            if was != now:
                problems.append(f"{logical_id} ({before['Type']}) changes create-only {'/'.join(path)}: {was} -> {now}")
    return problems


@pytest.mark.parametrize("stack", ["prod", "security"])
def test_adding_a_zone_and_a_dataset_replaces_nothing(
    default_lake: Synthesized, evolved_lake: Synthesized, stack: str
) -> None:
    old, new = getattr(default_lake, stack).template, getattr(evolved_lake, stack).template
    assert len(new["Resources"]) >= len(old["Resources"])
    assert replacements(old, new, default_lake.config.region) == []


def test_the_evolved_lake_really_grew(default_lake: Synthesized, evolved_lake: Synthesized) -> None:
    """Guard against a vacuous pass: new zone resources exist and an existing bucket's events changed."""
    prod_old, prod_new = default_lake.prod, evolved_lake.prod
    assert evolved_lake.names.bucket("archive") not in {
        b["Properties"]["BucketName"] for b in prod_old.of_type("AWS::S3::Bucket").values()
    }
    prod_new.one("AWS::S3::Bucket", BucketName=evolved_lake.names.bucket("archive"))
    raw_old = prod_old.props("ZoneRaw/Bucket/Resource")["NotificationConfiguration"]["QueueConfigurations"]
    raw_new = prod_new.props("ZoneRaw/Bucket/Resource")["NotificationConfiguration"]["QueueConfigurations"]
    assert len(raw_new) == len(raw_old) + 1
    protected_old = {k for k, v in prod_old.resources.items() if v["Type"] in PROTECTED}
    assert protected_old and protected_old <= set(prod_new.resources)


def test_the_check_catches_a_replacement(default_lake: Synthesized) -> None:
    """A renamed bucket and a vanished queue are reported (the comparison is not blind)."""
    import copy

    old = default_lake.prod.template
    new = copy.deepcopy(old)
    bucket = default_lake.prod.id_of("ZoneRaw/Bucket/Resource")
    queue = default_lake.prod.id_of("ZoneRaw/Queue/Resource")
    new["Resources"][bucket]["Properties"]["BucketName"] = "renamed-bucket"
    del new["Resources"][queue]
    problems = replacements(old, new, default_lake.config.region)
    assert any(bucket in p and "BucketName" in p for p in problems)
    assert any(queue in p and "gone" in p for p in problems)
