"""Realistic data-lake policy fixtures and a seeded request generator, for evaluator tests.

Why: the differential test needs policies that look like what the lake synthesizes (persona
identity policies, zone bucket policies full of Deny guardrails, KMS key policies), and requests
that probe their corners (absent tags, mixed-case levels, wrong keys, plain HTTP...). These are
hand-written stand-ins until the test is pointed at the synthesized templates: `run_differential`
in `iam_diff` takes any identity/resource policy mappings.

The policies use every construct the evaluator claims to support: NotAction, NotResource,
NotPrincipal, account-root principals, direct role principals, a service principal, wildcards,
`${aws:PrincipalTag/...}` variables in Resource and Condition, String/Numeric/Date/Bool/Null/Arn/
IpAddress operators, IfExists, ForAnyValue/ForAllValues.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from datalake_cfn.access.evaluator import NamedPolicy, Request

ACCOUNT = "111111111111"
REGION = "us-east-1"
LAKE = "acme"
LEVELS = ("public", "internal", "proprietary", "confidential", "secret")
ZONES = ("raw", "staged", "curated", "sandbox")
CLEARANCE = {
    "steward": "secret",
    "engineer": "confidential",
    "scientist": "proprietary",
    "analyst": "internal",
}
READS = {
    "steward": ZONES,
    "engineer": ZONES,
    "scientist": ("staged", "curated", "sandbox"),
    "analyst": ("curated", "sandbox"),
}
WRITES = {
    "steward": ZONES,
    "engineer": ZONES,
    "scientist": ("curated",),
    "analyst": ("sandbox",),
}
READ_ACTIONS = ("s3:GetObject", "s3:GetObjectVersion")
CORPORATE_CIDRS = ("10.20.0.0/16", "192.0.2.0/24")
LOG_SERVICE = "logging.s3.amazonaws.com"
VERSION = "2012-10-17"


def role_arn(persona: str) -> str:
    """The persona role's ARN, as naming.py would spell it."""
    return f"arn:aws:iam::{ACCOUNT}:role/{LAKE}-{persona}"


def session_arn(persona: str, session: str) -> str:
    """An assumed-role session of the persona role."""
    return f"arn:aws:sts::{ACCOUNT}:assumed-role/{LAKE}-{persona}/{session}"


def bucket(zone: str) -> str:
    """The zone bucket name."""
    return f"{LAKE}-{zone}-{ACCOUNT}-{REGION}"


def bucket_arn(zone: str) -> str:
    """The zone bucket ARN."""
    return f"arn:aws:s3:::{bucket(zone)}"


def key_arn(zone: str) -> str:
    """The zone's customer-managed KMS key ARN (a fixed fake key id per zone)."""
    return f"arn:aws:kms:{REGION}:{ACCOUNT}:key/{zone}0000-1111-2222-3333-444455556666"


CRAWLER_ROLE = f"arn:aws:iam::{ACCOUNT}:role/{LAKE}-crawler"
ROOT = f"arn:aws:iam::{ACCOUNT}:root"


def _levels_up_to(level: str) -> list[str]:
    return list(LEVELS[: LEVELS.index(level) + 1])


def _objects(zones: Sequence[str]) -> list[str]:
    return [f"{bucket_arn(zone)}/*" for zone in zones]


