"""Lake-shaped IAM requests against a PolicySet (generated or synthesized), for differential tests.

Why here: both the differential test over the generated policies and the one over the synthesized
templates draw the same seeded sample, shaped by datalake_cfn.access.operations like the lake's real
requests.
"""

from __future__ import annotations

import random

from datalake_cfn.access import operations as ops
from datalake_cfn.access.evaluator import NamedPolicy, PrincipalIdentity, Request
from datalake_cfn.access.matrix import PolicySet
from datalake_cfn.access.policies import OBJECT_READ_ACTIONS
from tests.helpers.iam_diff import DiffReport, compare_with_oracle, require_oracle


def identity_by_role(policies: PolicySet) -> dict[str, list[NamedPolicy]]:
    """iam_diff looks identity policies up by the session's role ARN (which carries no path)."""
    out: dict[str, list[NamedPolicy]] = {}
    for role in policies.roles.values():
        caller = ops.Caller("x", role.arn)
        role_arn = PrincipalIdentity.parse(caller.session_arn).role_arn
        assert role_arn is not None
        out[role_arn] = list(role.policies)
    return out


def resources_by_name(policies: PolicySet) -> dict[str, NamedPolicy]:
    out: dict[str, NamedPolicy] = {}
    for zone in policies.zones.values():
        assert zone.bucket_policy is not None
        out[zone.bucket_arn.removeprefix("arn:aws:s3:::")] = zone.bucket_policy
        out[zone.key_arn] = zone.key_policy
    return out


def generate(policies: PolicySet, count: int, seed: int) -> list[Request]:
    rng = random.Random(seed)
    config, region = policies.config, policies.names.region
    levels = [*config.classification, None, None, "Secret", "INTERNAL", "topsecret"]
    prefixes = [d.key_prefix for d in config.datasets] + ["stray/", ""]
    services = [key for key in policies.roles if "-" in key]  # pipeline-*, glue-job
    requests: list[Request] = []
    while len(requests) < count:
        if rng.random() < 0.2:
            caller = policies.service_caller(rng.choice([*services, "crawler"]))
        else:
            persona = rng.choice(["steward", "engineer", "scientist", "analyst"])
            session = rng.choice([None, None, *config.classification])
            caller = policies.caller(persona, session)
        zone = policies.zones[rng.choice([z.name for z in config.zones])]
        key = f"{rng.choice(prefixes)}file-{rng.randrange(100)}.csv"
        secure = rng.random() > 0.1
        level = rng.choice(levels)
        kind = rng.choice(["list", "read", "read", "write", "write", "tag", "untag", "delete", "decrypt", "direct"])
        if kind == "list":
            auths = ops.list_bucket(caller, zone.bucket_arn, secure=secure)
        elif kind == "read":
            action = rng.choice([*OBJECT_READ_ACTIONS, "s3:GetObjectAcl", "s3:GetObjectLegalHold"])
            auths = ops.read_object(
                caller, zone.bucket_arn, key, zone.key_arn, region, object_level=level, secure=secure, actions=(action,)
            )
        elif kind == "write":
            other_key = policies.zones[rng.choice(list(policies.zones))].key_arn
            auths = ops.write_object(
                caller,
                zone.bucket_arn,
                key,
                zone.key_arn,
                region,
                request_level=level,
                secure=secure,
                upload=rng.choice(["single", "single", "create", "part", "complete"]),
                sse=rng.choice([None, None, "aws:kms", "AES256"]),
                sse_key_id=rng.choice([None, None, zone.key_arn, other_key]),
            )
        elif kind in ("tag", "untag"):
            new = rng.choice(levels) if kind == "tag" else None
            auths = ops.tag_object(caller, zone.bucket_arn, key, object_level=level, new_level=new, secure=secure)
        elif kind == "delete":
            auths = ops.delete_object(caller, zone.bucket_arn, key, version=rng.random() < 0.5, secure=secure)
        elif kind == "decrypt":
            auths = ops.decrypt(caller, zone.bucket_arn, zone.key_arn, region, secure=secure)
        else:  # a KMS call made directly, not through S3
            action = rng.choice(["kms:Decrypt", "kms:GenerateDataKey", "kms:DescribeKey", "kms:ScheduleKeyDeletion"])
            auths = [ops.Authorization(Request(caller.session_arn, action, zone.key_arn, caller.context(secure)))]
        for auth in auths:
            requests.append(auth.request)
            if auth.kms is not None:
                requests.append(auth.kms)
    return requests[:count]


def assert_agrees_with_oracle(policies: PolicySet, target: int = 2400, seed: int = 7_2026) -> DiffReport:
    """Draw the sample, run both evaluators, and assert agreement and coverage of the guardrails."""
    require_oracle()
    requests = generate(policies, target, seed)
    report = compare_with_oracle(requests, identity_by_role(policies), resources_by_name(policies))

    shown = "\n".join(str(d) for d in report.disagreements[:15])
    assert not report.disagreements, f"{len(report.disagreements)} disagreements with iam-simulate:\n{shown}"
    assert report.compared >= 2000, f"only {report.compared} compared; excluded: {report.excluded}"
    # Keys the oracle drops (and so they are dropped from our side too): iam-simulate does not match
    # `kms:EncryptionContext:aws:s3:arn` to IAM's `kms:EncryptionContext:${EncryptionContextKey}`, and
    # s3:GetObjectLegalHold carries no object tags. Nothing else may be dropped.
    assert set(report.ignored_context_keys) <= {
        "kms:encryptioncontext:aws:s3:arn",
        "s3:existingobjecttag/dataclassification",
    }, report.ignored_context_keys
    for reason in ("allow", "explicit_deny", "implicit_deny"):
        assert report.reasons[reason] >= 0.05 * report.compared, report.reasons
    # The lake's guardrails each decide some of the sample (they are exercised, not just present).
    deciding = {label.split('"')[1] for label in report.deciding_statements if '"' in label}
    expected = {
        "DenyInsecureTransport",
        "DenyUploadsUnderOtherKeys",
        "DenyUploadsWithoutKms",
        "DenyReadsByOtherPrincipals",
        "DenyWritesByOtherPrincipals",
        "DenyReadUntaggedObjects",
        "DenyReclassifying",
        "DenyTagRemoval",
        "DenyKeyUseByOtherPrincipals",
        "DenyWritesOutsideDatasets",
        "DenyReadAboveInternal",
        "DenyClassifyingAboveProprietary",
    }
    assert expected <= deciding, f"never decisive: {sorted(expected - deciding)}"
    return report
