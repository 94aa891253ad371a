"""Every physical name of a lake, derived in one place.

The template builder and the local lake both call these functions, so a bucket, queue or key
alias has the same name in the emulator as in the prod account, and a test can compare
them. Names are deterministic (no CloudFormation-generated suffixes) so that stacks can
refer to each other's resources without dependency cycles, and so that adding a zone
never renames an existing one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from datalake_cfn.config import LakeConfig

LOCAL_ACCOUNT = "123456789012"
ACCOUNT_ID = "${AWS::AccountId}"
REGION = "${AWS::Region}"
PARTITION = "${AWS::Partition}"
URL_SUFFIX = "${AWS::URLSuffix}"
SECURITY_ACCOUNT_ID = "${SecurityAccountId}"  # the prod template's parameter
LONGEST_REGION = "ap-southeast-5"  # bucket names are checked with the longest account and region they can get
_PLACEHOLDERS = {
    ACCOUNT_ID: "123456789012",
    SECURITY_ACCOUNT_ID: "123456789012",
    REGION: LONGEST_REGION,
}  # moto's default account: the local lake's "prod" account
MAX_BUCKET_NAME = 63
MAX_QUEUE_NAME = 80
MAX_ROLE_NAME = 64


def partition_of(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if "-gov-" in region else "aws"


def pascal(name: str) -> str:
    """A logical-id part from a lake name part (zone, dataset, persona): `sales_eu` -> `SalesEu`."""
    return "".join(part[:1].upper() + part[1:] for part in re.split(r"[-_.]", name) if part)


def snake(name: str) -> str:
    """Glue and Athena want lowercase identifiers with underscores only."""
    return re.sub(r"[^a-z0-9_]", "_", name.lower())


def is_valid_bucket_name(name: str) -> bool:
    """S3's general-purpose bucket naming rules (the subset our names can break)."""
    return (
        3 <= len(name) <= MAX_BUCKET_NAME
        and re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", name) is not None
        and ".." not in name
        and not name.startswith("xn--")
        and not name.endswith("-s3alias")
        and re.fullmatch(r"\d+\.\d+\.\d+\.\d+", name) is None
    )