def _persona_statements(persona: str) -> list[dict[str, object]]:
    reads, writes = READS[persona], WRITES[persona]
    statements: list[dict[str, object]] = [
        {"Sid": "ReadZones", "Effect": "Allow", "Action": list(READ_ACTIONS), "Resource": _objects(reads)},
        {
            "Sid": "ListZones",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": [bucket_arn(zone) for zone in reads],
            "Condition": {
                "StringEquals": {"aws:RequestedRegion": REGION},
                "NumericLessThanEqualsIfExists": {"s3:max-keys": "1000"},
            },
        },
        {"Sid": "WriteZones", "Effect": "Allow", "Action": "s3:PutObject", "Resource": _objects(writes)},
        {
            "Sid": "UseZoneKeys",
            "Effect": "Allow",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": [key_arn(zone) for zone in sorted(set(reads) | set(writes))],
        },
        {
            "Sid": "DenyOutsideLake",
            "Effect": "Deny",
            "Action": "s3:*",
            "NotResource": [f"arn:aws:s3:::{LAKE}-*"],
        },
    ]
    if persona in ("steward", "engineer"):
        statements.append(
            {
                "Sid": "DeleteObjects",
                "Effect": "Allow",
                "Action": "s3:DeleteObject",
                "Resource": _objects(ZONES),
            }
        )
    if persona == "steward":
        statements.append(
            {"Sid": "Tagging", "Effect": "Allow", "Action": "s3:*ObjectTagging", "Resource": _objects(ZONES)}
        )
    if persona == "analyst":
        statements += [
            {
                "Sid": "WriteOwnTeamPrefix",
                "Effect": "Allow",
                "Action": "s3:PutObject",
                "Resource": f"{bucket_arn('curated')}/teams/${{aws:PrincipalTag/team}}/*",
            },
            {
                "Sid": "DenyAllButReadsAndWrites",
                "Effect": "Deny",
                "NotAction": ["s3:Get*", "s3:List*", "s3:PutObject", "kms:*"],
                "Resource": "*",
            },
        ]
    return statements


def identity_policies() -> dict[str, list[NamedPolicy]]:
    """Identity policies per principal (role ARN); the crawler has none (the bucket policy grants it)."""
    policies = {
        role_arn(persona): [
            NamedPolicy(f"{LAKE}-{persona}-access", {"Version": VERSION, "Statement": _persona_statements(persona)})
        ]
        for persona in CLEARANCE
    }
    policies[CRAWLER_ROLE] = []
    return policies


def _deny(sid: str, actions: object, resources: object, condition: Mapping[str, object]) -> dict[str, object]:
    return {
        "Sid": sid,
        "Effect": "Deny",
        "Principal": "*",
        "Action": actions,
        "Resource": resources,
        "Condition": dict(condition),
    }


def _deny_except_logs(sid: str, arn: str, condition: Mapping[str, object]) -> dict[str, object]:
    """A Deny on writes everywhere in the bucket but the log-delivery prefix (NotResource)."""
    statement = _deny(sid, "s3:PutObject", None, condition)
    del statement["Resource"]
    return statement | {"NotResource": f"{arn}/_logs/*"}


def _clearance_denies(objects: str) -> list[dict[str, object]]:
    """The allow-list clearance guardrail, one Deny per persona plus tag-driven ones.

    Each Deny covers *all* read actions and lists the levels the persona may read, so a missing or
    unexpected tag is denied too (fail-closed), whatever the case of the tag value.
    """
    statements = [
        _deny(
            f"DenyRead{persona.capitalize()}AboveClearance",
            list(READ_ACTIONS),
            objects,
            {
                "ArnLike": {"aws:PrincipalArn": role_arn(persona)},
                "StringNotEqualsIgnoreCase": {"s3:ExistingObjectTag/dataclassification": _levels_up_to(level)},
            },
        )
        for persona, level in CLEARANCE.items()
        if persona != "steward"
    ]
    statements.append(
        _deny(
            "DenyReadWithoutClearanceTag",
            list(READ_ACTIONS),
            objects,
            {
                "Null": {"aws:PrincipalTag/clearance": "true"},
                "ArnNotLike": {"aws:PrincipalArn": [CRAWLER_ROLE]},
            },
        )
    )
    return statements


