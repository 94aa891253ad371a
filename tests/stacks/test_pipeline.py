"""The consumers, the shared DLQ and its alarms, in the rendered prod template."""

from __future__ import annotations

import json
import zipfile
from typing import Any

import pytest
from zone_consumer.spec import ConsumerSpec

from datalake_cfn.access import policies
from datalake_cfn.artifacts import HANDLER, SDK_PANDAS_LAYERS, ZIP_NAME, sdk_pandas_layer_arn
from datalake_cfn.naming import LogicalIds
from datalake_cfn.routing import QueueRoute, consumer_spec, queue_routes
from datalake_cfn.stacks import network, outputs, params, pipeline
from tests.stacks.templates import Rendered, arn_of, as_list, flatten, ref, statement, statements


def consumer_routes(lake: Rendered) -> list[QueueRoute]:
    return [r for r in queue_routes(lake.config, lake.names) if r.has_consumer]


def consumers(lake: Rendered) -> dict[str, dict[str, Any]]:
    """Consumer function properties by queue name."""
    return {
        r.queue_name: lake.prod.props(LogicalIds.route(r.zone.name, r.dataset, "Consumer"))
        for r in consumer_routes(lake)
    }


def pipeline_policy(lake: Rendered, zone: str) -> dict[str, Any]:
    return lake.prod.props(LogicalIds.zone(zone, "PipelinePolicy"))


# -- consumers ------------------------------------------------------------------------------------
def test_one_consumer_per_queue_of_a_zone_with_a_next_zone(any_lake: Rendered) -> None:
    names = any_lake.names
    expected = {names.consumer_function(r.zone.name, r.dataset) for r in consumer_routes(any_lake)}
    assert {p["FunctionName"] for p in consumers(any_lake).values()} == expected
    assert set(any_lake.prod.of_type("AWS::Lambda::Function")) == {
        LogicalIds.route(r.zone.name, r.dataset, "Consumer") for r in consumer_routes(any_lake)
    }
    assert len(expected) == 2 * (1 + sum(d.own_queue for d in any_lake.config.datasets))


def test_big_lake_has_a_consumer_for_every_routed_queue(big_lake: Rendered) -> None:
    assert len(consumers(big_lake)) == len(consumer_routes(big_lake))
    assert len(big_lake.prod.of_type("AWS::Lambda::EventSourceMapping")) == len(consumer_routes(big_lake))


def test_consumers_run_the_runtime_on_the_newest_python_with_the_sdk_for_pandas_layer(any_lake: Rendered) -> None:
    for props in consumers(any_lake).values():
        assert props["Runtime"] == "python3.14"
        assert props["Handler"] == HANDLER == "zone_consumer.handler.handler"
        assert props["Architectures"] == ["x86_64"]
        assert props["Layers"] == [
            {
                "Fn::If": [
                    params.USE_DEFAULT_LAYER,
                    {"Fn::FindInMap": [pipeline.SDK_PANDAS_MAPPING, ref("AWS::Region"), pipeline.LAYER_ARN_KEY]},
                    ref(params.SDK_PANDAS_LAYER_ARN),
                ]
            }
        ]


def test_the_layer_mapping_is_the_pinned_table_for_every_region(any_lake: Rendered) -> None:
    mapping = any_lake.prod.template["Mappings"][pipeline.SDK_PANDAS_MAPPING]
    assert mapping == {region: {pipeline.LAYER_ARN_KEY: sdk_pandas_layer_arn(region)} for region in SDK_PANDAS_LAYERS}
    # the lake's own region is one the pinned layer exists in (the CDK app required it)
    assert mapping[any_lake.config.region][pipeline.LAYER_ARN_KEY] == sdk_pandas_layer_arn(any_lake.config.region)
    assert any_lake.prod.template["Conditions"][params.USE_DEFAULT_LAYER] == {
        "Fn::Equals": [ref(params.SDK_PANDAS_LAYER_ARN), ""]
    }


