"""The catalog: one Glue database, one crawler over every zone, the Glue jobs, and Athena.

- Database `names.glue_database`; crawler `names.crawler` over every table `<zone>_<dataset>` as a
  catalog target: S3-path targets would name each table after its folder (`sales`, the same in
  every zone, so Glue would add hash suffixes); catalog targets keep exactly the lake's names.
  Schema changes are merged, never destructive (new columns added, none dropped or retyped,
  deletions only logged: `CRAWLER_CONFIGURATION`, `SchemaChangePolicy`); it runs on a schedule
  and on demand (`datalake crawl --aws`, which first registers tables that are not in the
  catalog yet). Glue tables are NOT CloudFormation resources on purpose: a 12-zone x
  30-dataset lake would need 360 of them, over CloudFormation's 500-resource limit together
  with the rest of the stack (and a crawler-maintained table would drift from its template).
- Every `glue_scripts/*.py` is a Glue job (`names.glue_job(<file stem>)`); its script is published
  by `build.py publish` to `s3://${CodeBucket}/${CodeKeyPrefix}glue/<file>`, next to the consumer
  zip. Job scratch space (`--TempDir`) and Spark event logs are the lake's Glue bucket.
- Athena workgroup `names.athena_workgroup`: results SSE-KMS with the Athena key in
  `names.athena_results_bucket`, each caller under its own `<aws:userid>/` prefix.

Crawler and jobs have their own roles (no AWSGlueServiceRole managed policy, which grants far more
than either needs); their policies are separate `AWS::IAM::Policy` resources, so the zone key
policies can name the roles without a cycle. Glue writes its own log groups (`/aws-glue/...`),
encrypted with the ops key through the security configuration; the CDK app declared none either.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from troposphere import GetAtt, Output, Ref, Sub, Tags
from troposphere.athena import EncryptionConfiguration as AthenaEncryption
from troposphere.athena import ResultConfiguration, WorkGroup, WorkGroupConfiguration
from troposphere.glue import (
    CatalogTarget,
    CloudWatchEncryption,
    Crawler,
    Database,
    DatabaseInput,
    EncryptionConfiguration,
    ExecutionProperty,
    Job,
    JobBookmarksEncryption,
    JobCommand,
    RecrawlPolicy,
    S3Encryption,
    S3Target,
    Schedule,
    SchemaChangePolicy,
    SecurityConfiguration,
    Targets,
)
from troposphere.iam import PolicyType, Role
from troposphere.kms import Alias, Key
from troposphere.s3 import (
    AbortIncompleteMultipartUpload,
    Bucket,
    BucketEncryption,
    BucketPolicy,
    LifecycleConfiguration,
    LifecycleRule,
    LoggingConfiguration,
    NoncurrentVersionExpiration,
    OwnershipControls,
    OwnershipControlsRule,
    PublicAccessBlockConfiguration,
    ServerSideEncryptionByDefault,
    ServerSideEncryptionRule,
    VersioningConfiguration,
)

from datalake_cfn import artifacts
from datalake_cfn.access import policies
from datalake_cfn.catalog import catalog_tables
from datalake_cfn.config import ConfigError
from datalake_cfn.etl import GLUE_VERSION, glue_jobs
from datalake_cfn.naming import LogicalIds
from datalake_cfn.stacks import outputs, params
from datalake_cfn.stacks.base import (
    COMPLIANCE_PACKS,
    LAKE_TAG,
    LakeTemplate,
    cfn,
    eventbridge_notifications,
    nag_metadata,
    template_arns,
    tls_resources_by_reference,
)
from datalake_cfn.stacks.personas import athena_key_persona_statements, wildcard_acknowledgements

# -- logical ids of this module (LogicalIds has the ones other modules reference) -----------------------
DATABASE = "GlueDatabase"
SECURITY_CONFIGURATION = "GlueSecurityConfiguration"
CRAWLER = "GlueCrawler"
CRAWLER_POLICY = "CrawlerRolePolicy"
# `GlueJob<Name>` are the jobs (LogicalIds.job); a lowercase `s` after `GlueJob` can never be one of them.
GLUE_JOB_POLICY = "GlueJobsPolicy"
GLUE_BUCKET = "GlueBucket"
GLUE_BUCKET_POLICY = "GlueBucketPolicy"
ATHENA_KEY_ALIAS = "AthenaKeyAlias"
ATHENA_BUCKET = "AthenaBucket"
ATHENA_BUCKET_POLICY = "AthenaBucketPolicy"
WORKGROUP = "AthenaWorkgroup"

JOB_WORKER_TYPE = "G.1X"
JOB_WORKERS = 2
JOB_TIMEOUT_MINUTES = 120
CRAWLER_CONFIGURATION = {
    "Version": 1.0,
    "CrawlerOutput": {
        "Tables": {"AddOrUpdateBehavior": "MergeNewColumns"},  # add columns; never drop or retype one
        "Partitions": {"AddOrUpdateBehavior": "InheritFromTable"},  # partitions follow the table's schema
    },
    "CreatePartitionIndex": True,
}
CRAWLER_SCHEDULE = "cron(15 * * * ? *)"  # hourly, and on demand with `datalake crawl --aws`
CATALOG_TARGET_TABLES = 100  # tables per catalog target
NONCURRENT_VERSION_DAYS = 90
INCOMPLETE_UPLOAD_DAYS = 7
KEY_ROTATION_DAYS = 365
KEY_PENDING_WINDOW_DAYS = 30
REPLICATION_RULES = (
    "NIST.800.53.R5-S3BucketReplicationEnabled",
    "HIPAA.Security-S3BucketReplicationEnabled",
    "PCI.DSS.321-S3BucketReplicationEnabled",
)
CRAWLER_LOGS = "/aws-glue/crawlers"
JOB_LOGS = "/aws-glue/"


def add_catalog(lake: LakeTemplate) -> None:
    """Database, crawler and jobs with their roles, the Glue bucket, and Athena (key, bucket, workgroup)."""
    _add_database(lake)
    _add_security_configuration(lake)
    _add_glue_bucket(lake)
    _add_crawler_role(lake)
    _add_crawler(lake)
    scripts = artifacts.glue_job_scripts()
    _add_job_role(lake, scripts)
    for script in scripts:
        _add_job(lake, script)
    _add_athena(lake)
    _add_outputs(lake)


def _arn(logical_id: str) -> str:
    """`${Id.Arn}`: a reference inside a string that :func:`cfn` turns into `Fn::Sub`."""
    return f"${{{logical_id}.Arn}}"


# -- Glue ------------------------------------------------------------------------------------------------
def _add_database(lake: LakeTemplate) -> None:
    lake.add(
        Database(
            DATABASE,
            CatalogId=Ref("AWS::AccountId"),
            DatabaseInput=DatabaseInput(
                Name=lake.names.glue_database,
                Description=f"Tables of the {lake.config.lake} lake, one per zone and dataset",
            ),
        )
    )


def _add_security_configuration(lake: LakeTemplate) -> None:
    """Glue's CloudWatch logs and job bookmarks encrypted with the ops key.

    No S3 encryption override: every bucket's default encryption applies its own key, and the zone
    bucket policies deny writes that name any other key.
    """
    ops_key = GetAtt(LogicalIds.OPS_KEY, "Arn")
    lake.add(
        SecurityConfiguration(
            SECURITY_CONFIGURATION,
            Name=lake.names.glue_security_configuration,
            EncryptionConfiguration=EncryptionConfiguration(
                CloudWatchEncryption=CloudWatchEncryption(CloudWatchEncryptionMode="SSE-KMS", KmsKeyArn=ops_key),
                JobBookmarksEncryption=JobBookmarksEncryption(JobBookmarksEncryptionMode="CSE-KMS", KmsKeyArn=ops_key),
                S3Encryptions=[S3Encryption(S3EncryptionMode="DISABLED")],
            ),
        )
    )


def _add_crawler(lake: LakeTemplate) -> None:
    names = lake.names
    lake.add(
        Crawler(
            CRAWLER,
            Name=names.crawler,
            Role=GetAtt(LogicalIds.CRAWLER_ROLE, "Arn"),
            DatabaseName=names.glue_database,
            Description=f"Catalogs every zone of the {lake.config.lake} lake",
            Targets=_crawler_targets(lake),
            SchemaChangePolicy=SchemaChangePolicy(UpdateBehavior="UPDATE_IN_DATABASE", DeleteBehavior="LOG"),
            # Incremental recrawls exist for catalog targets only in S3-event mode, which needs a queue of
            # S3 events no one else consumes; each zone's queue feeds its consumer. With MergeNewColumns a
            # full recrawl only adds (columns, partitions); see docs/catalog.md.
            RecrawlPolicy=RecrawlPolicy(RecrawlBehavior="CRAWL_EVERYTHING"),
            Schedule=Schedule(ScheduleExpression=CRAWLER_SCHEDULE),
            CrawlerSecurityConfiguration=names.glue_security_configuration,
            Configuration=json.dumps(CRAWLER_CONFIGURATION),
            Tags={LAKE_TAG: lake.config.lake},
            # Database and security configuration are named, not referenced; the policy must be attached
            # before the first scheduled run.
            DependsOn=[DATABASE, SECURITY_CONFIGURATION, CRAWLER_POLICY],
        )
    )


def _crawler_targets(lake: LakeTemplate) -> Targets:
    """Every `<zone>_<dataset>` table as a catalog target; a lake without datasets crawls its buckets."""
    names = lake.names
    tables = [t.name for t in catalog_tables(lake.config, names)]
    if not tables:
        return Targets(S3Targets=[S3Target(Path=cfn(f"s3://{names.bucket(z.name)}/")) for z in lake.config.zones])
    return Targets(
        CatalogTargets=[
            CatalogTarget(DatabaseName=names.glue_database, Tables=tables[i : i + CATALOG_TARGET_TABLES])
            for i in range(0, len(tables), CATALOG_TARGET_TABLES)
        ]
    )


def _add_job(lake: LakeTemplate, script: Path) -> None:
    names = lake.names
    if LogicalIds.job(script.stem) in lake.template.resources:  # `role.py` would be the job role's `GlueJobRole`
        raise ConfigError(
            f"glue_scripts/{script.name}",
            [
                (
                    "job name",
                    f"its logical id {LogicalIds.job(script.stem)} is another resource's already; rename the script",
                )
            ],
        )
    glue_bucket = names.glue_assets_bucket
    lake.add(
        Job(
            LogicalIds.job(script.stem),
            Name=names.glue_job(script.stem),
            Role=GetAtt(LogicalIds.GLUE_JOB_ROLE, "Arn"),
            Description=f"datalake Glue job glue_scripts/{script.name}",
            Command=JobCommand(Name="glueetl", PythonVersion="3", ScriptLocation=Sub(_script_url(script))),
            GlueVersion=GLUE_VERSION,
            WorkerType=JOB_WORKER_TYPE,
            NumberOfWorkers=JOB_WORKERS,
            Timeout=JOB_TIMEOUT_MINUTES,
            MaxRetries=0,
            ExecutionProperty=ExecutionProperty(MaxConcurrentRuns=1),
            SecurityConfiguration=names.glue_security_configuration,
            DefaultArguments=cfn(
                {
                    "--job-language": "python",
                    "--TempDir": f"s3://{glue_bucket}/tmp/",
                    "--enable-continuous-cloudwatch-log": "true",
                    "--enable-metrics": "true",
                    "--enable-glue-datacatalog": "true",
                    "--job-bookmark-option": "job-bookmark-enable",
                    "--spark-event-logs-path": f"s3://{glue_bucket}/spark-logs/",
                    "--enable-spark-ui": "true",
                    "--datalake-lake": lake.config.lake,
                    "--datalake-database": names.glue_database,
                    **_script_arguments(lake, script.stem),
                }
            ),
            Tags={LAKE_TAG: lake.config.lake},
            DependsOn=[SECURITY_CONFIGURATION, GLUE_JOB_POLICY],
        )
    )


def _script_key(script: Path) -> str:
    """The script's key in the code bucket: `${CodeKeyPrefix}glue/<file>`, as `build.py publish` uploads it."""
    return f"${{{params.CODE_KEY_PREFIX}}}{artifacts.GLUE_SCRIPT_PREFIX}{script.name}"


