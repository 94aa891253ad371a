"""Watching the pipeline: alarms in the prod account, the dashboard in the security account.

Metrics live where the resources are (prod), so the alarms are in the prod template; their action
is the security account's alarm topic, named by its deterministic ARN with `${SecurityAccountId}`
(its policy trusts CloudWatch for the `<lake>-*` alarms of the prod account). The dashboard is a
security-template resource (:mod:`datalake_cfn.stacks.security_account` adds it with the body built
here) and reads the prod account's metrics cross-account: the prod template creates
`CloudWatch-CrossAccountSharingRole` (the name CloudWatch looks for) trusting the security account,
read-only on metrics.

Per zone the dashboard shows: objects processed (SQS messages deleted by the consumer = S3 events
handled, each event one object), consumer errors and throttles, and the age of the oldest message
in the zone's queue(s); and, for the lake, the DLQ depth.
"""

from __future__ import annotations

from typing import Any

from troposphere import GetAtt, Ref, iam
from troposphere import cloudwatch as cw

from datalake_cfn.access import policies
from datalake_cfn.naming import SECURITY_ACCOUNT_ID, LakeNames, LogicalIds
from datalake_cfn.stacks.base import INLINE_POLICY_RULES, LakeTemplate, cfn, lake_tags, nag_metadata

SHARING_ROLE_NAME = "CloudWatch-CrossAccountSharingRole"  # fixed by CloudWatch cross-account dashboards
DLQ_AGE_THRESHOLD_SECONDS = 3600
PERIOD_SECONDS = 300

# Logical ids of this module (derived from nothing positional).
DLQ_DEPTH_ALARM = "DeadLetterQueueDepthAlarm"
DLQ_AGE_ALARM = "DeadLetterQueueAgeAlarm"
METRICS_SHARING_ROLE = "MetricsSharingRole"
METRICS_SHARING_POLICY = "MetricsSharingPolicy"


def alarm_topic_arn(names: LakeNames, security_account: str) -> str:
    """The security account's alarm topic: a deterministic ARN, so prod never references the security stack."""
    return f"arn:{names.partition}:sns:{names.region}:{security_account}:{names.alarm_topic}"


def alarm_arn_pattern(names: LakeNames, prod_account: str) -> str:
    """Every lake alarm of the prod account (alarm names start with the lake's name)."""
    return f"arn:{names.partition}:cloudwatch:{names.region}:{prod_account}:alarm:{names.alarm('*')}"


# -- prod: alarms -----------------------------------------------------------------------------------------
def _dlq_alarm(
    lake: LakeTemplate, logical_id: str, purpose: str, metric: str, threshold: int, description: str
) -> cw.Alarm:
    topic = cfn(alarm_topic_arn(lake.names, SECURITY_ACCOUNT_ID))
    return cw.Alarm(
        logical_id,
        AlarmName=lake.names.alarm(purpose),
        AlarmDescription=description,
        Namespace="AWS/SQS",
        MetricName=metric,
        Dimensions=[cw.MetricDimension(Name="QueueName", Value=GetAtt(LogicalIds.DLQ, "QueueName"))],
        Statistic="Maximum",
        Period=PERIOD_SECONDS,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        TreatMissingData="notBreaching",
        AlarmActions=[topic],
        OKActions=[topic],
        Tags=lake_tags(lake),
    )


def _metrics_sharing_role(lake: LakeTemplate) -> None:
    """Lets the security account's dashboard read this account's CloudWatch metrics."""
    names = lake.names
    root = policies.account_root(names.partition, SECURITY_ACCOUNT_ID)
    lake.add(
        iam.Role(
            METRICS_SHARING_ROLE,
            RoleName=SHARING_ROLE_NAME,
            AssumeRolePolicyDocument=cfn(policies.metrics_sharing_trust(root)),
            Description=cfn(f"Lets the security account ({SECURITY_ACCOUNT_ID}) read the lake's metrics"),
            Tags=lake_tags(lake),
        )
    )
    lake.add(
        iam.PolicyType(
            METRICS_SHARING_POLICY,
            PolicyName="read-metrics-and-alarms",
            PolicyDocument=cfn(policies.metrics_sharing_permissions()),
            Roles=[Ref(METRICS_SHARING_ROLE)],
            Metadata=nag_metadata(
                (
                    "AwsSolutions-IAM5[Resource::*]",
                    f"{SHARING_ROLE_NAME} only reads CloudWatch metrics and alarms; GetMetricData, ListMetrics and "
                    "DescribeAlarms support no resource-level permissions.",
                ),
                *[
                    (rule, f"{SHARING_ROLE_NAME}'s read-only metrics policy has no use outside this role.")
                    for rule in INLINE_POLICY_RULES
                ],
            ),
        )
    )


