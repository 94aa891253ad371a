"""The consumers, the shared DLQ and its alarms."""

from __future__ import annotations

import json

from zone_consumer.spec import ConsumerSpec

from datalake_cfn.access import policies
from datalake_cfn.infra.assets import sdk_pandas_layer_arn
from datalake_cfn.infra.zone import construct_id
from datalake_cfn.routing import consumer_spec, queue_routes
from tests.infra.templates import Synthesized, arn_of, as_list, flatten, ref, statements


def consumers(lake: Synthesized) -> dict[str, dict]:
    """Consumer function properties by queue name."""
    out = {}
    for route in queue_routes(lake.config, lake.names):
        if route.has_consumer:
            suffix = "" if route.dataset is None else construct_id(route.dataset)
            out[route.queue_name] = lake.prod.props(
                f"Zone{construct_id(route.zone.name)}/Consumer{suffix}/Function/Resource"
            )
    return out


def test_one_consumer_per_queue_of_a_zone_with_a_next_zone(any_lake: Synthesized) -> None:
    names = any_lake.names
    expected = {
        names.consumer_function(r.zone.name, r.dataset) for r in queue_routes(any_lake.config, names) if r.has_consumer
    }
    assert {p["FunctionName"] for p in consumers(any_lake).values()} == expected
    assert len(expected) == 2 * (1 + sum(d.own_queue for d in any_lake.config.datasets))


def test_consumers_run_the_runtime_on_the_newest_python_with_the_sdk_for_pandas_layer(any_lake: Synthesized) -> None:
    for props in consumers(any_lake).values():
        assert props["Runtime"] == "python3.14"
        assert props["Handler"] == "zone_consumer.handler.handler"
        assert props["Layers"] == [sdk_pandas_layer_arn(any_lake.config.region)]
        assert props["Architectures"] == ["x86_64"]


def test_consumer_settings_come_from_lake_yaml(any_lake: Synthesized) -> None:
    pipeline = any_lake.config.pipeline
    for props in consumers(any_lake).values():
        assert props["MemorySize"] == pipeline.memory_mb
        assert props["Timeout"] == pipeline.timeout_seconds
        assert props["ReservedConcurrentExecutions"] == pipeline.reserved_concurrency


def test_consumer_environment_is_the_routing_spec(any_lake: Synthesized) -> None:
    dlq = any_lake.prod.id_of("DeadLetter/Queue/Resource")
    for route in queue_routes(any_lake.config, any_lake.names):
        if not route.has_consumer:
            continue
        props = consumers(any_lake)[route.queue_name]
        env = props["Environment"]["Variables"]
        assert env["POWERTOOLS_SERVICE_NAME"] == "datalake"
        assert env["AWS_STS_REGIONAL_ENDPOINTS"] == "regional"
        target_key = any_lake.prod.id_of(f"Zone{construct_id(route.zone.next or '')}/Key/Resource")
        spec = ConsumerSpec.from_json(flatten(env["DATALAKE_SPEC"]))
        expected = consumer_spec(
            any_lake.config, any_lake.names, route, dlq_url=f"<{dlq}>", target_kms_key_id=f"<{target_key}.Arn>"
        )
        assert spec == expected


def test_consumer_failures_of_async_invocations_go_to_the_dlq(any_lake: Synthesized) -> None:
    dlq = any_lake.prod.id_of("DeadLetter/Queue/Resource")
    for props in consumers(any_lake).values():
        assert props["DeadLetterConfig"] == {"TargetArn": arn_of(dlq)}


def test_consumer_logs_are_retained_and_encrypted(any_lake: Synthesized) -> None:
    ops_key = any_lake.prod.id_of("OpsKey/Resource")
    for route in queue_routes(any_lake.config, any_lake.names):
        if not route.has_consumer:
            continue
        suffix = "" if route.dataset is None else construct_id(route.dataset)
        path = f"Zone{construct_id(route.zone.name)}/Consumer{suffix}"
        group = any_lake.prod.props(f"{path}/Logs/Resource")
        assert group["LogGroupName"] == any_lake.names.consumer_log_group(route.zone.name, route.dataset)
        assert group["RetentionInDays"] == any_lake.config.pipeline.log_retention_days
        assert group["KmsKeyId"] == arn_of(ops_key)
        function = any_lake.prod.props(f"{path}/Function/Resource")
        assert function["LoggingConfig"]["LogGroup"] == ref(any_lake.prod.id_of(f"{path}/Logs/Resource"))


