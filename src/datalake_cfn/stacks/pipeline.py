"""The event pipeline: the shared dead-letter queue, and one consumer Lambda per queue that has a next zone.

A consumer is the runtime's `zone_consumer.handler.handler`, configured by one environment
variable, `DATALAKE_SPEC` (a :class:`~zone_consumer.spec.ConsumerSpec` as JSON, computed by
:func:`datalake_cfn.routing.consumer_spec`; the DLQ URL and the target key ARN inside it are
`${DeadLetterQueue}` / `${Zone<Next>Key.Arn}` placeholders that `Fn::Sub` resolves). It runs in
the private subnets only, with its zone's pipeline role (no role of its own: the access policies
model one principal per zone, and every consumer of a zone reads and writes the same zones), its
own encrypted log group, reserved concurrency, and the SQS event source reporting partial batch
failures. Its code is the published zip (`CodeBucket` / `CodeKeyPrefix`), its libraries the
managed AWS SDK for pandas layer of the stack's region, unless `SdkPandasLayerArn` overrides it.

The pipeline roles carry no inline policy: their policy is a separate `AWS::IAM::Policy`, so the
zone keys' policies can name the roles (`${Role.Arn}`) without a dependency cycle.
"""

from __future__ import annotations

from typing import Any

from troposphere import FindInMap, GetAtt, If, Output, Ref, Sub, encode_to_dict, iam, kms, logs, sqs
from troposphere import awslambda as lambda_
from troposphere.validators import integer
from zone_consumer.spec import SPEC_ENV

from datalake_cfn.access import policies
from datalake_cfn.artifacts import HANDLER, RUNTIME, SDK_PANDAS_LAYERS, ZIP_NAME, sdk_pandas_layer_arn
from datalake_cfn.naming import LogicalIds
from datalake_cfn.routing import QueueRoute, consumer_spec
from datalake_cfn.stacks import network, outputs, params
from datalake_cfn.stacks.base import (
    COMPLIANCE_PACKS,
    LakeTemplate,
    arn_placeholder,
    cfn,
    iam5_findings,
    lake_tags,
    merge_metadata,
    nag_metadata,
    ref_placeholder,
    template_arns,
)

SDK_PANDAS_MAPPING = "SdkPandasLayer"  # Mappings: region -> {"Arn": layer version ARN}
LAYER_ARN_KEY = "Arn"
DATA_KEY_REUSE_SECONDS = 3600
KEY_ROTATION_DAYS = 365
KEY_PENDING_WINDOW_DAYS = 30

LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


MAX_REDRIVE_SOURCES = 10  # SQS: sourceQueueArns holds at most 10 queues


def checked_log_retention(days: int) -> int:
    """CloudWatch Logs accepts only certain retention periods; say which when lake.yaml asks for another."""
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"pipeline.log_retention_days: {days} is not a CloudWatch Logs retention period; use one of "
            f"{list(LOG_RETENTION_DAYS)}"
        )
    return days


# -- logical ids (derived from zone and dataset names only) ------------------------------------------
def consumer_id(route: QueueRoute) -> str:
    return LogicalIds.route(route.zone.name, route.dataset, "Consumer")


def consumer_logs_id(route: QueueRoute) -> str:
    return LogicalIds.route(route.zone.name, route.dataset, "ConsumerLogs")


def consumer_events_id(route: QueueRoute) -> str:
    return LogicalIds.route(route.zone.name, route.dataset, "ConsumerEvents")


def queue_id(route: QueueRoute) -> str:
    """The zone queue (or own-queue dataset queue) the zones module declares."""
    return LogicalIds.route(route.zone.name, route.dataset, "Queue")


def pipeline_role_id(zone: str) -> str:
    return LogicalIds.zone(zone, "PipelineRole")


def pipeline_policy_id(zone: str) -> str:
    return LogicalIds.zone(zone, "PipelinePolicy")


ROUTE_TABLE_ASSOCIATION_SUFFIX = "RouteTableAssociation"  # the network module's `<subnet>RouteTableAssociation`


