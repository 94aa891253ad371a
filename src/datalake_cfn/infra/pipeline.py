"""The event pipeline: the shared dead-letter queue and one consumer Lambda per queue with a next zone.

A consumer is the runtime's `zone_consumer.handler.handler`, configured by one environment
variable, `DATALAKE_SPEC` (a :class:`~zone_consumer.spec.ConsumerSpec` as JSON, computed by
:func:`datalake_cfn.routing.consumer_spec`; the DLQ URL and the target key ARN inside it are CDK
tokens that CloudFormation resolves). It runs in the private subnets only, with its zone's
pipeline role (no role of its own: the access policies model one principal per zone, and every
consumer of a zone reads and writes the same zones), its own encrypted log group, reserved
concurrency, and the SQS event source reporting partial batch failures.
"""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct
from zone_consumer.spec import SPEC_ENV

from datalake_cfn.blueprint import DeadLetterBlueprint
from datalake_cfn.config import Pipeline
from datalake_cfn.infra.assets import HANDLER, ConsumerBundle, sdk_pandas_layer_arn
from datalake_cfn.infra.keys import lake_key
from datalake_cfn.infra.nag import acknowledge, acknowledge_inline_policy, expect_wildcards, lake_objects
from datalake_cfn.routing import QueueRoute

RUNTIME = lambda_.Runtime.PYTHON_3_14


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


def checked_log_retention(days: int) -> int:
    """CloudWatch Logs accepts only certain retention periods; say which when lake.yaml asks for another."""
    if days not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"pipeline.log_retention_days: {days} is not a CloudWatch Logs retention period; use one of "
            f"{list(LOG_RETENTION_DAYS)}"
        )
    return days


class DeadLetterQueue(Construct):
    """The one DLQ every zone queue redrives to, encrypted with its own key."""

    def __init__(self, scope: Construct, construct_id: str, *, blueprint: DeadLetterBlueprint, lake: str) -> None:
        super().__init__(scope, construct_id)
        self.key = lake_key(
            self,
            "Key",
            alias=blueprint.key_alias,
            description=f"Encrypts the {lake} lake's dead-letter queue",
            via_services=["sqs"],
        )
        self.queue = sqs.Queue(
            self,
            "Queue",
            queue_name=blueprint.name,
            encryption=sqs.QueueEncryption.KMS,
            encryption_master_key=self.key,
            data_key_reuse=Duration.hours(1),
            retention_period=Duration.seconds(blueprint.retention_seconds),
            enforce_ssl=True,
            removal_policy=RemovalPolicy.RETAIN,
        )
        acknowledge(
            self.queue,
            "AwsSolutions-SQS3",
            f"{blueprint.name} IS the lake's dead-letter queue; a DLQ of the DLQ would hide failures. "
            "`datalake dlq` lists and redrives it, and alarms watch its depth and age.",
        )


def pipeline_role(
    scope: Construct, construct_id: str, *, role_name: str, zone: str, target: str, buckets: list[str]
) -> iam.Role:
    """The role of a zone's consumers (the zone queue's and any own-queue dataset's).

    One per zone, as :mod:`datalake_cfn.access.policies` models it (`pipeline-<zone>`): every consumer of
    a zone reads the same zone and writes the same next zone; the statements list its queues.
    """
    role = iam.Role(
        scope,
        construct_id,
        role_name=role_name,
        assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
        description=f"Consumers of zone {zone}: read {zone}, write {target}, consume the {zone} queues",
    )
    role.add_to_policy(
        iam.PolicyStatement(
            sid="ManageVpcNetworkInterfaces",
            actions=[
                "ec2:CreateNetworkInterface",
                "ec2:DescribeNetworkInterfaces",
                "ec2:DescribeSubnets",
                "ec2:DeleteNetworkInterface",
                "ec2:AssignPrivateIpAddresses",
                "ec2:UnassignPrivateIpAddresses",
            ],
            resources=["*"],
        )
    )
    expect_wildcards(
        role,
        f"{role_name} reads zone {zone} and writes zone {target} by dataset prefix (bucket/<prefix>*: object keys "
        "are data), and Lambda's VPC networking actions (ec2:*NetworkInterface*, ec2:DescribeSubnets) support no "
        "resource-level permissions. Data statements come from datalake_cfn.access.policies.",
        [r"Resource::\*", lake_objects(buckets)],
    )
    acknowledge_inline_policy(
        role,
        f"{role_name}'s policy is generated for zone {zone} by datalake_cfn.access.policies "
        "and belongs to this role only.",
    )
    return role


class ZoneConsumer(Construct):
    """The Lambda that reads one queue and writes the next zone."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        route: QueueRoute,
        function_name: str,
        log_group_name: str,
        spec_json: str,
        queue: sqs.IQueue,
        role: iam.Role,
        dead_letter: DeadLetterQueue,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        logs_key: kms.IKey,
        bundle: ConsumerBundle,
        pipeline: Pipeline,
        region: str,
    ) -> None:
        super().__init__(scope, construct_id)
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name,
            encryption_key=logs_key,
            removal_policy=RemovalPolicy.RETAIN,
        )
        cfn_group: logs.CfnLogGroup = self.log_group.node.default_child  # type: ignore[assignment]
        cfn_group.retention_in_days = checked_log_retention(pipeline.log_retention_days)
        self.log_group.grant_write(role)

        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description=f"datalake consumer: {route.zone.name} -> {route.zone.next} ({route.queue_name})",
            runtime=RUNTIME,
            architecture=lambda_.Architecture.X86_64,
            handler=HANDLER,
            code=lambda_.Code.from_asset(str(bundle.path), asset_hash=bundle.fingerprint),
            layers=[lambda_.LayerVersion.from_layer_version_arn(self, "SdkForPandas", sdk_pandas_layer_arn(region))],
            memory_size=pipeline.memory_mb,
            timeout=Duration.seconds(pipeline.timeout_seconds),
            reserved_concurrent_executions=pipeline.reserved_concurrency,
            # Every permission is explicit on the zone's pipeline role (see access policies); an
            # immutable reference keeps CDK from adding broader grants of its own (e.g. for the DLQ).
            role=iam.Role.from_role_arn(self, "Role", role.role_arn, mutable=False),
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            dead_letter_queue=dead_letter.queue,
            log_group=self.log_group,
            logging_format=lambda_.LoggingFormat.JSON,
            environment={
                SPEC_ENV: spec_json,
                "POWERTOOLS_SERVICE_NAME": "datalake",
                "AWS_STS_REGIONAL_ENDPOINTS": "regional",
            },
        )
        # Lambda checks the role's ENI permissions when it creates a VPC function (and the event
        # source mapping its SQS permissions): the role's policy first.
        self.function.node.add_dependency(role.node.find_child("DefaultPolicy"))
        self.event_source = lambda_.EventSourceMapping(
            self,
            "Events",
            target=self.function,
            event_source_arn=queue.queue_arn,
            batch_size=pipeline.batch_size,
            max_batching_window=Duration.seconds(pipeline.max_batching_window_seconds),
            report_batch_item_failures=True,
            # Never more concurrent batches than reserved executions: throttled batches would burn receives.
            max_concurrency=pipeline.reserved_concurrency if pipeline.reserved_concurrency >= 2 else None,
        )