def test_consumer_code_is_the_published_zip(any_lake: Rendered) -> None:
    for props in consumers(any_lake).values():
        assert props["Code"] == {
            "S3Bucket": ref(params.CODE_BUCKET),
            "S3Key": {"Fn::Sub": "${" + params.CODE_KEY_PREFIX + "}" + ZIP_NAME},
        }


def test_consumer_settings_come_from_lake_yaml(any_lake: Rendered) -> None:
    settings = any_lake.config.pipeline
    for props in consumers(any_lake).values():
        assert props["MemorySize"] == settings.memory_mb
        assert props["Timeout"] == settings.timeout_seconds
        assert props["ReservedConcurrentExecutions"] == settings.reserved_concurrency


def test_consumer_environment_is_the_routing_spec(any_lake: Rendered) -> None:
    for route in consumer_routes(any_lake):
        env = consumers(any_lake)[route.queue_name]["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "datalake"
        assert env["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
        target_key = LogicalIds.zone(route.zone.next or "", "Key")
        spec = ConsumerSpec.from_json(flatten(env["DATALAKE_SPEC"]))
        expected = consumer_spec(
            any_lake.config,
            any_lake.names,
            route,
            dlq_url="${" + LogicalIds.DLQ + "}",
            target_kms_key_id="${" + target_key + ".Arn}",
        )
        assert spec == expected
        assert "Fn::Sub" in env["DATALAKE_SPEC"]  # the placeholders are substituted by CloudFormation


def test_consumers_run_in_the_private_subnets_only(any_lake: Rendered) -> None:
    private = [ref(s) for s in network.private_subnet_ids(any_lake.config)]
    assert len(private) == any_lake.config.network.max_azs
    for props in consumers(any_lake).values():
        assert props["VpcConfig"] == {
            "SubnetIds": private,
            "SecurityGroupIds": [{"Fn::GetAtt": [LogicalIds.CONSUMER_SECURITY_GROUP, "GroupId"]}],
        }


def test_consumers_wait_for_their_policy_and_the_private_routes(any_lake: Rendered) -> None:
    for route in consumer_routes(any_lake):
        resource = any_lake.prod.at(LogicalIds.route(route.zone.name, route.dataset, "Consumer"))
        depends = as_list(resource["DependsOn"])
        assert LogicalIds.zone(route.zone.name, "PipelinePolicy") in depends
        for dependency in depends:
            assert dependency in any_lake.prod.resources


def test_consumer_failures_of_async_invocations_go_to_the_dlq(any_lake: Rendered) -> None:
    for props in consumers(any_lake).values():
        assert props["DeadLetterConfig"] == {"TargetArn": arn_of(LogicalIds.DLQ)}


def test_consumer_logs_are_retained_and_encrypted(any_lake: Rendered) -> None:
    for route in consumer_routes(any_lake):
        logs_id = LogicalIds.route(route.zone.name, route.dataset, "ConsumerLogs")
        resource = any_lake.prod.at(logs_id)
        group = resource["Properties"]
        assert group["LogGroupName"] == any_lake.names.consumer_log_group(route.zone.name, route.dataset)
        assert group["RetentionInDays"] == any_lake.config.pipeline.log_retention_days
        assert group["KmsKeyId"] == arn_of(LogicalIds.OPS_KEY)
        assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
        function = consumers(any_lake)[route.queue_name]
        assert function["LoggingConfig"] == {"LogFormat": "JSON", "LogGroup": ref(logs_id)}


def test_a_log_retention_cloudwatch_does_not_offer_is_a_clear_error() -> None:
    assert pipeline.checked_log_retention(30) == 30
    with pytest.raises(ValueError, match=r"pipeline\.log_retention_days: 31"):
        pipeline.checked_log_retention(31)


def test_sqs_event_sources_report_partial_batch_failures(any_lake: Rendered) -> None:
    settings = any_lake.config.pipeline
    for route in consumer_routes(any_lake):
        mapping = any_lake.prod.props(LogicalIds.route(route.zone.name, route.dataset, "ConsumerEvents"))
        assert mapping["FunctionName"] == ref(LogicalIds.route(route.zone.name, route.dataset, "Consumer"))
        assert mapping["EventSourceArn"] == arn_of(LogicalIds.route(route.zone.name, route.dataset, "Queue"))
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == settings.batch_size
        assert mapping["MaximumBatchingWindowInSeconds"] == settings.max_batching_window_seconds
        assert mapping["ScalingConfig"]["MaximumConcurrency"] <= settings.reserved_concurrency


# -- pipeline roles -------------------------------------------------------------------------------
def test_each_zone_has_one_pipeline_role_named_for_the_access_policies(any_lake: Rendered) -> None:
    names = any_lake.names
    for zone in any_lake.config.chained_zones:
        role_id = LogicalIds.zone(zone.name, "PipelineRole")
        role = any_lake.prod.props(role_id)
        assert role["RoleName"] == names.service_role_name(policies.pipeline_principal(zone.name))
        (trust,) = statements(role["AssumeRolePolicyDocument"])
        assert trust["Sid"] and trust["Effect"] == "Allow" and as_list(trust["Action"]) == ["sts:AssumeRole"]
        assert as_list(trust["Principal"]["Service"]) == ["lambda.amazonaws.com"]
        assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole / VPC access managed policies
        assert "Policies" not in role  # no inline policy: key policies may name the role without a cycle
        for route in consumer_routes(any_lake):
            if route.zone.name == zone.name:
                assert consumers(any_lake)[route.queue_name]["Role"] == arn_of(role_id)
        assert any_lake.prod.outputs[outputs.pipeline_role_arn(zone.name)]["Value"] == arn_of(role_id)
    assert {LogicalIds.zone(z.name, "PipelineRole") for z in any_lake.config.chained_zones} == set(
        any_lake.prod.of_type("AWS::IAM::Role")
    ) & {LogicalIds.zone(z.name, "PipelineRole") for z in any_lake.config.zones}


def test_pipeline_role_holds_the_access_policies_least_privilege(any_lake: Rendered) -> None:
    expected_sids = {
        "ListSourceAndTarget",
        "ReadSourceObjects",
        "WriteAndTagTargetObjects",
        "DecryptSourceViaS3AndSqs",
        "EncryptTargetViaS3",
        "ConsumeZoneQueues",
        "SendToDeadLetterQueue",
        "EncryptDeadLetters",
        "ManageVpcNetworkInterfaces",
        "WriteConsumerLogs",
    }
    for zone in any_lake.config.chained_zones:
        policy = pipeline_policy(any_lake, zone.name)
        assert policy["Roles"] == [ref(LogicalIds.zone(zone.name, "PipelineRole"))]
        document = policy["PolicyDocument"]
        sids = [s.get("Sid") for s in statements(document)]
        assert all(sids) and len(sids) == len(set(sids))
        assert expected_sids <= set(sids)
        for s in statements(document):
            assert "*" not in as_list(s["Action"]) and "s3:*" not in as_list(s["Action"])
        zone_queues = {
            any_lake.names.queue_arn(r.queue_name)
            for r in queue_routes(any_lake.config, any_lake.names)
            if r.zone.name == zone.name
        }
        assert {flatten(r) for r in as_list(statement(document, "ConsumeZoneQueues")["Resource"])} == zone_queues
        assert as_list(statement(document, "EncryptDeadLetters")["Resource"]) == [{"Fn::Sub": "${DeadLetterKey.Arn}"}]
        logs = {flatten(r) for r in as_list(statement(document, "WriteConsumerLogs")["Resource"])}
        assert logs == {
            "${" + LogicalIds.route(r.zone.name, r.dataset, "ConsumerLogs") + ".Arn}"
            for r in consumer_routes(any_lake)
            if r.zone.name == zone.name
        }


def test_pipeline_policy_acknowledges_exactly_its_wildcards(any_lake: Rendered) -> None:
    for zone in any_lake.config.chained_zones:
        resource = any_lake.prod.at(LogicalIds.zone(zone.name, "PipelinePolicy"))
        rules = {r["id"]: r["reason"] for r in resource["Metadata"]["cdk_nag"]["rules_to_suppress"]}
        iam5 = {rule for rule in rules if rule.startswith("AwsSolutions-IAM5[")}
        assert "AwsSolutions-IAM5[Resource::*]" in iam5  # the ENI actions
        assert any(f"{zone.name}-<AWS::AccountId>-<AWS::Region>/*]" in rule for rule in iam5)
        assert all(not rule.startswith("AwsSolutions-IAM5[Action::") for rule in iam5)  # no wildcard actions
        assert {"NIST.800.53.R5-IAMNoInlinePolicy", "HIPAA.Security-IAMNoInlinePolicy"} <= set(rules)
        assert all(
            any_lake.names.service_role_name(policies.pipeline_principal(zone.name)) in r for r in rules.values()
        )


# -- the dead-letter queue ------------------------------------------------------------------------
def test_dlq_is_encrypted_with_its_own_key_and_keeps_messages_14_days(any_lake: Rendered) -> None:
    resource = any_lake.prod.at(LogicalIds.DLQ)
    props = resource["Properties"]
    assert props["QueueName"] == any_lake.names.dlq
    assert props["KmsMasterKeyId"] == arn_of(LogicalIds.DLQ_KEY)
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    assert resource["DeletionPolicy"] == resource["UpdateReplacePolicy"] == "Retain"
    alias = any_lake.prod.props(LogicalIds.DLQ_KEY_ALIAS)
    assert alias["AliasName"] == any_lake.names.dlq_key_alias
    assert alias["TargetKeyId"] == arn_of(LogicalIds.DLQ_KEY)
    # No DLQ of its own, on purpose: the RedriveAllowPolicy says it IS one, to SQS and to cdk-nag/Control Tower.
    assert "Metadata" not in resource
    allow = props["RedriveAllowPolicy"]
    queues = [q for q in any_lake.prod.of_type("AWS::SQS::Queue") if q != LogicalIds.DLQ]
    if len(queues) <= 10:
        assert allow["redrivePermission"] == "byQueue" and len(allow["sourceQueueArns"]) == len(queues)
    else:
        assert allow == {"redrivePermission": "allowAll"}


def test_dlq_key_rotates_and_is_used_only_through_sqs_by_the_account(any_lake: Rendered) -> None:
    resource = any_lake.prod.at(LogicalIds.DLQ_KEY)
    key = resource["Properties"]
    assert key["EnableKeyRotation"] is True
    assert key["PendingWindowInDays"] == 30
    assert resource["DeletionPolicy"] == "Retain"
    root = {"AWS": {"Fn::Sub": "arn:${AWS::Partition}:iam::${AWS::AccountId}:root"}}
    admin = statement(key["KeyPolicy"], "KeyAdministration")
    assert admin["Principal"] == root and "kms:Decrypt" not in as_list(admin["Action"])
    use = statement(key["KeyPolicy"], "UseThroughLakeServicesOnly")
    assert use["Principal"] == root
    assert use["Condition"]["StringEquals"] == {
        "kms:CallerAccount": {"Fn::Sub": "${AWS::AccountId}"},
        "kms:ViaService": [{"Fn::Sub": "sqs.${AWS::Region}.${AWS::URLSuffix}"}],
    }
    assert [s["Sid"] for s in statements(key["KeyPolicy"])] == [
        "KeyAdministration",
        "UseThroughLakeServicesOnly",
        "DenyGrantsExceptForAwsResources",
    ]
    deny = statement(key["KeyPolicy"], "DenyGrantsExceptForAwsResources")
    assert deny["Effect"] == "Deny" and as_list(deny["Action"]) == ["kms:CreateGrant"]


def test_dlq_accepts_tls_only(any_lake: Rendered) -> None:
    policy = any_lake.prod.props(LogicalIds.DLQ_POLICY)
    assert policy["Queues"] == [ref(LogicalIds.DLQ)]
    deny = statement(policy["PolicyDocument"], "DenyInsecureTransport")
    assert deny["Effect"] == "Deny" and as_list(deny["Action"]) == ["sqs:*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert as_list(deny["Resource"]) == [{"Fn::Sub": "${" + LogicalIds.DLQ + ".Arn}"}]


def test_dlq_outputs(any_lake: Rendered) -> None:
    assert any_lake.prod.outputs[outputs.DEAD_LETTER_QUEUE_URL]["Value"] == ref(LogicalIds.DLQ)
    assert any_lake.prod.outputs[outputs.DEAD_LETTER_QUEUE_ARN]["Value"] == arn_of(LogicalIds.DLQ)


def test_dlq_alarms_on_depth_and_oldest_message_age_notify_the_security_topic(any_lake: Rendered) -> None:
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"] for a in any_lake.prod.of_type("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    topic = f"arn:${{AWS::Partition}}:sns:${{AWS::Region}}:${{SecurityAccountId}}:{any_lake.names.alarm_topic}"
    for alarm in alarms.values():
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [LogicalIds.DLQ, "QueueName"]}}]
        assert [flatten(a) for a in alarm["AlarmActions"]] == [topic]
        assert alarm["AlarmName"].startswith(f"{any_lake.config.lake}-")
    assert alarms["ApproximateNumberOfMessagesVisible"]["Threshold"] == 0
    assert alarms["ApproximateNumberOfMessagesVisible"]["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarms["ApproximateAgeOfOldestMessage"]["Threshold"] > 0


# -- any account, any region ------------------------------------------------------------------------
PIPELINE_TYPES = (
    "AWS::Lambda::Function",
    "AWS::Lambda::EventSourceMapping",
    "AWS::Logs::LogGroup",
    "AWS::SQS::Queue",
    "AWS::SQS::QueuePolicy",
    "AWS::KMS::Key",
    "AWS::KMS::Alias",
    "AWS::IAM::Role",
    "AWS::IAM::Policy",
)


def test_pipeline_resources_hold_no_literal_account_region_or_partition(regional_lake: Rendered) -> None:
    ids = {LogicalIds.DLQ, LogicalIds.DLQ_KEY, LogicalIds.DLQ_KEY_ALIAS, LogicalIds.DLQ_POLICY}
    for route in consumer_routes(regional_lake):
        ids |= {
            LogicalIds.route(route.zone.name, route.dataset, k) for k in ("Consumer", "ConsumerLogs", "ConsumerEvents")
        }
    for zone in regional_lake.config.chained_zones:
        ids |= {LogicalIds.zone(zone.name, "PipelineRole"), LogicalIds.zone(zone.name, "PipelinePolicy")}
    text = json.dumps({i: regional_lake.prod.at(i).get("Properties") for i in ids})
    for literal in ("123456789012", "210987654321", "eu-west-1", "arn:aws:", "us-east-1"):
        assert literal not in text, literal
    assert {regional_lake.prod.at(i)["Type"] for i in ids} <= set(PIPELINE_TYPES)


# -- the zip the consumers run ------------------------------------------------------------------------
def test_build_writes_the_consumer_zip_with_the_runtime_and_no_builder_code(default_lake: Rendered) -> None:
    archive = default_lake.outdir / "artifacts" / ZIP_NAME
    with zipfile.ZipFile(archive) as zipped:
        entries = set(zipped.namelist())
    assert "zone_consumer/handler.py" in entries
    assert "aws_lambda_powertools/__init__.py" in entries
    assert "zone_consumer/samples.py" in entries  # the default lake's user transform module
    assert not any(e.startswith(("datalake_cfn/", "boto3/", "pyarrow/", "pandas/", "numpy/")) for e in entries)
    assert not any("__pycache__" in e or e.endswith(".pyc") for e in entries)
