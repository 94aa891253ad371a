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
- Every `glue_scripts/*.py` is deployed as a Glue job (`names.glue_job(<file stem>)`), its script an S3
  asset in the CDK bootstrap bucket (a CDK asset, not a `BucketDeployment`, which would be a
  custom-resource Lambda). Job scratch space (`--TempDir`) is the lake's Glue bucket.
- Athena workgroup `names.athena_workgroup`: results SSE-KMS in `names.athena_results_bucket`, each
  caller under its own `<aws:userid>/` prefix (see the workgroup below).

Crawler and jobs have their own roles with inline least-privilege policies (no
AWSGlueServiceRole managed policy, which grants far more than either needs).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from aws_cdk import ArnFormat, Stack, Tags
from aws_cdk import aws_athena as athena
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from datalake_cfn.access import policies
from datalake_cfn.catalog import catalog_tables
from datalake_cfn.config import LakeConfig
from datalake_cfn.etl import glue_jobs
from datalake_cfn.infra.access import LakeAccess
from datalake_cfn.infra.buckets import deny_insecure_transport, pin_bucket_key, secure_bucket
from datalake_cfn.infra.keys import lake_key
from datalake_cfn.infra.nag import acknowledge_inline_policy, actions, expect_wildcards, lake_objects
from datalake_cfn.infra.zone import ZoneResources, construct_id
from datalake_cfn.naming import LakeNames

GLUE_VERSION = "5.0"
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


