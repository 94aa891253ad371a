"""Acceptance 1 and 6: exactly two stacks, a big lake synthesizes, no custom-resource Lambdas."""

from __future__ import annotations

import json

import pytest

from datalake_cfn.infra.deployment import PLACEHOLDER_PROD_ACCOUNT, PLACEHOLDER_SECURITY_ACCOUNT
from datalake_cfn.routing import queue_routes
from tests.infra.templates import Synthesized

CFN_RESOURCE_LIMIT = 500
CFN_OUTPUT_LIMIT = 200
CFN_TEMPLATE_BYTES = 1_000_000  # the limit for a template uploaded through S3, as the CDK CLI does


def test_default_lake_synthesizes_exactly_two_stacks(default_lake: Synthesized) -> None:
    manifest = json.loads((default_lake.outdir / "manifest.json").read_text())
    stacks = {name for name, a in manifest["artifacts"].items() if a["type"] == "aws:cloudformation:stack"}
    assert stacks == {"acme-prod", "acme-security"}


def test_stacks_go_to_the_two_accounts_of_the_lake(default_lake: Synthesized, regional_lake: Synthesized) -> None:
    for lake, prod, security in (
        (default_lake, PLACEHOLDER_PROD_ACCOUNT, PLACEHOLDER_SECURITY_ACCOUNT),
        (regional_lake, "123456789012", "210987654321"),
    ):
        manifest = json.loads((lake.outdir / "manifest.json").read_text())
        region = lake.config.region
        assert manifest["artifacts"][lake.names.prod_stack]["environment"] == f"aws://{prod}/{region}"
        assert manifest["artifacts"][lake.names.security_stack]["environment"] == f"aws://{security}/{region}"


def test_big_lake_of_12_zones_and_30_datasets_synthesizes_within_cloudformation_limits(big_lake: Synthesized) -> None:
    assert len(big_lake.config.zones) == 12 and len(big_lake.config.datasets) == 30
    prod = big_lake.prod
    assert len(prod.resources) < CFN_RESOURCE_LIMIT
    assert len(prod.outputs) <= CFN_OUTPUT_LIMIT
    assert (big_lake.outdir / "bigco-prod.template.json").stat().st_size < CFN_TEMPLATE_BYTES
    assert len(prod.of_type("AWS::S3::Bucket")) == 12 + 3  # zones + access logs, Glue, Athena
    routes = queue_routes(big_lake.config, big_lake.names)
    assert len(prod.of_type("AWS::SQS::Queue")) == len(routes) + 1  # + the DLQ
    consumers = [r for r in routes if r.has_consumer]
    assert len(prod.of_type("AWS::Lambda::Function")) == len(consumers) == 10 * 3
    for zone in big_lake.config.zones:
        bucket = prod.one("AWS::S3::Bucket", BucketName=big_lake.names.bucket(zone.name))[1]
        notifications = bucket["Properties"]["NotificationConfiguration"]["QueueConfigurations"]
        assert len(notifications) == 30


@pytest.mark.parametrize("lake", ["default_lake", "regional_lake", "big_lake"])
def test_no_custom_resource_lambdas(lake: str, request: pytest.FixtureRequest) -> None:
    synthesized: Synthesized = request.getfixturevalue(lake)
    for stack in (synthesized.prod, synthesized.security):
        types = {r["Type"] for r in stack.resources.values()}
        assert not [t for t in types if t.startswith("Custom::") or t == "AWS::CloudFormation::CustomResource"]
        functions = {r["Properties"]["FunctionName"] for r in stack.of_type("AWS::Lambda::Function").values()}
        consumers = {
            synthesized.names.consumer_function(r.zone.name, r.dataset)
            for r in queue_routes(synthesized.config, synthesized.names)
            if r.has_consumer
        }
        expected = consumers if stack is synthesized.prod else set()
        assert functions == expected  # only the zone consumers; no provider/handler functions
