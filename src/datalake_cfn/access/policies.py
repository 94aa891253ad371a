"""Every policy of the lake, in awacs, in one module: identity, trust, bucket, key, queue and topic policies.

Why one module: the templates (with `${AWS::Partition}`-style placeholders and `${LogicalId.Arn}`
references for ARNs) and the local lake (with plain ARN strings) must enforce *the same* rules, and
the access matrix is computed by evaluating exactly these documents. Every statement is an awacs
:class:`Statement` with a Sid; documents are awacs :class:`PolicyDocument` objects. Both have
`to_dict()`, the plain JSON the evaluator, the access matrix and `stacks.base.cfn()` consume. How a
name becomes an ARN is the caller's business, through :class:`LakeArns`; every ARN written here
takes its partition from `names.partition`, so nothing needs a concrete account, region or partition.

The sections, in order:

- **lake access**: the persona identity and trust policies, the zone bucket and key policies, and
  the lake-wide statements of the pipeline, Glue job and crawler roles (what the access matrix
  evaluates and the local lake enforces);
- **keys**: the base every lake CMK carries (administration by the account, use only through the
  services the key exists for, no grants), the ops key's service grants, the dead-letter and audit keys;
- **buckets**: key pinning, the access-log bucket (both accounts) and the audit bucket;
- **queues and topics**: the zone queues, the dead-letter queue, the alarm topic;
- **service roles**, by concern: network flow logs, pipeline, catalog, security account (with the
  prod roles it reads through: the trail's log delivery, the metrics sharing).

The last four grant AWS services (or the lake's other account), not personas, so they play no part
in the access matrix; what each service grant is bounded by is in its docstring (confused-deputy safe).
Two renderings of "anyone" appear, on purpose: `"Principal": "*"` (:data:`EVERYBODY`, the lake access
policies) and `{"AWS": "*"}` (:data:`ANY_AWS_PRINCIPAL`, the CDK-era service and resource policies);
IAM treats them alike, and keeping each as it was keeps the templates unchanged.

The lake access model (docs/access.md explains it for users):

- Job function is the role (`/<lake>/<persona>/`); clearance is a second axis carried by the
  principal/session tag `clearance` (tag mode), or baked into one role per persona and clearance
  (`personas.clearance_mode: roles`, path `/<lake>/<persona>/<clearance>/`).
- Reads are an allow-list per clearance: for each level, a Deny with `StringNotEqualsIgnoreCase` on
  `s3:ExistingObjectTag/dataclassification` over *every* object-read action (`s3:GetObject*`), so
  an absent tag is denied too (fail-closed) and no JSON object repeats a key.
- Classification is set by the steward and the pipeline. Others may tag an upload only at or below
  their clearance, may never change or remove an existing classification, and may not tag at all
  in the landing zone. A tagged upload is authorized by S3 as `s3:PutObject` *and*
  `s3:PutObjectTagging` (AWS PutObject API reference), so personas keep `s3:PutObjectTagging` on
  what they may write and the bucket policy narrows it.
- S3 cannot require a tag on upload without breaking multipart uploads: UploadPart and
  CompleteMultipartUpload carry no tags, and no condition key separates them from an untagged
  PutObject. So an untagged upload is allowed where the caller may write, and lands fail-closed:
  unreadable by everyone but the steward and the pipeline.
- Object tags cannot guard overwrites or deletes (S3 does not evaluate `s3:ExistingObjectTag` on
  PutObject/DeleteObject): writes are guarded by zone and dataset prefix, versioning stays on, and
  only the steward may delete object versions.
- Everything denies requests without TLS, and uploads under any key but the zone's own.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import awacs.aws
from awacs.aws import (
    Action,
    Allow,
    ArnEquals,
    ArnLike,
    ArnNotLike,
    AWSPrincipal,
    Bool,
    BoolIfExists,
    Condition,
    ConditionElement,
    Deny,
    Everybody,
    Null,
    Principal,
    StringEquals,
    StringEqualsIgnoreCase,
    StringLike,
    StringNotEquals,
    StringNotEqualsIgnoreCase,
)
from awacs.helpers.trust import make_simple_assume_statement

from datalake_cfn.config import PERSONA_NAMES, LakeConfig
from datalake_cfn.naming import PARTITION, URL_SUFFIX, LakeNames


def to_plain(value: Any) -> Any:
    """The plain JSON value of an awacs object (or of dicts and lists holding them).

    awacs 2.6 serialises only through `json.dumps(cls=awsencode)`; the evaluator, the access
    matrix and `stacks.base.cfn()` want dicts, so this walks `JSONrepr()` the same way.
    """
    if hasattr(value, "JSONrepr"):
        return to_plain(value.JSONrepr())
    if isinstance(value, dict):
        return {key: to_plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [to_plain(item) for item in value]
    return value


class Statement(awacs.aws.Statement):
    """An awacs Statement that also gives its plain dict: `to_dict()` (what consumers evaluate or render)."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


class PolicyDocument(awacs.aws.PolicyDocument):
    """An awacs PolicyDocument that also gives its plain dict: `to_dict()`."""

    def to_dict(self) -> dict[str, Any]:
        return to_plain(self)


Policy = PolicyDocument

POLICY_VERSION = "2012-10-17"
TLS_SID = "DenyInsecureTransport"
CLASSIFICATION_TAG = "dataclassification"  # the object tag the pipeline writes (runtime.pipeline)
CLEARANCE_TAG = "clearance"  # the principal/session tag that carries a caller's clearance
PERSONA_TAG = "persona"

EXISTING_CLASSIFICATION = f"s3:ExistingObjectTag/{CLASSIFICATION_TAG}"
REQUESTED_CLASSIFICATION = f"s3:RequestObjectTag/{CLASSIFICATION_TAG}"
PRINCIPAL_CLEARANCE = f"aws:PrincipalTag/{CLEARANCE_TAG}"

# ==================================================================================================
# Shared: vocabulary, principals and the builders every section uses
# ==================================================================================================
# -- actions -------------------------------------------------------------------------------------
OBJECT_READ_ACTIONS = (
    "s3:GetObject",
    "s3:GetObjectVersion",
    "s3:GetObjectAttributes",
    "s3:GetObjectVersionAttributes",
    "s3:GetObjectTagging",
    "s3:GetObjectVersionTagging",
)
"""What a reader is granted on objects (SelectObjectContent is authorized as s3:GetObject)."""

READ_GUARDED_ACTIONS = ("s3:GetObject*", "s3:RestoreObject")
"""What the clearance Denies cover: every object-read action, present and future, by wildcard."""

BUCKET_LIST_ACTIONS = (
    "s3:ListBucket",
    "s3:ListBucketVersions",
    "s3:ListBucketMultipartUploads",
    "s3:GetBucketLocation",
)
OBJECT_WRITE_ACTIONS = (
    "s3:PutObject",
    "s3:PutObjectTagging",  # S3 also checks it for a PutObject that carries x-amz-tagging
    "s3:AbortMultipartUpload",
    "s3:ListMultipartUploadParts",
    "s3:DeleteObject",
)
TAGGING_ACTIONS = (
    "s3:PutObjectTagging",
    "s3:PutObjectVersionTagging",
    "s3:DeleteObjectTagging",
    "s3:DeleteObjectVersionTagging",
)
CLASSIFYING_ACTIONS = ("s3:PutObject", "s3:PutObjectTagging", "s3:PutObjectVersionTagging")
"""Actions whose request tags set a classification (checked against the caller's clearance)."""

GUARDRAIL_ACTIONS = (
    "s3:PutBucketPolicy",
    "s3:DeleteBucketPolicy",
    "s3:PutBucketVersioning",
    "s3:PutEncryptionConfiguration",
    "s3:PutBucketPublicAccessBlock",
    "s3:PutBucketObjectLockConfiguration",
    "s3:PutBucketOwnershipControls",
    "s3:PutBucketAcl",
    "s3:PutObjectAcl",
    "s3:PutObjectVersionAcl",
)
"""Bucket settings that are the guardrails themselves: managed by CloudFormation, no persona changes them."""

