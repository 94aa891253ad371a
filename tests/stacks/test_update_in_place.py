"""Growing the lake never renames or replaces an existing resource (the update-in-place guarantee).

The create-only properties of every resource type come from the CloudFormation resource schemas
shipped with cfn-lint (datalake_cfn.changes).
"""

from __future__ import annotations

import copy

import pytest

from datalake_cfn.changes import PROTECTED_TYPES, create_only_paths, replacements, resource_changes
from datalake_cfn.naming import LogicalIds
from tests.stacks.templates import Rendered, flatten


@pytest.mark.parametrize("stack", ["prod", "security"])
def test_adding_a_zone_and_a_dataset_replaces_nothing(
    default_lake: Rendered, evolved_lake: Rendered, stack: str
) -> None:
    old, new = getattr(default_lake, stack).template, getattr(evolved_lake, stack).template
    assert len(new["Resources"]) >= len(old["Resources"])
    assert replacements(old, new) == []


def test_the_evolved_lake_really_grew(default_lake: Rendered, evolved_lake: Rendered) -> None:
    """Guard against a vacuous pass: new zone resources exist and an existing bucket's events changed."""
    prod_old, prod_new = default_lake.prod, evolved_lake.prod
    archive = LogicalIds.zone("archive", "Bucket")
    assert archive not in prod_old.resources
    assert flatten(prod_new.props(archive)["BucketName"]) == evolved_lake.names.bucket("archive")
    # An existing resource really changes in place: the raw consumer now routes the new dataset too.
    consumer = LogicalIds.route("raw", None, "Consumer")
    spec_old = flatten(prod_old.props(consumer)["Environment"]["Variables"]["DATALAKE_SPEC"])
    spec_new = flatten(prod_new.props(consumer)["Environment"]["Variables"]["DATALAKE_SPEC"])
    assert "orders" not in spec_old and "orders" in spec_new
    protected_old = {k for k, v in prod_old.resources.items() if v["Type"] in PROTECTED_TYPES}
    assert protected_old and protected_old <= set(prod_new.resources)
    assert {c.action for c in resource_changes(prod_old.template, prod_new.template)} == {"add", "modify"}


def test_the_check_catches_a_replacement(default_lake: Rendered) -> None:
    """A renamed bucket and a vanished queue are reported (the comparison is not blind)."""
    old = default_lake.prod.template
    new = copy.deepcopy(old)
    bucket, queue = LogicalIds.zone("raw", "Bucket"), LogicalIds.route("raw", None, "Queue")
    new["Resources"][bucket]["Properties"]["BucketName"] = "renamed-bucket"
    del new["Resources"][queue]
    problems = replacements(old, new)
    assert any(bucket in p and "BucketName" in p for p in problems)
    assert any(queue in p and "gone" in p for p in problems)
    destructive = {c.logical_id for c in resource_changes(old, new) if c.destructive}
    assert destructive == {bucket, queue}


def test_create_only_properties_come_from_the_schemas() -> None:
    assert ("BucketName",) in create_only_paths("AWS::S3::Bucket")
    assert ("QueueName",) in create_only_paths("AWS::SQS::Queue")
