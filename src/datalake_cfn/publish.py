"""`python build.py publish`: templates and code to S3 as an immutable version, a manifest, quick-create links.

Layout (the AWS Solutions convention: Lambda reads code only from a bucket in its own region):

    s3://BASE/<lake>/<version>/<region>/{prod,security}.json        the templates (canonical copy)
    s3://BASE-<region>/<lake>/<version>/zone-consumer.zip, glue/*.py the code, per region
    s3://BASE-<region>/<lake>/<version>/{prod,security}.json        the templates again, beside the code,
                                                                     so a stack's template URL is in its region

With `--single-bucket` (one region) everything sits in BASE under `<lake>/<version>/`.

The default version is a content hash of everything published, so an unchanged build uploads
nothing and a changed one gets a new prefix. An object already published is never overwritten:
a key that exists with other bytes stops the publish before anything is uploaded.

The published prod template carries `CodeBucket` / `CodeKeyPrefix` *defaults* for its version and
region. Rendering stays pure: :func:`bake_defaults` rewrites the Parameters' `Default` of the
rendered dict after the render (a post-render step, no AWS call in the builder), which is why
a stack launched from the link needs nothing filled in about the code.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

from datalake_cfn.builder import RenderedStack
from datalake_cfn.stacks import params

STACK_NAME_MAX = 128
QUICK_CREATE_MAX = 1024
CAPABILITY = "CAPABILITY_NAMED_IAM"
CODE_PARAMETERS = (params.CODE_BUCKET, params.CODE_KEY_PREFIX)
"""Parameters the publisher owns: set to the version's values on every update (UsePreviousValue
would keep the old code)."""


class PublishError(Exception):
    """Publishing cannot go on; `exit_code` follows the CLI's table (2 usage, 3 denied, 4 AWS failed)."""

    def __init__(self, message: str, exit_code: int = 2) -> None:
        super().__init__(message)
        self.exit_code = exit_code


@dataclass(frozen=True)
class S3Object:
    """One object to publish: where it goes and its exact bytes."""

    region: str
    bucket: str
    key: str
    body: bytes
    kind: str  # template | artifact
    name: str  # prod, security, zone-consumer.zip, glue/x.py

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.body).hexdigest()


@dataclass
class Plan:
    """Everything one publish uploads, before any AWS call."""

    lake: str
    version: str
    base: str
    regions: list[str]
    single_bucket: bool
    templates: dict[str, dict[str, dict[str, Any]]]  # region -> stack -> baked template
    objects: list[S3Object] = field(default_factory=list)

    def code_bucket(self, region: str) -> str:
        return code_bucket(self.base, region, self.single_bucket)

    @property
    def prefix(self) -> str:
        return f"{self.lake}/{self.version}/"


def code_bucket(base: str, region: str, single_bucket: bool) -> str:
    return base if single_bucket else f"{base}-{region}"


def stack_name(lake: str, stack: str) -> str:
    """`<lake>-prod` / `<lake>-security`: a valid CloudFormation stack name (letter first, [-a-zA-Z0-9])."""
    name = f"{lake}-{stack}"
    if not (name[0].isalpha() and all(c.isalnum() or c == "-" for c in name) and len(name) <= STACK_NAME_MAX):
        raise PublishError(f"stack name {name!r} is not a valid CloudFormation stack name")
    return name


