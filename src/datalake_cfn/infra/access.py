"""The seam between the stacks and the lake's access policies.

The policies themselves (persona identity policies, zone bucket and key policies, the pipeline,
crawler and Glue job roles) are data, written once in :mod:`datalake_cfn.access.policies` and
evaluated there for the access matrix; the stacks only attach them. This module hands that module
the ARNs of the synthesized resources and turns its plain-dict statements into CDK statements.

Which ARNs are tokens and which are computed strings matters:

- bucket ARNs are strings from naming: the zone key's policy names its bucket
  (`kms:EncryptionContext:aws:s3:arn`) while the bucket names its key (default encryption), so a
  reference in both directions would be a dependency cycle;
- except in the bucket's own policy, which may use its token;
- key and role ARNs are tokens (`Fn::GetAtt`): a key policy that names a role must be created after
  the role (IAM rejects unknown principals), and the token gives CloudFormation that order.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

from aws_cdk import aws_iam as iam

from datalake_cfn.access import policies
from datalake_cfn.infra.deployment import Deployment


class LakeAccess:
    """Policy statements for one synthesized lake, given its key and role ARNs (tokens)."""

    def __init__(
        self,
        deployment: Deployment,
        *,
        key_arn: Callable[[str], str],
        role_arn: Callable[[str], str],
        dlq_key_arn: str,
        bucket_ref: Callable[[str], str],
    ) -> None:
        self.deployment = deployment
        self.config = deployment.config
        self.names = deployment.names
        self.arns = policies.LakeArns(
            self.config,
            self.names,
            bucket_arn=deployment.bucket_arn,
            key_arn=key_arn,
            role_arn=role_arn,
            queue_arn=deployment.queue_arn,
            dlq_key_arn=dlq_key_arn,
        )
        # A bucket's own policy may reference the bucket (it is created after it anyway); doing so
        # lets cdk-nag see that the TLS statement covers that very bucket.
        self.bucket_policy_arns = replace(self.arns, bucket_arn=bucket_ref)

    def zone_bucket_statements(self, zone: str) -> list[iam.PolicyStatement]:
        return statements(
            policies.zone_bucket_policy_statements(self.config, self.names, self.bucket_policy_arns, zone)
        )

    def zone_key_statements(self, zone: str) -> list[iam.PolicyStatement]:
        return statements(policies.zone_key_policy_statements(self.config, self.names, self.arns, zone))

    def persona_policy(self, persona: str, clearance: str | None) -> iam.PolicyDocument:
        document = policies.persona_identity_policy(self.config, self.names, self.arns, persona, clearance)
        return iam.PolicyDocument.from_json(document)

    def pipeline_statements(self, zone: str, queue_names: list[str]) -> list[iam.PolicyStatement]:
        return statements(policies.pipeline_role_statements(self.config, self.names, self.arns, zone, queue_names))

    def glue_job_statements(self) -> list[iam.PolicyStatement]:
        return statements(policies.glue_job_role_statements(self.config, self.names, self.arns))

    def crawler_statements(self) -> list[iam.PolicyStatement]:
        return statements(policies.crawler_role_statements(self.config, self.names, self.arns))


def statements(documents: list[dict[str, Any]]) -> list[iam.PolicyStatement]:
    return [iam.PolicyStatement.from_json(document) for document in documents]