def _zone_statements(zone: str) -> list[dict[str, object]]:
    arn, objects = bucket_arn(zone), f"{bucket_arn(zone)}/*"
    statements = [
        _deny("DenyInsecureTransport", "s3:*", [arn, objects], {"Bool": {"aws:SecureTransport": "false"}}),
        *_clearance_denies(objects),
        _deny(
            "DenyClassificationTagTampering",
            "s3:PutObjectTagging",
            objects,
            {
                "ForAnyValue:StringEquals": {"s3:RequestObjectTagKeys": ["dataclassification"]},
                "ArnNotLike": {"aws:PrincipalArn": role_arn("steward")},
            },
        ),
        _deny(
            "DenyClassificationTagRemoval",
            "s3:PutObjectTagging",
            objects,
            {"ForAllValues:StringNotEquals": {"s3:RequestObjectTagKeys": ["dataclassification"]}},
        ),
        _deny_except_logs(
            "DenyUntaggedWrites",
            arn,
            {"Null": {"s3:RequestObjectTag/dataclassification": "true"}},
        ),
        _deny_except_logs(
            "DenyWritesAboveOwnClearance",
            arn,
            {
                "StringNotEqualsIgnoreCase": {
                    "s3:RequestObjectTag/dataclassification": ["${aws:PrincipalTag/clearance}", "public"]
                },
                "ArnNotEquals": {"aws:PrincipalArn": role_arn("steward")},
            },
        ),
        _deny(
            "DenyWrongKmsKey",
            "s3:PutObject",
            objects,
            {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption-aws-kms-key-id": key_arn(zone)}},
        ),
        _deny(
            "DenyNonKmsEncryption",
            "s3:PutObject",
            objects,
            {"StringNotEqualsIfExists": {"s3:x-amz-server-side-encryption": "aws:kms"}},
        ),
        _deny(
            "DenyAnalystOutsideNetwork",
            "s3:*",
            [arn, objects],
            {
                "NotIpAddress": {"aws:SourceIp": list(CORPORATE_CIDRS)},
                "Null": {"aws:SourceVpce": "true"},
                "ArnLike": {"aws:PrincipalArn": f"arn:aws:iam::{ACCOUNT}:role/{LAKE}-analy?t"},
            },
        ),
        {
            "Sid": "AllowCrawlerRead",
            "Effect": "Allow",
            "Principal": {"AWS": CRAWLER_ROLE},
            "Action": ["s3:GetObject", "s3:ListBucket"],
            "Resource": [arn, objects],
        },
        {
            "Sid": "AccountRootMayReadVersions",
            "Effect": "Allow",
            "Principal": {"AWS": ROOT},
            "Action": "s3:GetObjectVersion",
            "Resource": objects,
        },
        {
            "Sid": "AllowLogDelivery",
            "Effect": "Allow",
            "Principal": {"Service": LOG_SERVICE},
            "Action": "s3:PutObject",
            "Resource": f"{arn}/_logs/*",
            "Condition": {"StringEquals": {"aws:SourceAccount": ACCOUNT}},
        },
    ]
    if zone == "raw":
        statements += [
            _deny(
                "DenyRawDeletesForAccount",
                "s3:DeleteObject",
                objects,
                {"StringNotEquals": {"aws:PrincipalTag/team": "platform"}},
            )
            | {"Principal": {"AWS": ROOT}},
            {
                "Sid": "OnlyStewardMayDeleteRaw",
                "Effect": "Deny",
                "NotPrincipal": {"AWS": [role_arn("steward")]},
                "Action": "s3:DeleteObject",
                "Resource": objects,
            },
            _deny(
                "DenyRawWritesAfterCutover",
                "s3:PutObject",
                objects,
                {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}},
            ),
        ]
    if zone == "curated":
        statements.append(
            {
                "Sid": "AnalystReadsOnly",
                "Effect": "Deny",
                "Principal": {"AWS": role_arn("analyst")},
                "NotAction": ["s3:GetObject", "s3:GetObjectVersion", "s3:ListBucket", "s3:PutObject"],
                "Resource": [arn, objects],
            }
        )
    return statements