def _network_dependencies(lake: LakeTemplate) -> list[str]:
    """The private subnets' route table associations, which a consumer waits for (as the CDK's did).

    Until a subnet is associated with its route table it has no route to the S3 gateway endpoint,
    and a consumer invoked in that window would time out on S3. Only ids the template declares.
    """
    candidates = [f"{subnet}{ROUTE_TABLE_ASSOCIATION_SUFFIX}" for subnet in network.private_subnet_ids(lake.config)]
    return [logical_id for logical_id in candidates if logical_id in lake.template.resources]


class LoggingConfig(lambda_.LoggingConfig):
    """Lambda's `LoggingConfig` with `LogFormat`, which troposphere 4.11.1 does not declare (CloudFormation has it)."""

    props = {**lambda_.LoggingConfig.props, "LogFormat": (str, False)}


class EventSourceScalingConfig(lambda_.ScalingConfig):
    """The event source mapping's `ScalingConfig`: troposphere 4.11.1's class of that name is another
    resource's (`MaxEnvironments`), so this one declares `MaximumConcurrency`."""

    props = {"MaximumConcurrency": (integer, False)}


def _document(value: Any) -> Any:
    """A policy document (awacs objects or dicts) as plain data with its placeholders as `Fn::Sub`."""
    return cfn(encode_to_dict(value))


def _wildcard_reason(finding: str, role_name: str) -> str:
    """Why one IAM5 finding of a pipeline policy is by design (short: a big lake has hundreds of them)."""
    if finding == "Resource::*":
        return f"{role_name}: Lambda's VPC ENI actions (ec2:*NetworkInterface*, DescribeSubnets) take no resource ARN."
    if finding.startswith("Resource::arn:<AWS::Partition>:s3:::"):
        return f"{role_name}: objects of its source/target zone (or a dataset prefix of it); object keys are data."
    return f"{role_name}: wildcard generated by datalake_cfn.access.policies for its zone."


