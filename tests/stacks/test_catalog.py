"""The catalog in the rendered prod template: Glue database, crawler, security configuration, jobs and their
roles, the Glue bucket, and Athena (key, results bucket, workgroup).

The crawler's table names must be the ones the local crawl gives (`datalake_cfn.catalog.catalog_tables`),
and the job's arguments the ones the local runner passes (`datalake_cfn.etl.glue_jobs`): both are
read from the same modules here, so a divergence fails.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from datalake_cfn import artifacts
from datalake_cfn.access import policies
from datalake_cfn.catalog import catalog_tables
from datalake_cfn.etl import GLUE_VERSION, glue_jobs
from datalake_cfn.naming import LogicalIds
from datalake_cfn.stacks import catalog, outputs
from tests.stacks.templates import Rendered, arn_of, as_list, flatten, statement, statements


def crawler_of(lake: Rendered) -> dict[str, Any]:
    (crawler,) = lake.prod.of_type("AWS::Glue::Crawler").values()
    return crawler["Properties"]


def policy_of(lake: Rendered, role: str) -> dict[str, Any]:
    """The one AWS::IAM::Policy attached to a role (its statements, as rendered)."""
    attached = [
        p["Properties"]["PolicyDocument"]
        for p in lake.prod.of_type("AWS::IAM::Policy").values()
        if {"Ref": role} in p["Properties"]["Roles"]
    ]
    assert len(attached) == 1, f"{len(attached)} policies attached to {role}"
    return attached[0]


def sid_of(statement_: Any) -> str:
    """A statement's Sid, whether policies.py returned a dict or an awacs Statement."""
    return statement_["Sid"] if isinstance(statement_, dict) else json.loads(statement_.to_json())["Sid"]


def literal(value: Any) -> str:
    """A rendered string as CloudFormation resolves its text: `${!aws:userid}` in a Sub is `${aws:userid}`."""
    return flatten(value).replace("${!", "${")


# -- database and crawler ------------------------------------------------------------------------------------
def test_one_database_per_lake_named_from_naming(any_lake: Rendered) -> None:
    databases = list(any_lake.prod.of_type("AWS::Glue::Database").values())
    assert len(databases) == 1
    assert databases[0]["Properties"]["DatabaseInput"]["Name"] == any_lake.names.glue_database
    assert databases[0]["Properties"]["CatalogId"] == {"Ref": "AWS::AccountId"}  # any account


def test_the_crawler_targets_every_table_by_its_zone_dataset_name(any_lake: Rendered) -> None:
    targets = crawler_of(any_lake)["Targets"]
    assert "S3Targets" not in targets  # folder-named tables would collide across zones
    tables = [t for target in targets["CatalogTargets"] for t in target["Tables"]]
    assert tables == [spec.name for spec in catalog_tables(any_lake.config, any_lake.names)]
    assert {target["DatabaseName"] for target in targets["CatalogTargets"]} == {any_lake.names.glue_database}
    assert "curated_sales" in tables and "raw_customers" in tables


def test_one_crawler_over_every_zone_with_a_security_configuration(any_lake: Rendered) -> None:
    crawlers = list(any_lake.prod.of_type("AWS::Glue::Crawler").values())
    assert len(crawlers) == 1
    crawler = crawlers[0]["Properties"]
    names, config = any_lake.names, any_lake.config
    assert crawler["Name"] == names.crawler
    assert crawler["DatabaseName"] == names.glue_database
    targets = crawler["Targets"]
    if "CatalogTargets" in targets:  # every `<zone>_<dataset>` table, so every zone
        assert {c["DatabaseName"] for c in targets["CatalogTargets"]} == {names.glue_database}
        tables = {t for c in targets["CatalogTargets"] for t in c["Tables"]}
        assert tables == {names.table(z.name, d.name) for z in config.zones for d in config.datasets}
    else:
        paths = {flatten(t["Path"]) for t in targets["S3Targets"]}
        assert paths == {f"s3://{names.bucket(z.name)}/" for z in config.zones}
    assert crawler["CrawlerSecurityConfiguration"] == names.glue_security_configuration
    assert crawler["Role"] == arn_of(LogicalIds.CRAWLER_ROLE)
    # named, not referenced: the crawler must wait for them (and for its policy, before its first run)
    assert set(any_lake.prod.at(catalog.CRAWLER)["DependsOn"]) >= {
        catalog.DATABASE,
        catalog.SECURITY_CONFIGURATION,
        catalog.CRAWLER_POLICY,
    }