def _key_statements(zone: str) -> list[dict[str, object]]:
    statements: list[dict[str, object]] = [
        {
            "Sid": "KeyAdministration",
            "Effect": "Allow",
            "Principal": {"AWS": role_arn("steward")},
            "Action": "kms:*",
            "Resource": "*",
        },
        {
            "Sid": "DenyUseOutsideS3",
            "Effect": "Deny",
            "Principal": "*",
            "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
            "Resource": "*",
            "Condition": {
                "StringNotLike": {"kms:ViaService": f"s3.{REGION}.amazonaws.com"},
                "ArnNotEquals": {"aws:PrincipalArn": role_arn("steward")},
            },
        },
    ]
    if zone in ("raw", "staged"):
        # These keys do not delegate to IAM: only principals named in the key policy may use them,
        # so a scientist's identity-policy grant on the staged key has no effect.
        statements.append(
            {
                "Sid": "EngineersUseKey",
                "Effect": "Allow",
                "Principal": {"AWS": role_arn("engineer")},
                "Action": ["kms:Decrypt", "kms:GenerateDataKey*"],
                "Resource": "*",
            }
        )
    else:
        statements.insert(
            0,
            {
                "Sid": "EnableIamPolicies",
                "Effect": "Allow",
                "Principal": {"AWS": ROOT},
                "Action": "kms:*",
                "Resource": "*",
            },
        )
    return statements


def resource_policies() -> dict[str, NamedPolicy]:
    """Bucket policies keyed by bucket name, key policies keyed by key ARN."""
    policies: dict[str, NamedPolicy] = {}
    for zone in ZONES:
        policies[bucket(zone)] = NamedPolicy(bucket(zone), {"Version": VERSION, "Statement": _zone_statements(zone)})
        policies[key_arn(zone)] = NamedPolicy(
            f"{LAKE}-{zone}-key", {"Version": VERSION, "Statement": _key_statements(zone)}
        )
    return policies


# ---------------------------------------------------------------------------------------------
# Request generator


@dataclass(frozen=True)
class _Caller:
    principal: str
    role: str | None  # the role ARN behind the principal, for aws:PrincipalArn
    persona: str | None


def _caller(rng: random.Random) -> _Caller:
    roll = rng.random()
    persona = rng.choice(list(CLEARANCE))
    if roll < 0.70:
        return _Caller(role_arn(persona), role_arn(persona), persona)
    if roll < 0.85:
        return _Caller(session_arn(persona, rng.choice(["alice", "bob"])), role_arn(persona), persona)
    if roll < 0.93:
        return _Caller(CRAWLER_ROLE, CRAWLER_ROLE, None)
    if roll < 0.97:
        stranger = f"arn:aws:iam::{ACCOUNT}:role/{LAKE}-intern"
        return _Caller(stranger, stranger, None)
    return _Caller(LOG_SERVICE, None, None)


def _level(rng: random.Random) -> str:
    level = rng.choice(LEVELS)
    return rng.choice([level, level, level.upper(), level.capitalize()])


def _maybe(rng: random.Random, probability: float, value: object) -> object | None:
    return value if rng.random() < probability else None


def _common_context(rng: random.Random, caller: _Caller) -> dict[str, object | None]:
    context: dict[str, object | None] = {
        "aws:SecureTransport": rng.choices(["true", "false", None], [85, 10, 5])[0],
        "aws:SourceIp": rng.choice(["10.20.3.4", "192.0.2.77", "203.0.113.9", None]),
        "aws:SourceVpce": _maybe(rng, 0.3, "vpce-0abc1234"),
    }
    if caller.role is None:
        context["aws:SourceAccount"] = rng.choice([ACCOUNT, "999999999999"])
        return context
    clearance = CLEARANCE.get(caller.persona or "", rng.choice(LEVELS))
    context |= {
        "aws:PrincipalArn": caller.role,
        "aws:PrincipalTag/clearance": rng.choices([clearance, _level(rng), None], [75, 15, 10])[0],
        "aws:PrincipalTag/team": rng.choice(["blue", "red", "platform", None]),
        "aws:RequestedRegion": rng.choices([REGION, "eu-west-1"], [90, 10])[0],
        "aws:CurrentTime": rng.choice(["2025-06-01T12:00:00Z", "2031-02-03T04:05:06Z"]),
    }
    return context