def _script_url(script: Path) -> str:
    return f"s3://${{{params.CODE_BUCKET}}}/{_script_key(script)}"


def _script_arn(lake: LakeTemplate, script: Path) -> str:
    return f"arn:{lake.names.partition}:s3:::${{{params.CODE_BUCKET}}}/{_script_key(script)}"


def _script_arguments(lake: LakeTemplate, job: str) -> dict[str, str]:
    """The script's own arguments (source and target paths, database, table) from datalake_cfn.etl."""
    for spec in glue_jobs(lake.config):
        if spec.job == job:
            return spec.arguments(lake.names)
    return {}


# -- Glue roles ----------------------------------------------------------------------------------------
def _service_role(lake: LakeTemplate, logical_id: str, principal: str, description: str) -> Role:
    tags = {LAKE_TAG: lake.config.lake, **policies.principal_tags(lake.config, principal)}  # the job's clearance
    return lake.add(
        Role(
            logical_id,
            RoleName=lake.names.service_role_name(principal),
            AssumeRolePolicyDocument=cfn(policies.glue_trust()),
            Description=description,
            Tags=Tags(**dict(sorted(tags.items()))),
        )
    )


def _role_policy(
    lake: LakeTemplate,
    logical_id: str,
    role: str,
    statements: list[Any],
    owner: str,
) -> None:
    document = {"Version": policies.POLICY_VERSION, "Statement": [cfn(s) for s in statements]}
    lake.add(
        PolicyType(
            logical_id,
            PolicyName="datalake-glue",
            PolicyDocument=document,
            Roles=[Ref(role)],
            Metadata=nag_metadata(
                *wildcard_acknowledgements(document, owner),
                *(
                    (
                        f"{pack}-IAMNoInlinePolicy",
                        f"The {role} policy is generated for this lake (datalake_cfn.access.policies) and belongs "
                        "to that role only.",
                    )
                    for pack in COMPLIANCE_PACKS
                ),
            ),
        )
    )