class Catalog(Construct):
    """Glue database, crawler, jobs and the Athena workgroup of the lake."""

    def __init__(
        self,
        scope: Construct,
        construct_id_: str,
        *,
        config: LakeConfig,
        names: LakeNames,
        zones: dict[str, ZoneResources],
        logs_key: kms.Key,
        access_logs: s3.IBucket,
        job_scripts: list[Path],
    ) -> None:
        super().__init__(scope, construct_id_)
        stack = Stack.of(self)
        self.config = config
        self.names = names
        self.ops_key = logs_key
        self.zone_buckets = [zone.bucket_name for zone in zones.values()]
        self.database = glue.CfnDatabase(
            self,
            "Database",
            catalog_id=stack.account,
            database_input=glue.CfnDatabase.DatabaseInputProperty(
                name=names.glue_database,
                description=f"Tables of the {config.lake} lake, one per zone and dataset",
            ),
        )
        self.security_configuration = glue.CfnSecurityConfiguration(
            self,
            "SecurityConfiguration",
            name=names.glue_security_configuration,
            encryption_configuration=glue.CfnSecurityConfiguration.EncryptionConfigurationProperty(
                cloud_watch_encryption=glue.CfnSecurityConfiguration.CloudWatchEncryptionProperty(
                    cloud_watch_encryption_mode="SSE-KMS", kms_key_arn=logs_key.key_arn
                ),
                job_bookmarks_encryption=glue.CfnSecurityConfiguration.JobBookmarksEncryptionProperty(
                    job_bookmarks_encryption_mode="CSE-KMS", kms_key_arn=logs_key.key_arn
                ),
                # No S3 encryption override: every bucket's default encryption applies its own zone
                # key, and the zone bucket policies deny writes that name any other key.
                s3_encryptions=[glue.CfnSecurityConfiguration.S3EncryptionProperty(s3_encryption_mode="DISABLED")],
            ),
        )

        self.glue_bucket = secure_bucket(
            self,
            "GlueBucket",
            name=names.glue_assets_bucket,
            key=logs_key,
            access_logs=access_logs,
            replication_reason=(
                f"{names.glue_assets_bucket} only holds Glue scratch data and Spark event logs, which jobs recreate."
            ),
        )
        deny_insecure_transport(self.glue_bucket)

        self.crawler_role = self._crawler_role()
        self.crawler = glue.CfnCrawler(
            self,
            "Crawler",
            name=names.crawler,
            role=self.crawler_role.role_arn,
            database_name=names.glue_database,
            description=f"Catalogs every zone of the {config.lake} lake",
            targets=_crawler_targets(config, names, zones),
            schema_change_policy=glue.CfnCrawler.SchemaChangePolicyProperty(
                update_behavior="UPDATE_IN_DATABASE", delete_behavior="LOG"
            ),
            # Incremental recrawls exist for catalog targets only in S3-event mode, which needs a queue
            # of S3 events no one else consumes; each zone's queue feeds its consumer. With
            # MergeNewColumns a full recrawl only adds (columns, partitions); see docs/catalog.md.
            recrawl_policy=glue.CfnCrawler.RecrawlPolicyProperty(recrawl_behavior="CRAWL_EVERYTHING"),
            schedule=glue.CfnCrawler.ScheduleProperty(schedule_expression=CRAWLER_SCHEDULE),
            crawler_security_configuration=names.glue_security_configuration,
            configuration=json.dumps(CRAWLER_CONFIGURATION),
        )
        self.crawler.node.add_dependency(self.database)
        self.crawler.node.add_dependency(self.security_configuration)

        self.job_role = self._job_role()
        self.jobs = {script.stem: self._job(script, config) for script in job_scripts}

        self.athena_key = lake_key(
            self,
            "AthenaKey",
            alias=names.athena_key_alias,
            description=f"Encrypts the {config.lake} lake's Athena query results",
            via_services=["s3", "athena"],
        )
        self.athena_bucket = secure_bucket(
            self,
            "AthenaBucket",
            name=names.athena_results_bucket,
            key=self.athena_key,
            access_logs=access_logs,
            replication_reason=(
                f"{names.athena_results_bucket} holds query results, which are derived data: rerun the query."
            ),
        )
        deny_insecure_transport(self.athena_bucket)
        pin_bucket_key(self.athena_bucket, self.athena_key)
        self.workgroup = athena.CfnWorkGroup(
            self,
            "Workgroup",
            name=names.athena_workgroup,
            description=f"Queries over the {config.lake} lake; results encrypted with the lake's Athena key",
            state="ENABLED",
            work_group_configuration=athena.CfnWorkGroup.WorkGroupConfigurationProperty(
                # Results go under each caller's own `<aws:userid>/` prefix (the only place the persona
                # policies let them write and read results), which the client names per query; an
                # enforced location would be shared by all. Encryption stays guaranteed by the bucket:
                # its default is the Athena key and its policy denies any other.
                enforce_work_group_configuration=False,
                publish_cloud_watch_metrics_enabled=True,
                result_configuration=athena.CfnWorkGroup.ResultConfigurationProperty(
                    output_location=f"s3://{names.athena_results_bucket}/",
                    encryption_configuration=athena.CfnWorkGroup.EncryptionConfigurationProperty(
                        encryption_option="SSE_KMS", kms_key=self.athena_key.key_arn
                    ),
                ),
            ),
        )

    # -- roles -----------------------------------------------------------------------------------
    def _service_role(self, construct_id_: str, principal: str, description: str, logs_prefix: str) -> iam.Role:
        """A Glue service role with what every Glue role needs beyond its data: its log groups and
        the ops key (Glue's CloudWatch logs and job bookmarks are encrypted with it)."""
        stack = Stack.of(self)
        role = iam.Role(
            self,
            construct_id_,
            role_name=self.names.service_role_name(principal),
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description=description,
        )
        for tag, value in policies.principal_tags(self.config, principal).items():  # the job's clearance
            Tags.of(role).add(tag, value)
        acknowledge_inline_policy(
            role,
            f"The {principal} role's policy is generated for this lake (datalake_cfn.access.policies) and belongs to "
            "this role only.",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="WriteGlueLogs",
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents", "logs:AssociateKmsKey"],
                resources=[
                    stack.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name=f"{logs_prefix}*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            )
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="UseOpsKeyForLogsAndBookmarks",
                actions=["kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey", "kms:DescribeKey"],
                resources=[self.ops_key.key_arn],
            )
        )
        return role

    def _crawler_role(self) -> iam.Role:
        role = self._service_role(
            "CrawlerRole",
            policies.CRAWLER,
            f"Role of the {self.names.crawler} Glue crawler: reads the zones, writes the catalog",
            "/aws-glue/crawlers",
        )
        expect_wildcards(
            role,
            f"The {self.names.crawler} crawler reads every object of every zone (bucket/*: keys are data), "
            f"writes the tables of database {self.names.glue_database} (table/<db>/*, glue:*Partition, "
            "glue:GetTable*...) and writes Glue's crawler log groups (/aws-glue/crawlers*).",
            [
                lake_objects(self.zone_buckets),
                actions([*policies.GLUE_CATALOG_READ, *policies.GLUE_CATALOG_WRITE]),
                self._tables_pattern,
                self._logs_pattern("/aws-glue/crawlers"),
            ],
        )
        return role

    def _job_role(self) -> iam.Role:
        glue_bucket = f"arn:{Stack.of(self).partition}:s3:::{self.names.glue_assets_bucket}"
        role = self._service_role(
            "JobRole",
            policies.GLUE_JOB,
            "Role of the lake's Glue jobs (passed by engineers and scientists)",
            "/aws-glue/",
        )
        role.add_to_policy(
            iam.PolicyStatement(
                sid="GlueScratchSpace",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:AbortMultipartUpload"],
                resources=[f"{glue_bucket}/tmp/*", f"{glue_bucket}/spark-logs/*"],
            )
        )
        expect_wildcards(
            role,
            "The lake's Glue jobs read the zones a scientist reads and write the curated zone by dataset prefix "
            "(bucket/<prefix>*: keys are data), use the Glue bucket's tmp/, spark-logs/ and scripts/ prefixes, "
            f"update the tables of database {self.names.glue_database} (table/<db>/*, glue:*Partition...) and "
            "write Glue's own log groups (/aws-glue/*).",
            [
                lake_objects([*self.zone_buckets, self.names.glue_assets_bucket]),
                actions([*policies.GLUE_CATALOG_READ, *policies.GLUE_CATALOG_WRITE]),
                self._tables_pattern,
                self._logs_pattern("/aws-glue/"),
            ],
        )
        return role

    @property
    def _tables_pattern(self) -> str:
        return rf"Resource::arn:aws:glue:[a-z0-9-]+:\d{{12}}:table/{re.escape(self.names.glue_database)}/\*"

    @staticmethod
    def _logs_pattern(prefix: str) -> str:
        return rf"Resource::arn:<AWS::Partition>:logs:[a-z0-9-]+:\d{{12}}:log-group:{re.escape(prefix)}\*"

    def attach_access(self, access: LakeAccess) -> None:
        """The data permissions of the crawler and job roles, from datalake_cfn.access.policies."""
        for statement in access.crawler_statements():
            self.crawler_role.add_to_policy(statement)
        for statement in access.glue_job_statements():
            self.job_role.add_to_policy(statement)

    def _job(self, script: Path, config: LakeConfig) -> glue.CfnJob:
        asset = s3_assets.Asset(self, f"Script{construct_id(script.stem)}", path=str(script))
        self.job_role.add_to_policy(
            iam.PolicyStatement(
                sid=f"ReadScript{construct_id(script.stem)}",
                actions=["s3:GetObject"],
                resources=[asset.bucket.arn_for_objects(asset.s3_object_key)],
            )
        )
        return glue.CfnJob(
            self,
            f"Job{construct_id(script.stem)}",
            name=self.names.glue_job(script.stem),
            role=self.job_role.role_arn,
            description=f"datalake Glue job glue_scripts/{script.name}",
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=asset.s3_object_url
            ),
            glue_version=GLUE_VERSION,
            worker_type=JOB_WORKER_TYPE,
            number_of_workers=JOB_WORKERS,
            timeout=JOB_TIMEOUT_MINUTES,
            max_retries=0,
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
            security_configuration=self.names.glue_security_configuration,
            default_arguments={
                "--job-language": "python",
                "--TempDir": f"s3://{self.names.glue_assets_bucket}/tmp/",
                "--enable-continuous-cloudwatch-log": "true",
                "--enable-metrics": "true",
                "--enable-glue-datacatalog": "true",
                "--job-bookmark-option": "job-bookmark-enable",
                "--spark-event-logs-path": f"s3://{self.names.glue_assets_bucket}/spark-logs/",
                "--enable-spark-ui": "true",
                "--datalake-lake": config.lake,
                "--datalake-database": self.names.glue_database,
                **_script_arguments(config, self.names, script.stem),
            },
        )


def _script_arguments(config: LakeConfig, names: LakeNames, job: str) -> dict[str, str]:
    """The script's own arguments (source and target paths, database, table) from datalake_cfn.etl."""
    for spec in glue_jobs(config):
        if spec.job == job:
            return spec.arguments(names)
    return {}


def _crawler_targets(
    config: LakeConfig, names: LakeNames, zones: dict[str, ZoneResources]
) -> glue.CfnCrawler.TargetsProperty:
    """Every `<zone>_<dataset>` table as a catalog target; a lake without datasets crawls its buckets."""
    tables = [t.name for t in catalog_tables(config, names)]
    if not tables:
        return glue.CfnCrawler.TargetsProperty(
            s3_targets=[glue.CfnCrawler.S3TargetProperty(path=f"s3://{zone.bucket_name}/") for zone in zones.values()]
        )
    return glue.CfnCrawler.TargetsProperty(
        catalog_targets=[
            glue.CfnCrawler.CatalogTargetProperty(
                database_name=names.glue_database, tables=tables[i : i + CATALOG_TARGET_TABLES]
            )
            for i in range(0, len(tables), CATALOG_TARGET_TABLES)
        ]
    )