def test_schema_changes_are_merged_and_logged_never_destructive(any_lake: Rendered) -> None:
    crawler = crawler_of(any_lake)
    assert crawler["Name"] == any_lake.names.crawler
    assert crawler["SchemaChangePolicy"] == {"UpdateBehavior": "UPDATE_IN_DATABASE", "DeleteBehavior": "LOG"}
    assert "RecrawlBehavior" in crawler["RecrawlPolicy"]
    assert crawler["Schedule"] == {"ScheduleExpression": catalog.CRAWLER_SCHEDULE}
    configuration = json.loads(crawler["Configuration"])
    assert configuration["CrawlerOutput"]["Tables"] == {"AddOrUpdateBehavior": "MergeNewColumns"}
    assert configuration["CrawlerOutput"]["Partitions"] == {"AddOrUpdateBehavior": "InheritFromTable"}
    assert "Grouping" not in configuration  # an S3-target option, rejected with catalog targets


def test_a_big_lake_splits_its_tables_over_catalog_targets(big_lake: Rendered) -> None:
    targets = crawler_of(big_lake)["Targets"]["CatalogTargets"]
    assert all(len(t["Tables"]) <= catalog.CATALOG_TARGET_TABLES for t in targets)
    assert sum(len(t["Tables"]) for t in targets) == 12 * 30