KMS_READ_ACTIONS = ("kms:Decrypt",)
KMS_WRITE_ACTIONS = ("kms:GenerateDataKey", "kms:Decrypt")  # Decrypt: multipart uploads re-read the data key
KMS_CRYPTO_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")
KMS_ADMIN_ACTIONS = (
    "kms:Describe*",
    "kms:Get*",
    "kms:List*",
    "kms:Enable*",
    "kms:Disable*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Create*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
)
"""The steward's administration of the zone keys (an identity-policy grant; no `kms:Delete*`)."""
ACCOUNT_KEY_ADMIN_ACTIONS = (
    "kms:Create*",
    "kms:Describe*",
    "kms:Enable*",
    "kms:List*",
    "kms:Put*",
    "kms:Update*",
    "kms:Revoke*",
    "kms:Disable*",
    "kms:Get*",
    "kms:Delete*",
    "kms:TagResource",
    "kms:UntagResource",
    "kms:ScheduleKeyDeletion",
    "kms:CancelKeyDeletion",
    "kms:RotateKeyOnDemand",
)
"""What every lake CMK's policy lets its own account administer (statement `KeyAdministration`)."""
ACCOUNT_KEY_USE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*", "kms:DescribeKey")
"""What the account may do with a lake CMK, through the key's services only (`UseThroughLakeServicesOnly`)."""
LOGS_KEY_ACTIONS = ("kms:Encrypt*", "kms:Decrypt*", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:Describe*")
PERSONA_KEY_VIA_S3_ACTIONS = ("kms:Decrypt", "kms:GenerateDataKey")
OPS_KEY_GLUE_ACTIONS = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey")

ZONE_KEY_SERVICES = ("s3", "sqs")
"""A zone key encrypts its bucket and its queues, nothing else."""
OPS_KEY_SERVICES = ("logs", "glue", "s3")
"""The ops key: CloudWatch Logs groups, Glue's security configuration, the Glue assets bucket."""
DLQ_KEY_SERVICES = ("sqs",)
ATHENA_KEY_SERVICES = ("s3", "athena")
AUDIT_KEY_VIA_SERVICES = ("s3", "sns")

LOG_WRITE_ACTIONS = ("logs:CreateLogStream", "logs:PutLogEvents")
GLUE_LOG_ACTIONS = ("logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey")
SCRATCH_ACTIONS = ("s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload")
VPC_ENI_ACTIONS = (
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
)
METRICS_READ_ACTIONS = (
    "cloudwatch:GetMetricData",
    "cloudwatch:GetMetricStatistics",
    "cloudwatch:ListMetrics",
    "cloudwatch:DescribeAlarms",
    "cloudwatch:DescribeAlarmHistory",
    "cloudwatch:GetMetricWidgetImage",
)
MACIE_RESULTS_PREFIX = "macie-discovery-results/"

# -- service principals ----------------------------------------------------------------------------
S3_SERVICE = "s3.amazonaws.com"
S3_LOGGING = "logging.s3.amazonaws.com"
LAMBDA_SERVICE = "lambda.amazonaws.com"
GLUE_SERVICE = "glue.amazonaws.com"
FLOW_LOGS_SERVICE = "vpc-flow-logs.amazonaws.com"
CLOUDTRAIL = "cloudtrail.amazonaws.com"
CLOUDWATCH = "cloudwatch.amazonaws.com"
MACIE = "macie.amazonaws.com"
SCHEDULER = "scheduler.amazonaws.com"

EVERYBODY = Principal(Everybody)
"""`"Principal": "*"`: anyone, as the lake access policies (zone buckets and keys) and the alarm topic write it."""
ANY_AWS_PRINCIPAL = Principal("AWS", "*")
"""`"Principal": {"AWS": "*"}`: how the other resource policies write anyone (as the CDK app wrote them)."""

GLUE_CATALOG_READ = (
    "glue:GetDatabase*",
    "glue:GetTable*",
    "glue:GetPartition*",
    "glue:BatchGetPartition",
    "glue:SearchTables",
)
GLUE_CATALOG_WRITE = ("glue:CreateTable", "glue:UpdateTable", "glue:DeleteTable", "glue:*Partition")
GLUE_JOBS = ("glue:*Job", "glue:*Jobs", "glue:*JobRun", "glue:*JobRuns", "glue:*JobBookmark")
"""Create, update, delete, get, start, stop jobs and runs, bookmarks (wildcards keep the policy small)."""
GLUE_CRAWLER = (
    "glue:GetCrawler",
    "glue:GetCrawlers",
    "glue:GetCrawlerMetrics",
    "glue:StartCrawler",
    "glue:StopCrawler",
    "glue:UpdateCrawler",
)
ATHENA_QUERY = (
    "athena:StartQueryExecution",
    "athena:StopQueryExecution",
    "athena:GetQuery*",
    "athena:BatchGetQueryExecution",
    "athena:ListQueryExecutions",
    "athena:GetWorkGroup",
)
QUICKSIGHT_USE = (
    "quicksight:DescribeDashboard",
    "quicksight:ListDashboards",
    "quicksight:DescribeAnalysis",
    "quicksight:ListAnalyses",
    "quicksight:CreateAnalysis",
    "quicksight:UpdateAnalysis",
    "quicksight:DescribeDataSet",
    "quicksight:ListDataSets",
    "quicksight:CreateDataSet",
    "quicksight:UpdateDataSet",
    "quicksight:PassDataSet",
    "quicksight:DescribeDataSource",
    "quicksight:ListDataSources",
    "quicksight:PassDataSource",
    "quicksight:GenerateEmbedUrlForRegisteredUser",
)
SQS_CONSUME = ("sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:ChangeMessageVisibility", "sqs:GetQueueAttributes")

# -- small builders --------------------------------------------------------------------------------
Resources = Iterable[str] | str


def _statement(
    sid: str,
    effect: str,
    actions: Iterable[str | Action],
    resources: Resources,
    condition: Condition | None = None,
    principal: Principal | None = None,
    *,
    not_resource: bool = False,
) -> Statement:
    """One awacs Statement: actions deduplicated in order, a resource list (or `NotResource`).

    Actions come as the `service:Action` strings of the constants above (the vocabulary the
    evaluator and the request builders share) and become awacs `Action` objects here.
    """
    props: dict[str, Any] = {"Sid": sid, "Effect": effect}
    if principal is not None:
        props["Principal"] = principal
    props["Action"] = [_action(a) for a in dict.fromkeys(actions)]
    props["NotResource" if not_resource else "Resource"] = _resource_list(resources)
    if condition is not None:
        props["Condition"] = condition
    return Statement(**props)


def _action(action: str | Action) -> Action:
    if isinstance(action, Action):
        return action
    prefix, _, name = action.partition(":")
    return Action(prefix, name or None)


def _resource_list(resources: Resources) -> list[str]:
    return [resources] if isinstance(resources, str) else list(dict.fromkeys(resources))


def conditions(*elements: ConditionElement) -> Condition:
    """An awacs Condition of `elements`, one JSON object per operator.

    Why merge: awacs keeps only the *last* element of a repeated operator class (its Condition is
    a dict keyed by operator), which would silently drop a guard. Elements of one operator are
    merged into one, in order; one condition key given twice with different values is a bug.
    """
    merged: dict[type[ConditionElement], dict[str, Any]] = {}
    for element in elements:
        keys = merged.setdefault(type(element), {})
        for key, value in element.get_dict().items():
            same = next((k for k in keys if k.lower() == key.lower()), None)  # condition keys ignore case
            if same is not None and keys[same] != value:
                raise ValueError(f"{element.condition} given {key!r} twice: {keys[same]!r} and {value!r}")
            keys[same or key] = value
    return Condition([operator(dict(keys)) for operator, keys in merged.items()])


def _sid(*parts: str) -> str:
    """IAM Sids are letters and digits only: `deny`, `read`, `above-internal` -> `DenyReadAboveInternal`."""
    out = ""
    for part in parts:
        for word in part.replace("_", "-").split("-"):
            out += word[:1].upper() + word[1:]
    return "".join(ch for ch in out if ch.isalnum())


def policy(statements: Iterable[Statement]) -> PolicyDocument:
    return PolicyDocument(Version=POLICY_VERSION, Statement=list(statements))


def objects(bucket_arn: str, prefix: str = "") -> str:
    return f"{bucket_arn}/{prefix}*"


def s3_arn(names: LakeNames, resource: str) -> str:
    """`arn:<partition>:s3:::<resource>`: a bucket, objects, or a pattern such as `*/*`."""
    return f"arn:{names.partition}:s3:::{resource}"


def any_object(names: LakeNames) -> str:
    """Every object of every bucket (`arn:<partition>:s3:::*/*`): where the identity-policy Denies apply."""
    return s3_arn(names, "*/*")


def any_s3(names: LakeNames) -> str:
    """Every bucket and object (`arn:<partition>:s3:::*`)."""
    return s3_arn(names, "*")


def write_resources(config: LakeConfig, arns: LakeArns, zone: str) -> list[str]:
    """Object ARNs writes may land on in a zone (see :func:`write_prefixes`)."""
    bucket = arns.bucket_arn(zone)
    prefixes = write_prefixes(config, zone)
    return [objects(bucket)] if prefixes is None else [objects(bucket, p) for p in prefixes]


def account_root(partition: str, account: str) -> str:
    """`arn:<partition>:iam::<account>:root`: the account as a principal (it delegates to its IAM policies)."""
    return f"arn:{partition}:iam::{account}:root"


def via_service(service: str, region: str, partition: str) -> str:
    """A regional service name (`s3` -> `s3.<region>.amazonaws.com`): the `kms:ViaService` value of a
    service prefix, and the regional service principal of those that have one (CloudWatch Logs).

    The domain follows the partition (`amazonaws.com.cn` in China), so in a template it is
    `${AWS::URLSuffix}`: the same template launches in every partition."""
    return f"{service}.{region}.{url_suffix(partition)}"


def url_suffix(partition: str) -> str:
    """The partition's service domain; CloudFormation's `${AWS::URLSuffix}` for a template's placeholder."""
    if partition == PARTITION:
        return URL_SUFFIX
    return "amazonaws.com.cn" if partition == "aws-cn" else "amazonaws.com"


def _via_s3(names: LakeNames) -> Condition:
    """The key is used only by S3 on the caller's behalf (so never for a direct kms:Decrypt)."""
    return conditions(StringEquals({"kms:ViaService": via_service("s3", names.region, names.partition)}))


def _via_s3_for_bucket(names: LakeNames, bucket_arn: str) -> Condition:
    """Through S3, for one bucket only: `kms:EncryptionContext:aws:s3:arn` is the object ARN, or the
    bucket ARN when S3 Bucket Keys are on."""
    return conditions(
        StringEquals({"kms:ViaService": via_service("s3", names.region, names.partition)}),
        StringLike({"kms:EncryptionContext:aws:s3:arn": bucket_and_objects(bucket_arn)}),
    )


def bucket_and_objects(bucket_arn: str) -> list[str]:
    """A bucket and every object in it: what a bucket-wide guard covers."""
    return [bucket_arn, objects(bucket_arn)]


def _principal_arn_not_like(arns: list[str]) -> ArnNotLike:
    return ArnNotLike({"aws:PrincipalArn": arns})


def _log_groups(names: LakeNames, prefix: str = "") -> str:
    """This account's and region's log groups whose name starts with `prefix`."""
    return f"arn:{names.partition}:logs:{names.region}:{names.account}:log-group:{prefix}*"


def _trust_statement(
    sid: str, principal: Principal, actions: Iterable[str], condition: Condition | None = None
) -> Statement:
    """A trust-policy Allow: who may assume the role (a trust policy names no Resource)."""
    props: dict[str, Any] = {"Sid": sid, "Effect": Allow, "Principal": principal}
    props["Action"] = [_action(a) for a in dict.fromkeys(actions)]
    if condition is not None:
        props["Condition"] = condition
    return Statement(**props)


def _service_trust(sid: str, service: str, condition: Condition | None = None) -> Statement:
    """One AWS service assumes the role: awacs' `make_simple_assume_statement` (the service as a list), with a Sid."""
    props = dict(make_simple_assume_statement(service).properties, Sid=sid)
    if condition is not None:
        props["Condition"] = condition
    return Statement(**props)


def _write_logs_statement(sid: str, log_group_arns: list[str], actions: Iterable[str] = LOG_WRITE_ACTIONS) -> Statement:
    """Write log events into the given groups only (a group's `Arn` attribute already covers its streams)."""
    return _statement(sid, Allow, actions, log_group_arns)


# -- the guards every resource policy shares -------------------------------------------------------
def _tls_guard(resources: Resources, actions: Iterable[str], principal: Principal, sid: str = TLS_SID) -> Statement:
    return _statement(sid, Deny, actions, resources, conditions(Bool({"aws:SecureTransport": "false"})), principal)


def deny_insecure_transport(resources: Resources, actions: Iterable[str] = ("s3:*",)) -> Statement:
    """A resource policy's TLS guard: every request without TLS is denied, whoever makes it (`Principal: *`)."""
    return _tls_guard(resources, actions, EVERYBODY)


def deny_insecure_transport_any_aws(resources: Resources, actions: Iterable[str] = ("s3:*",)) -> Statement:
    """The same TLS guard written with `Principal: {"AWS": "*"}`, as the CDK's `enforce_ssl` wrote it: the
    Glue, Athena, access-log and audit buckets, the zone queues and the dead-letter queue."""
    return _tls_guard(resources, actions, ANY_AWS_PRINCIPAL)


def key_pinning_denies(resources: Resources, key_arn: str, principal: Principal) -> list[Statement]:
    """Uploads may omit SSE headers (the bucket default applies `key_arn`) but may name no other key.

    An SSE header, if any, must name the key; `Null: false` is what keeps header-less requests out of
    the Denies. `principal`: :data:`EVERYBODY` in the zone buckets, :data:`ANY_AWS_PRINCIPAL` elsewhere.
    """
    return [
        _statement(
            "DenyUploadsUnderOtherKeys",
            Deny,
            ["s3:PutObject"],
            resources,
            conditions(
                StringNotEquals({"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn}),
                Null({"s3:x-amz-server-side-encryption-aws-kms-key-id": "false"}),
            ),
            principal,
        ),
        _statement(
            "DenyUploadsWithoutKms",
            Deny,
            ["s3:PutObject"],
            resources,
            conditions(
                StringNotEquals({"s3:x-amz-server-side-encryption": "aws:kms"}),
                Null({"s3:x-amz-server-side-encryption": "false"}),
            ),
            principal,
        ),
    ]


# ==================================================================================================
# Lake access: who may read, write and classify what (evaluated by the access matrix)
# ==================================================================================================
# -- zones and personas --------------------------------------------------------------------------
ZoneRole = Literal["landing", "intermediate", "curated", "sandbox"]
ALL_ZONE_ROLES: frozenset[str] = frozenset({"landing", "intermediate", "curated", "sandbox"})
PERSONA_READ_ROLES: Mapping[str, frozenset[str]] = {
    "steward": ALL_ZONE_ROLES,
    "engineer": ALL_ZONE_ROLES,
    "scientist": frozenset({"intermediate", "curated", "sandbox"}),
    "analyst": frozenset({"curated", "sandbox"}),
}
PERSONA_WRITE_ROLES: Mapping[str, frozenset[str]] = {
    "steward": ALL_ZONE_ROLES,
    "engineer": ALL_ZONE_ROLES,
    "scientist": frozenset({"curated"}),
    "analyst": frozenset({"sandbox"}),
}
CLASSIFIER_PERSONAS = frozenset({"steward"})
"""Personas that may set, change or remove any classification (with the pipeline roles)."""

GLUE_JOB = "glue-job"
CRAWLER = "crawler"
PIPELINE_PREFIX = "pipeline-"


def zone_roles(config: LakeConfig) -> dict[str, ZoneRole]:
    """Each zone's place in the lake, so the persona table works for any list of zones.

    The chain from the landing zone: its head is `landing` (raw), its last zone `curated`, the
    zones in between `intermediate` (staged); zones outside the chain are `sandbox`.
    """
    chain = [zone.name for zone in config.chain()]
    roles: dict[str, ZoneRole] = {}
    for zone in config.zones:
        if zone.name not in chain:
            roles[zone.name] = "sandbox"
        elif zone.name == chain[0] and len(chain) > 1:
            roles[zone.name] = "landing"
        elif zone.name == chain[-1]:
            roles[zone.name] = "curated"
        else:
            roles[zone.name] = "intermediate"
    return roles


def readable_zones(config: LakeConfig, persona: str) -> list[str]:
    roles = zone_roles(config)
    return [zone.name for zone in config.zones if roles[zone.name] in PERSONA_READ_ROLES[persona]]


def writable_zones(config: LakeConfig, persona: str) -> list[str]:
    roles = zone_roles(config)
    return [zone.name for zone in config.zones if roles[zone.name] in PERSONA_WRITE_ROLES[persona]]


def landing_zone(config: LakeConfig) -> str | None:
    return next((zone for zone, role in zone_roles(config).items() if role == "landing"), None)


def persona_clearance(config: LakeConfig, persona: str) -> str:
    """A persona's clearance in lake.yaml: its default, and the most a session tag can give it."""
    return getattr(config.personas, persona).clearance


def effective_clearance(config: LakeConfig, persona: str, session_clearance: str | None = None) -> str:
    """What a session reads at: its `clearance` session tag, capped at the persona's clearance."""
    maximum = persona_clearance(config, persona)
    if session_clearance is None:
        return maximum
    return min(session_clearance, maximum, key=config.level_rank)


def persona_clearances(config: LakeConfig, persona: str) -> list[str | None]:
    """The clearances a persona's roles are materialized for: `[None]` in tag mode; in roles mode
    every level up to the persona's clearance (one role each, `/<lake>/<persona>/<level>/`)."""
    if config.personas.clearance_mode == "roles":
        return list(config.levels_up_to(persona_clearance(config, persona)))
    return [None]


def principal_name(persona: str, clearance: str | None = None) -> str:
    """The principal key :attr:`LakeArns.role_arn` takes: `analyst`, or `analyst/internal` in roles mode."""
    return persona if clearance is None else f"{persona}/{clearance}"


def persona_principals(config: LakeConfig, personas: Iterable[str] = PERSONA_NAMES) -> list[str]:
    """Every persona role of the lake (one per persona, or one per persona and clearance)."""
    return [principal_name(p, c) for p in personas for c in persona_clearances(config, p)]


def pipeline_principal(zone: str) -> str:
    return f"{PIPELINE_PREFIX}{zone}"


def glue_job_clearance(config: LakeConfig) -> str:
    """The Glue job role reads at the lowest clearance of those who may pass it (scientist, engineer).

    Why: whoever starts a job reads through it, so it must not see more than its least-cleared user.
    """
    levels = [config.personas.scientist.clearance, config.personas.engineer.clearance]
    return min(levels, key=config.level_rank)


def principal_tags(config: LakeConfig, principal: str) -> dict[str, str]:
    """The IAM tags a role must carry: its default clearance (and persona) for the bucket policies.

    The stacks put these on the role resources; a session tag `clearance` overrides the role's tag
    in tag mode (that is how an IdP passes a person's clearance).
    """
    for persona in PERSONA_NAMES:
        for clearance in persona_clearances(config, persona):
            if principal == principal_name(persona, clearance):
                return {PERSONA_TAG: persona, CLEARANCE_TAG: clearance or persona_clearance(config, persona)}
    if principal == GLUE_JOB:
        return {CLEARANCE_TAG: glue_job_clearance(config)}
    return {}


# -- ARNs ------------------------------------------------------------------------------------------
def _static_key_id(lake: str, zone: str) -> str:
    """A deterministic fake KMS key id, so local policies and tests need no real key."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"datalake:{lake}:{zone}"))


def _static_key_arn(names: LakeNames, zone: str) -> str:
    return f"arn:{names.partition}:kms:{names.region}:{names.account}:key/{_static_key_id(names.lake, zone)}"


@dataclass(frozen=True)
class LakeArns:
    """How to name things in policies: plain ARN strings (local lake, tests) or CDK tokens (stacks).

    `role_arn` takes a principal key: a persona (`steward`), a persona and clearance in roles mode
    (`analyst-internal`, see :func:`principal_name`), `pipeline-<zone>`, `glue-job` or `crawler`.
    """

    config: LakeConfig
    names: LakeNames
    bucket_arn: Callable[[str], str]
    key_arn: Callable[[str], str]
    role_arn: Callable[[str], str]
    queue_arn: Callable[[str], str] | None = None
    dlq_key_arn: str | None = None
    extra_readers: tuple[str, ...] = field(default=())
    """ARNs of service roles that must read every object (Macie's service-linked role by default)."""

    @classmethod
    def static(cls, config: LakeConfig, names: LakeNames, key_arns: Mapping[str, str] | None = None) -> LakeArns:
        """Plain ARNs from naming.py; key ARNs from `key_arns` (zone -> ARN) or deterministic fake ids."""
        known = dict(key_arns or {})

        def key_arn(zone: str) -> str:
            return known.get(zone) or _static_key_arn(names, zone)

        return cls(
            config=config,
            names=names,
            bucket_arn=lambda zone: f"arn:{names.partition}:s3:::{names.bucket(zone)}",
            key_arn=key_arn,
            role_arn=lambda principal: static_role_arn(config, names, principal),
            queue_arn=names.queue_arn,
            dlq_key_arn=known.get("dlq") or _static_key_arn(names, ".dlq"),
        )

    def queue(self, queue_name: str) -> str:
        return (self.queue_arn or self.names.queue_arn)(queue_name)

    @property
    def readers_of_everything(self) -> tuple[str, ...]:
        return self.extra_readers or (macie_role_arn(self.names),)


def macie_role_arn(names: LakeNames) -> str:
    """Macie's classification jobs read every object through its service-linked role."""
    return (
        f"arn:{names.partition}:iam::{names.account}:role/aws-service-role/macie.amazonaws.com/"
        "AWSServiceRoleForAmazonMacie"
    )


def static_role_arn(config: LakeConfig, names: LakeNames, principal: str) -> str:
    """The ARN of a lake role from naming.py (persona roles carry their path)."""
    for persona in PERSONA_NAMES:
        for clearance in persona_clearances(config, persona):
            if principal == principal_name(persona, clearance):
                return names.role_arn(persona, clearance)
    if principal in (GLUE_JOB, CRAWLER) or principal.startswith(PIPELINE_PREFIX):
        return f"arn:{names.partition}:iam::{names.account}:role/{names.service_role_name(principal)}"
    raise KeyError(f"unknown principal {principal!r}")


# -- clearance statements (shared by identity and bucket policies) ---------------------------------
def _clearance_denies(
    config: LakeConfig,
    actions: Iterable[str],
    resources: Resources,
    tag_key: str,
    *,
    sid_prefix: str,
    clearance: str | None = None,
    only_tagged: bool = False,
    unless_principals: list[str] | None = None,
    principal: Principal | None = None,
) -> list[Statement]:
    """Allow-list Denies by clearance: one per level, plus one for a missing or unknown clearance.

    Each Deny matches when the object's (or request's) `tag_key` is *not* among the levels the
    caller's clearance allows (`StringNotEqualsIgnoreCase`, one key per operator: no JSON object
    repeats a key). A negated operator also matches an absent tag, so untagged objects are denied
    (fail-closed) unless `only_tagged` adds `Null: false`; request-tag Denies always use it, so
    requests without tags (UploadPart, CompleteMultipartUpload) are never blocked by them.
    `clearance=None` keys each Deny on `aws:PrincipalTag/clearance` (tag mode); a clearance given
    bakes it in (roles mode) as a single statement. `principal` is set on every Deny (`*` in a
    bucket policy, none in an identity policy).
    """
    actions = list(actions)

    def deny(sid: str, tag_test: ConditionElement, *extra: ConditionElement) -> Statement:
        tagged = [Null({tag_key: "false"})] if only_tagged else []
        exempt = [_principal_arn_not_like(unless_principals)] if unless_principals else []
        return _statement(sid, Deny, actions, resources, conditions(tag_test, *tagged, *extra, *exempt), principal)

    if clearance is not None:
        allowed = config.levels_up_to(clearance)
        return [deny(_sid(sid_prefix, "above", clearance), StringNotEqualsIgnoreCase({tag_key: allowed}))]
    statements = [
        deny(
            _sid(sid_prefix, "above", level),
            StringNotEqualsIgnoreCase({tag_key: config.levels_up_to(level)}),
            StringEqualsIgnoreCase({PRINCIPAL_CLEARANCE: level}),
        )
        for level in config.classification
    ]
    # No (or an unknown) clearance tag: every level is "above" it. The tag test moves to `Null`,
    # since the StringNotEqualsIgnoreCase slot now holds the clearance key.
    statements.append(
        deny(
            _sid(sid_prefix, "without", "clearance"),
            StringNotEqualsIgnoreCase({PRINCIPAL_CLEARANCE: list(config.classification)}),
        )
    )
    return statements


def persona_role_pattern(names: LakeNames, persona: str) -> str:
    """Every role of a persona, whatever its clearance: `arn:<partition>:iam::*:role/<lake>/<persona>/*`.

    Used only to *exempt* principals from bucket-policy Denies; the account is a wildcard so the
    pattern needs no token, and it grants nothing (a same-account identity policy still must allow).
    """
    return f"arn:{names.partition}:iam::*:role{names.role_path(persona)}*"


# -- identity policies ---------------------------------------------------------------------------
def _identity_clearance_denies(
    config: LakeConfig, names: LakeNames, persona: str, clearance: str | None
) -> list[Statement]:
    """A persona's clearance Denies: a cap at its role's clearance (baked), and in tag mode one Deny
    per lower level keyed on the session tag, so a session reads at min(session tag, cap).

    They cover classified objects in any bucket (`Null: false`); untagged objects are the zone
    bucket policies' business (fail-closed there, except for the steward and the services).
    """
    cap = clearance or persona_clearance(config, persona)
    anywhere = any_object(names)
    statements = [
        _statement(
            "DenyReadAbovePersonaClearance",
            Deny,
            READ_GUARDED_ACTIONS,
            anywhere,
            conditions(
                StringNotEqualsIgnoreCase({EXISTING_CLASSIFICATION: config.levels_up_to(cap)}),
                Null({EXISTING_CLASSIFICATION: "false"}),
            ),
        )
    ]
    if clearance is None:
        below = config.classification[: config.level_rank(cap)]
        wanted = {_sid("DenyRead", "above", level) for level in below} | {"DenyReadWithoutClearance"}
        statements += [
            s
            for s in _clearance_denies(
                config,
                READ_GUARDED_ACTIONS,
                anywhere,
                EXISTING_CLASSIFICATION,
                sid_prefix="DenyRead",
                only_tagged=True,
            )
            if s.Sid in wanted
        ]
    if persona not in CLASSIFIER_PERSONAS:
        statements.append(
            _statement(
                "DenyClassifyingAbovePersonaClearance",
                Deny,
                CLASSIFYING_ACTIONS,
                anywhere,
                conditions(
                    StringNotEqualsIgnoreCase({REQUESTED_CLASSIFICATION: config.levels_up_to(cap)}),
                    Null({REQUESTED_CLASSIFICATION: "false"}),
                ),
            )
        )
    return statements


def persona_identity_policy(
    config: LakeConfig, names: LakeNames, arns: LakeArns, persona: str, clearance: str | None = None
) -> PolicyDocument:
    """The IAM policy of a persona role. `clearance` given: the roles-mode role of that clearance.

    Grants follow the personas table; the clearance Denies cover classified objects in *any*
    bucket (a persona never reads an object classified above its clearance, wherever it is), and
    the zone bucket policies add the fail-closed rules for untagged objects. No statement grants
    `"Action": "*"`; the steward gets `s3:*` on the lake's zone buckets only.
    """
    return policy(persona_identity_statements(config, names, arns, persona, clearance))


def persona_identity_statements(
    config: LakeConfig, names: LakeNames, arns: LakeArns, persona: str, clearance: str | None = None
) -> list[Statement]:
    """The statements of :func:`persona_identity_policy`."""
    if persona not in PERSONA_NAMES:
        raise ValueError(f"unknown persona {persona!r}; use one of {', '.join(PERSONA_NAMES)}")
    if clearance is not None and clearance not in config.classification:
        raise ValueError(f"unknown clearance {clearance!r}; use one of {config.classification}")
    reads, writes = readable_zones(config, persona), writable_zones(config, persona)
    statements: list[Statement] = [
        _statement("ListZoneBuckets", Allow, BUCKET_LIST_ACTIONS, [arns.bucket_arn(z) for z in reads]),
    ]
    if persona == "steward":
        every = [arns.bucket_arn(zone.name) for zone in config.zones]
        statements.append(_statement("AdministerZoneData", Allow, ["s3:*"], every + [objects(b) for b in every]))
    else:
        statements.append(
            _statement("ReadZoneObjects", Allow, OBJECT_READ_ACTIONS, [objects(arns.bucket_arn(z)) for z in reads])
        )
        if writes:
            statements.append(
                _statement(
                    "WriteZoneObjects", Allow, OBJECT_WRITE_ACTIONS, [objects(arns.bucket_arn(z)) for z in writes]
                )
            )
    statements += _persona_key_statements(config, names, arns, persona)
    statements += _persona_service_statements(config, names, arns, persona)
    statements += _identity_clearance_denies(config, names, persona, clearance)
    if persona not in CLASSIFIER_PERSONAS:
        statements.append(
            _statement(
                "DenyTagRemovalAndVersionDeletes",
                Deny,
                ["s3:DeleteObjectVersion", "s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging"],
                any_object(names),
            )
        )
    statements.append(_statement("DenyGuardrailChanges", Deny, GUARDRAIL_ACTIONS, any_s3(names)))
    return statements


def _persona_key_statements(config: LakeConfig, names: LakeNames, arns: LakeArns, persona: str) -> list[Statement]:
    """Zone keys through S3 only: Decrypt where the persona reads, GenerateDataKey where it writes
    (every writable zone is also readable, so multipart uploads have their Decrypt)."""
    reads, writes = readable_zones(config, persona), writable_zones(config, persona)
    statements = [
        _statement(
            "DecryptZoneObjectsViaS3", Allow, KMS_READ_ACTIONS, [arns.key_arn(z) for z in reads], _via_s3(names)
        ),
    ]
    if writes:
        statements.append(
            _statement(
                "EncryptZoneObjectsViaS3",
                Allow,
                ["kms:GenerateDataKey"],
                [arns.key_arn(z) for z in writes],
                _via_s3(names),
            )
        )
    if persona == "steward":
        statements.append(
            _statement("AdministerZoneKeys", Allow, KMS_ADMIN_ACTIONS, [arns.key_arn(z.name) for z in config.zones])
        )
    return statements


def _glue_arns(names: LakeNames) -> dict[str, str]:
    base = f"arn:{names.partition}:glue:{names.region}:{names.account}"
    return {
        "catalog": f"{base}:catalog",
        "database": f"{base}:database/{names.glue_database}",
        "tables": f"{base}:table/{names.glue_database}/*",
        "jobs": f"{base}:job/{names.lake}-*",
        "crawler": f"{base}:crawler/{names.crawler}",
    }


def _persona_service_statements(config: LakeConfig, names: LakeNames, arns: LakeArns, persona: str) -> list[Statement]:
    """Beyond S3: catalog, Glue jobs and crawler, Athena, QuickSight, SageMaker, per the personas table."""
    partition = names.partition
    glue = _glue_arns(names)
    catalog = [glue["catalog"], glue["database"], glue["tables"]]
    workgroup = f"arn:{partition}:athena:{names.region}:{names.account}:workgroup/{names.athena_workgroup}"
    results = s3_arn(names, names.athena_results_bucket)
    glue_assets = s3_arn(names, names.glue_assets_bucket)
    statements = [
        _statement("QueryInLakeWorkgroup", Allow, ATHENA_QUERY, [workgroup]),
        # Query results under the caller's own session id: a lower-cleared analyst must not read
        # the results of a higher-cleared one.
        _statement(
            "OwnQueryResults",
            Allow,
            ["s3:GetObject", "s3:PutObject", "s3:AbortMultipartUpload", "s3:ListBucket", "s3:GetBucketLocation"],
            [results, objects(results, "${aws:userid}/")],
        ),
    ]
    if persona != "steward":  # the steward's glue:* covers the catalog, jobs and crawler
        statements.append(_statement("ReadCatalog", Allow, GLUE_CATALOG_READ, catalog))
    if persona == "engineer":
        statements.append(_statement("EditCatalog", Allow, GLUE_CATALOG_WRITE, catalog))
        statements.append(_statement("RunAndEditCrawler", Allow, GLUE_CRAWLER, [glue["crawler"]]))
    if persona == "steward":
        statements.append(_statement("AdministerCatalog", Allow, ["glue:*"], [*catalog, glue["jobs"], glue["crawler"]]))
    if persona in ("engineer", "scientist"):
        statements.append(_statement("RunAndEditGlueJobs", Allow, GLUE_JOBS, [glue["jobs"]]))
    if persona in ("steward", "engineer", "scientist"):
        statements.append(
            _statement(
                "GlueJobScripts",
                Allow,
                ["s3:GetObject", "s3:PutObject", "s3:ListBucket"],
                [glue_assets, objects(glue_assets, "scripts/")],
            )
        )
        passable = [arns.role_arn(GLUE_JOB)] + ([arns.role_arn(CRAWLER)] if persona != "scientist" else [])
        statements.append(
            _statement(
                "PassLakeGlueRoles",
                Allow,
                ["iam:PassRole"],
                passable,
                conditions(StringEquals({"iam:PassedToService": GLUE_SERVICE})),
            )
        )
    if persona == "scientist":
        statements.append(
            _statement(
                "UseSageMaker", Allow, ["sagemaker:*"], [f"arn:{partition}:sagemaker:{names.region}:{names.account}:*"]
            )
        )
    if persona == "analyst":
        statements.append(
            _statement("UseQuickSight", Allow, QUICKSIGHT_USE, [f"arn:{partition}:quicksight:*:{names.account}:*"])
        )
    return statements


def persona_trust(names: LakeNames, *, session_tags: bool) -> PolicyDocument:
    """The account decides who assumes a persona role (Identity Center, a SAML IdP...).

    With `session_tags` (clearance_mode `tag`), the caller may pass a `clearance` session tag, which
    overrides the role's tag for that session: that is how a person's lower clearance reaches the
    bucket policies. In roles mode the clearance is the role itself, so tagging is not allowed.
    """
    actions = ["sts:AssumeRole", "sts:TagSession"] if session_tags else ["sts:AssumeRole"]
    root = Principal("AWS", account_root(names.partition, names.account))
    return policy([_trust_statement("AccountAssumesPersona", root, actions)])


# -- who may do what to a zone -------------------------------------------------------------------
def _personas_for(config: LakeConfig, zone: str, table: Mapping[str, frozenset[str]]) -> list[str]:
    role = zone_roles(config)[zone]
    return [p for p in PERSONA_NAMES if role in table[p]]


def _pipelines_touching(config: LakeConfig, zone: str) -> list[str]:
    """The consumer of the zone (reads it) and the consumer writing into it (HEADs its outputs)."""
    return [pipeline_principal(z.name) for z in config.zones if z.next and (z.name == zone or z.next == zone)]


def _pipelines_into(config: LakeConfig, zone: str) -> list[str]:
    return [pipeline_principal(z.name) for z in config.zones if z.next == zone]


def zone_readers(config: LakeConfig, zone: str) -> list[str]:
    """Principal keys that may read a zone's objects: personas by the table, and the services."""
    principals = [
        principal_name(p, c)
        for p in _personas_for(config, zone, PERSONA_READ_ROLES)
        for c in persona_clearances(config, p)
    ]
    principals += [*_pipelines_touching(config, zone), CRAWLER]
    if zone in readable_zones(config, "scientist"):
        principals.append(GLUE_JOB)
    return principals


def zone_writers(config: LakeConfig, zone: str) -> list[str]:
    principals = [
        principal_name(p, c)
        for p in _personas_for(config, zone, PERSONA_WRITE_ROLES)
        for c in persona_clearances(config, p)
    ]
    principals += _pipelines_into(config, zone)
    if zone_roles(config)[zone] == "curated":
        principals.append(GLUE_JOB)
    return principals


@dataclass(frozen=True)
class _ZonePrincipals:
    """ARN lists and patterns a zone's bucket policy exempts from its Denies."""

    readers: list[str]
    writers: list[str]
    classifiers: list[str]
    unbounded: list[str]
    stewards: list[str]


def exemption_pattern(names: LakeNames, principal: str) -> str:
    """How the Deny guardrails name a lake role they exempt: a persona by its role path (every
    clearance role at once), a service role by its deterministic name (service roles live at path `/`).

    Plain strings, not role-ARN tokens, so a zone's policy stays small (a 12-zone lake's template
    must fit CloudFormation's 1 MB) and depends on no role. The account is a wildcard: an exemption
    only lifts a Deny, it grants nothing (a same-account identity policy must still allow).
    """
    if principal in PERSONA_NAMES:
        return persona_role_pattern(names, principal)
    return f"arn:{names.partition}:iam::*:role/{names.service_role_name(principal)}"


def _zone_principals(config: LakeConfig, names: LakeNames, arns: LakeArns, zone: str) -> _ZonePrincipals:
    """The exemption lists of a zone's Deny guardrails (see :func:`exemption_pattern`)."""

    def named(principals: Iterable[str]) -> list[str]:
        return [exemption_pattern(names, p) for p in principals]

    services_reading = named([*_pipelines_touching(config, zone), CRAWLER])
    glue_reads = named([GLUE_JOB]) if zone in readable_zones(config, "scientist") else []
    glue_writes = named([GLUE_JOB]) if zone_roles(config)[zone] == "curated" else []
    pipelines_in = named(_pipelines_into(config, zone))
    stewards = named(CLASSIFIER_PERSONAS)
    everything = list(arns.readers_of_everything)
    return _ZonePrincipals(
        readers=named(_personas_for(config, zone, PERSONA_READ_ROLES)) + services_reading + glue_reads + everything,
        writers=named(_personas_for(config, zone, PERSONA_WRITE_ROLES)) + pipelines_in + glue_writes,
        classifiers=stewards + pipelines_in,
        unbounded=stewards + services_reading + everything,
        stewards=stewards,
    )


# -- zone bucket policies --------------------------------------------------------------------------
def zone_bucket_policy_statements(config: LakeConfig, names: LakeNames, arns: LakeArns, zone: str) -> list[Statement]:
    """The zone bucket's policy: Denies only (same-account identity policies grant), so the bucket
    by itself enforces TLS, its own key, who may touch it, dataset prefixes, clearance (untagged
    objects fail closed) and who may classify."""
    bucket = arns.bucket_arn(zone)
    objs = [objects(bucket)]
    who = _zone_principals(config, names, arns, zone)
    not_a_service = BoolIfExists({"aws:PrincipalIsAWSService": "false"})
    everybody = EVERYBODY

    def deny(sid: str, actions: Iterable[str], *guards: ConditionElement) -> Statement:
        return _statement(sid, Deny, actions, objs, conditions(*guards), everybody)

    def unless(principals: list[str]) -> ArnNotLike:
        return _principal_arn_not_like(principals)

    statements = [
        deny_insecure_transport(bucket_and_objects(bucket)),
        # The zone key is pinned: without an SSE header the bucket default (the zone key) applies.
        *key_pinning_denies(objs, arns.key_arn(zone), everybody),
        deny("DenyReadsByOtherPrincipals", READ_GUARDED_ACTIONS, unless(who.readers), not_a_service),
        deny(
            "DenyWritesByOtherPrincipals",
            ["s3:PutObject", "s3:DeleteObject", *TAGGING_ACTIONS],
            unless(who.writers),
            not_a_service,
        ),
        deny("DenyVersionDeletes", ["s3:DeleteObjectVersion"], unless(who.stewards)),
    ]
    prefixes = write_prefixes(config, zone)
    if prefixes is not None:
        # Chained zones: writes only under the dataset prefixes (the pipeline's inputs and outputs).
        # Any bucket (`*`): a bucket policy only ever governs its own bucket, and the short form
        # keeps the policy small with many datasets.
        statements.append(
            _statement(
                "DenyWritesOutsideDatasets",
                Deny,
                ["s3:PutObject"],
                [s3_arn(names, f"*/{p}*") for p in prefixes],
                # Not strict: the pipeline also writes undeclared datasets (outside every prefix) onward.
                conditions(unless(who.stewards if config.strict else who.classifiers)),
                everybody,
                not_resource=True,
            )
        )
    statements.append(
        deny(
            "DenyReadUntaggedObjects",
            READ_GUARDED_ACTIONS,
            Null({EXISTING_CLASSIFICATION: "true"}),
            unless(who.unbounded),
        )
    )
    statements += _clearance_denies(
        config,
        READ_GUARDED_ACTIONS,
        objs,
        EXISTING_CLASSIFICATION,
        sid_prefix="DenyRead",
        unless_principals=who.unbounded,
        principal=everybody,
    )
    # Classification: only the steward and the pipeline change or remove one, or classify in the
    # landing zone; others classify new uploads at or below their clearance.
    statements.append(
        deny(
            "DenyReclassifying",
            TAGGING_ACTIONS,
            Null({EXISTING_CLASSIFICATION: "false"}),
            unless(who.classifiers),
        )
    )
    statements.append(
        deny(
            "DenyTagRemoval",
            ["s3:DeleteObjectTagging", "s3:DeleteObjectVersionTagging", "s3:PutObjectVersionTagging"],
            unless(who.classifiers),
        )
    )
    if zone_roles(config)[zone] == "landing":
        statements.append(deny("DenyClassifyingInLandingZone", TAGGING_ACTIONS, unless(who.classifiers)))
    statements += _clearance_denies(
        config,
        CLASSIFYING_ACTIONS,
        objs,
        REQUESTED_CLASSIFICATION,
        sid_prefix="DenyClassifying",
        only_tagged=True,
        unless_principals=who.classifiers,
        principal=everybody,
    )
    return statements


def write_prefixes(config: LakeConfig, zone: str) -> list[str] | None:
    """Key prefixes writes are confined to in a zone; None means anywhere (sandbox, or no datasets)."""
    if zone_roles(config)[zone] == "sandbox" or not config.datasets:
        return None
    return [d.key_prefix for d in config.datasets]


def zone_bucket_policy(config: LakeConfig, names: LakeNames, arns: LakeArns, zone: str) -> PolicyDocument:
    return policy(zone_bucket_policy_statements(config, names, arns, zone))


# -- zone key policies -----------------------------------------------------------------------------
def zone_key_policy_statements(config: LakeConfig, names: LakeNames, arns: LakeArns, zone: str) -> list[Statement]:
    """The zone key's policy statements (the stacks add the account-root statement, :func:`key_root_statement`).

    The key decrypts only through S3 for this bucket (and SQS for the zone's queue, for its
    consumer), only for the zone's readers and writers; S3 may use it to publish events into the
    zone's queue, from this bucket and account only (without it the publish fails silently).
    """
    arn = arns.role_arn
    readers = [arn(p) for p in zone_readers(config, zone)] + list(arns.readers_of_everything)
    writers = [arn(p) for p in zone_writers(config, zone)]
    stewards = [arn(p) for p in persona_principals(config, CLASSIFIER_PERSONAS)]
    consumers = [arn(pipeline_principal(zone))] if config.zone(zone).next else []
    who = _zone_principals(config, names, arns, zone)

    def via_s3() -> Condition:
        return _via_s3_for_bucket(names, arns.bucket_arn(zone))

    statements = [
        _statement("AdministerKeyBySteward", Allow, KMS_ADMIN_ACTIONS, "*", principal=AWSPrincipal(stewards)),
        _statement("DecryptViaS3ForReaders", Allow, KMS_READ_ACTIONS, "*", via_s3(), AWSPrincipal(readers)),
        _statement("EncryptViaS3ForWriters", Allow, KMS_WRITE_ACTIONS, "*", via_s3(), AWSPrincipal(writers)),
    ]
    if consumers:
        statements.append(
            _statement(
                "DecryptQueueForConsumer",
                Allow,
                # GenerateDataKey: the shared queue's consumer forwards own-queue datasets' events.
                ["kms:Decrypt", "kms:GenerateDataKey"]
                if any(d.own_queue for d in config.datasets)
                else ["kms:Decrypt"],
                "*",
                conditions(StringEquals({"kms:ViaService": via_service("sqs", names.region, names.partition)})),
                AWSPrincipal(consumers),
            )
        )
    statements.append(
        _statement(
            "AllowS3EventsToZoneQueue",
            Allow,
            ["kms:GenerateDataKey", "kms:Decrypt"],
            "*",
            conditions(
                StringEquals({"aws:SourceAccount": names.account}),
                ArnLike({"aws:SourceArn": arns.bucket_arn(zone)}),
            ),
            Principal("Service", S3_SERVICE),
        )
    )
    statements.append(
        _statement(
            "DenyKeyUseByOtherPrincipals",
            Deny,
            KMS_CRYPTO_ACTIONS,
            "*",
            conditions(
                _principal_arn_not_like(list(dict.fromkeys(who.readers + who.writers))),
                BoolIfExists({"aws:PrincipalIsAWSService": "false"}),
            ),
            EVERYBODY,
        )
    )
    statements.append(deny_insecure_transport("*", ["kms:*"]))
    return statements


def key_root_statement(names: LakeNames) -> Statement:
    """The account-root statement every key carries: it delegates the key to identity policies."""
    root = account_root(names.partition, names.account)
    return _statement("EnableIamPolicies", Allow, ["kms:*"], "*", principal=AWSPrincipal(root))


def zone_key_policy(config: LakeConfig, names: LakeNames, arns: LakeArns, zone: str) -> PolicyDocument:
    """The whole key policy as the local lake and the tests use it: the statements plus the
    account-root statement (:func:`key_root_statement`)."""
    return policy([key_root_statement(names), *zone_key_policy_statements(config, names, arns, zone)])


# -- the lake roles' access statements (pipeline, Glue job, crawler) -------------------------------
def pipeline_role_statements(
    config: LakeConfig, names: LakeNames, arns: LakeArns, zone: str, queue_names: list[str]
) -> list[Statement]:
    """A zone consumer's least privilege: read its zone, write the next (dataset prefixes), HEAD
    and list the next (so a missing output is a 404, not a 403), use the two keys, tag objects,
    consume its queues, send to the DLQ."""
    target = config.zone(zone).next
    if target is None:
        raise ValueError(f"zone {zone!r} has no next zone, so no consumer")
    source_bucket, target_bucket = arns.bucket_arn(zone), arns.bucket_arn(target)
    via_sqs = conditions(StringEquals({"kms:ViaService": via_service("sqs", names.region, names.partition)}))
    statements = [
        _statement("ListSourceAndTarget", Allow, ["s3:ListBucket"], [source_bucket, target_bucket]),
        _statement("ReadSourceObjects", Allow, ["s3:GetObject", "s3:GetObjectVersion"], [objects(source_bucket)]),
        _statement("HeadTargetObjects", Allow, ["s3:GetObject"], [objects(target_bucket)]),
        _statement(
            "WriteAndTagTargetObjects",
            Allow,
            ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:ListMultipartUploadParts"],
            write_resources(config, arns, target) if config.strict else [objects(target_bucket)],
        ),
        _statement(
            "DecryptSourceViaS3AndSqs",
            Allow,
            ["kms:Decrypt"],
            [arns.key_arn(zone)],
            conditions(
                StringEquals(
                    {
                        "kms:ViaService": [
                            via_service("s3", names.region, names.partition),
                            via_service("sqs", names.region, names.partition),
                        ]
                    }
                )
            ),
        ),
        _statement("EncryptTargetViaS3", Allow, KMS_WRITE_ACTIONS, [arns.key_arn(target)], _via_s3(names)),
        _statement("ConsumeZoneQueues", Allow, SQS_CONSUME, [arns.queue(q) for q in queue_names]),
        _statement("SendToDeadLetterQueue", Allow, ["sqs:SendMessage"], [arns.queue(names.dlq)]),
    ]
    own_queues = [names.queue(zone, d.name) for d in config.datasets if d.own_queue]
    if own_queues:  # the shared queue's consumer forwards own-queue datasets' events (routing.forwarded_prefixes)
        statements.append(
            _statement("ForwardToDatasetQueues", Allow, ["sqs:SendMessage"], [arns.queue(q) for q in own_queues])
        )
        statements.append(
            _statement("EncryptForwardedEvents", Allow, ["kms:GenerateDataKey"], [arns.key_arn(zone)], via_sqs)
        )
    if arns.dlq_key_arn:
        statements.append(
            _statement("EncryptDeadLetters", Allow, ["kms:GenerateDataKey", "kms:Decrypt"], [arns.dlq_key_arn], via_sqs)
        )
    return statements


def glue_job_role_statements(config: LakeConfig, names: LakeNames, arns: LakeArns) -> list[Statement]:
    """The lake's Glue job role (passed by engineers and scientists): reads the zones a scientist
    reads, at its own clearance tag (see :func:`glue_job_clearance`), writes the curated zone only."""
    reads = readable_zones(config, "scientist")
    curated = [z for z, role in zone_roles(config).items() if role == "curated"]
    glue = _glue_arns(names)
    catalog = [glue["catalog"], glue["database"], glue["tables"]]
    assets = s3_arn(names, names.glue_assets_bucket)
    statements = [
        _statement("ListZoneBuckets", Allow, ["s3:ListBucket"], [arns.bucket_arn(z) for z in reads]),
        _statement(
            "ReadZoneObjects",
            Allow,
            ["s3:GetObject", "s3:GetObjectVersion"],
            [objects(arns.bucket_arn(z)) for z in reads],
        ),
        _statement("DecryptZoneObjects", Allow, KMS_READ_ACTIONS, [arns.key_arn(z) for z in reads], _via_s3(names)),
        _statement("ReadJobScripts", Allow, ["s3:GetObject", "s3:ListBucket"], [assets, objects(assets)]),
        _statement("ReadCatalog", Allow, GLUE_CATALOG_READ, catalog),
    ]
    if curated:
        statements += [
            _statement(
                "WriteCuratedObjects",
                Allow,
                ["s3:PutObject", "s3:PutObjectTagging", "s3:AbortMultipartUpload", "s3:DeleteObject"],
                [r for z in curated for r in write_resources(config, arns, z)],
            ),
            _statement(
                "EncryptCuratedObjects", Allow, KMS_WRITE_ACTIONS, [arns.key_arn(z) for z in curated], _via_s3(names)
            ),
            _statement("EditCuratedTables", Allow, GLUE_CATALOG_WRITE, catalog),
        ]
    statements += _clearance_denies(
        config,
        READ_GUARDED_ACTIONS,
        any_object(names),
        EXISTING_CLASSIFICATION,
        sid_prefix="DenyRead",
        clearance=glue_job_clearance(config),
        only_tagged=True,
    )
    return statements


def crawler_role_statements(config: LakeConfig, names: LakeNames, arns: LakeArns) -> list[Statement]:
    """The crawler reads every zone (schemas only leave it) and writes the catalog."""
    zones = [zone.name for zone in config.zones]
    glue = _glue_arns(names)
    return [
        _statement("ListZoneBuckets", Allow, ["s3:ListBucket"], [arns.bucket_arn(z) for z in zones]),
        _statement("ReadZoneObjects", Allow, ["s3:GetObject"], [objects(arns.bucket_arn(z)) for z in zones]),
        _statement("DecryptZoneObjects", Allow, KMS_READ_ACTIONS, [arns.key_arn(z) for z in zones], _via_s3(names)),
        _statement(
            "WriteCatalog",
            Allow,
            GLUE_CATALOG_READ + GLUE_CATALOG_WRITE,
            [glue["catalog"], glue["database"], glue["tables"]],
        ),
    ]


def all_principals(config: LakeConfig) -> list[str]:
    """Every principal key the policies name."""
    return persona_principals(config) + [pipeline_principal(z.name) for z in config.chained_zones] + [GLUE_JOB, CRAWLER]


# ==================================================================================================
# Keys: what every lake CMK carries, and the ops, dead-letter, Athena and audit keys
# ==================================================================================================
# The zone keys' access statements are :func:`zone_key_policy_statements` (lake access); the templates
# put them after :func:`lake_key_base_statements`.
def deny_grants_except_for_aws_resources() -> Statement:
    """No KMS grant on a key unless an AWS service creates it for a resource it manages (Control Tower CT.KMS.PR.3).

    `kms:Create*` of the administration statement includes `kms:CreateGrant`; a grant would let its
    grantee use the key without the key policy naming it. The lake's services (S3, SQS, Athena...)
    use the keys directly (GenerateDataKey/Decrypt), never through grants, so this only closes a path.
    """
    return _statement(
        "DenyGrantsExceptForAwsResources",
        Deny,
        ["kms:CreateGrant"],
        "*",
        conditions(BoolIfExists({"kms:GrantIsForAWSResource": "false", "aws:PrincipalIsAWSService": "false"})),
        ANY_AWS_PRINCIPAL,
    )


def _account_key_statements(root: str, account: str, via_services: Sequence[str]) -> list[Statement]:
    """Administration by the account `root`; cryptographic use only through `via_services` (regional
    service names), by principals of `account`, still granted per principal by their IAM policies."""
    principal = Principal("AWS", root)
    statements = [_statement("KeyAdministration", Allow, ACCOUNT_KEY_ADMIN_ACTIONS, "*", principal=principal)]
    if via_services:
        statements.append(
            _statement(
                "UseThroughLakeServicesOnly",
                Allow,
                ACCOUNT_KEY_USE_ACTIONS,
                "*",
                conditions(StringEquals({"kms:CallerAccount": account, "kms:ViaService": list(via_services)})),
                principal,
            )
        )
    return statements


def lake_key_base_statements(names: LakeNames, via_services: Sequence[str]) -> list[Statement]:
    """What every lake CMK's policy starts with, instead of KMS's default `kms:*` for the account.

    Administration stays with the account (a key nobody can manage is a key nobody can rotate or
    retire); cryptographic use is only through `via_services` (service prefixes: `s3`, `sqs`...) and
    only by this account's principals; and no grants (:func:`deny_grants_except_for_aws_resources`).
    """
    root = account_root(names.partition, names.account)
    services = [via_service(service, names.region, names.partition) for service in via_services]
    return [*_account_key_statements(root, names.account, services), deny_grants_except_for_aws_resources()]


def cloudwatch_logs_key_statement(names: LakeNames) -> Statement:
    """CloudWatch Logs encrypts the lake's log groups with the ops key, for this account's groups only."""
    return _statement(
        "CloudWatchLogsEncryptsLakeLogs",
        Allow,
        LOGS_KEY_ACTIONS,
        "*",
        conditions(ArnLike({"kms:EncryptionContext:aws:logs:arn": _log_groups(names)})),
        Principal("Service", via_service("logs", names.region, names.partition)),
    )


def personas_via_s3_statement(sid: str, names: LakeNames, role_arns: Sequence[str], bucket_arn: str) -> Statement:
    """Persona roles may use a key through S3, for one bucket only (the Athena results, the Glue bucket).

    The persona identity policies grant the bucket's prefixes but no key; this key-policy grant
    completes them, bounded by the bucket's encryption context.
    """
    return _statement(
        sid,
        Allow,
        PERSONA_KEY_VIA_S3_ACTIONS,
        "*",
        _via_s3_for_bucket(names, bucket_arn),
        Principal("AWS", list(role_arns)),
    )


def dead_letter_key_policy(names: LakeNames) -> PolicyDocument:
    """The DLQ key: administered by the account; used only through SQS, by principals of the account.

    The account root here delegates to IAM (no one can Decrypt directly): the pipeline roles'
    `EncryptDeadLetters` statement (and the redrive of the zone queues, which SQS performs through
    the same service) is what actually grants use.
    """
    return policy(lake_key_base_statements(names, DLQ_KEY_SERVICES))


def audit_key_policy(*, partition: str, account: str, region: str, prod_account: str, trail_arn: str) -> PolicyDocument:
    """Administration by the security account; use only through S3 and SNS; the services on their own behalf.

    Nobody calls Decrypt on the audit key directly. CloudTrail encrypts the prod trail's files (only
    that trail, only prod's trails' encryption context), CloudWatch encrypts the prod alarms'
    messages into the encrypted topic, Macie its discovery results.
    """
    trail_source = ArnLike({"aws:SourceArn": trail_arn})
    prod_trails = f"arn:{partition}:cloudtrail:*:{prod_account}:trail/*"
    services = [via_service(service, region, partition) for service in AUDIT_KEY_VIA_SERVICES]
    cloudtrail = Principal("Service", CLOUDTRAIL)
    return policy(
        [
            *_account_key_statements(account_root(partition, account), account, services),
            _statement(
                "CloudTrailEncryptsProdTrail",
                Allow,
                ["kms:GenerateDataKey*"],
                "*",
                conditions(trail_source, StringLike({"kms:EncryptionContext:aws:cloudtrail:arn": prod_trails})),
                cloudtrail,
            ),
            _statement("CloudTrailDescribesKey", Allow, ["kms:DescribeKey"], "*", conditions(trail_source), cloudtrail),
            _statement(
                "ProdAlarmsPublishToEncryptedTopic",
                Allow,
                ["kms:GenerateDataKey*", "kms:Decrypt"],
                "*",
                conditions(StringEquals({"aws:SourceAccount": prod_account})),
                Principal("Service", CLOUDWATCH),
            ),
            _statement(
                "MacieWritesDiscoveryResults",
                Allow,
                ["kms:GenerateDataKey", "kms:Encrypt"],
                "*",
                conditions(StringEquals({"aws:SourceAccount": account})),
                Principal("Service", MACIE),
            ),
            deny_grants_except_for_aws_resources(),
        ]
    )


# ==================================================================================================
# Buckets: the Glue and Athena buckets' guards, the access-log buckets, the audit bucket
# ==================================================================================================
# The zone buckets' policies are :func:`zone_bucket_policy` (lake access).
def pin_bucket_key(bucket_arn: str, key_arn: str) -> list[Statement]:
    """A bucket's uploads may omit SSE headers (the bucket default applies `key_arn`) but may name no other key."""
    return key_pinning_denies([objects(bucket_arn)], key_arn, ANY_AWS_PRINCIPAL)


def access_log_bucket_policy(
    *, bucket_arn: str, account: str, sources: Iterable[tuple[str, str, str]]
) -> PolicyDocument:
    """TLS only; S3 server access logging delivers each source bucket's logs under `<source bucket>/`.

    `sources` are (Sid, bucket name, bucket ARN) triples: the prod account's lake buckets
    (`ServerAccessLogsFrom<Label>`, ARNs computed from their names, so this policy depends on none
    of them; each bucket's logging configuration references the log bucket already), or the audit
    bucket in the security account (`S3ServerAccessLogsDelivery`, by reference).
    """
    statements = [deny_insecure_transport_any_aws(bucket_and_objects(bucket_arn))]
    for sid, bucket_name, source_arn in sources:
        statements.append(
            _statement(
                sid,
                Allow,
                ["s3:PutObject"],
                [objects(bucket_arn, f"{bucket_name}/")],
                conditions(ArnLike({"aws:SourceArn": source_arn}), StringEquals({"aws:SourceAccount": account})),
                Principal("Service", S3_LOGGING),
            )
        )
    return policy(statements)


def audit_bucket_policy(*, bucket_arn: str, account: str, prod_account: str, trail_arn: str) -> PolicyDocument:
    """TLS only, never a delete, and writes only by the prod trail (under its own prefix) and Macie."""
    cloudtrail, macie = Principal("Service", CLOUDTRAIL), Principal("Service", MACIE)
    trail_source = {"aws:SourceArn": trail_arn}
    macie_source = conditions(StringEquals({"aws:SourceAccount": account}))
    return policy(
        [
            deny_insecure_transport_any_aws(bucket_and_objects(bucket_arn)),
            _statement(
                "AuditRecordsAreNeverDeleted",
                Deny,
                ["s3:DeleteObject", "s3:DeleteObjectVersion", "s3:DeleteBucket", "s3:BypassGovernanceRetention"],
                bucket_and_objects(bucket_arn),
                principal=ANY_AWS_PRINCIPAL,
            ),
            _statement(
                "CloudTrailChecksBucketAcl",
                Allow,
                ["s3:GetBucketAcl"],
                [bucket_arn],
                conditions(StringEquals(trail_source)),
                cloudtrail,
            ),
            _statement(
                "CloudTrailDeliversProdTrail",
                Allow,
                ["s3:PutObject"],
                [objects(bucket_arn, f"AWSLogs/{prod_account}/")],
                conditions(StringEquals({**trail_source, "s3:x-amz-acl": "bucket-owner-full-control"})),
                cloudtrail,
            ),
            _statement(
                "MacieWritesDiscoveryResults",
                Allow,
                ["s3:PutObject"],
                [objects(bucket_arn, MACIE_RESULTS_PREFIX)],
                macie_source,
                macie,
            ),
            _statement("MacieLocatesResultsBucket", Allow, ["s3:GetBucketLocation"], [bucket_arn], macie_source, macie),
        ]
    )


# ==================================================================================================
# Queues and topics: the zone queues, the dead-letter queue, the alarm topic
# ==================================================================================================
def zone_queue_policy(names: LakeNames, queue_arn: str, bucket_arn: str) -> PolicyDocument:
    """TLS only, and only the zone's bucket, in this account, may publish its events into the queue.

    `bucket_arn` is computed from naming: the bucket depends on this policy (S3 tests the
    notification target when the configuration is written), so it cannot reference the bucket.
    """
    return policy(
        [
            deny_insecure_transport_any_aws([queue_arn], ["sqs:*"]),
            _statement(
                "S3PublishesZoneEvents",
                Allow,
                ["sqs:SendMessage"],
                [queue_arn],
                conditions(
                    ArnEquals({"aws:SourceArn": bucket_arn}), StringEquals({"aws:SourceAccount": names.account})
                ),
                Principal("Service", S3_SERVICE),
            ),
        ]
    )


def dead_letter_queue_policy(queue_arn: str) -> PolicyDocument:
    """The DLQ accepts no request without TLS (what the CDK's `enforce_ssl` wrote)."""
    return policy([deny_insecure_transport_any_aws([queue_arn], ["sqs:*"])])


def alarm_topic_policy(*, topic_arn: str, prod_account: str, alarm_arn_pattern: str) -> PolicyDocument:
    """TLS only; CloudWatch publishes for the lake's alarms (`<lake>-*`) of the prod account only."""
    return policy(
        [
            _tls_guard([topic_arn], ["sns:Publish"], EVERYBODY, sid="AllowPublishThroughSSLOnly"),
            _statement(
                "ProdAlarmsPublish",
                Allow,
                ["sns:Publish"],
                [topic_arn],
                conditions(
                    StringEquals({"aws:SourceAccount": prod_account}), ArnLike({"aws:SourceArn": alarm_arn_pattern})
                ),
                Principal("Service", CLOUDWATCH),
            ),
        ]
    )


# ==================================================================================================
# Service roles, by concern
# ==================================================================================================
# -- network: VPC Flow Logs ------------------------------------------------------------------------
def flow_log_trust() -> PolicyDocument:
    """Only VPC Flow Logs may assume the flow-log role."""
    return policy([_service_trust("VpcFlowLogsAssumesRole", FLOW_LOGS_SERVICE)])


def flow_log_delivery(log_group_arn: str) -> PolicyDocument:
    """Write flow records into the one flow-log group (what CDK's `to_cloud_watch_logs` granted)."""
    actions = [*LOG_WRITE_ACTIONS, "logs:DescribeLogStreams"]
    return policy([_write_logs_statement("WriteFlowLogRecords", [log_group_arn], actions)])


# -- pipeline: what a zone consumer needs to run at all --------------------------------------------
# (its lake-wide rules are :func:`pipeline_role_statements`)
def lambda_trust_policy() -> PolicyDocument:
    """Only Lambda assumes a pipeline role (the consumers of one zone)."""
    return policy([_service_trust("LambdaAssumesPipelineRole", LAMBDA_SERVICE)])


def vpc_network_interface_statements() -> list[Statement]:
    """What Lambda needs to attach a function to the private subnets.

    These EC2 actions support no resource-level permissions, hence `*` (the CDK attached the same
    statement instead of the broader AWSLambdaVPCAccessExecutionRole managed policy).
    """
    return [_statement("ManageVpcNetworkInterfaces", Allow, VPC_ENI_ACTIONS, "*")]


def consumer_log_statements(log_group_arns: list[str]) -> list[Statement]:
    """Write to the consumers' own log groups only (they are created by the template, encrypted)."""
    return [_write_logs_statement("WriteConsumerLogs", log_group_arns)]


# -- catalog: the Glue roles beyond their data -----------------------------------------------------
# (their lake-wide rules are :func:`glue_job_role_statements` and :func:`crawler_role_statements`)
def glue_trust() -> PolicyDocument:
    """Glue (crawler or job run) assumes the role; nothing else does (the service as a string, not a list)."""
    return policy([_trust_statement("GlueAssumesRole", Principal("Service", GLUE_SERVICE), ["sts:AssumeRole"])])


def glue_service_statements(names: LakeNames, logs_prefix: str, ops_key_arn: str) -> list[Statement]:
    """What every Glue role needs beyond its data: its log groups, and the ops key (Glue's CloudWatch
    logs and job bookmarks are encrypted with it by the security configuration)."""
    return [
        _statement("WriteGlueLogs", Allow, GLUE_LOG_ACTIONS, [_log_groups(names, logs_prefix)]),
        _statement("UseOpsKeyForLogsAndBookmarks", Allow, OPS_KEY_GLUE_ACTIONS, [ops_key_arn]),
    ]


def glue_scratch_statement(names: LakeNames) -> Statement:
    """Job scratch space (`--TempDir`) and Spark event logs, in the lake's Glue bucket."""
    bucket = s3_arn(names, names.glue_assets_bucket)
    return _statement(
        "GlueScratchSpace", Allow, SCRATCH_ACTIONS, [objects(bucket, "tmp/"), objects(bucket, "spark-logs/")]
    )


def read_scripts_statement(names: LakeNames, script_object_arns: Sequence[str]) -> Statement:
    """The published Glue scripts (in the code bucket), each one by its exact key."""
    return _statement("ReadPublishedScripts", Allow, ["s3:GetObject"], list(script_object_arns))


# -- security account: the Macie schedule; the prod roles it reads through --------------------------
def macie_schedule_trust(*, account: str, schedule_arn: str) -> PolicyDocument:
    """Only the lake's own schedule, in this account, may assume the role."""
    condition = conditions(StringEquals({"aws:SourceAccount": account}), ArnEquals({"aws:SourceArn": schedule_arn}))
    return policy([_service_trust("SchedulerAssumesRole", SCHEDULER, condition)])


def macie_schedule_permissions(job_arn_pattern: str) -> PolicyDocument:
    """Create (one-time) classification jobs, and nothing else: Macie assigns each job's id."""
    return policy([_statement("StartClassificationJobs", Allow, ["macie2:CreateClassificationJob"], [job_arn_pattern])])


def trail_logs_trust(trail_arn: str) -> PolicyDocument:
    """Only the lake's trail may assume its log-delivery role (prod account)."""
    condition = conditions(StringEquals({"aws:SourceArn": trail_arn}))
    return policy([_service_trust("CloudTrailAssumesRole", CLOUDTRAIL, condition)])


def trail_logs_permissions(log_group_arn: str) -> PolicyDocument:
    """Write the trail's events into its one log group (what CDK's `grant_write` granted)."""
    return policy([_write_logs_statement("WriteTrailEvents", [log_group_arn])])


def metrics_sharing_trust(security_account_root: str) -> PolicyDocument:
    """The security account (its dashboard) may assume the prod account's sharing role."""
    principal = Principal("AWS", security_account_root)
    return policy([_trust_statement("SecurityAccountReadsMetrics", principal, ["sts:AssumeRole"])])


def metrics_sharing_permissions() -> PolicyDocument:
    """Read-only CloudWatch metrics and alarms (these actions support no resource-level permissions)."""
    return policy([_statement("ReadMetricsAndAlarms", Allow, METRICS_READ_ACTIONS, "*")])