@dataclass(frozen=True)
class LakeNames:
    """Names of one lake in one account and region."""

    lake: str
    account: str
    region: str
    security_account: str | None = None
    partition: str = "aws"

    @classmethod
    def for_config(cls, config: LakeConfig, account: str | None = None, region: str | None = None) -> LakeNames:
        return cls(
            lake=config.lake,
            account=account or config.accounts.prod or LOCAL_ACCOUNT,
            region=region or config.region,
            security_account=config.accounts.security,
            partition=partition_of(region or config.region),
        )

    @classmethod
    def for_template(cls, config: LakeConfig) -> LakeNames:
        """Names as CloudFormation substitutions: one template launches in any account and region.

        Every account, region and partition is a `${...}` placeholder that :func:`datalake_cfn.stacks.base.cfn`
        turns into `Fn::Sub`; the security account is the prod stack's `SecurityAccountId` parameter.
        """
        return cls(
            lake=config.lake,
            account=ACCOUNT_ID,
            region=REGION,
            security_account=SECURITY_ACCOUNT_ID,
            partition=PARTITION,
        )

    # -- stacks ----------------------------------------------------------------------------
    @property
    def prod_stack(self) -> str:
        return f"{self.lake}-prod"

    @property
    def security_stack(self) -> str:
        return f"{self.lake}-security"

    # -- storage ---------------------------------------------------------------------------
    def bucket(self, zone: str) -> str:
        """Zone bucket: account and region make it unique, as S3's global namespace requires."""
        return self._checked_bucket(f"{self.lake}-{zone}-{self.account}-{self.region}")

    @property
    def access_log_bucket(self) -> str:
        return self._checked_bucket(f"{self.lake}-s3logs-{self.account}-{self.region}")

    @property
    def athena_results_bucket(self) -> str:
        return self._checked_bucket(f"{self.lake}-athena-{self.account}-{self.region}")

    @property
    def glue_assets_bucket(self) -> str:
        return self._checked_bucket(f"{self.lake}-glue-{self.account}-{self.region}")

    @property
    def audit_bucket(self) -> str:
        account = self.security_account or self.account
        return self._checked_bucket(f"{self.lake}-audit-{account}-{self.region}")

    def zone_of_bucket(self, bucket: str) -> str | None:
        """Inverse of :meth:`bucket`, for tools that start from an S3 event or ARN."""
        head, tail = f"{self.lake}-", f"-{self.account}-{self.region}"
        if bucket.startswith(head) and bucket.endswith(tail):
            return bucket[len(head) : -len(tail)]
        return None

    def _checked_bucket(self, name: str) -> str:
        concrete = name
        for placeholder, sample in _PLACEHOLDERS.items():
            concrete = concrete.replace(placeholder, sample)
        if not is_valid_bucket_name(concrete):
            raise ValueError(f"derived bucket name {name!r} is not a valid S3 bucket name")
        return name

    # -- keys ------------------------------------------------------------------------------
    def key_alias(self, zone: str) -> str:
        return f"alias/{self.lake}/{zone}"

    @property
    def dlq_key_alias(self) -> str:
        return f"alias/{self.lake}/dlq"

    @property
    def audit_key_alias(self) -> str:
        return f"alias/{self.lake}/audit"

    # -- queues ----------------------------------------------------------------------------
    def queue(self, zone: str, dataset: str | None = None) -> str:
        """A zone's queue, or a dataset's own queue inside that zone (own_queue datasets)."""
        name = f"{self.lake}-{zone}" if dataset is None else f"{self.lake}-{zone}-{dataset.replace('_', '-')}"
        return name[:MAX_QUEUE_NAME]

    @property
    def dlq(self) -> str:
        return f"{self.lake}-dlq"

    def queue_arn(self, queue_name: str) -> str:
        return f"arn:{self.partition}:sqs:{self.region}:{self.account}:{queue_name}"

    def queue_url(self, queue_name: str, endpoint: str) -> str:
        return f"{endpoint.rstrip('/')}/{self.account}/{queue_name}"

    # -- compute ---------------------------------------------------------------------------
    def consumer_function(self, zone: str, dataset: str | None = None) -> str:
        base = self.queue(zone, dataset)
        return f"{base}-consumer"[:64]

    def notification_id(self, zone: str, dataset: str) -> str:
        return f"{self.lake}-{zone}-{dataset}"

    # -- catalog ---------------------------------------------------------------------------
    @property
    def glue_database(self) -> str:
        return snake(self.lake)

    def table(self, zone: str, dataset: str) -> str:
        return snake(f"{zone}_{dataset}")

    @property
    def crawler(self) -> str:
        return f"{self.lake}-crawler"

    def glue_job(self, job: str) -> str:
        return f"{self.lake}-{job.replace('_', '-')}"

    @property
    def athena_workgroup(self) -> str:
        return f"{self.lake}-workgroup"

    # -- identities ------------------------------------------------------------------------
    def role_path(self, persona: str, clearance: str | None = None) -> str:
        """IAM path `/<lake>/<persona>/[<clearance>/]`: job function (and clearance) visible in the ARN."""
        return f"/{self.lake}/{persona}/" + (f"{clearance}/" if clearance else "")

    def role_name(self, persona: str, clearance: str | None = None) -> str:
        name = f"{self.lake}-{persona}" + (f"-{clearance}" if clearance else "")
        return name[:MAX_ROLE_NAME]

    def role_arn(self, persona: str, clearance: str | None = None) -> str:
        path = self.role_path(persona, clearance)
        return f"arn:{self.partition}:iam::{self.account}:role{path}{self.role_name(persona, clearance)}"

    def service_role_name(self, purpose: str) -> str:
        return f"{self.lake}-{purpose}"[:MAX_ROLE_NAME]

    # -- security account --------------------------------------------------------------------
    @property
    def trail(self) -> str:
        return f"{self.lake}-trail"

    @property
    def alarm_topic(self) -> str:
        return f"{self.lake}-alarms"

    @property
    def dashboard(self) -> str:
        return f"{self.lake}-pipeline"

    # -- AWS-only resources (no local-lake counterpart) ----------------------------------------
    @property
    def ops_key_alias(self) -> str:
        """The key of the lake's operational logs (consumer logs, VPC flow logs, trail, Glue logs)."""
        return f"alias/{self.lake}/ops"

    @property
    def athena_key_alias(self) -> str:
        return f"alias/{self.lake}/athena"

    @property
    def glue_security_configuration(self) -> str:
        return f"{self.lake}-glue"

    def alarm(self, purpose: str) -> str:
        """Alarm names start with the lake's name: the alarm topic's policy trusts `<lake>-*` alarms."""
        return f"{self.lake}-{purpose}"

    def consumer_log_group(self, zone: str, dataset: str | None = None) -> str:
        return f"/aws/lambda/{self.consumer_function(zone, dataset)}"

    def log_group(self, purpose: str) -> str:
        return f"/{self.lake}/{purpose}"

    @property
    def macie_schedule(self) -> str:
        return f"{self.lake}-macie-scan"


