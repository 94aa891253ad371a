"""The security stack (audit bucket, Macie, alarm topic, dashboard) and the prod trail shipping to it."""

from __future__ import annotations

import json
import re

from datalake_cfn.blueprint import lake_blueprint
from datalake_cfn.infra.security import MACIE_SCHEDULES
from tests.infra.templates import Synthesized, as_list, flatten, statement


def test_trail_records_management_and_zone_data_events_into_the_audit_bucket(any_lake: Synthesized) -> None:
    trails = list(any_lake.prod.of_type("AWS::CloudTrail::Trail").values())
    assert len(trails) == 1
    trail = trails[0]["Properties"]
    deployment = any_lake.deployment
    assert trail["TrailName"] == any_lake.names.trail
    assert trail["S3BucketName"] == any_lake.names.audit_bucket
    assert trail["KMSKeyId"] == deployment.audit_key_alias_arn
    assert trail["EnableLogFileValidation"] is True and trail["IsLogging"] is True
    assert trail["IsMultiRegionTrail"] is True
    [selector] = trail["EventSelectors"]
    assert selector["IncludeManagementEvents"] is True and selector["ReadWriteType"] == "All"
    assert {d["Type"] for d in selector["DataResources"]} == {"AWS::S3::Object"}
    values = {v for d in selector["DataResources"] for v in d["Values"]}
    assert values == {f"arn:aws:s3:::{any_lake.names.bucket(z.name)}/" for z in any_lake.config.zones}


def test_audit_bucket_is_kms_encrypted_versioned_and_locked_per_lake_yaml(any_lake: Synthesized) -> None:
    security = any_lake.security
    props = security.props("AuditBucket/Resource")
    assert props["BucketName"] == any_lake.names.audit_bucket
    encryption = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert encryption["KMSMasterKeyID"]["Fn::GetAtt"][0] == security.id_of("AuditKey/Resource")
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    audit = any_lake.config.audit
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Days": audit.retention_days, "Mode": audit.object_lock_mode}},
    }
    assert security.at("AuditBucket/Resource")["DeletionPolicy"] == "Retain"