def _add_crawler_role(lake: LakeTemplate) -> None:
    names = lake.names
    _service_role(
        lake,
        LogicalIds.CRAWLER_ROLE,
        policies.CRAWLER,
        f"Role of the {names.crawler} Glue crawler: reads the zones, writes the catalog",
    )
    ops_key = _arn(LogicalIds.OPS_KEY)
    _role_policy(
        lake,
        CRAWLER_POLICY,
        LogicalIds.CRAWLER_ROLE,
        [
            *policies.glue_service_statements(names, CRAWLER_LOGS, ops_key),
            *policies.crawler_role_statements(lake.config, names, template_arns(lake)),
        ],
        f"The {names.crawler} crawler (reads every zone, writes the catalog)",
    )


def _add_job_role(lake: LakeTemplate, scripts: list[Path]) -> None:
    names = lake.names
    _service_role(
        lake,
        LogicalIds.GLUE_JOB_ROLE,
        policies.GLUE_JOB,
        "Role of the lake's Glue jobs (passed by engineers and scientists)",
    )
    ops_key = _arn(LogicalIds.OPS_KEY)
    statements = [
        *policies.glue_service_statements(names, JOB_LOGS, ops_key),
        policies.glue_scratch_statement(names),
    ]
    if scripts:
        statements.append(policies.read_scripts_statement(names, [_script_arn(lake, s) for s in scripts]))
    statements += policies.glue_job_role_statements(lake.config, names, template_arns(lake))
    _role_policy(
        lake,
        GLUE_JOB_POLICY,
        LogicalIds.GLUE_JOB_ROLE,
        statements,
        "The lake's Glue job role (reads what a scientist reads, writes the curated zone)",
    )


