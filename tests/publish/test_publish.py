"""`python build.py publish` into moto's S3: bytes, references, immutability, links, buckets."""

from __future__ import annotations

import hashlib
import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

import pytest
from publish_helpers import BASE, build, client, publish_json

from datalake_cfn.publish import QUICK_CREATE_MAX


@pytest.fixture(scope="module")
def workdir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("publish")


@pytest.fixture(scope="module")
def first(workdir: Path, endpoint: str) -> dict[str, Any]:
    """The default lake published once; the manifest as written."""
    result = publish_json(workdir, endpoint, "--out", "out")
    assert result["uploaded"] > 0 and result["skipped"] == 0
    return json.loads((workdir / "out" / "manifest.json").read_text())


def sha256_of(endpoint: str, bucket: str, key: str) -> str:
    body = client("s3", endpoint).get_object(Bucket=bucket, Key=key)["Body"].read()
    return hashlib.sha256(body).hexdigest()


def resolve(value: Any, parameters: dict[str, str]) -> str:
    """A Ref or Fn::Sub over parameters (what a Lambda's code or a Glue script location is made of)."""
    if isinstance(value, str):
        return value
    if "Ref" in value:
        return parameters[value["Ref"]]
    text = value["Fn::Sub"]
    return re.sub(r"\$\{([A-Za-z0-9]+)\}", lambda m: parameters[m.group(1)], text)


def referenced_objects(template: dict[str, Any]) -> list[tuple[str, str]]:
    """(bucket, key) of every S3 object the template's functions and jobs load, through parameter defaults."""
    defaults = {k: v["Default"] for k, v in template["Parameters"].items() if "Default" in v}
    found = []
    for resource in template["Resources"].values():
        props = resource.get("Properties", {})
        if resource["Type"] == "AWS::Lambda::Function":
            found.append((resolve(props["Code"]["S3Bucket"], defaults), resolve(props["Code"]["S3Key"], defaults)))
        if resource["Type"] == "AWS::Glue::Job":
            location = resolve(props["Command"]["ScriptLocation"], defaults)
            bucket, _, key = location.removeprefix("s3://").partition("/")
            found.append((bucket, key))
    return found


def test_manifest_and_launch_are_written(first: dict[str, Any], workdir: Path) -> None:
    assert first["lake"] == "acme" and re.fullmatch(r"[0-9a-f]{12}", first["version"])
    assert set(first["templates"]["us-east-1"]) == {"prod", "security"}
    launch = (workdir / "out" / "LAUNCH.md").read_text()
    assert launch.index("acme-security") < launch.index("### 2. `acme-prod`")
    assert "CAPABILITY_NAMED_IAM" in launch and "cannot tick that box" in launch
    assert "create-stack-set" in launch and "SERVICE_MANAGED" in launch and "SELF_MANAGED" in launch


