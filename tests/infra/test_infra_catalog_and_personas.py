"""Glue (database, crawler, jobs), Athena, the persona roles and their wiring, and the outputs."""

from __future__ import annotations

from datalake_cfn.access import policies
from datalake_cfn.config import PERSONA_NAMES
from datalake_cfn.infra.assets import glue_job_scripts
from datalake_cfn.infra.zone import construct_id
from datalake_cfn.routing import queue_routes
from tests.infra.templates import Synthesized, arn_of, as_list, flatten, statement, statements


def test_one_glue_database_named_from_naming(any_lake: Synthesized) -> None:
    databases = list(any_lake.prod.of_type("AWS::Glue::Database").values())
    assert len(databases) == 1
    assert databases[0]["Properties"]["DatabaseInput"]["Name"] == any_lake.names.glue_database


def test_one_crawler_over_every_zone_with_a_security_configuration(any_lake: Synthesized) -> None:
    crawlers = list(any_lake.prod.of_type("AWS::Glue::Crawler").values())
    assert len(crawlers) == 1
    crawler = crawlers[0]["Properties"]
    assert crawler["Name"] == any_lake.names.crawler
    assert crawler["DatabaseName"] == any_lake.names.glue_database
    names, config = any_lake.names, any_lake.config
    targets = crawler["Targets"]
    if "CatalogTargets" in targets:  # every `<zone>_<dataset>` table, so every zone
        assert {c["DatabaseName"] for c in targets["CatalogTargets"]} == {names.glue_database}
        tables = {t for c in targets["CatalogTargets"] for t in c["Tables"]}
        assert tables == {names.table(z.name, d.name) for z in config.zones for d in config.datasets}
    else:
        paths = {t["Path"] for t in targets["S3Targets"]}
        assert paths == {f"s3://{names.bucket(z.name)}/" for z in config.zones}
    assert crawler["CrawlerSecurityConfiguration"] == any_lake.names.glue_security_configuration
    assert crawler["Role"] == arn_of(any_lake.prod.id_of("Catalog/CrawlerRole/Resource"))


def test_glue_security_configuration_encrypts_logs_and_bookmarks(any_lake: Synthesized) -> None:
    config = any_lake.prod.props("Catalog/SecurityConfiguration")["EncryptionConfiguration"]
    ops_key = arn_of(any_lake.prod.id_of("OpsKey/Resource"))
    assert config["CloudWatchEncryption"] == {"CloudWatchEncryptionMode": "SSE-KMS", "KmsKeyArn": ops_key}
    assert config["JobBookmarksEncryption"] == {"JobBookmarksEncryptionMode": "CSE-KMS", "KmsKeyArn": ops_key}


def test_every_glue_script_is_a_job_with_its_script_as_an_asset(default_lake: Synthesized) -> None:
    scripts = glue_job_scripts()
    jobs = {j["Properties"]["Name"]: j["Properties"] for j in default_lake.prod.of_type("AWS::Glue::Job").values()}
    assert set(jobs) == {default_lake.names.glue_job(s.stem) for s in scripts}
    for script in scripts:
        job = jobs[default_lake.names.glue_job(script.stem)]
        assert job["Command"]["Name"] == "glueetl"
        assert flatten(job["Command"]["ScriptLocation"]).endswith(".py")
        assert job["Role"] == arn_of(default_lake.prod.id_of("Catalog/JobRole/Resource"))
        assert job["SecurityConfiguration"] == default_lake.names.glue_security_configuration


