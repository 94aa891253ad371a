"""Watching the pipeline: alarms in the prod account, the dashboard in the security account.

Metrics live where the resources are (prod), so the alarms are in the prod stack; their action is
the alarm topic of the security account (its policy trusts CloudWatch for `<lake>-*` alarms of the
prod account). The dashboard is in the security stack and reads the prod account's metrics
cross-account: the prod stack creates `CloudWatch-CrossAccountSharingRole` (the name CloudWatch
looks for) trusting the security account, read-only on metrics.

Per zone the dashboard shows: objects processed (SQS messages deleted by the consumer = S3 events
handled, each event one object), consumer errors and throttles, and the age of the oldest message
in the zone's queue(s); and, for the lake, the DLQ depth.
"""

from __future__ import annotations

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_iam as iam
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from datalake_cfn.blueprint import lake_blueprint
from datalake_cfn.infra.deployment import Deployment
from datalake_cfn.infra.nag import acknowledge_inline_policy, expect_wildcards

SHARING_ROLE_NAME = "CloudWatch-CrossAccountSharingRole"  # fixed by CloudWatch cross-account dashboards
DLQ_AGE_THRESHOLD = Duration.hours(1)
PERIOD = Duration.minutes(5)


class PipelineAlarms(Construct):
    """DLQ depth and DLQ oldest-message age, notifying the security account's alarm topic."""

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment, dlq: sqs.IQueue) -> None:
        super().__init__(scope, construct_id)
        names = deployment.names
        topic_arn = deployment.alarm_topic_arn
        self.depth = cloudwatch.CfnAlarm(
            self,
            "DlqDepth",
            alarm_name=names.alarm("dlq-depth"),
            alarm_description=f"Messages are waiting in {names.dlq}: run `datalake dlq` to see why and redrive.",
            namespace="AWS/SQS",
            metric_name="ApproximateNumberOfMessagesVisible",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="QueueName", value=dlq.queue_name)],
            statistic="Maximum",
            period=int(PERIOD.to_seconds()),
            evaluation_periods=1,
            threshold=0,
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
        )
        self.age = cloudwatch.CfnAlarm(
            self,
            "DlqAge",
            alarm_name=names.alarm("dlq-age"),
            alarm_description=(
                f"The oldest message in {names.dlq} is over {int(DLQ_AGE_THRESHOLD.to_hours())} hour(s) old: "
                "failures are not being handled; messages expire after the DLQ retention period."
            ),
            namespace="AWS/SQS",
            metric_name="ApproximateAgeOfOldestMessage",
            dimensions=[cloudwatch.CfnAlarm.DimensionProperty(name="QueueName", value=dlq.queue_name)],
            statistic="Maximum",
            period=int(PERIOD.to_seconds()),
            evaluation_periods=1,
            threshold=DLQ_AGE_THRESHOLD.to_seconds(),
            comparison_operator="GreaterThanThreshold",
            treat_missing_data="notBreaching",
            alarm_actions=[topic_arn],
            ok_actions=[topic_arn],
        )


class MetricsSharingRole(Construct):
    """Lets the security account's dashboard read this account's CloudWatch metrics."""

    def __init__(self, scope: Construct, construct_id: str, *, deployment: Deployment) -> None:
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            role_name=SHARING_ROLE_NAME,
            assumed_by=iam.AccountPrincipal(deployment.security_account),
            description=f"Lets the security account ({deployment.security_account}) read the lake's metrics",
        )
        self.role.add_to_policy(
            iam.PolicyStatement(
                sid="ReadMetricsAndAlarms",
                actions=[
                    "cloudwatch:GetMetricData",
                    "cloudwatch:GetMetricStatistics",
                    "cloudwatch:ListMetrics",
                    "cloudwatch:DescribeAlarms",
                    "cloudwatch:DescribeAlarmHistory",
                    "cloudwatch:GetMetricWidgetImage",
                ],
                resources=["*"],
            )
        )
        expect_wildcards(
            self.role,
            f"{SHARING_ROLE_NAME} only reads CloudWatch metrics and alarms; GetMetricData, ListMetrics and "
            "DescribeAlarms support no resource-level permissions.",
            [r"Resource::\*"],
        )
        acknowledge_inline_policy(
            self.role, f"{SHARING_ROLE_NAME}'s read-only metrics policy has no use outside this role."
        )


def _metric(
    deployment: Deployment, namespace: str, name: str, dimensions: dict[str, str], statistic: str, label: str
) -> cloudwatch.Metric:
    return cloudwatch.Metric(
        namespace=namespace,
        metric_name=name,
        dimensions_map=dimensions,
        statistic=statistic,
        period=PERIOD,
        label=label,
        account=deployment.prod_account,
        region=deployment.region,
    )


def pipeline_dashboard(scope: Construct, construct_id: str, *, deployment: Deployment) -> cloudwatch.Dashboard:
    """The pipeline dashboard, one row per zone plus the DLQ, over the prod account's metrics."""
    names = deployment.names
    blueprint = lake_blueprint(deployment.config, names)
    dashboard = cloudwatch.Dashboard(scope, construct_id, dashboard_name=names.dashboard)
    dashboard.add_widgets(
        cloudwatch.TextWidget(
            markdown=(
                f"# {deployment.config.lake} pipeline\nAccount {deployment.prod_account}, {deployment.region}. "
                "Objects processed = SQS messages deleted after a successful hop."
            ),
            width=24,
            height=2,
        )
    )
    dlq_depth = _metric(
        deployment, "AWS/SQS", "ApproximateNumberOfMessagesVisible", {"QueueName": names.dlq}, "Maximum", "DLQ depth"
    )
    dashboard.add_widgets(cloudwatch.GraphWidget(title="Dead-letter queue depth", left=[dlq_depth], width=24))
    for zone in deployment.config.zones:
        queues = [q for q in blueprint.queues if q.zone == zone.name]
        consumers = [q for q in queues if q.has_consumer]
        processed = [
            _metric(deployment, "AWS/SQS", "NumberOfMessagesDeleted", {"QueueName": q.name}, "Sum", q.name)
            for q in consumers
        ]
        functions = [names.consumer_function(q.zone, q.dataset) for q in consumers]
        errors = [
            _metric(deployment, "AWS/Lambda", "Errors", {"FunctionName": f}, "Sum", f"{f} errors") for f in functions
        ]
        throttles = [
            _metric(deployment, "AWS/Lambda", "Throttles", {"FunctionName": f}, "Sum", f"{f} throttles")
            for f in functions
        ]
        age = [
            _metric(deployment, "AWS/SQS", "ApproximateAgeOfOldestMessage", {"QueueName": q.name}, "Maximum", q.name)
            for q in queues
        ]
        dashboard.add_widgets(
            cloudwatch.GraphWidget(title=f"{zone.name}: objects processed", left=processed, width=6),
            cloudwatch.GraphWidget(title=f"{zone.name}: errors", left=errors, width=6),
            cloudwatch.GraphWidget(title=f"{zone.name}: throttles", left=throttles, width=6),
            cloudwatch.GraphWidget(title=f"{zone.name}: queue age (s)", left=age, width=6),
        )
    return dashboard