def _object_key(rng: random.Random) -> str:
    return rng.choice(
        [
            "sales/2024/01.csv",
            "customers/part-0.parquet",
            "teams/blue/notes.csv",
            "teams/red/x.csv",
            "_logs/a.log",
        ]
    )


def _s3_request(rng: random.Random, caller: _Caller) -> tuple[str, str, dict[str, object | None]]:
    zone = rng.choice(ZONES)
    name = bucket(zone) if rng.random() < 0.95 else "other-team-bucket"
    action = rng.choices(
        [
            "s3:GetObject",
            "s3:GetObjectVersion",
            "s3:PutObject",
            "s3:ListBucket",
            "s3:PutObjectTagging",
            "s3:DeleteObject",
            "s3:GetObjectTagging",
        ],
        [25, 12, 25, 10, 12, 8, 8],
    )[0]
    if caller.role is None:
        action = "s3:PutObject"
    resource = f"arn:aws:s3:::{name}" if action == "s3:ListBucket" else f"arn:aws:s3:::{name}/{_object_key(rng)}"
    context: dict[str, object | None] = {}
    if action in ("s3:GetObject", "s3:GetObjectVersion", "s3:PutObjectTagging", "s3:GetObjectTagging"):
        context["s3:ExistingObjectTag/dataclassification"] = _maybe(rng, 0.85, _level(rng))
    if action == "s3:GetObjectVersion":
        context["s3:versionid"] = _maybe(rng, 0.5, "3HL4kqtJlcpXroDTDmJ-rmSpXd3dIbrHY")
    if action in ("s3:PutObject", "s3:PutObjectTagging"):
        context |= _request_tags(rng)
    if action == "s3:PutObject":
        context["s3:x-amz-server-side-encryption"] = rng.choices(["aws:kms", "AES256", None], [70, 10, 20])[0]
        context["s3:x-amz-server-side-encryption-aws-kms-key-id"] = rng.choices(
            [key_arn(zone), key_arn(rng.choice(ZONES)), None], [60, 20, 20]
        )[0]
    if action == "s3:ListBucket":
        context["s3:prefix"] = rng.choice(["", "sales/", "teams/blue/", None])
        context["s3:max-keys"] = rng.choice(["10", "1000", "5000", None])
    return action, resource, context


def _request_tags(rng: random.Random) -> dict[str, object | None]:
    keys = rng.choice([[], ["owner"], ["dataclassification"], ["dataclassification", "owner"], None])
    if keys is None:
        return {}
    context: dict[str, object | None] = {"s3:RequestObjectTagKeys": keys}
    if "dataclassification" in keys:
        context["s3:RequestObjectTag/dataclassification"] = _level(rng)
    if "owner" in keys:
        context["s3:RequestObjectTag/owner"] = rng.choice(["alice", "bob"])
    return context


def _kms_request(rng: random.Random) -> tuple[str, str, dict[str, object | None]]:
    action = rng.choice(["kms:Decrypt", "kms:GenerateDataKey", "kms:Encrypt"])
    via = rng.choices([f"s3.{REGION}.amazonaws.com", f"glue.{REGION}.amazonaws.com", None], [70, 15, 15])[0]
    context = {"kms:ViaService": via}
    return action, key_arn(rng.choice(ZONES)), context


def generate_requests(count: int, seed: int = 20240611) -> list[Request]:
    """`count` reproducible requests over the fixtures' principals, buckets and keys."""
    rng = random.Random(seed)
    requests = []
    for _ in range(count):
        caller = _caller(rng)
        if caller.role is not None and rng.random() < 0.15:
            action, resource, specific = _kms_request(rng)
        else:
            action, resource, specific = _s3_request(rng, caller)
        context = {k: v for k, v in (_common_context(rng, caller) | specific).items() if v is not None}
        requests.append(Request(caller.principal, action, resource, context))  # type: ignore[arg-type]
    return requests