class LogicalIds:
    """Every logical id of the two templates, in one place.

    Ids derive from zone, dataset and principal names only, never from list positions, so adding
    a zone or a dataset adds resources and never renames (and so replaces) an existing one; renaming
    a zone replaces its resources, which `datalake plan` shows. Ids are alphanumeric, as
    CloudFormation requires (troposphere's `valid_names` check rejects anything else).
    """

    # -- prod: shared -----------------------------------------------------------------------------
    OPS_KEY = "OpsKey"
    OPS_KEY_ALIAS = "OpsKeyAlias"
    ACCESS_LOG_BUCKET = "AccessLogBucket"
    ACCESS_LOG_BUCKET_POLICY = "AccessLogBucketPolicy"
    DLQ = "DeadLetterQueue"
    DLQ_POLICY = "DeadLetterQueuePolicy"
    DLQ_KEY = "DeadLetterKey"
    DLQ_KEY_ALIAS = "DeadLetterKeyAlias"
    VPC = "Vpc"
    CONSUMER_SECURITY_GROUP = "ConsumerSecurityGroup"
    CRAWLER_ROLE = "CrawlerRole"
    GLUE_JOB_ROLE = "GlueJobRole"
    ATHENA_KEY = "AthenaKey"
    TRAIL = "AuditTrail"
    # -- security ------------------------------------------------------------------------------
    AUDIT_KEY = "AuditKey"
    AUDIT_BUCKET = "AuditBucket"
    ALARM_TOPIC = "AlarmTopic"

    # -- prod: per zone, dataset, principal ----------------------------------------------------------
    @staticmethod
    def zone(zone: str, kind: str) -> str:
        """`zone("raw", "Bucket")` -> `ZoneRawBucket`: Bucket, BucketPolicy, Key, KeyAlias, PipelineRole..."""
        return f"Zone{pascal(zone)}{kind}"

    @staticmethod
    def route(zone: str, dataset: str | None, kind: str) -> str:
        """A zone's queue (or an own-queue dataset's) and what hangs off it: `route("raw", "sales", "Queue")`."""
        middle = "" if dataset is None else f"Dataset{pascal(dataset)}"
        return f"Zone{pascal(zone)}{middle}{kind}"

    @staticmethod
    def principal(principal: str, kind: str = "Role") -> str:
        """A persona (or persona-clearance) role and its policy: `principal("analyst-internal")`."""
        return f"Persona{pascal(principal)}{kind}"

    @staticmethod
    def job(job: str, kind: str = "Job") -> str:
        return f"GlueJob{pascal(job)}" if kind == "Job" else f"GlueJob{pascal(job)}{kind}"