def add_pipeline_alarms(lake: LakeTemplate) -> None:
    """DLQ depth and DLQ oldest-message age, notifying the security account's alarm topic; metrics sharing."""
    dlq = lake.names.dlq
    lake.add(
        _dlq_alarm(
            lake,
            DLQ_DEPTH_ALARM,
            "dlq-depth",
            "ApproximateNumberOfMessagesVisible",
            0,
            f"Messages are waiting in {dlq}: run `datalake dlq` to see why and redrive.",
        )
    )
    lake.add(
        _dlq_alarm(
            lake,
            DLQ_AGE_ALARM,
            "dlq-age",
            "ApproximateAgeOfOldestMessage",
            DLQ_AGE_THRESHOLD_SECONDS,
            f"The oldest message in {dlq} is over {DLQ_AGE_THRESHOLD_SECONDS // 3600} hour(s) old: failures are not "
            "being handled; messages expire after the DLQ retention period.",
        )
    )
    _metrics_sharing_role(lake)


# -- security: the dashboard's body -----------------------------------------------------------------------
def _metric(
    namespace: str, name: str, dimension: tuple[str, str], statistic: str, label: str, account: str, region: str
) -> list[Any]:
    return [
        namespace,
        name,
        *dimension,
        {"label": label, "accountId": account, "region": region, "stat": statistic},
    ]


def _graph(title: str, metrics: list[list[Any]], x: int, y: int, width: int, region: str) -> dict[str, Any]:
    properties: dict[str, Any] = {"view": "timeSeries", "title": title, "region": region}
    if metrics:
        properties["metrics"] = metrics
    properties["yAxis"] = {}
    return {"type": "metric", "width": width, "height": 6, "x": x, "y": y, "properties": properties}


def pipeline_dashboard_body(lake: LakeTemplate, *, account: str, region: str) -> dict[str, Any]:
    """The dashboard, one row per zone plus the DLQ, over `account`'s metrics (the prod account).

    Laid out as CDK's `Dashboard.add_widgets` did: a 24-wide text header, the DLQ graph, then per
    zone its 6-wide graphs side by side: four for a zone with consumers, only the queue age for
    one without (CDK drew its errors and throttles as empty graphs). Names carry no account, so
    the template names serve.
    """
    names = lake.names
    config = lake.config
    widgets: list[dict[str, Any]] = [
        {
            "type": "text",
            "width": 24,
            "height": 2,
            "x": 0,
            "y": 0,
            "properties": {
                "markdown": (
                    f"# {config.lake} pipeline\nAccount {account}, {region}. "
                    "Objects processed = SQS messages deleted after a successful hop."
                )
            },
        }
    ]
    depth = _metric(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        ("QueueName", names.dlq),
        "Maximum",
        "DLQ depth",
        account,
        region,
    )
    widgets.append(_graph("Dead-letter queue depth", [depth], 0, 2, 24, region))
    y = 8
    for zone in config.zones:
        queues = [q for q in lake.blueprint.queues if q.zone == zone.name]
        consumers = [q for q in queues if q.has_consumer]
        functions = [names.consumer_function(q.zone, q.dataset) for q in consumers]
        graphs = [
            (
                "objects processed",
                [
                    _metric("AWS/SQS", "NumberOfMessagesDeleted", ("QueueName", q.name), "Sum", q.name, account, region)
                    for q in consumers
                ],
            ),
            (
                "errors",
                [
                    _metric("AWS/Lambda", "Errors", ("FunctionName", f), "Sum", f"{f} errors", account, region)
                    for f in functions
                ],
            ),
            (
                "throttles",
                [
                    _metric("AWS/Lambda", "Throttles", ("FunctionName", f), "Sum", f"{f} throttles", account, region)
                    for f in functions
                ],
            ),
            (
                "queue age (s)",
                [
                    _metric(
                        "AWS/SQS",
                        "ApproximateAgeOfOldestMessage",
                        ("QueueName", q.name),
                        "Maximum",
                        q.name,
                        account,
                        region,
                    )
                    for q in queues
                ],
            ),
        ]
        shown = [(what, metrics) for what, metrics in graphs if metrics]  # a zone without a consumer has no errors
        if not shown:
            continue
        widgets += [
            _graph(f"{zone.name}: {what}", metrics, 6 * i, y, 6, region) for i, (what, metrics) in enumerate(shown)
        ]
        y += 6
    return {"widgets": widgets}
