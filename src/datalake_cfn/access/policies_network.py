"""The network's service-role policies, in awacs: what VPC Flow Logs may do, and nothing else.

Kept apart from :mod:`datalake_cfn.access.policies` until the lead merges them: these documents
grant an AWS service, not a persona, so they play no part in the access matrix. ARNs are
`${LogicalId.Arn}` strings; `stacks.base.cfn()` turns them into `Fn::Sub`.
"""

from __future__ import annotations

from awacs import logs, sts
from awacs.aws import Allow, PolicyDocument, Principal, Statement

FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"


def flow_log_trust() -> PolicyDocument:
    """Only VPC Flow Logs may assume the flow-log role."""
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="VpcFlowLogsAssumesRole",
                Effect=Allow,
                Principal=Principal("Service", [FLOW_LOGS_SERVICE]),
                Action=[sts.AssumeRole],
            )
        ],
    )


def flow_log_delivery(log_group_arn: str) -> PolicyDocument:
    """Write flow records into the one flow-log group (what CDK's `to_cloud_watch_logs` granted).

    `log_group_arn` is the group's `Arn` attribute, which already covers its streams (`...:*`).
    """
    return PolicyDocument(
        Version="2012-10-17",
        Statement=[
            Statement(
                Sid="WriteFlowLogRecords",
                Effect=Allow,
                Action=[logs.CreateLogStream, logs.PutLogEvents, logs.DescribeLogStreams],
                Resource=[log_group_arn],
            )
        ],
    )