def test_sqs_event_sources_report_partial_batch_failures(any_lake: Synthesized) -> None:
    pipeline = any_lake.config.pipeline
    for route in queue_routes(any_lake.config, any_lake.names):
        if not route.has_consumer:
            continue
        suffix = "" if route.dataset is None else construct_id(route.dataset)
        path = f"Zone{construct_id(route.zone.name)}"
        mapping = any_lake.prod.props(f"{path}/Consumer{suffix}/Events/Resource")
        queue = any_lake.prod.id_of(f"{path}/Queue{suffix}/Resource")
        assert mapping["EventSourceArn"] == arn_of(queue)
        assert mapping["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
        assert mapping["BatchSize"] == pipeline.batch_size
        assert mapping["MaximumBatchingWindowInSeconds"] == pipeline.max_batching_window_seconds
        assert mapping["ScalingConfig"]["MaximumConcurrency"] <= pipeline.reserved_concurrency


def test_each_zone_has_one_pipeline_role_named_for_the_access_policies(any_lake: Synthesized) -> None:
    names = any_lake.names
    for zone in any_lake.config.chained_zones:
        role_id = any_lake.prod.id_of(f"Zone{construct_id(zone.name)}/PipelineRole/Resource")
        role = any_lake.prod.resources[role_id]["Properties"]
        assert role["RoleName"] == names.service_role_name(policies.pipeline_principal(zone.name))
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "lambda.amazonaws.com"}
        assert "ManagedPolicyArns" not in role  # no AWSLambdaBasicExecutionRole / VPC access managed policies
        for props in consumers(any_lake).values():
            if props["FunctionName"].startswith(names.queue(zone.name)):
                assert props["Role"] == arn_of(role_id)


def test_pipeline_role_holds_the_access_policies_least_privilege(any_lake: Synthesized) -> None:
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
    }
    for zone in any_lake.config.chained_zones:
        policy = any_lake.prod.props(f"Zone{construct_id(zone.name)}/PipelineRole/DefaultPolicy/Resource")
        sids = {s.get("Sid") for s in statements(policy["PolicyDocument"])}
        assert expected_sids <= sids
        for s in statements(policy["PolicyDocument"]):
            assert "*" not in as_list(s["Action"]) and "s3:*" not in as_list(s["Action"])
            if s.get("Sid") == "ConsumeZoneQueues":
                queues = {r for r in as_list(s["Resource"])}
                zone_queues = {
                    any_lake.names.queue_arn(r.queue_name)
                    for r in queue_routes(any_lake.config, any_lake.names)
                    if r.zone.name == zone.name
                }
                assert queues == zone_queues


def test_dlq_is_encrypted_with_its_own_key_and_keeps_messages_14_days(any_lake: Synthesized) -> None:
    props = any_lake.prod.props("DeadLetter/Queue/Resource")
    assert props["QueueName"] == any_lake.names.dlq
    assert props["KmsMasterKeyId"] == arn_of(any_lake.prod.id_of("DeadLetter/Key/Resource"))
    assert props["MessageRetentionPeriod"] == 14 * 24 * 3600
    alias = any_lake.prod.props("DeadLetter/Key/Alias/Resource")
    assert alias["AliasName"] == any_lake.names.dlq_key_alias


def test_dlq_alarms_on_depth_and_oldest_message_age_notify_the_security_topic(any_lake: Synthesized) -> None:
    alarms = {
        a["Properties"]["MetricName"]: a["Properties"] for a in any_lake.prod.of_type("AWS::CloudWatch::Alarm").values()
    }
    assert set(alarms) == {"ApproximateNumberOfMessagesVisible", "ApproximateAgeOfOldestMessage"}
    dlq = any_lake.prod.id_of("DeadLetter/Queue/Resource")
    for alarm in alarms.values():
        assert alarm["Namespace"] == "AWS/SQS"
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [dlq, "QueueName"]}}]
        assert alarm["AlarmActions"] == [any_lake.deployment.alarm_topic_arn]
        assert alarm["AlarmName"].startswith(f"{any_lake.config.lake}-")
    assert alarms["ApproximateNumberOfMessagesVisible"]["Threshold"] == 0
    assert alarms["ApproximateNumberOfMessagesVisible"]["ComparisonOperator"] == "GreaterThanThreshold"
    assert alarms["ApproximateAgeOfOldestMessage"]["Threshold"] > 0


def test_consumer_code_asset_is_staged_in_the_cloud_assembly(default_lake: Synthesized) -> None:
    assets = json.loads((default_lake.outdir / "acme-prod.assets.json").read_text())
    staged = [default_lake.outdir / f["source"]["path"] for f in assets["files"].values()]
    bundles = [p for p in staged if (p / "zone_consumer" / "handler.py").is_file()]
    assert len(bundles) == 1
    bundle = bundles[0]
    assert (bundle / "aws_lambda_powertools" / "__init__.py").is_file()
    assert (bundle / "zone_consumer" / "samples.py").is_file()  # the default lake's user transform module
    assert not (bundle / "datalake_cfn").exists() and not (bundle / "boto3").exists()