def test_glue_security_configuration_encrypts_logs_and_bookmarks(any_lake: Rendered) -> None:
    (configuration,) = any_lake.prod.of_type("AWS::Glue::SecurityConfiguration").values()
    assert configuration["Properties"]["Name"] == any_lake.names.glue_security_configuration
    encryption = configuration["Properties"]["EncryptionConfiguration"]
    ops_key = arn_of(LogicalIds.OPS_KEY)
    assert encryption["CloudWatchEncryption"] == {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": ops_key}
    assert encryption["JobBookmarksEncryption"] == {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": ops_key}


# -- jobs ----------------------------------------------------------------------------------------------------
def jobs_by_name(lake: Rendered) -> dict[str, dict[str, Any]]:
    return {j["Properties"]["Name"]: j["Properties"] for j in lake.prod.of_type("AWS::Glue::Job").values()}


def test_the_glue_job_runs_on_glue_5_with_bookmarks_and_the_local_arguments(default_lake: Rendered) -> None:
    names = default_lake.names
    specs = glue_jobs(default_lake.config)
    assert [s.job for s in specs] == ["sales_daily_totals"]
    jobs = jobs_by_name(default_lake)
    for spec in specs:
        job = jobs[spec.name(names)]
        assert job["GlueVersion"] == GLUE_VERSION
        assert {"Name": job["Command"]["Name"], "PythonVersion": job["Command"]["PythonVersion"]} == {
            "Name": "glueetl",
            "PythonVersion": "3",
        }
        arguments = {key: flatten(value) for key, value in job["DefaultArguments"].items()}
        expected = {"--job-bookmark-option": "job-bookmark-enable", **spec.arguments(names)}
        assert {key: arguments.get(key) for key in expected} == expected
    assert GLUE_VERSION == "5.0"  # the newest Glue version


def test_every_glue_script_is_a_job_whose_script_is_published_in_the_code_bucket(default_lake: Rendered) -> None:
    scripts = artifacts.glue_job_scripts()
    names = default_lake.names
    jobs = jobs_by_name(default_lake)
    assert set(jobs) == {names.glue_job(s.stem) for s in scripts}
    readable = {
        flatten(r)
        for s in statements(policy_of(default_lake, LogicalIds.GLUE_JOB_ROLE))
        if "s3:GetObject" in as_list(s["Action"])
        for r in as_list(s["Resource"])
    }
    for script in scripts:
        job = jobs[names.glue_job(script.stem)]
        assert job["Command"]["Name"] == "glueetl"
        location = flatten(job["Command"]["ScriptLocation"])
        assert location == f"s3://${{CodeBucket}}/${{CodeKeyPrefix}}{artifacts.GLUE_SCRIPT_PREFIX}{script.name}"
        assert location.endswith(".py")
        # the job role reads exactly that object
        assert f"arn:${{AWS::Partition}}:s3:::${{CodeBucket}}/${{CodeKeyPrefix}}glue/{script.name}" in readable
        assert job["Role"] == arn_of(LogicalIds.GLUE_JOB_ROLE)
        assert job["SecurityConfiguration"] == names.glue_security_configuration
        assert flatten(job["DefaultArguments"]["--TempDir"]) == f"s3://{names.glue_assets_bucket}/tmp/"


def test_no_cdk_asset_bucket_nor_bootstrap_anywhere(any_lake: Rendered) -> None:
    text = json.dumps(any_lake.prod.template)
    assert "cdk-hnb659fds" not in text and "BootstrapVersion" not in text


# -- roles ---------------------------------------------------------------------------------------------------
def test_glue_roles_are_the_access_policies_roles_without_managed_or_inline_policies(any_lake: Rendered) -> None:
    names = any_lake.names
    for logical_id, principal, statements_of in (
        (LogicalIds.CRAWLER_ROLE, policies.CRAWLER, policies.crawler_role_statements),
        (LogicalIds.GLUE_JOB_ROLE, policies.GLUE_JOB, policies.glue_job_role_statements),
    ):
        role = any_lake.prod.props(logical_id)
        assert role["RoleName"] == names.service_role_name(principal)
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "glue.amazonaws.com"}
        assert "ManagedPolicyArns" not in role
        assert "Policies" not in role  # key policies name the role: its policy is a separate resource
        document = policy_of(any_lake, logical_id)
        arns = policies.LakeArns.static(any_lake.config, names)
        expected = {sid_of(s) for s in statements_of(any_lake.config, names, arns)}
        assert expected <= {s.get("Sid") for s in statements(document)}
        assert all(s.get("Sid") for s in statements(document))


def test_glue_roles_use_the_ops_key_and_write_their_own_log_groups(any_lake: Rendered) -> None:
    for role, logs in ((LogicalIds.CRAWLER_ROLE, "/aws-glue/crawlers*"), (LogicalIds.GLUE_JOB_ROLE, "/aws-glue/*")):
        document = policy_of(any_lake, role)
        ops = statement(document, "UseOpsKeyForLogsAndBookmarks")
        assert [flatten(r) for r in as_list(ops["Resource"])] == [f"${{{LogicalIds.OPS_KEY}.Arn}}"]
        logs_statement = statement(document, "WriteGlueLogs")
        (resource,) = as_list(logs_statement["Resource"])
        assert (
            flatten(resource) == f"arn:${{AWS::Partition}}:logs:${{AWS::Region}}:${{AWS::AccountId}}:log-group:{logs}"
        )


def test_glue_job_role_carries_its_clearance_tag(any_lake: Rendered) -> None:
    role = any_lake.prod.props(LogicalIds.GLUE_JOB_ROLE)
    tags = {t["Key"]: t["Value"] for t in role["Tags"]}
    assert tags[policies.CLEARANCE_TAG] == policies.glue_job_clearance(any_lake.config)


# -- Athena --------------------------------------------------------------------------------------------------
def test_athena_workgroup_encrypts_results_with_its_key(any_lake: Rendered) -> None:
    names = any_lake.names
    workgroups = any_lake.prod.of_type("AWS::Athena::WorkGroup")
    assert list(workgroups) == [catalog.WORKGROUP]
    workgroup = any_lake.prod.props(catalog.WORKGROUP)
    assert workgroup["Name"] == names.athena_workgroup
    assert workgroup["State"] == "ENABLED"
    results = workgroup["WorkGroupConfiguration"]["ResultConfiguration"]
    assert flatten(results["OutputLocation"]).startswith(f"s3://{names.athena_results_bucket}/")
    assert results["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": arn_of(LogicalIds.ATHENA_KEY),
    }
    bucket = any_lake.prod.props(catalog.ATHENA_BUCKET)
    assert flatten(bucket["BucketName"]) == names.athena_results_bucket
    default = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default["KMSMasterKeyID"] == arn_of(LogicalIds.ATHENA_KEY)
    document = any_lake.prod.props(catalog.ATHENA_BUCKET_POLICY)["PolicyDocument"]
    pinned = statement(document, "DenyUploadsUnderOtherKeys")["Condition"]["StringNotEquals"]
    assert {k: flatten(v) for k, v in pinned.items()} == {
        "s3:x-amz-server-side-encryption-aws-kms-key-id": f"${{{LogicalIds.ATHENA_KEY}.Arn}}"
    }
    assert statement(document, "DenyInsecureTransport")["Effect"] == "Deny"


def test_athena_key_rotates_is_kept_and_has_its_alias(any_lake: Rendered) -> None:
    key = any_lake.prod.at(LogicalIds.ATHENA_KEY)
    assert key["DeletionPolicy"] == key["UpdateReplacePolicy"] == "Retain"
    assert key["Properties"]["EnableKeyRotation"] is True
    (alias,) = (
        a["Properties"]
        for a in any_lake.prod.of_type("AWS::KMS::Alias").values()
        if a["Properties"]["AliasName"] == any_lake.names.athena_key_alias
    )
    assert alias["TargetKeyId"] == {"Ref": LogicalIds.ATHENA_KEY}
    use = statement(key["Properties"]["KeyPolicy"], "UseThroughLakeServicesOnly")
    services = {flatten(s) for s in as_list(use["Condition"]["StringEquals"]["kms:ViaService"])}
    assert services == {"s3.${AWS::Region}.${AWS::URLSuffix}", "athena.${AWS::Region}.${AWS::URLSuffix}"}


def test_glue_and_athena_buckets_are_private_versioned_logged_and_kept(any_lake: Rendered) -> None:
    for logical_id, key, policy_id in (
        (catalog.GLUE_BUCKET, LogicalIds.OPS_KEY, catalog.GLUE_BUCKET_POLICY),
        (catalog.ATHENA_BUCKET, LogicalIds.ATHENA_KEY, catalog.ATHENA_BUCKET_POLICY),
    ):
        bucket = any_lake.prod.at(logical_id)
        props = bucket["Properties"]
        assert bucket["DeletionPolicy"] == "Retain"
        assert props["VersioningConfiguration"] == {"Status": "Enabled"}
        assert all(props["PublicAccessBlockConfiguration"].values())
        assert props["LoggingConfiguration"]["DestinationBucketName"] == {"Ref": LogicalIds.ACCESS_LOG_BUCKET}
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]
        assert rule["BucketKeyEnabled"] is True
        assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": arn_of(key)}
        tls = statement(any_lake.prod.props(policy_id)["PolicyDocument"], "DenyInsecureTransport")
        assert tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_catalog_outputs(any_lake: Rendered) -> None:
    values = {name: output["Value"] for name, output in any_lake.prod.outputs.items()}
    assert values[outputs.CRAWLER_ROLE_ARN] == arn_of(LogicalIds.CRAWLER_ROLE)
    assert values[outputs.GLUE_JOB_ROLE_ARN] == arn_of(LogicalIds.GLUE_JOB_ROLE)
    assert values[outputs.GLUE_DATABASE] == {"Ref": catalog.DATABASE}
    assert values[outputs.ATHENA_WORKGROUP] == {"Ref": catalog.WORKGROUP}


def test_results_key_context_is_the_results_bucket(any_lake: Rendered) -> None:
    key_policy = any_lake.prod.props(LogicalIds.ATHENA_KEY)["KeyPolicy"]
    grant = statement(key_policy, "PersonasAthenaViaS3")
    bucket_arn = f"arn:${{AWS::Partition}}:s3:::{any_lake.names.athena_results_bucket}"
    context = grant["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"]
    assert [literal(c) for c in context] == [bucket_arn, f"{bucket_arn}/*"]


def test_a_glue_script_whose_job_id_collides_is_named_not_a_traceback(monkeypatch: pytest.MonkeyPatch) -> None:
    from datalake_cfn import builder
    from datalake_cfn.config import ConfigError

    scripts = [*artifacts.glue_job_scripts(), artifacts.GLUE_DIR / "role.py"]
    monkeypatch.setattr(artifacts, "glue_job_scripts", lambda: scripts)
    with pytest.raises(ConfigError, match=r"(?s)glue_scripts/role\.py: .*GlueJobRole.*rename the script"):
        builder.render(builder.default_config())
