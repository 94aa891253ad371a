"""Output names: the contract between the two stacks and their users, as constants.

The publisher, `datalake deploy`, the docs and the tests read outputs by these names; a module
never spells one inline.
"""

from __future__ import annotations

from datalake_cfn.naming import pascal

# prod
DEAD_LETTER_QUEUE_URL = "DeadLetterQueueUrl"
DEAD_LETTER_QUEUE_ARN = "DeadLetterQueueArn"
CRAWLER_ROLE_ARN = "CrawlerRoleArn"
GLUE_JOB_ROLE_ARN = "GlueJobRoleArn"
GLUE_DATABASE = "GlueDatabase"
ATHENA_WORKGROUP = "AthenaWorkgroup"
VPC_ID = "VpcId"
# security
AUDIT_BUCKET_NAME = "AuditBucketName"
AUDIT_BUCKET_ARN = "AuditBucketArn"
AUDIT_KEY_ARN = "AuditKeyArn"
ALARM_TOPIC_ARN = "AlarmTopicArn"


def bucket(zone: str) -> str:
    return f"Bucket{pascal(zone)}"


def queue_url(queue_name: str) -> str:
    return f"QueueUrl{pascal(queue_name)}"


def role_arn(principal: str) -> str:
    """A persona role (`steward`, `analyst-internal`)."""
    return f"RoleArn{pascal(principal)}"


def pipeline_role_arn(zone: str) -> str:
    return f"PipelineRoleArn{pascal(zone)}"