# -- buckets and the Athena key ----------------------------------------------------------------------------
def _secure_bucket(lake: LakeTemplate, logical_id: str, name: str, key_id: str, replication_reason: str) -> Bucket:
    """A private, versioned SSE-KMS bucket (S3 Bucket Keys) logging to the access-log bucket, kept on deletion."""
    return lake.add(
        Bucket(
            logical_id,
            BucketName=cfn(name),
            BucketEncryption=BucketEncryption(
                ServerSideEncryptionConfiguration=[
                    ServerSideEncryptionRule(
                        BucketKeyEnabled=True,
                        ServerSideEncryptionByDefault=ServerSideEncryptionByDefault(
                            SSEAlgorithm="aws:kms", KMSMasterKeyID=GetAtt(key_id, "Arn")
                        ),
                    )
                ]
            ),
            VersioningConfiguration=VersioningConfiguration(Status="Enabled"),
            NotificationConfiguration=eventbridge_notifications(),
            PublicAccessBlockConfiguration=PublicAccessBlockConfiguration(
                BlockPublicAcls=True, BlockPublicPolicy=True, IgnorePublicAcls=True, RestrictPublicBuckets=True
            ),
            OwnershipControls=OwnershipControls(Rules=[OwnershipControlsRule(ObjectOwnership="BucketOwnerEnforced")]),
            LoggingConfiguration=LoggingConfiguration(
                DestinationBucketName=Ref(LogicalIds.ACCESS_LOG_BUCKET), LogFilePrefix=cfn(f"{name}/")
            ),
            LifecycleConfiguration=LifecycleConfiguration(
                Rules=[
                    LifecycleRule(
                        Id="expire-noncurrent-versions",
                        Status="Enabled",
                        NoncurrentVersionExpiration=NoncurrentVersionExpiration(NoncurrentDays=NONCURRENT_VERSION_DAYS),
                    ),
                    LifecycleRule(
                        Id="abort-incomplete-multipart-uploads",
                        Status="Enabled",
                        AbortIncompleteMultipartUpload=AbortIncompleteMultipartUpload(
                            DaysAfterInitiation=INCOMPLETE_UPLOAD_DAYS
                        ),
                    ),
                ]
            ),
            Tags=Tags(**{LAKE_TAG: lake.config.lake}),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
            Metadata=nag_metadata(*((rule, replication_reason) for rule in REPLICATION_RULES)),
        )
    )