def compact(template: dict[str, Any]) -> str:
    """The uploaded form: the same serialisation as RenderedStack.compact_text."""
    return json.dumps(template, separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def bake_defaults(template: dict[str, Any], defaults: dict[str, str]) -> dict[str, Any]:
    """A copy of `template` whose declared parameters named in `defaults` get those Defaults."""
    baked = copy.deepcopy(template)
    declared = baked.get("Parameters", {})
    for name, value in defaults.items():
        if name in declared:
            declared[name]["Default"] = value
    return baked


def content_version(
    rendered: dict[str, RenderedStack], artifacts: list[tuple[str, bytes]], base: str, regions: list[str], single: bool
) -> str:
    """12 hex digits of a sha256 over the templates, the artifacts and where they go."""
    digest = hashlib.sha256()
    for line in (f"base={base}", f"single={single}", "regions=" + ",".join(sorted(regions))):
        digest.update(line.encode() + b"\n")
    for stack in sorted(rendered):
        digest.update(
            f"template {stack} {hashlib.sha256(rendered[stack].compact_text.encode()).hexdigest()}\n".encode()
        )
    for name, body in sorted(artifacts):
        digest.update(f"artifact {name} {hashlib.sha256(body).hexdigest()}\n".encode())
    return digest.hexdigest()[:12]


def read_artifacts(directory: Path) -> list[tuple[str, bytes]]:
    """(name under the version prefix, bytes) for every file the builder wrote under artifacts/."""
    return sorted(
        (path.relative_to(directory).as_posix(), path.read_bytes()) for path in directory.rglob("*") if path.is_file()
    )


def plan(
    lake: str,
    rendered: dict[str, RenderedStack],
    artifacts: list[tuple[str, bytes]],
    base: str,
    regions: list[str],
    single_bucket: bool = False,
    version: str | None = None,
) -> Plan:
    """What to upload where, with each region's prod template baked for its code bucket."""
    if single_bucket and len(regions) != 1:
        raise PublishError("--single-bucket holds the code of one region only (Lambda reads code from its region)")
    if version is not None and not _valid_version(version):
        raise PublishError(f"--version {version!r}: use letters, digits, '.', '_' or '-'")
    version = version or content_version(rendered, artifacts, base, regions, single_bucket)
    result = Plan(lake, version, base, list(regions), single_bucket, templates={})
    for region in regions:
        bucket = result.code_bucket(region)
        defaults = {params.CODE_BUCKET: bucket, params.CODE_KEY_PREFIX: result.prefix}
        result.templates[region] = {name: bake_defaults(r.template, defaults) for name, r in rendered.items()}
        for name, body in artifacts:
            result.objects.append(S3Object(region, bucket, result.prefix + name, body, "artifact", name))
        for name, template in sorted(result.templates[region].items()):
            body = compact(template).encode("utf-8")
            if not single_bucket:
                key = f"{result.prefix}{region}/{name}.json"
                result.objects.append(S3Object(regions[0], base, key, body, "template", name))
            result.objects.append(S3Object(region, bucket, f"{result.prefix}{name}.json", body, "template", name))
    return result


def _valid_version(version: str) -> bool:
    return bool(version) and all(c.isalnum() or c in "._-" for c in version) and len(version) <= 64


# -- URLs, links, commands ---------------------------------------------------------------------------
def object_url(bucket: str, key: str, region: str, endpoint: str | None = None) -> str:
    """The template URL CloudFormation reads: regional virtual-hosted S3, or path-style on an emulator.

    moto's CloudFormation fetches `http://localhost:<port>/<bucket>/<key>` but not `127.0.0.1`.
    """
    if endpoint:
        parts = urlsplit(endpoint.rstrip("/"))
        host = parts.netloc.replace("127.0.0.1", "localhost")
        return urlunsplit((parts.scheme, host, f"{parts.path}/{bucket}/{quote(key)}", "", ""))
    suffix = "amazonaws.com.cn" if region.startswith("cn-") else "amazonaws.com"
    return f"https://{bucket}.s3.{region}.{suffix}/{quote(key)}"


def quick_create_link(region: str, template_url: str, name: str, values: dict[str, str], template: dict) -> str:
    """The console's quick-create link: every value percent-encoded, only declared non-NoEcho parameters."""
    declared = template.get("Parameters", {})
    query = [("templateURL", template_url), ("stackName", name)]
    query += [
        (f"param_{key}", value)
        for key, value in sorted(values.items())
        if key in declared and str(declared[key].get("NoEcho", "false")).lower() != "true"
    ]
    encoded = "&".join(f"{key}={quote(value, safe='')}" for key, value in query)
    console = "console.amazonaws.cn" if region.startswith("cn-") else "console.aws.amazon.com"
    link = f"https://{region}.{console}/cloudformation/home?region={region}#/stacks/create/review?{encoded}"
    if len(template_url) > QUICK_CREATE_MAX:
        raise PublishError(f"template URL of {name} is {len(template_url)} characters, over {QUICK_CREATE_MAX}")
    return link


def launch_values(plan_: Plan, region: str, stack: str, accounts: dict[str, str | None]) -> dict[str, str]:
    """Parameter values a link can pre-fill: the code location, and the other account when lake.yaml knows it."""
    if stack == "prod":
        values = {params.CODE_BUCKET: plan_.code_bucket(region), params.CODE_KEY_PREFIX: plan_.prefix}
        if accounts.get("security"):
            values[params.SECURITY_ACCOUNT_ID] = str(accounts["security"])
        return values
    return {params.PROD_ACCOUNT_ID: str(accounts["prod"])} if accounts.get("prod") else {}


def _param_args(template: dict, values: dict[str, str], previous: bool) -> list[str]:
    """`ParameterKey=X,ParameterValue=V` (or `UsePreviousValue=true`) for every declared parameter."""
    args = []
    for key in sorted(template.get("Parameters", {})):
        if key in values:
            args.append(f"ParameterKey={key},ParameterValue={values[key]}")
        elif previous:
            args.append(f"ParameterKey={key},UsePreviousValue=true")
        elif "Default" not in template["Parameters"][key]:
            args.append(f"ParameterKey={key},ParameterValue=<{key}>")
    return args


def _shell(words: list[str]) -> str:
    import shlex

    return " ".join(shlex.quote(w) for w in words)


def stack_commands(name: str, region: str, url: str, template: dict, values: dict[str, str], version: str) -> dict:
    """The plain AWS CLI commands for one stack: create, update, change set (create, review, execute)."""
    code = {k: v for k, v in values.items() if k in CODE_PARAMETERS}
    common = ["--region", region, "--capabilities", CAPABILITY]
    change_set = f"{name}-{version}".replace(".", "-").replace("_", "-")
    return {
        "create_stack": _shell(
            [
                "aws",
                "cloudformation",
                "create-stack",
                "--stack-name",
                name,
                "--template-url",
                url,
                "--parameters",
                *_param_args(template, values, previous=False),
                *common,
                "--enable-termination-protection",
            ]
        ),
        "update_stack": _shell(
            [
                "aws",
                "cloudformation",
                "update-stack",
                "--stack-name",
                name,
                "--template-url",
                url,
                "--parameters",
                *_param_args(template, code, previous=True),
                *common,
            ]
        ),
        "create_change_set": _shell(
            [
                "aws",
                "cloudformation",
                "create-change-set",
                "--stack-name",
                name,
                "--change-set-name",
                change_set,
                "--change-set-type",
                "UPDATE",
                "--template-url",
                url,
                "--parameters",
                *_param_args(template, code, previous=True),
                *common,
            ]
        ),
        "describe_change_set": _shell(
            [
                "aws",
                "cloudformation",
                "describe-change-set",
                "--stack-name",
                name,
                "--change-set-name",
                change_set,
                "--region",
                region,
            ]
        ),
        "execute_change_set": _shell(
            [
                "aws",
                "cloudformation",
                "execute-change-set",
                "--stack-name",
                name,
                "--change-set-name",
                change_set,
                "--region",
                region,
            ]
        ),
    }


def stackset_commands(name: str, region: str, url: str, template: dict, values: dict[str, str], account: str) -> dict:
    """StackSets, from an organization's management or delegated-administrator account: one set, one target.

    The two permission models differ only in how the set is created, how its one instance is
    targeted, and (service-managed) that every call is made as the delegated administrator."""
    code = {k: v for k, v in values.items() if k in CODE_PARAMETERS}
    create_params = ["--parameters", *_param_args(template, values, previous=False)]
    update_params = ["--parameters", *_param_args(template, code, previous=True)]
    caps = ["--capabilities", CAPABILITY, "--region", region]
    create_set = ["aws", "cloudformation", "create-stack-set", "--stack-set-name", name, "--template-url", url]
    create_instance = ["aws", "cloudformation", "create-stack-instances", "--stack-set-name", name]
    update_set = ["aws", "cloudformation", "update-stack-set", "--stack-set-name", name, "--template-url", url]
    delegated = ["--call-as", "DELEGATED_ADMIN"]
    return {
        "self_managed": [
            _shell(
                [
                    *create_set,
                    *create_params,
                    *caps,
                    *("--permission-model", "SELF_MANAGED"),
                    "--administration-role-arn",
                    "arn:aws:iam::<admin-account>:role/AWSCloudFormationStackSetAdministrationRole",
                    *("--execution-role-name", "AWSCloudFormationStackSetExecutionRole"),
                ]
            ),
            _shell([*create_instance, "--accounts", account, "--regions", region, "--region", region]),
            _shell([*update_set, *update_params, *caps]),
        ],
        "service_managed": [
            _shell(
                [
                    *create_set,
                    *create_params,
                    *caps,
                    *("--permission-model", "SERVICE_MANAGED", "--auto-deployment", "Enabled=false"),
                    *delegated,
                ]
            ),
            _shell(
                [
                    *create_instance,
                    *("--regions", region, "--region", region, "--deployment-targets"),
                    f"OrganizationalUnitIds=<ou-id>,Accounts={account},AccountFilterType=INTERSECTION",
                    *delegated,
                ]
            ),
            _shell([*update_set, *update_params, *caps, *delegated]),
        ],
    }


# -- S3 ----------------------------------------------------------------------------------------------
def endpoint_from(explicit: str | None) -> str | None:
    """`--endpoint-url`, else AWS_ENDPOINT_URL (which boto3 honours too), else real AWS."""
    return explicit or os.environ.get("AWS_ENDPOINT_URL") or None


def s3_client(session: Any, region: str, endpoint: str | None) -> Any:
    from botocore.config import Config

    style = {"addressing_style": "path"} if endpoint else {}
    return session.client("s3", region_name=region, endpoint_url=endpoint, config=Config(s3=style))


def tls_only_policy(bucket: str) -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {
                    "Sid": "DenyInsecureTransport",
                    "Effect": "Deny",
                    "Principal": "*",
                    "Action": "s3:*",
                    "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
                    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
                }
            ],
        }
    )


