"""The security template (audit bucket, Macie, alarm topic, dashboard) and the prod trail and alarms shipping to it.

Ported from tests/infra/test_infra_security.py: the same properties, asserted on the rendered
templates. Inside the security template the security account is `${AWS::AccountId}` and the
prod account `${ProdAccountId}`; the prod template names the security account `${SecurityAccountId}`.
Expected names are spelled out here with those placeholders, not computed by the code under test.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from pathlib import Path
from typing import Any

from datalake_cfn.blueprint import lake_blueprint
from datalake_cfn.naming import LogicalIds
from datalake_cfn.stacks import audit, monitoring, outputs, params, security_account
from datalake_cfn.stacks.security_account import MACIE_SCHEDULES
from tests.stacks.templates import Rendered, StackTemplate, arn_of, as_list, flatten, ref, statement

PROD = "${ProdAccountId}"  # the prod account, in the security template
HERE = "${AWS::AccountId}"  # the account a template runs in
SECURITY = "${SecurityAccountId}"  # the security account, in the prod template


def trail_arn(lake: Rendered, account: str) -> str:
    return f"arn:${{AWS::Partition}}:cloudtrail:${{AWS::Region}}:{account}:trail/{lake.config.lake}-trail"


def audit_bucket(lake: Rendered, account: str) -> str:
    return f"{lake.config.lake}-audit-{account}-${{AWS::Region}}"


def zone_bucket(lake: Rendered, zone: str, account: str) -> str:
    return f"{lake.config.lake}-{zone}-{account}-${{AWS::Region}}"


# -- the trail (prod) -------------------------------------------------------------------------------------
def test_trail_records_management_and_zone_data_events_into_the_audit_bucket(any_lake: Rendered) -> None:
    trails = any_lake.prod.of_type("AWS::CloudTrail::Trail")
    assert list(trails) == [LogicalIds.TRAIL]
    trail = trails[LogicalIds.TRAIL]["Properties"]
    lake = any_lake.config.lake
    assert trail["TrailName"] == any_lake.names.trail == f"{lake}-trail"
    assert flatten(trail["S3BucketName"]) == audit_bucket(any_lake, SECURITY)
    assert flatten(trail["KMSKeyId"]) == f"arn:${{AWS::Partition}}:kms:${{AWS::Region}}:{SECURITY}:alias/{lake}/audit"
    assert trail["EnableLogFileValidation"] is True and trail["IsLogging"] is True
    assert trail["IsMultiRegionTrail"] is True and trail["IncludeGlobalServiceEvents"] is True
    [selector] = trail["EventSelectors"]
    assert selector["IncludeManagementEvents"] is True and selector["ReadWriteType"] == "All"
    assert {d["Type"] for d in selector["DataResources"]} == {"AWS::S3::Object"}
    values = {flatten(v) for d in selector["DataResources"] for v in d["Values"]}
    assert values == {
        f"arn:${{AWS::Partition}}:s3:::{zone_bucket(any_lake, z.name, HERE)}/" for z in any_lake.config.zones
    }


def test_trail_also_streams_to_an_encrypted_log_group_through_a_role_only_the_trail_assumes(
    any_lake: Rendered,
) -> None:
    prod = any_lake.prod
    trail = prod.props(LogicalIds.TRAIL)
    assert trail["CloudWatchLogsLogGroupArn"] == arn_of(audit.TRAIL_LOG_GROUP)
    assert trail["CloudWatchLogsRoleArn"] == arn_of(audit.TRAIL_LOGS_ROLE)
    assert audit.TRAIL_LOGS_POLICY in prod.at(LogicalIds.TRAIL)["DependsOn"]
    group = prod.at(audit.TRAIL_LOG_GROUP)
    assert group["Properties"]["KmsKeyId"] == arn_of(LogicalIds.OPS_KEY)
    assert group["Properties"]["RetentionInDays"] == audit.TRAIL_LOG_RETENTION_DAYS
    assert group["DeletionPolicy"] == "Retain"
    trust = prod.props(audit.TRAIL_LOGS_ROLE)["AssumeRolePolicyDocument"]
    [assume] = trust["Statement"]
    assert assume["Principal"] == {"Service": ["cloudtrail.amazonaws.com"]}
    assert flatten(assume["Condition"]["StringEquals"]["aws:SourceArn"]) == trail_arn(any_lake, HERE)
    policy = prod.props(audit.TRAIL_LOGS_POLICY)
    assert policy["Roles"] == [ref(audit.TRAIL_LOGS_ROLE)]
    [write] = policy["PolicyDocument"]["Statement"]
    assert set(as_list(write["Action"])) == {"logs:CreateLogStream", "logs:PutLogEvents"}
    assert [flatten(r) for r in as_list(write["Resource"])] == ["${" + audit.TRAIL_LOG_GROUP + ".Arn}"]


# -- the audit key and bucket (security) ------------------------------------------------------------------
def test_audit_bucket_is_kms_encrypted_versioned_and_locked_per_lake_yaml(any_lake: Rendered) -> None:
    security = any_lake.security
    props = security.props(LogicalIds.AUDIT_BUCKET)
    assert flatten(props["BucketName"]) == audit_bucket(any_lake, HERE)
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "aws:kms",
        "KMSMasterKeyID": arn_of(LogicalIds.AUDIT_KEY),
    }
    assert rule["BucketKeyEnabled"] is False  # CloudTrail cannot deliver cross-account into Bucket Keys
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    audit_config = any_lake.config.audit
    assert props["ObjectLockEnabled"] is True
    assert props["ObjectLockConfiguration"] == {
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Days": audit_config.retention_days, "Mode": audit_config.object_lock_mode}},
    }
    assert props["PublicAccessBlockConfiguration"] == dict.fromkeys(
        ("BlockPublicAcls", "BlockPublicPolicy", "IgnorePublicAcls", "RestrictPublicBuckets"), True
    )
    assert props["OwnershipControls"] == {"Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]}
    assert props["LoggingConfiguration"]["DestinationBucketName"] == ref(LogicalIds.ACCESS_LOG_BUCKET)
    rules = props["LifecycleConfiguration"]["Rules"]
    assert not any("NoncurrentVersionExpiration" in r or "ExpirationInDays" in r for r in rules)  # evidence is kept
    assert security.at(LogicalIds.AUDIT_BUCKET)["DeletionPolicy"] == "Retain"
    assert security.at(LogicalIds.AUDIT_KEY)["DeletionPolicy"] == "Retain"
    key = security.props(LogicalIds.AUDIT_KEY)
    assert key["EnableKeyRotation"] is True


def test_audit_bucket_policy_is_tls_only_and_denies_deletes(any_lake: Rendered) -> None:
    document = any_lake.security.props(security_account.AUDIT_BUCKET_POLICY)["PolicyDocument"]
    assert any_lake.security.props(security_account.AUDIT_BUCKET_POLICY)["Bucket"] == ref(LogicalIds.AUDIT_BUCKET)
    tls = statement(document, "DenyInsecureTransport")
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert tls["Principal"] == {"AWS": "*"} and as_list(tls["Action"]) == ["s3:*"]
    deletes = statement(document, "AuditRecordsAreNeverDeleted")
    assert deletes["Effect"] == "Deny" and deletes["Principal"] == {"AWS": "*"}
    assert {"s3:DeleteObject", "s3:DeleteObjectVersion", "s3:BypassGovernanceRetention"} <= set(deletes["Action"])
    assert all("Sid" in s for s in document["Statement"])


def test_audit_bucket_and_key_accept_only_the_prod_trail(any_lake: Rendered) -> None:
    security = any_lake.security
    document = security.props(security_account.AUDIT_BUCKET_POLICY)["PolicyDocument"]
    put = statement(document, "CloudTrailDeliversProdTrail")
    assert put["Principal"] == {"Service": "cloudtrail.amazonaws.com"}
    assert flatten(put["Condition"]["StringEquals"]["aws:SourceArn"]) == trail_arn(any_lake, PROD)
    assert put["Condition"]["StringEquals"]["s3:x-amz-acl"] == "bucket-owner-full-control"
    [resource] = as_list(put["Resource"])
    assert flatten(resource).endswith(f"/AWSLogs/{PROD}/*")
    acl = statement(document, "CloudTrailChecksBucketAcl")
    assert flatten(acl["Condition"]["StringEquals"]["aws:SourceArn"]) == trail_arn(any_lake, PROD)
    key_policy = security.props(LogicalIds.AUDIT_KEY)["KeyPolicy"]
    encrypt = statement(key_policy, "CloudTrailEncryptsProdTrail")
    assert flatten(encrypt["Condition"]["ArnLike"]["aws:SourceArn"]) == trail_arn(any_lake, PROD)
    context = encrypt["Condition"]["StringLike"]["kms:EncryptionContext:aws:cloudtrail:arn"]
    assert flatten(context) == f"arn:${{AWS::Partition}}:cloudtrail:*:{PROD}:trail/*"
    # The prod trail names the key by the alias this template creates, in the security account.
    alias = security.props(security_account.AUDIT_KEY_ALIAS)
    assert alias["TargetKeyId"] == arn_of(LogicalIds.AUDIT_KEY)
    trail_key = flatten(any_lake.prod.props(LogicalIds.TRAIL)["KMSKeyId"])
    assert trail_key.endswith(f":{SECURITY}:{alias['AliasName']}")
    # ... and writes into the bucket this template creates: same name once each template's account is set.
    trail_bucket = flatten(any_lake.prod.props(LogicalIds.TRAIL)["S3BucketName"])
    assert trail_bucket.replace(SECURITY, HERE) == flatten(security.props(LogicalIds.AUDIT_BUCKET)["BucketName"])


def test_audit_key_is_used_only_through_s3_and_sns_and_by_the_services_for_their_sources(any_lake: Rendered) -> None:
    key_policy = any_lake.security.props(LogicalIds.AUDIT_KEY)["KeyPolicy"]
    admin = statement(key_policy, "KeyAdministration")
    assert not {"kms:Decrypt", "kms:Encrypt", "kms:*"} & set(as_list(admin["Action"]))
    use = statement(key_policy, "UseThroughLakeServicesOnly")
    via = {flatten(v) for v in as_list(use["Condition"]["StringEquals"]["kms:ViaService"])}
    assert via == {"s3.${AWS::Region}.${AWS::URLSuffix}", "sns.${AWS::Region}.${AWS::URLSuffix}"}
    assert flatten(use["Condition"]["StringEquals"]["kms:CallerAccount"]) == HERE
    alarms = statement(key_policy, "ProdAlarmsPublishToEncryptedTopic")
    assert flatten(alarms["Condition"]["StringEquals"]["aws:SourceAccount"]) == PROD
    macie = statement(key_policy, "MacieWritesDiscoveryResults")
    assert flatten(macie["Condition"]["StringEquals"]["aws:SourceAccount"]) == HERE
    for s in key_policy["Statement"]:
        assert "Sid" in s
        if "Service" in s["Principal"]:
            assert "Condition" in s, s["Sid"]  # confused-deputy safe


def test_access_log_bucket_takes_the_audit_bucket_logs_only_over_tls(any_lake: Rendered) -> None:
    security = any_lake.security
    props = security.props(LogicalIds.ACCESS_LOG_BUCKET)
    assert flatten(props["BucketName"]) == f"{any_lake.config.lake}-s3logs-{HERE}-${{AWS::Region}}"
    [rule] = props["BucketEncryption"]["ServerSideEncryptionConfiguration"]
    assert rule["ServerSideEncryptionByDefault"] == {"SSEAlgorithm": "AES256"}
    assert props["VersioningConfiguration"] == {"Status": "Enabled"}
    assert security.at(LogicalIds.ACCESS_LOG_BUCKET)["DeletionPolicy"] == "Retain"
    document = security.props(LogicalIds.ACCESS_LOG_BUCKET_POLICY)["PolicyDocument"]
    assert statement(document, "DenyInsecureTransport")["Effect"] == "Deny"
    delivery = statement(document, "S3ServerAccessLogsDelivery")
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert flatten(delivery["Condition"]["ArnLike"]["aws:SourceArn"]) == "${" + LogicalIds.AUDIT_BUCKET + ".Arn}"
    assert flatten(delivery["Condition"]["StringEquals"]["aws:SourceAccount"]) == HERE


# -- Macie (security) -------------------------------------------------------------------------------------
def test_macie_is_enabled_with_a_scheduled_classification_job_over_the_zone_buckets(any_lake: Rendered) -> None:
    security = any_lake.security
    [session] = security.of_type("AWS::Macie::Session").values()
    assert session["Properties"]["Status"] == "ENABLED"
    schedule = security.props(security_account.MACIE_SCHEDULE)
    assert security_account.MACIE_SESSION in security.at(security_account.MACIE_SCHEDULE)["DependsOn"]
    assert schedule["ScheduleExpression"] == MACIE_SCHEDULES[any_lake.config.audit.macie_schedule]
    target = schedule["Target"]
    assert flatten(target["Arn"]) == "arn:${AWS::Partition}:scheduler:::aws-sdk:macie2:createClassificationJob"
    job = json.loads(flatten(target["Input"]))
    assert job["jobType"] == "ONE_TIME" and job["clientToken"] == "<aws.scheduler.execution-id>"
    [buckets] = job["s3JobDefinition"]["bucketDefinitions"]
    assert buckets["accountId"] == PROD
    assert set(buckets["buckets"]) == {zone_bucket(any_lake, z.name, PROD) for z in any_lake.config.zones}
    # the scan covers exactly the buckets the prod template creates
    prod_buckets = {
        flatten(any_lake.prod.props(LogicalIds.zone(z.name, "Bucket"))["BucketName"]) for z in any_lake.config.zones
    }
    assert {b.replace(PROD, HERE) for b in buckets["buckets"]} == prod_buckets


def test_macie_schedule_role_may_only_create_jobs_for_its_own_schedule(any_lake: Rendered) -> None:
    security = any_lake.security
    schedule = security.props(security_account.MACIE_SCHEDULE)
    assert schedule["Target"]["RoleArn"] == arn_of(security_account.MACIE_SCHEDULE_ROLE)
    [assume] = security.props(security_account.MACIE_SCHEDULE_ROLE)["AssumeRolePolicyDocument"]["Statement"]
    assert assume["Principal"] == {"Service": ["scheduler.amazonaws.com"]}
    assert flatten(assume["Condition"]["StringEquals"]["aws:SourceAccount"]) == HERE
    assert flatten(assume["Condition"]["ArnEquals"]["aws:SourceArn"]).endswith(
        f":{HERE}:schedule/default/{any_lake.config.lake}-macie-scan"
    )
    [grant] = security.props(security_account.MACIE_SCHEDULE_POLICY)["PolicyDocument"]["Statement"]
    assert as_list(grant["Action"]) == ["macie2:CreateClassificationJob"]
    assert [flatten(r) for r in as_list(grant["Resource"])] == [
        f"arn:${{AWS::Partition}}:macie2:${{AWS::Region}}:{HERE}:classification-job/*"
    ]


def test_weekly_macie_scan_by_default(default_lake: Rendered, regional_lake: Rendered) -> None:
    schedule = security_account.MACIE_SCHEDULE
    assert default_lake.security.props(schedule)["ScheduleExpression"] == MACIE_SCHEDULES["weekly"]
    assert regional_lake.security.props(schedule)["ScheduleExpression"] == MACIE_SCHEDULES["daily"]


# -- alarms -----------------------------------------------------------------------------------------------
def test_alarm_topic_is_encrypted_and_trusts_only_the_lake_alarms_of_prod(any_lake: Rendered) -> None:
    security = any_lake.security
    topic = security.props(LogicalIds.ALARM_TOPIC)
    assert topic["TopicName"] == any_lake.names.alarm_topic
    assert topic["KmsMasterKeyId"] == arn_of(LogicalIds.AUDIT_KEY)
    policy = security.props(security_account.ALARM_TOPIC_POLICY)
    assert policy["Topics"] == [ref(LogicalIds.ALARM_TOPIC)]
    document = policy["PolicyDocument"]
    tls = statement(document, "AllowPublishThroughSSLOnly")
    assert tls["Effect"] == "Deny" and tls["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    publish = statement(document, "ProdAlarmsPublish")
    assert publish["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert flatten(publish["Condition"]["StringEquals"]["aws:SourceAccount"]) == PROD
    pattern = flatten(publish["Condition"]["ArnLike"]["aws:SourceArn"])
    alarm_arn = f"arn:${{AWS::Partition}}:cloudwatch:${{AWS::Region}}:{PROD}:alarm:"
    alarms = any_lake.prod.of_type("AWS::CloudWatch::Alarm")
    assert alarms
    for alarm in alarms.values():
        assert re.fullmatch(re.escape(pattern).replace(r"\*", ".*"), alarm_arn + alarm["Properties"]["AlarmName"])
        # every prod alarm notifies this topic, in the security account
        for action in (*alarm["Properties"]["AlarmActions"], *alarm["Properties"]["OKActions"]):
            assert flatten(action) == f"arn:${{AWS::Partition}}:sns:${{AWS::Region}}:{SECURITY}:{topic['TopicName']}"


def test_alarm_email_subscribes_only_when_given(any_lake: Rendered) -> None:
    security = any_lake.security
    subscription = security.at(security_account.ALARM_EMAIL_SUBSCRIPTION)
    assert subscription["Condition"] == params.HAS_ALARM_EMAIL
    assert params.HAS_ALARM_EMAIL in security.template["Conditions"]
    props = subscription["Properties"]
    assert props == {"Protocol": "email", "Endpoint": ref(params.ALARM_EMAIL), "TopicArn": ref(LogicalIds.ALARM_TOPIC)}


def test_dlq_alarms_watch_the_dead_letter_queue_depth_and_age(any_lake: Rendered) -> None:
    prod = any_lake.prod
    depth = prod.props(monitoring.DLQ_DEPTH_ALARM)
    age = prod.props(monitoring.DLQ_AGE_ALARM)
    for alarm in (depth, age):
        assert alarm["Namespace"] == "AWS/SQS" and alarm["Statistic"] == "Maximum"
        assert alarm["Dimensions"] == [{"Name": "QueueName", "Value": {"Fn::GetAtt": [LogicalIds.DLQ, "QueueName"]}}]
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold" and alarm["TreatMissingData"] == "notBreaching"
        assert alarm["AlarmName"].startswith(f"{any_lake.config.lake}-")
    assert depth["MetricName"] == "ApproximateNumberOfMessagesVisible" and depth["Threshold"] == 0
    assert age["MetricName"] == "ApproximateAgeOfOldestMessage" and age["Threshold"] == 3600


# -- the dashboard (security) and the metrics it reads (prod) ---------------------------------------------
def test_dashboard_shows_each_zone_and_the_dlq_from_the_prod_account(any_lake: Rendered) -> None:
    [dashboard] = any_lake.security.of_type("AWS::CloudWatch::Dashboard").values()
    assert dashboard["Properties"]["DashboardName"] == any_lake.names.dashboard
    body = json.loads(flatten(dashboard["Properties"]["DashboardBody"]))
    titles = [w["properties"].get("title") for w in body["widgets"]]
    blueprint = lake_blueprint(any_lake.config, any_lake.names)
    for zone in any_lake.config.zones:
        queues = [q for q in blueprint.queues if q.zone == zone.name]
        consumed = any(q.has_consumer for q in queues)
        for what in ("objects processed", "errors", "throttles"):
            assert (f"{zone.name}: {what}" in titles) == consumed, (zone.name, what)
        assert (f"{zone.name}: queue age (s)" in titles) == bool(queues)
    assert "Dead-letter queue depth" in titles
    graphs = [w for w in body["widgets"] if w["type"] == "metric"]
    assert all(w["properties"].get("metrics") for w in graphs), "an empty graph"
    metrics = [m for w in body["widgets"] for m in w["properties"].get("metrics", [])]
    assert metrics and all(m[-1]["accountId"] == PROD for m in metrics)
    queue_ages = {m[3] for m in metrics if m[1] == "ApproximateAgeOfOldestMessage"}
    assert queue_ages == {q.name for q in blueprint.queues}
    positions = [(w["x"], w["y"]) for w in body["widgets"]]
    assert len(set(positions)) == len(positions)  # no two widgets on top of each other


def test_prod_shares_its_metrics_with_the_security_account(any_lake: Rendered) -> None:
    role = any_lake.prod.props(monitoring.METRICS_SHARING_ROLE)
    assert role["RoleName"] == "CloudWatch-CrossAccountSharingRole"
    principal = flatten(role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"]["AWS"])
    assert f":iam::{SECURITY}:root" in principal
    policy = any_lake.prod.props(monitoring.METRICS_SHARING_POLICY)
    assert policy["Roles"] == [ref(monitoring.METRICS_SHARING_ROLE)]
    actions = {a for s in policy["PolicyDocument"]["Statement"] for a in as_list(s["Action"])}
    assert actions and all(
        a.startswith("cloudwatch:Get") or a.startswith("cloudwatch:List") or a.startswith("cloudwatch:Describe")
        for a in actions
    )


# -- the contract and the house rules ---------------------------------------------------------------------
def test_security_outputs_name_the_audit_bucket_key_and_topic(any_lake: Rendered) -> None:
    out = any_lake.security.outputs
    assert out[outputs.AUDIT_BUCKET_NAME]["Value"] == ref(LogicalIds.AUDIT_BUCKET)
    assert out[outputs.AUDIT_BUCKET_ARN]["Value"] == arn_of(LogicalIds.AUDIT_BUCKET)
    assert out[outputs.AUDIT_KEY_ARN]["Value"] == arn_of(LogicalIds.AUDIT_KEY)
    assert out[outputs.ALARM_TOPIC_ARN]["Value"] == ref(LogicalIds.ALARM_TOPIC)


MINE_IN_PROD = (
    LogicalIds.TRAIL,
    audit.TRAIL_LOG_GROUP,
    audit.TRAIL_LOGS_ROLE,
    audit.TRAIL_LOGS_POLICY,
    monitoring.DLQ_DEPTH_ALARM,
    monitoring.DLQ_AGE_ALARM,
    monitoring.METRICS_SHARING_ROLE,
    monitoring.METRICS_SHARING_POLICY,
)


def _strings(node: Any) -> list[str]:
    if isinstance(node, str):
        return [node]
    if isinstance(node, dict):
        return [s for v in node.values() for s in _strings(v)]
    if isinstance(node, list):
        return [s for v in node for s in _strings(v)]
    return []


def test_no_literal_account_or_region_in_these_resources(regional_lake: Rendered) -> None:
    """The regional lake names real accounts and eu-west-1: only parameter defaults may carry them."""
    literals = ("123456789012", "210987654321", "eu-west-1", "arn:aws:")
    resources = [regional_lake.prod.at(i) for i in MINE_IN_PROD] + list(regional_lake.security.resources.values())
    for text in _strings([resources, regional_lake.security.outputs]):
        assert not any(literal in text for literal in literals), text


def _acknowledgements(stack: StackTemplate, ids: list[str]) -> list[tuple[str, str, str]]:
    out = []
    for logical_id in ids:
        for entry in stack.at(logical_id).get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", []):
            out.append((logical_id, entry["id"], entry["reason"]))
    return out


def test_every_acknowledgement_gives_a_reason_specific_to_its_resource(any_lake: Rendered) -> None:
    acks = _acknowledgements(any_lake.prod, list(MINE_IN_PROD)) + _acknowledgements(
        any_lake.security, list(any_lake.security.resources)
    )
    assert acks
    owners: dict[tuple[str, str], set[str]] = defaultdict(set)
    for logical_id, rule, reason in acks:
        assert len(reason) >= 60, (logical_id, rule, reason)
        assert "${" not in reason  # Metadata is not substituted: a placeholder would read as garbage
        owners[(rule, reason)].add(logical_id)
    assert not {key: ids for key, ids in owners.items() if len(ids) > 1}


def _cfn_lint(template: Path) -> list[Any]:
    from cfnlint.api import ManualArgs, lint_file

    return list(lint_file(template, ManualArgs(regions=["us-east-1"])))


def test_cfn_lint_finds_nothing_in_the_security_template(default_lake: Rendered) -> None:
    assert default_lake.security.path is not None
    matches = _cfn_lint(default_lake.security.path)
    assert matches == [], "\n".join(str(m) for m in matches)


def test_cfn_lint_finds_nothing_in_the_prod_trail_and_alarms(default_lake: Rendered) -> None:
    """Only this concern's resources: the other modules' findings are theirs (the full check is elsewhere)."""
    assert default_lake.prod.path is not None
    matches = _cfn_lint(default_lake.prod.path)
    mine = [m for m in matches if list(m.path[:2]) in (["Resources", i] for i in MINE_IN_PROD)]
    assert mine == [], "\n".join(str(m) for m in mine)


def test_macie_is_conditional_on_exactly_the_regions_without_it(default_lake) -> None:  # type: ignore[no-untyped-def]
    """The security stack launches in every region: Macie only where CloudFormation offers it."""
    from cfnlint.helpers import REGIONS
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    from datalake_cfn.stacks.security_account import MACIE_AVAILABLE, MACIE_UNAVAILABLE_REGIONS

    def has_macie(region: str) -> bool:
        try:
            PROVIDER_SCHEMA_MANAGER.get_resource_schema(region, "AWS::Macie::Session")
        except Exception:  # cfn-lint raises its own ResourceNotFoundError
            return False
        return True

    assert sorted(MACIE_UNAVAILABLE_REGIONS) == sorted(r for r in REGIONS if not has_macie(r))
    resources = default_lake.security.resources
    macie = {k for k, v in resources.items() if k.startswith("Macie")}
    assert macie and all(resources[k].get("Condition") == MACIE_AVAILABLE for k in macie)
    assert MACIE_AVAILABLE in default_lake.security.template["Conditions"]