def test_glue_roles_are_the_access_policies_roles_without_managed_policies(any_lake: Synthesized) -> None:
    names = any_lake.names
    for path, principal, statements_of in (
        ("Catalog/CrawlerRole", policies.CRAWLER, policies.crawler_role_statements),
        ("Catalog/JobRole", policies.GLUE_JOB, policies.glue_job_role_statements),
    ):
        role = any_lake.prod.props(f"{path}/Resource")
        assert role["RoleName"] == names.service_role_name(principal)
        assert role["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {"Service": "glue.amazonaws.com"}
        assert "ManagedPolicyArns" not in role
        document = any_lake.prod.props(f"{path}/DefaultPolicy/Resource")["PolicyDocument"]
        arns = policies.LakeArns.static(any_lake.config, names)
        expected = {s["Sid"] for s in statements_of(any_lake.config, names, arns)}
        assert expected <= {s.get("Sid") for s in statements(document)}


def test_glue_job_role_carries_its_clearance_tag(any_lake: Synthesized) -> None:
    role = any_lake.prod.props("Catalog/JobRole/Resource")
    tags = {t["Key"]: t["Value"] for t in role["Tags"]}
    assert tags[policies.CLEARANCE_TAG] == policies.glue_job_clearance(any_lake.config)


def test_athena_workgroup_encrypts_results_with_its_key(any_lake: Synthesized) -> None:
    workgroup = any_lake.prod.props("Catalog/Workgroup")
    assert workgroup["Name"] == any_lake.names.athena_workgroup
    results = workgroup["WorkGroupConfiguration"]["ResultConfiguration"]
    assert results["OutputLocation"].startswith(f"s3://{any_lake.names.athena_results_bucket}/")
    assert results["EncryptionConfiguration"] == {
        "EncryptionOption": "SSE_KMS",
        "KmsKey": arn_of(any_lake.prod.id_of("Catalog/AthenaKey/Resource")),
    }
    bucket = any_lake.prod.props("Catalog/AthenaBucket/Resource")
    assert bucket["BucketName"] == any_lake.names.athena_results_bucket
    key = any_lake.prod.id_of("Catalog/AthenaKey/Resource")
    default = bucket["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"]
    assert default["KMSMasterKeyID"] == arn_of(key)
    document = any_lake.prod.props("Catalog/AthenaBucket/Policy/Resource")["PolicyDocument"]
    pinned = statement(document, "DenyUploadsUnderOtherKeys")["Condition"]["StringNotEquals"]
    assert pinned == {"s3:x-amz-server-side-encryption-aws-kms-key-id": arn_of(key)}


def test_athena_results_follow_the_persona_policies_per_user_prefix(any_lake: Synthesized) -> None:
    """Personas may only write results under their own `${aws:userid}/`: the workgroup must not force
    one shared location, and every persona gets the Athena key through S3 for that bucket only."""
    workgroup = any_lake.prod.props("Catalog/Workgroup")
    assert workgroup["WorkGroupConfiguration"]["EnforceWorkGroupConfiguration"] is False
    for document in (
        p["Properties"]["PolicyDocument"]
        for p in any_lake.prod.of_type("AWS::IAM::Policy").values()
        if p["Properties"]["PolicyName"] == "datalake-access"
    ):
        results = statement(document, "OwnQueryResults")
        assert any(flatten(r).endswith("/${aws:userid}/*") for r in as_list(results["Resource"]))
    key_policy = any_lake.prod.props("Catalog/AthenaKey/Resource")["KeyPolicy"]
    grant = statement(key_policy, "PersonasAthenaViaS3")
    bucket_arn = f"arn:aws:s3:::{any_lake.names.athena_results_bucket}"
    assert grant["Condition"]["StringLike"]["kms:EncryptionContext:aws:s3:arn"] == [bucket_arn, f"{bucket_arn}/*"]
    assert len(as_list(grant["Principal"]["AWS"])) == len(
        [r for r in any_lake.prod.of_type("AWS::IAM::Role").values() if r["Properties"].get("Path", "/") != "/"]
    )


def persona_roles(lake: Synthesized) -> dict[str, dict]:
    return {
        r["Properties"]["RoleName"]: r["Properties"]
        for r in lake.prod.of_type("AWS::IAM::Role").values()
        if r["Properties"].get("Path", "/").startswith(f"/{lake.config.lake}/")
    }


def test_four_persona_roles_under_their_iam_paths(default_lake: Synthesized) -> None:
    roles = persona_roles(default_lake)
    names = default_lake.names
    assert set(roles) == {names.role_name(p) for p in PERSONA_NAMES}
    for persona in PERSONA_NAMES:
        role = roles[names.role_name(persona)]
        assert role["Path"] == names.role_path(persona) == f"/acme/{persona}/"
        tags = {t["Key"]: t["Value"] for t in role["Tags"]}
        assert tags["clearance"] == getattr(default_lake.config.personas, persona).clearance
        trust = role["AssumeRolePolicyDocument"]["Statement"][0]
        assert set(as_list(trust["Action"])) == {"sts:AssumeRole", "sts:TagSession"}  # clearance session tag


def test_roles_mode_has_one_role_per_persona_and_clearance(regional_lake: Synthesized) -> None:
    roles = persona_roles(regional_lake)
    names = regional_lake.names
    expected = {
        names.role_name(p, c) for p in PERSONA_NAMES for c in policies.persona_clearances(regional_lake.config, p)
    }
    assert set(roles) == expected and len(expected) > 4
    for persona in PERSONA_NAMES:
        for clearance in policies.persona_clearances(regional_lake.config, persona):
            assert roles[names.role_name(persona, clearance)]["Path"] == names.role_path(persona, clearance)


def test_each_persona_role_has_its_access_policy(any_lake: Synthesized) -> None:
    roles = {
        logical_id: r["Properties"]["RoleName"]
        for logical_id, r in any_lake.prod.of_type("AWS::IAM::Role").items()
        if r["Properties"].get("Path", "/").startswith(f"/{any_lake.config.lake}/")
    }
    attached = {
        role["Ref"]: p["Properties"]["PolicyDocument"]
        for p in any_lake.prod.of_type("AWS::IAM::Policy").values()
        if p["Properties"]["PolicyName"] == "datalake-access"
        for role in p["Properties"]["Roles"]
    }
    assert set(attached) == set(roles)
    for document in attached.values():
        assert statement(document, "ListZoneBuckets")["Effect"] == "Allow"
        assert statement(document, "DenyGuardrailChanges")["Effect"] == "Deny"


def test_bucket_and_key_policies_are_wired_to_the_persona_roles(default_lake: Synthesized) -> None:
    prod = default_lake.prod
    steward = prod.id_of("Personas/Steward/Resource")
    for zone in default_lake.config.zones:
        key_policy = prod.props(f"Zone{construct_id(zone.name)}/Key/Resource")["KeyPolicy"]
        administer = statement(key_policy, "AdministerKeyBySteward")
        assert arn_of(steward) in as_list(administer["Principal"]["AWS"])
        bucket_policy = prod.props(f"Zone{construct_id(zone.name)}/Bucket/Policy/Resource")["PolicyDocument"]
        versions = statement(bucket_policy, "DenyVersionDeletes")
        assert versions["Condition"]["ArnNotLike"]["aws:PrincipalArn"] == [
            policies.persona_role_pattern(default_lake.names, "steward")
        ]


def test_outputs_name_every_bucket_queue_and_role(any_lake: Synthesized) -> None:
    values = [flatten(o["Value"]) for o in any_lake.prod.outputs.values()]
    for zone in any_lake.config.zones:
        bucket = any_lake.prod.id_of(f"Zone{construct_id(zone.name)}/Bucket/Resource")
        assert f"<{bucket}>" in values
    for route in queue_routes(any_lake.config, any_lake.names):
        suffix = "" if route.dataset is None else construct_id(route.dataset)
        queue = any_lake.prod.id_of(f"Zone{construct_id(route.zone.name)}/Queue{suffix}/Resource")
        assert f"<{queue}>" in values  # Ref of a queue is its URL
    for logical_id, role in any_lake.prod.of_type("AWS::IAM::Role").items():
        if role["Properties"].get("Path", "/").startswith(f"/{any_lake.config.lake}/") or role["Properties"].get(
            "RoleName", ""
        ).startswith(f"{any_lake.config.lake}-"):
            assert f"<{logical_id}.Arn>" in values, role["Properties"].get("RoleName")
