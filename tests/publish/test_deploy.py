"""`datalake deploy` against moto's CloudFormation, from URLs the publisher wrote.

moto's CloudFormation cannot take the real prod or security template (it crashes on
`AWS::KMS::Key` `Tags`, skips bucket/queue policies, Glue, Athena, CloudTrail and alarms), so the
stacks here are small templates of the same shape (the code parameters, an account parameter
without a default, a bucket and queues), published with the publisher's own functions into the
emulator. Replacements of the real templates are tested through `datalake plan` (test_plan.py).
moto applies a change set synchronously and reports a resource's failure as an error of
ExecuteChangeSet, not as `*_FAILED` events; the event path is covered by `first_failure` below.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from publish_helpers import client, datalake

from datalake_cfn import publish
from datalake_cfn.builder import RenderedStack, to_json
from datalake_cfn.deploy import first_failure

BASE = "deploy-artifacts"


def small(resources: dict[str, Any]) -> dict[str, Any]:
    return {
        "Parameters": {
            "CodeBucket": {"Type": "String"},
            "CodeKeyPrefix": {"Type": "String", "Default": "tiny/"},
            "SecurityAccountId": {"Type": "String"},
            "Retention": {"Type": "String", "Default": "7"},
        },
        "Resources": resources,
        "Outputs": {"Queue": {"Value": {"Ref": "Queue"}}, "Account": {"Value": {"Ref": "SecurityAccountId"}}},
    }


V1 = {"Queue": {"Type": "AWS::SQS::Queue"}, "DataBucket": {"Type": "AWS::S3::Bucket"}}
V2 = {**V1, "Second": {"Type": "AWS::SQS::Queue"}}
RENAMED = {
    "Queue": {"Type": "AWS::SQS::Queue"},
    "Second": {"Type": "AWS::SQS::Queue"},
    "Data": {"Type": "AWS::S3::Bucket"},  # DataBucket renamed: CloudFormation would delete the old bucket
}
BROKEN = {**V2, "Broken": {"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "x"}}}


def publish_small(out: Path, endpoint: str, lake: str, resources: dict[str, Any]) -> str:
    """Publish `resources` as `lake`'s prod (and a one-queue security) through the publisher's functions."""
    import boto3

    stacks = {
        "prod": small(resources),
        "security": {"Parameters": {}, "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}},
    }
    rendered = {n: RenderedStack(n, t, to_json(t)) for n, t in stacks.items()}
    plan = publish.plan(lake, rendered, [("zone-consumer.zip", b"zip")], BASE, ["us-east-1"])
    session = boto3.Session(aws_access_key_id="testing", aws_secret_access_key="testing", region_name="us-east-1")
    publish.upload(plan, session, endpoint)
    previous = publish.read_manifest(out / "manifest.json")
    manifest = publish.build_manifest(plan, endpoint, out, {"prod": None, "security": None}, previous)
    publish.write_outputs(manifest, plan.templates, out)
    return plan.version


def stack(endpoint: str, name: str) -> dict[str, Any]:
    return client("cloudformation", endpoint).describe_stacks(StackName=name)["Stacks"][0]


def parameters(endpoint: str, name: str) -> dict[str, str]:
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack(endpoint, name)["Parameters"]}


@pytest.fixture
def home(tmp_path: Path) -> Path:
    (tmp_path / "out").mkdir()
    return tmp_path


def test_deploy_creates_then_updates_keeping_every_parameter(home: Path, endpoint: str) -> None:
    v1 = publish_small(home / "out", endpoint, "tiny", V1)
    missing = datalake(home, "deploy", "prod", endpoint=endpoint)
    assert missing.returncode == 2 and "--parameter SecurityAccountId=" in missing.stderr

    created = datalake(
        home, "deploy", "prod", "--parameter", "SecurityAccountId=444455556666", "--parameter", "Retention=30",
        endpoint=endpoint,
    )  # fmt: skip
    assert created.returncode == 0, created.stderr + created.stdout
    assert "change set" in created.stdout and "DataBucket" in created.stdout and "Add" in created.stdout
    assert "CREATE_COMPLETE" in created.stdout  # the streamed events
    assert "outputs" in created.stdout  # moto reports no Outputs for a stack made from a change set
    assert stack(endpoint, "tiny-prod")["StackStatus"] == "CREATE_COMPLETE"
    assert parameters(endpoint, "tiny-prod") == {
        "CodeBucket": f"{BASE}-us-east-1",
        "CodeKeyPrefix": f"tiny/{v1}/",
        "SecurityAccountId": "444455556666",
        "Retention": "30",
    }

    v2 = publish_small(home / "out", endpoint, "tiny", V2)
    assert v2 != v1
    updated = datalake(home, "deploy", "prod", endpoint=endpoint)
    assert updated.returncode == 0, updated.stderr + updated.stdout
    assert "Second" in updated.stdout and "UPDATE_COMPLETE" in updated.stdout
    assert stack(endpoint, "tiny-prod")["StackStatus"] == "UPDATE_COMPLETE"
    assert parameters(endpoint, "tiny-prod") == {
        "CodeBucket": f"{BASE}-us-east-1",
        "CodeKeyPrefix": f"tiny/{v2}/",  # the code follows the version; every other parameter is kept
        "SecurityAccountId": "444455556666",
        "Retention": "30",
    }
    body = client("cloudformation", endpoint).get_template(StackName="tiny-prod")["TemplateBody"]
    assert "Second" in (body if isinstance(body, dict) else json.loads(body))["Resources"]

    unknown = datalake(home, "deploy", "prod", "--version", "nope", endpoint=endpoint)
    assert unknown.returncode == 2 and "not in the manifest" in unknown.stderr


def test_deploy_refuses_to_replace_a_protected_resource(home: Path, endpoint: str) -> None:
    publish_small(home / "out", endpoint, "keep", V2)
    assert datalake(home, "deploy", "prod", "--parameter", "SecurityAccountId=1", endpoint=endpoint).returncode == 0
    publish_small(home / "out", endpoint, "keep", RENAMED)
    refused = datalake(home, "deploy", "prod", endpoint=endpoint)
    assert refused.returncode == 1, refused.stderr + refused.stdout
    assert "refusing to replace or remove protected resources" in refused.stderr
    assert "DataBucket (AWS::S3::Bucket): remove" in refused.stderr
    assert "--allow-replacement" in refused.stderr
    body = client("cloudformation", endpoint).get_template(StackName="keep-prod")["TemplateBody"]
    assert "DataBucket" in (body if isinstance(body, dict) else json.loads(body))["Resources"]  # untouched

    allowed = datalake(home, "deploy", "prod", "--allow-replacement", endpoint=endpoint)
    assert allowed.returncode == 0, allowed.stderr + allowed.stdout
    assert stack(endpoint, "keep-prod")["StackStatus"] == "UPDATE_COMPLETE"


def test_a_failing_deploy_exits_4_naming_the_resource(home: Path, endpoint: str) -> None:
    publish_small(home / "out", endpoint, "fails", V2)
    assert datalake(home, "deploy", "prod", "--parameter", "SecurityAccountId=1", endpoint=endpoint).returncode == 0
    publish_small(home / "out", endpoint, "fails", BROKEN)
    failed = datalake(home, "deploy", "prod", endpoint=endpoint)
    assert failed.returncode == 4, failed.stderr + failed.stdout
    assert "Broken (AWS::S3::Bucket)" in failed.stderr
    assert "InvalidBucketName" in failed.stderr


def test_the_first_failed_resource_event_is_the_cause() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    events = [
        {"LogicalResourceId": "acme-prod", "ResourceType": "AWS::CloudFormation::Stack",
         "ResourceStatus": "UPDATE_ROLLBACK_IN_PROGRESS", "ResourceStatusReason": "The following resource(s) failed",
         "Timestamp": start + timedelta(seconds=9)},
        {"LogicalResourceId": "Other", "ResourceType": "AWS::SQS::Queue", "ResourceStatus": "UPDATE_FAILED",
         "ResourceStatusReason": "Resource update cancelled", "Timestamp": start + timedelta(seconds=8)},
        {"LogicalResourceId": "ZoneRawBucket", "ResourceType": "AWS::S3::Bucket", "ResourceStatus": "UPDATE_FAILED",
         "ResourceStatusReason": "Access Denied", "Timestamp": start + timedelta(seconds=5)},
    ]  # fmt: skip
    failure = first_failure(events)
    assert failure is not None and failure["LogicalResourceId"] == "ZoneRawBucket"
    assert first_failure([events[0]]) is None or first_failure([events[0]])["LogicalResourceId"] == "acme-prod"