def signed_get(url: str) -> bytes:
    """GET exactly `url`, signed as CloudFormation's caller would sign it (the buckets are private)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    request = AWSRequest(method="GET", url=url)
    S3SigV4Auth(Credentials("testing", "testing"), "s3", "us-east-1").add_auth(request)
    with urllib.request.urlopen(urllib.request.Request(url, headers=dict(request.headers))) as response:
        return response.read()


def test_each_template_url_returns_exactly_the_published_bytes(first: dict[str, Any], workdir: Path) -> None:
    for stack, info in first["templates"]["us-east-1"].items():
        for url in (info["url"], info["canonical"]["url"]):
            assert url.startswith("http://localhost:")
            with pytest.raises(urllib.error.HTTPError, match="403"):
                urllib.request.urlopen(url)
            body = signed_get(url)
            assert hashlib.sha256(body).hexdigest() == info["sha256"], (stack, url)
            assert len(body) == info["size"]
            assert body == (workdir / "out" / info["local"]).read_bytes()


def test_every_referenced_object_exists_with_its_recorded_sha256(
    first: dict[str, Any], endpoint: str, workdir: Path
) -> None:
    recorded = {(a["bucket"], a["key"]): a["sha256"] for a in first["artifacts"]}
    template = json.loads((workdir / "out" / first["templates"]["us-east-1"]["prod"]["local"]).read_bytes())
    assert template["Parameters"]["CodeBucket"]["Default"] == f"{BASE}-us-east-1"
    assert template["Parameters"]["CodeKeyPrefix"]["Default"] == f"acme/{first['version']}/"
    references = referenced_objects(template)
    assert any(k.endswith("zone-consumer.zip") for _, k in references)
    assert any("/glue/" in k for _, k in references)
    for bucket, key in references:
        assert (bucket, key) in recorded, (bucket, key)
        assert sha256_of(endpoint, bucket, key) == recorded[(bucket, key)]
    for artifact in first["artifacts"]:
        assert sha256_of(endpoint, artifact["bucket"], artifact["key"]) == artifact["sha256"]


def test_created_buckets_are_private_encrypted_versioned_and_tls_only(first: dict[str, Any], endpoint: str) -> None:
    s3 = client("s3", endpoint)
    for bucket in (BASE, f"{BASE}-us-east-1"):
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        assert all(block.values()) and len(block) == 4
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "AES256"
        assert s3.get_bucket_versioning(Bucket=bucket)["Status"] == "Enabled"
        statement = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]
        assert statement["Effect"] == "Deny" and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def test_an_unchanged_republish_uploads_nothing(first: dict[str, Any], workdir: Path, endpoint: str) -> None:
    again = build(workdir, "publish", "--bucket", BASE, "--endpoint-url", endpoint, "--out", "out")
    assert again.returncode == 0, again.stderr
    assert f"version {first['version']} is already published: uploaded 0 objects" in again.stdout
    result = publish_json(workdir, endpoint, "--out", "out")
    assert result["version"] == first["version"] and result["uploaded"] == 0
    assert result["skipped"] == len(result["objects"]) > 0


def test_a_changed_build_gets_a_new_version_and_the_old_stays(
    first: dict[str, Any], workdir: Path, endpoint: str
) -> None:
    changed = publish_json(workdir, endpoint, "--out", "out", "--zones", "5")
    assert changed["version"] != first["version"] and changed["uploaded"] > 0
    manifest = json.loads((workdir / "out" / "manifest.json").read_text())
    assert set(manifest["versions"]) >= {first["version"], changed["version"]}
    for stack, info in first["templates"]["us-east-1"].items():
        assert sha256_of(endpoint, info["bucket"], info["key"]) == info["sha256"], stack
    for artifact in first["artifacts"]:
        assert sha256_of(endpoint, artifact["bucket"], artifact["key"]) == artifact["sha256"]


def test_a_published_version_is_never_overwritten(first: dict[str, Any], workdir: Path, endpoint: str) -> None:
    refused = build(
        workdir, "publish", "--bucket", BASE, "--endpoint-url", endpoint, "--out", "other",
        "--version", first["version"], "--zones", "3",
    )  # fmt: skip
    assert refused.returncode == 2
    assert "already published with other content" in refused.stderr
    info = first["templates"]["us-east-1"]["prod"]
    assert sha256_of(endpoint, info["bucket"], info["key"]) == info["sha256"]


def test_quick_create_links_parse_back_to_their_template_and_parameters(first: dict[str, Any], workdir: Path) -> None:
    for region, links in first["quick_create"].items():
        for stack, link in links.items():
            info = first["templates"][region][stack]
            template = json.loads((workdir / "out" / info["local"]).read_bytes())
            assert len(link) <= QUICK_CREATE_MAX and len(info["url"]) <= QUICK_CREATE_MAX
            parts = urlsplit(link)
            assert parts.scheme == "https" and parts.netloc == f"{region}.console.aws.amazon.com"
            assert parts.path == "/cloudformation/home" and parts.query == f"region={region}"
            route, _, query = parts.fragment.partition("?")
            assert route == "/stacks/create/review"
            assert "/" not in query and ":" not in query  # every value percent-encoded
            fields = dict(parse_qsl(query, strict_parsing=True))
            assert fields["templateURL"] == info["url"]
            assert fields["stackName"] == f"acme-{stack}"
            assert re.fullmatch(r"[A-Za-z][-A-Za-z0-9]{0,127}", fields["stackName"])
            declared = template["Parameters"]
            for name, value in fields.items():
                if name.startswith("param_"):
                    key = name.removeprefix("param_")
                    assert key in declared and not declared[key].get("NoEcho")
                    assert unquote(value) == value  # decoded once, as the console does
            if stack == "prod":
                assert fields["param_CodeKeyPrefix"] == f"acme/{first['version']}/"


def test_update_commands_list_every_parameter(first: dict[str, Any], workdir: Path) -> None:
    for stack in ("prod", "security"):
        commands = first["commands"]["us-east-1"][stack]
        template = json.loads((workdir / "out" / first["templates"]["us-east-1"][stack]["local"]).read_bytes())
        for name in ("update_stack", "create_change_set"):
            command = commands[name]
            assert first["templates"]["us-east-1"][stack]["url"] in command
            assert "--capabilities CAPABILITY_NAMED_IAM" in command
            for parameter in template["Parameters"]:
                assert f"ParameterKey={parameter}," in command, (stack, name, parameter)
        assert "ParameterKey=CodeKeyPrefix,ParameterValue=" in commands["update_stack"] or stack == "security"
        assert len(commands["stacksets"]["self_managed"]) == 3 and len(commands["stacksets"]["service_managed"]) == 3


def test_single_bucket_publishes_everything_in_one_bucket(workdir: Path, endpoint: str) -> None:
    result = publish_json(workdir, endpoint, "--out", "single", "--single-bucket", "--zones", "2")
    assert {o["bucket"] for o in result["objects"]} == {BASE}
    refused = build(workdir, "publish", "--bucket", BASE, "--single-bucket", "--regions", "us-east-1,eu-west-1")
    assert refused.returncode == 2 and "one region" in refused.stderr


def test_rendering_without_publish_is_unchanged(workdir: Path) -> None:
    result = build(workdir, "--zones", "4", "--out", "plain", "--json")
    assert result.returncode == 0, result.stderr
    assert {row["stack"] for row in json.loads(result.stdout)["stacks"]} == {"prod", "security"}
    assert not (workdir / "plain" / "manifest.json").exists()