def ensure_bucket(s3: Any, bucket: str, region: str) -> bool:
    """Create `bucket` private, encrypted, versioned and TLS-only when it does not exist; True when created."""
    from botocore.exceptions import ClientError

    try:
        s3.head_bucket(Bucket=bucket)
        return False
    except ClientError as exc:
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if status == 403:
            raise PublishError(f"bucket {bucket} exists but this account may not use it (403)", 3) from None
        if status != 404:
            raise
    create: dict[str, Any] = {"Bucket": bucket}
    if region != "us-east-1":
        create["CreateBucketConfiguration"] = {"LocationConstraint": region}
    s3.create_bucket(**create)
    s3.put_public_access_block(
        Bucket=bucket,
        PublicAccessBlockConfiguration={
            "BlockPublicAcls": True,
            "IgnorePublicAcls": True,
            "BlockPublicPolicy": True,
            "RestrictPublicBuckets": True,
        },
    )
    s3.put_bucket_encryption(
        Bucket=bucket,
        ServerSideEncryptionConfiguration={
            "Rules": [{"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]
        },
    )
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_policy(Bucket=bucket, Policy=tls_only_policy(bucket))
    return True


def published_sha256(s3: Any, bucket: str, key: str) -> str | None:
    """The sha256 of the object at `key`, or None when there is none (read from its bytes if no metadata)."""
    from botocore.exceptions import ClientError

    try:
        head = s3.head_object(Bucket=bucket, Key=key)
    except ClientError as exc:
        if exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 404:
            return None
        raise
    recorded = head.get("Metadata", {}).get("sha256")
    if recorded:
        return recorded
    return hashlib.sha256(s3.get_object(Bucket=bucket, Key=key)["Body"].read()).hexdigest()


@dataclass
class Outcome:
    """One object's fate in this publish."""

    bucket: str
    key: str
    sha256: str
    size: int
    action: str  # uploaded | skipped


def upload(
    plan_: Plan,
    session: Any,
    endpoint: str | None,
    progress: Callable[[S3Object, str], None] | None = None,
) -> tuple[list[Outcome], list[str]]:
    """Upload what is not there yet; refuse, before any upload, a key published with other bytes.

    Returns the outcomes (artifacts first, so no template ever points at missing code) and the
    buckets created.
    """
    clients: dict[str, Any] = {}

    def client(region: str) -> Any:
        if region not in clients:
            clients[region] = s3_client(session, region, endpoint)
        return clients[region]

    created = []
    for bucket, region in sorted({(o.bucket, o.region) for o in plan_.objects}):
        if ensure_bucket(client(region), bucket, region):
            created.append(bucket)
    ordered = sorted(plan_.objects, key=lambda o: (o.kind != "artifact", o.bucket, o.key))
    existing = {(o.bucket, o.key): published_sha256(client(o.region), o.bucket, o.key) for o in ordered}
    conflicts = [o for o in ordered if existing[(o.bucket, o.key)] not in (None, o.sha256)]
    if conflicts:
        first = conflicts[0]
        raise PublishError(
            f"version {plan_.version} is already published with other content (s3://{first.bucket}/{first.key}); "
            "a published version is never overwritten: publish under a new --version (or drop --version)"
        )
    outcomes = []
    for obj in ordered:
        action = "skipped" if existing[(obj.bucket, obj.key)] == obj.sha256 else "uploaded"
        if action == "uploaded":
            client(obj.region).put_object(
                Bucket=obj.bucket,
                Key=obj.key,
                Body=obj.body,
                ContentType="application/json" if obj.key.endswith(".json") else "application/octet-stream",
                Metadata={"sha256": obj.sha256},
            )
        if progress:
            progress(obj, action)
        outcomes.append(Outcome(obj.bucket, obj.key, obj.sha256, len(obj.body), action))
    return outcomes, created


# -- the manifest and LAUNCH.md ------------------------------------------------------------------------
def version_entry(plan_: Plan, endpoint: str | None, local_dir: Path) -> dict[str, Any]:
    """Templates (URL, sha256, size, local copy for `datalake plan`) and artifacts of one version."""
    templates: dict[str, dict[str, Any]] = {}
    for region in plan_.regions:
        templates[region] = {}
        for name, template in plan_.templates[region].items():
            body = compact(template).encode("utf-8")
            local = local_dir / plan_.version / region / f"{name}.json"
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(body)
            bucket = plan_.code_bucket(region)
            key = f"{plan_.prefix}{name}.json"
            templates[region][name] = {
                "stack_name": stack_name(plan_.lake, name),
                "bucket": bucket,
                "key": key,
                "url": object_url(bucket, key, region, endpoint),
                "sha256": hashlib.sha256(body).hexdigest(),
                "size": len(body),
                "local": local.relative_to(local_dir.parent).as_posix(),  # relative to manifest.json's folder
            }
            if not plan_.single_bucket:
                canonical = f"{plan_.prefix}{region}/{name}.json"
                templates[region][name]["canonical"] = {
                    "bucket": plan_.base,
                    "key": canonical,
                    "url": object_url(plan_.base, canonical, plan_.regions[0], endpoint),
                }
    artifacts = [
        {"region": o.region, "bucket": o.bucket, "key": o.key, "name": o.name, "sha256": o.sha256, "size": len(o.body)}
        for o in plan_.objects
        if o.kind == "artifact"
    ]
    return {"templates": templates, "artifacts": artifacts, "prefix": plan_.prefix}


def build_manifest(
    plan_: Plan, endpoint: str | None, out: Path, accounts: dict[str, str | None], previous: dict[str, Any] | None
) -> dict[str, Any]:
    entry = version_entry(plan_, endpoint, out / "published")
    links: dict[str, dict[str, str]] = {}
    commands: dict[str, dict[str, Any]] = {}
    for region in plan_.regions:
        links[region], commands[region] = {}, {}
        for stack in ("security", "prod"):
            template = plan_.templates[region][stack]
            info = entry["templates"][region][stack]
            values = launch_values(plan_, region, stack, accounts)
            links[region][stack] = quick_create_link(region, info["url"], info["stack_name"], values, template)
            target = accounts.get(stack) or f"<{stack}-account-id>"
            commands[region][stack] = {
                **stack_commands(info["stack_name"], region, info["url"], template, values, plan_.version),
                "stacksets": stackset_commands(info["stack_name"], region, info["url"], template, values, str(target)),
                "deploy": f"datalake deploy {stack} --version {plan_.version} --region {region}",
            }
    versions = dict((previous or {}).get("versions", {})) if previous and previous.get("lake") == plan_.lake else {}
    versions[plan_.version] = entry
    return {
        "lake": plan_.lake,
        "version": plan_.version,
        "bucket": plan_.base,
        "single_bucket": plan_.single_bucket,
        "regions": plan_.regions,
        "endpoint_url": endpoint,
        **entry,
        "quick_create": links,
        "commands": commands,
        "versions": versions,
    }


def launch_markdown(manifest: dict[str, Any], templates: dict[str, dict[str, dict[str, Any]]]) -> str:
    """LAUNCH.md: what a person does, in order, with the links and the commands."""
    lake, version = manifest["lake"], manifest["version"]
    lines = [
        f"# Launching the `{lake}` lake, version `{version}`",
        "",
        "Two stacks, in two accounts, in this order: **security first** (its audit bucket and key must exist",
        "before the prod stack's CloudTrail writes into them), **then prod**.",
        "",
        "On the review page tick **I acknowledge that AWS CloudFormation might create IAM resources with",
        "custom names** (`CAPABILITY_NAMED_IAM`): the stacks create IAM roles with fixed names and paths",
        f"(`/{lake}/<persona>/`, the pipeline roles, the metrics-sharing role) so that policies can name them.",
        "A link cannot tick that box for you: the console takes no capabilities from the URL.",
        "",
    ]
    for region in manifest["regions"]:
        links = manifest["quick_create"][region]
        lines += [f"## Region {region}", ""]
        for step, stack in enumerate(("security", "prod"), 1):
            info = manifest["templates"][region][stack]
            template = templates[region][stack]
            required = [k for k, v in sorted(template.get("Parameters", {}).items()) if "Default" not in v]
            account = "security" if stack == "security" else "prod"
            lines += [
                f"### {step}. `{info['stack_name']}` in the {account} account",
                "",
                f"Signed in to the {account} account: [launch {info['stack_name']}]({links[stack]})",
                "",
                f"- template: `{info['url']}` (sha256 `{info['sha256']}`, {info['size']:,} bytes)",
                "- fill in: " + (", ".join(f"`{k}`" for k in required) if required else "nothing (all pre-filled)"),
            ]
            if stack == "prod":
                lines.append(
                    "- `CodeBucket` and `CodeKeyPrefix` are pre-set to this version's code in this region; leave them."
                )
            commands = manifest["commands"][region][stack]
            lines += [
                "",
                "Or with the AWS CLI (first launch, then any later update; parameters not given keep their values):",
                "",
                "```bash",
                commands["create_stack"],
                commands["update_stack"],
                "```",
                "",
                "Reviewed first, through a change set:",
                "",
                "```bash",
                commands["create_change_set"],
                commands["describe_change_set"],
                commands["execute_change_set"],
                "```",
                "",
                "Or `" + commands["deploy"] + "` (shows the change set, refuses replacements, streams events).",
                "",
            ]
        lines += [
            "### From an organization's management or delegated-administrator account (StackSets)",
            "",
            "Two stack sets, one target account each. Self-managed permissions (the two StackSet roles exist):",
            "",
            "```bash",
        ]
        for stack in ("security", "prod"):
            lines += manifest["commands"][region][stack]["stacksets"]["self_managed"]
        lines += ["```", "", "Service-managed permissions (AWS Organizations, trusted access on):", "", "```bash"]
        for stack in ("security", "prod"):
            lines += manifest["commands"][region][stack]["stacksets"]["service_managed"]
        lines += ["```", ""]
    return "\n".join(lines)


def write_outputs(manifest: dict[str, Any], templates: dict, out: Path) -> tuple[Path, Path]:
    out.mkdir(parents=True, exist_ok=True)
    manifest_path, launch_path = out / "manifest.json", out / "LAUNCH.md"
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    launch_path.write_text(launch_markdown(manifest, templates), encoding="utf-8")
    return manifest_path, launch_path


def read_manifest(path: Path) -> dict[str, Any] | None:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def summary(outcomes: Iterable[Outcome]) -> dict[str, int]:
    counts = {"uploaded": 0, "skipped": 0}
    for outcome in outcomes:
        counts[outcome.action] += 1
    return counts


def outcomes_json(outcomes: Iterable[Outcome]) -> list[dict[str, Any]]:
    return [asdict(o) for o in outcomes]