# -- the dead-letter queue -----------------------------------------------------------------------------
def add_dead_letter_queue(lake: LakeTemplate) -> None:
    """The one DLQ every zone queue redrives to (and every consumer's async failures go to), with its own key."""
    blueprint = lake.blueprint.dead_letter
    lake.add(
        kms.Key(
            LogicalIds.DLQ_KEY,
            Description=f"Encrypts the {lake.config.lake} lake's dead-letter queue",
            EnableKeyRotation=True,
            RotationPeriodInDays=KEY_ROTATION_DAYS,
            PendingWindowInDays=KEY_PENDING_WINDOW_DAYS,
            KeyPolicy=_document(policies.dead_letter_key_policy(lake.names)),
            Tags=lake_tags(lake),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    lake.add(
        kms.Alias(
            LogicalIds.DLQ_KEY_ALIAS, AliasName=blueprint.key_alias, TargetKeyId=GetAtt(LogicalIds.DLQ_KEY, "Arn")
        )
    )
    lake.add(
        sqs.Queue(
            LogicalIds.DLQ,
            QueueName=blueprint.name,
            KmsMasterKeyId=GetAtt(LogicalIds.DLQ_KEY, "Arn"),
            KmsDataKeyReusePeriodSeconds=DATA_KEY_REUSE_SECONDS,
            MessageRetentionPeriod=blueprint.retention_seconds,
            # Only the lake's own queues may use it as their DLQ (this also tells SQS, and Control Tower's
            # CT.SQS.PR.1, that it is a dead-letter queue: no DLQ of its own is expected).
            RedriveAllowPolicy=_redrive_allow_policy(lake),
            Tags=lake_tags(lake),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    lake.add(
        sqs.QueuePolicy(
            LogicalIds.DLQ_POLICY,
            Queues=[Ref(LogicalIds.DLQ)],
            PolicyDocument=_document(policies.dead_letter_queue_policy(arn_placeholder(LogicalIds.DLQ))),
        )
    )
    template = lake.template
    template.add_output(
        Output(outputs.DEAD_LETTER_QUEUE_URL, Value=Ref(LogicalIds.DLQ), Description="The lake's dead-letter queue")
    )
    template.add_output(Output(outputs.DEAD_LETTER_QUEUE_ARN, Value=GetAtt(LogicalIds.DLQ, "Arn")))


def _redrive_allow_policy(lake: LakeTemplate) -> dict[str, Any]:
    """Which queues may redrive into the DLQ: the lake's own, by ARN, while SQS's limit of 10 allows a list."""
    sources = [cfn(lake.names.queue_arn(q.name)) for q in lake.blueprint.queues]
    if len(sources) <= MAX_REDRIVE_SOURCES:
        return {"redrivePermission": "byQueue", "sourceQueueArns": sources}
    return {"redrivePermission": "allowAll"}  # the key policy still limits use to this account's SQS


# -- the consumers -----------------------------------------------------------------------------------
def consumer_routes(lake: LakeTemplate, zone: str | None = None) -> list[QueueRoute]:
    """The routes that have a consumer (optionally: of one zone)."""
    return [r for r in lake.blueprint.routes if r.has_consumer and (zone is None or r.zone.name == zone)]


def add_pipeline(lake: LakeTemplate) -> None:
    """Per chained zone its pipeline role and policy; per route with a next zone its consumer."""
    _add_layer_mapping(lake)
    for zone in lake.config.chained_zones:
        _add_pipeline_role(lake, zone.name, zone.next or "")
    for route in consumer_routes(lake):
        _add_consumer(lake, route)


def _add_layer_mapping(lake: LakeTemplate) -> None:
    """The pinned AWS SDK for pandas layer of every region that has one (the template runs in any of them)."""
    lake.template.add_mapping(
        SDK_PANDAS_MAPPING,
        {region: {LAYER_ARN_KEY: sdk_pandas_layer_arn(region)} for region in sorted(SDK_PANDAS_LAYERS)},
    )


def layer_arn() -> If:
    """The stack region's pinned layer, or the `SdkPandasLayerArn` parameter when given."""
    return If(
        params.USE_DEFAULT_LAYER,
        FindInMap(SDK_PANDAS_MAPPING, Ref("AWS::Region"), LAYER_ARN_KEY),
        Ref(params.SDK_PANDAS_LAYER_ARN),
    )


def _add_pipeline_role(lake: LakeTemplate, zone: str, target: str) -> None:
    names = lake.names
    role_name = names.service_role_name(policies.pipeline_principal(zone))
    lake.add(
        iam.Role(
            pipeline_role_id(zone),
            RoleName=role_name,
            Description=f"Consumers of zone {zone}: read {zone}, write {target}, consume the {zone} queues",
            AssumeRolePolicyDocument=_document(policies.lambda_trust_policy()),
            Tags=lake_tags(lake, zone),
        )
    )
    routes = consumer_routes(lake, zone)
    statements = [
        *policies.vpc_network_interface_statements(),
        *policies.pipeline_role_statements(
            lake.config, names, template_arns(lake), zone, [r.queue_name for r in routes]
        ),
        *policies.consumer_log_statements([arn_placeholder(consumer_logs_id(r)) for r in routes]),
    ]
    document = encode_to_dict({"Version": policies.POLICY_VERSION, "Statement": statements})
    findings = iam5_findings(document)
    inline_reason = (
        f"{role_name}'s policy is generated for zone {zone} by datalake_cfn.access.policies and belongs to this "
        "role only."
    )
    lake.add(
        iam.PolicyType(
            pipeline_policy_id(zone),
            PolicyName=f"{role_name}-access",
            Roles=[Ref(pipeline_role_id(zone))],
            PolicyDocument=cfn(document),
            Metadata=merge_metadata(
                nag_metadata(*[(f"AwsSolutions-IAM5[{f}]", _wildcard_reason(f, role_name)) for f in findings]),
                nag_metadata(*[(f"{pack}-IAMNoInlinePolicy", inline_reason) for pack in COMPLIANCE_PACKS]),
            ),
        )
    )
    lake.template.add_output(
        Output(
            outputs.pipeline_role_arn(zone),
            Value=GetAtt(pipeline_role_id(zone), "Arn"),
            Description=f"The role of zone {zone}'s consumers",
        )
    )


def _spec_json(lake: LakeTemplate, route: QueueRoute) -> Any:
    """The consumer's spec; its DLQ URL and target key are placeholders CloudFormation substitutes."""
    spec = consumer_spec(
        lake.config,
        lake.names,
        route,
        dlq_url=ref_placeholder(LogicalIds.DLQ),
        target_kms_key_id=arn_placeholder(LogicalIds.zone(route.zone.next or "", "Key")),
    )
    return cfn(spec.to_json())


def _add_consumer(lake: LakeTemplate, route: QueueRoute) -> None:
    config, names = lake.config, lake.names
    zone, dataset = route.zone.name, route.dataset
    pipeline = config.pipeline
    lake.add(
        logs.LogGroup(
            consumer_logs_id(route),
            LogGroupName=names.consumer_log_group(zone, dataset),
            KmsKeyId=GetAtt(LogicalIds.OPS_KEY, "Arn"),
            RetentionInDays=checked_log_retention(pipeline.log_retention_days),
            Tags=lake_tags(lake, zone),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    lake.add(
        lambda_.Function(
            consumer_id(route),
            FunctionName=names.consumer_function(zone, dataset),
            Description=f"datalake consumer: {zone} -> {route.zone.next} ({route.queue_name})",
            Runtime=RUNTIME,
            Architectures=["x86_64"],
            Handler=HANDLER,
            Code=lambda_.Code(
                S3Bucket=Ref(params.CODE_BUCKET), S3Key=Sub(ref_placeholder(params.CODE_KEY_PREFIX) + ZIP_NAME)
            ),
            Layers=[layer_arn()],
            MemorySize=pipeline.memory_mb,
            Timeout=pipeline.timeout_seconds,
            ReservedConcurrentExecutions=pipeline.reserved_concurrency,
            Role=GetAtt(pipeline_role_id(zone), "Arn"),
            VpcConfig=lambda_.VPCConfig(
                SubnetIds=[Ref(subnet) for subnet in network.private_subnet_ids(config)],
                SecurityGroupIds=[GetAtt(LogicalIds.CONSUMER_SECURITY_GROUP, "GroupId")],
            ),
            DeadLetterConfig=lambda_.DeadLetterConfig(TargetArn=GetAtt(LogicalIds.DLQ, "Arn")),
            LoggingConfig=LoggingConfig(LogFormat="JSON", LogGroup=Ref(consumer_logs_id(route))),
            Environment=lambda_.Environment(
                Variables={
                    SPEC_ENV: _spec_json(lake, route),
                    "POWERTOOLS_SERVICE_NAME": "datalake",
                    "AWS_STS_REGIONAL_ENDPOINTS": "regional",
                }
            ),
            Tags=lake_tags(lake, zone),
            # Lambda checks the role's ENI permissions when it creates a VPC function (and the event
            # source mapping its SQS permissions): the role's policy first.
            DependsOn=[*_network_dependencies(lake), pipeline_policy_id(zone)],
        )
    )
    scaling = (
        {"ScalingConfig": EventSourceScalingConfig(MaximumConcurrency=pipeline.reserved_concurrency)}
        # Never more concurrent batches than reserved executions: throttled batches would burn receives.
        if pipeline.reserved_concurrency >= 2
        else {}
    )
    lake.add(
        lambda_.EventSourceMapping(
            consumer_events_id(route),
            FunctionName=Ref(consumer_id(route)),
            EventSourceArn=GetAtt(queue_id(route), "Arn"),
            BatchSize=pipeline.batch_size,
            MaximumBatchingWindowInSeconds=pipeline.max_batching_window_seconds,
            FunctionResponseTypes=["ReportBatchItemFailures"],
            Tags=lake_tags(lake, zone),
            **scaling,
        )
    )