def _bucket_policy(lake: LakeTemplate, logical_id: str, bucket_id: str, statements: list[Any]) -> None:
    document = tls_resources_by_reference(cfn(policies.policy(statements)), bucket_id)
    lake.add(BucketPolicy(logical_id, Bucket=Ref(bucket_id), PolicyDocument=document))


def _add_glue_bucket(lake: LakeTemplate) -> None:
    """Glue's scratch space, Spark event logs and the personas' own scripts/, under the ops key."""
    name = lake.names.glue_assets_bucket
    _secure_bucket(
        lake,
        GLUE_BUCKET,
        name,
        LogicalIds.OPS_KEY,
        f"The {lake.config.lake} lake's Glue bucket only holds Glue scratch data, Spark event logs and draft "
        "scripts, which jobs and their authors recreate (the published scripts live in the code bucket).",
    )
    arn = _arn(GLUE_BUCKET)
    _bucket_policy(
        lake,
        GLUE_BUCKET_POLICY,
        GLUE_BUCKET,
        [policies.deny_insecure_transport_any_aws(policies.bucket_and_objects(arn))],
    )


def _add_athena(lake: LakeTemplate) -> None:
    names = lake.names
    key_arn = _arn(LogicalIds.ATHENA_KEY)
    lake.add(
        Key(
            LogicalIds.ATHENA_KEY,
            Description=f"Encrypts the {lake.config.lake} lake's Athena query results",
            EnableKeyRotation=True,
            RotationPeriodInDays=KEY_ROTATION_DAYS,
            PendingWindowInDays=KEY_PENDING_WINDOW_DAYS,
            KeyPolicy=cfn(
                policies.policy(
                    [
                        *policies.lake_key_base_statements(names, policies.ATHENA_KEY_SERVICES),
                        *athena_key_persona_statements(lake),
                    ]
                )
            ),
            Tags=Tags(**{LAKE_TAG: lake.config.lake}),
            DeletionPolicy="Retain",
            UpdateReplacePolicy="Retain",
        )
    )
    lake.add(Alias(ATHENA_KEY_ALIAS, AliasName=names.athena_key_alias, TargetKeyId=Ref(LogicalIds.ATHENA_KEY)))
    bucket = names.athena_results_bucket
    _secure_bucket(
        lake,
        ATHENA_BUCKET,
        bucket,
        LogicalIds.ATHENA_KEY,
        f"The {lake.config.lake} lake's Athena results bucket holds query results, which are derived data: "
        "rerun the query.",
    )
    arn = _arn(ATHENA_BUCKET)
    _bucket_policy(
        lake,
        ATHENA_BUCKET_POLICY,
        ATHENA_BUCKET,
        [
            policies.deny_insecure_transport_any_aws(policies.bucket_and_objects(arn)),
            *policies.pin_bucket_key(arn, key_arn),
        ],
    )
    lake.add(
        WorkGroup(
            WORKGROUP,
            Name=names.athena_workgroup,
            Description=f"Queries over the {lake.config.lake} lake; results encrypted with the lake's Athena key",
            State="ENABLED",
            WorkGroupConfiguration=WorkGroupConfiguration(
                # Results go under each caller's own `<aws:userid>/` prefix (the only place the persona
                # policies let them write and read results), which the client names per query; an enforced
                # location would be shared by all. Encryption stays guaranteed by the bucket: its default is
                # the Athena key and its policy denies any other.
                EnforceWorkGroupConfiguration=False,
                PublishCloudWatchMetricsEnabled=True,
                ResultConfiguration=ResultConfiguration(
                    OutputLocation=cfn(f"s3://{bucket}/"),
                    EncryptionConfiguration=AthenaEncryption(
                        EncryptionOption="SSE_KMS", KmsKey=GetAtt(LogicalIds.ATHENA_KEY, "Arn")
                    ),
                ),
            ),
            Tags=Tags(**{LAKE_TAG: lake.config.lake}),
        )
    )


def _add_outputs(lake: LakeTemplate) -> None:
    values: list[tuple[str, Any, str]] = [
        (outputs.CRAWLER_ROLE_ARN, GetAtt(LogicalIds.CRAWLER_ROLE, "Arn"), "Role of the lake's Glue crawler"),
        (outputs.GLUE_JOB_ROLE_ARN, GetAtt(LogicalIds.GLUE_JOB_ROLE, "Arn"), "Role of the lake's Glue jobs"),
        (outputs.GLUE_DATABASE, Ref(DATABASE), "Glue database of the lake's tables"),
        (outputs.ATHENA_WORKGROUP, Ref(WORKGROUP), "Athena workgroup of the lake"),
    ]
    for name, value, description in values:
        lake.template.add_output(Output(name, Value=value, Description=description))
