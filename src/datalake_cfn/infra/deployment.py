"""Where the two stacks go: accounts, region, and the names in each account.

lake.yaml may leave `accounts` unset (a newcomer synthesizes before owning two accounts).
Templates must still be concrete, so placeholder account ids stand in; they are documented
in docs/deploy.md and reported by `datalake synth`, and `datalake deploy` refuses them.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from datalake_cfn.config import LakeConfig
from datalake_cfn.naming import LakeNames

PLACEHOLDER_PROD_ACCOUNT = "111111111111"
PLACEHOLDER_SECURITY_ACCOUNT = "222222222222"


@dataclass(frozen=True)
class Deployment:
    """One lake deployed to a prod and a security account in one region."""

    config: LakeConfig
    prod_account: str
    security_account: str
    placeholder_accounts: tuple[str, ...]

    @classmethod
    def for_config(cls, config: LakeConfig) -> Deployment:
        prod = config.accounts.prod or PLACEHOLDER_PROD_ACCOUNT
        security = config.accounts.security or PLACEHOLDER_SECURITY_ACCOUNT
        placeholders = tuple(
            role
            for role, given in (("prod", config.accounts.prod), ("security", config.accounts.security))
            if not given
        )
        return cls(config=config, prod_account=prod, security_account=security, placeholder_accounts=placeholders)

    @property
    def region(self) -> str:
        return self.config.region

    @property
    def partition(self) -> str:
        return "aws-cn" if self.region.startswith("cn-") else "aws-us-gov" if "-gov-" in self.region else "aws"

    @property
    def names(self) -> LakeNames:
        """Names in the prod account (zone buckets, queues, roles...)."""
        base = LakeNames.for_config(self.config, account=self.prod_account)
        return replace(base, security_account=self.security_account)

    @property
    def security_names(self) -> LakeNames:
        """Names in the security account (its own access-log bucket); the audit bucket is the same."""
        return replace(self.names, account=self.security_account)

    # -- cross-account ARNs: deterministic, so neither stack references the other ----------------
    @property
    def trail_arn(self) -> str:
        return f"arn:{self.partition}:cloudtrail:{self.region}:{self.prod_account}:trail/{self.names.trail}"

    @property
    def audit_key_alias_arn(self) -> str:
        """CloudTrail in prod names the security account's key by alias ARN (KMS accepts it cross-account)."""
        return f"arn:{self.partition}:kms:{self.region}:{self.security_account}:{self.names.audit_key_alias}"

    @property
    def alarm_topic_arn(self) -> str:
        return f"arn:{self.partition}:sns:{self.region}:{self.security_account}:{self.names.alarm_topic}"

    @property
    def audit_bucket_arn(self) -> str:
        return f"arn:{self.partition}:s3:::{self.names.audit_bucket}"

    def bucket_arn(self, zone: str) -> str:
        return f"arn:{self.partition}:s3:::{self.names.bucket(zone)}"

    def queue_arn(self, queue_name: str) -> str:
        return f"arn:{self.partition}:sqs:{self.region}:{self.prod_account}:{queue_name}"

    def alarm_arn_pattern(self) -> str:
        return f"arn:{self.partition}:cloudwatch:{self.region}:{self.prod_account}:alarm:{self.names.alarm('*')}"