def test_audit_bucket_policy_is_tls_only_and_denies_deletes(any_lake: Synthesized) -> None:
    document = any_lake.security.props("AuditBucket/Policy/Resource")["PolicyDocument"]
    tls = statement(document, "DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    deletes = statement(document, "AuditRecordsAreNeverDeleted")
    assert deletes["Effect"] == "Deny" and deletes["Principal"] == {"AWS": "*"}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= set(deletes["Action"])


def test_audit_bucket_and_key_accept_only_the_prod_trail(any_lake: Synthesized) -> None:
    deployment = any_lake.deployment
    document = any_lake.security.props("AuditBucket/Policy/Resource")["PolicyDocument"]
    put = statement(document, "CloudTrailDeliversProdTrail")
    assert put["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert put["Condition"]["StringEquals"]["aws:SourceArn"] == deployment.trail_arn
    assert flatten(put["Resource"]).endswith(f"/AWSLogs/{deployment.prod_account}/*")
    key_policy = any_lake.security.props("AuditKey/Resource")["KeyPolicy"]
    encrypt = statement(key_policy, "CloudTrailEncryptsProdTrail")
    assert encrypt["Condition"]["ArnLike"]["aws:SourceArn"] == deployment.trail_arn
    alias = any_lake.security.props("AuditKey/Alias/Resource")["AliasName"]
    assert deployment.audit_key_alias_arn.endswith(f":{alias}")  # what the prod trail names


def test_macie_is_enabled_with_a_scheduled_classification_job_over_the_zone_buckets(any_lake: Synthesized) -> None:
    security = any_lake.security
    [session] = security.of_type("AWS::Macie::Session").values()
    assert session["Properties"]["Status"] == "ENABLED"
    schedule = security.props("MacieSchedule")
    assert schedule["ScheduleExpression"] == MACIE_SCHEDULES[any_lake.config.audit.macie_schedule]
    target = schedule["Target"]
    assert target["Arn"] == "arn:aws:scheduler:::aws-sdk:macie2:createClassificationJob"
    job = json.loads(target["Input"])
    assert job["jobType"] == "ONE_TIME" and job["clientToken"] == "<aws.scheduler.execution-id>"
    [buckets] = job["s3JobDefinition"]["bucketDefinitions"]
    assert buckets["accountId"] == any_lake.deployment.prod_account
    assert set(buckets["buckets"]) == {any_lake.names.bucket(z.name) for z in any_lake.config.zones}


def test_weekly_macie_scan_by_default(default_lake: Synthesized, regional_lake: Synthesized) -> None:
    assert default_lake.security.props("MacieSchedule")["ScheduleExpression"] == MACIE_SCHEDULES["weekly"]
    assert regional_lake.security.props("MacieSchedule")["ScheduleExpression"] == MACIE_SCHEDULES["daily"]


def test_alarm_topic_is_encrypted_and_trusts_only_the_lake_alarms_of_prod(any_lake: Synthesized) -> None:
    security = any_lake.security
    topic = security.props("AlarmTopic/Resource")
    assert topic["TopicName"] == any_lake.names.alarm_topic
    assert topic["KmsMasterKeyId"]["Fn::GetAtt"][0] == security.id_of("AuditKey/Resource")
    document = security.props("AlarmTopic/Policy/Resource")["PolicyDocument"]
    publish = statement(document, "ProdAlarmsPublish")
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert publish["Condition"]["StringEquals"]["aws:SourceAccount"] == any_lake.deployment.prod_account
    pattern = publish["Condition"]["ArnLike"]["aws:SourceArn"]
    for alarm in any_lake.prod.of_type("AWS::CloudWatch::Alarm").values():
        alarm_arn = f"arn:aws:cloudwatch:{any_lake.config.region}:{any_lake.deployment.prod_account}:alarm:"
        assert re.fullmatch(pattern.replace("*", ".*"), alarm_arn + alarm["Properties"]["AlarmName"])
    assert topic["TopicName"] == any_lake.deployment.alarm_topic_arn.rsplit(":", 1)[1]


def test_dashboard_shows_each_zone_and_the_dlq_from_the_prod_account(any_lake: Synthesized) -> None:
    [dashboard] = any_lake.security.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == any_lake.names.dashboard
    body = json.loads(flatten(dashboard["Properties"]["DashboardBody"]))
    titles = [w["properties"].get("title") for w in body["widgets"]]
    for zone in any_lake.config.zones:
        for what in ("objects processed", "errors", "throttles", "queue age (s)"):
            assert f"{zone.name}: {what}" in titles
    assert "Dead-letter queue depth" in titles
    metrics = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])]
    assert metrics and all(m[-1]["accountId"] == any_lake.deployment.prod_account for m in metrics)
    queue_ages = {m[3] for m in metrics if m[1] == "ApproximateAgeOfOldestMessage"}
    assert queue_ages == {q.name for q in lake_blueprint(any_lake.config, any_lake.names).queues}


def test_prod_shares_its_metrics_with_the_security_account(any_lake: Synthesized) -> None:
    role = any_lake.prod.props("MetricsSharing/Role/Resource")
    assert role["RoleName"] == "CloudWatch-CrossAccountSharingRole"
    principal = flatten(role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"])
    assert f":iam::{any_lake.deployment.security_account}:root" in principal
    document = any_lake.prod.props("MetricsSharing/Role/DefaultPolicy/Resource")["PolicyDocument"]
    actions = {a for s in document["Statement"] for a in as_list(s["Action"])}
    assert actions and all(
        a.startswith("cloudwatch:Get") or a.startswith("cloudwatch:List") or a.startswith("cloudwatch:Describe")
        for a in actions
    )
