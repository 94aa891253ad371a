"""Local enforcement: check_access and `datalake --as <persona> get` against a running local lake."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from datalake_cfn.access.enforce import AccessDenied, authorize, check_access
from datalake_cfn.cli.state import UserError
from datalake_cfn.config import LakeConfig, parse_config
from datalake_cfn.local.lake import LocalLake
from datalake_cfn.naming import LakeNames

SECRET = {"dataclassification": "secret"}


@pytest.fixture(scope="module")
def names(acme: LakeConfig) -> LakeNames:
    return LakeNames.for_config(acme)


def test_check_access_names_the_denying_statement(acme: LakeConfig, names: LakeNames) -> None:
    bucket = names.bucket("curated")
    with pytest.raises(AccessDenied) as denied:
        check_access(acme, names, "analyst", None, "get", bucket, "sales/q1.parquet", SECRET)
    message = str(denied.value)
    assert "access denied: analyst (clearance internal) may not read" in message
    assert f"s3://{bucket}/sales/q1.parquet (dataclassification=secret)" in message
    assert '"DenyReadAboveInternal"' in message and "bucket policy" in message
    assert isinstance(denied.value, UserError)  # printed by the CLI as one line, exit code 2
    allowed = check_access(acme, names, "steward", None, "get", bucket, "sales/q1.parquet", SECRET)
    assert allowed is not None and allowed.allowed


def test_session_clearance_is_reported_and_applied(acme: LakeConfig, names: LakeNames) -> None:
    bucket = names.bucket("curated")
    with pytest.raises(AccessDenied, match=r"clearance public, from the session tag.*DenyReadAbovePublic"):
        check_access(acme, names, "analyst", "public", "read", bucket, "a.csv", {"dataclassification": "internal"})
    with pytest.raises(AccessDenied, match="DenyReadAbovePersonaClearance"):  # a tag cannot raise clearance
        check_access(acme, names, "analyst", "secret", "read", bucket, "a.csv", {"dataclassification": "secret"})


def test_writes_tags_and_transport(acme: LakeConfig, names: LakeNames) -> None:
    sandbox, staged = names.bucket("sandbox"), names.bucket("staged")
    internal, secret = {"dataclassification": "internal"}, SECRET
    assert authorize(acme, names, "analyst", None, "put", sandbox, "mine.csv", request_tags=internal).allowed
    with pytest.raises(AccessDenied, match=r"setting dataclassification=secret.*DenyClassifying"):
        check_access(acme, names, "analyst", None, "put", sandbox, "mine.csv", request_tags=secret)
    with pytest.raises(AccessDenied, match="DenyWritesByOtherPrincipals"):
        check_access(acme, names, "scientist", None, "put", staged, "sales/x.csv", request_tags=internal)
    with pytest.raises(AccessDenied, match="DenyReclassifying"):
        check_access(acme, names, "engineer", None, "tag", staged, "sales/x.csv", secret, internal)
    with pytest.raises(AccessDenied, match="DenyInsecureTransport"):
        check_access(acme, names, "steward", None, "ls", staged, secure_transport=False)
    assert authorize(acme, names, "analyst", None, "put", sandbox, "big.csv", upload="part").allowed


def test_without_as_nothing_is_enforced_and_mistakes_are_user_errors(acme: LakeConfig, names: LakeNames) -> None:
    assert check_access(acme, names, None, None, "get", names.bucket("raw"), "x", None) is None
    with pytest.raises(UserError, match="pass --as too"):
        check_access(acme, names, None, "public", "get", names.bucket("raw"), "x")
    with pytest.raises(UserError, match="unknown clearance"):
        check_access(acme, names, "analyst", "topsecret", "get", names.bucket("raw"), "x")
    with pytest.raises(UserError, match="not a zone bucket"):
        check_access(acme, names, "analyst", None, "get", "some-other-bucket", "x")
    with pytest.raises(UserError, match="unknown persona"):
        check_access(acme, names, "intern", None, "get", names.bucket("raw"), "x")
    with pytest.raises(UserError, match="unknown operation"):
        check_access(acme, names, "analyst", None, "chmod", names.bucket("raw"), "x")


# -- the command, end to end -----------------------------------------------------------------------
@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory, acme_data: dict) -> Iterator[tuple[LocalLake, Path]]:
    home = tmp_path_factory.mktemp("access-cli")
    (home / "lake.yaml").write_text(yaml.safe_dump(acme_data))
    data = home / ".datalake"
    with LocalLake(parse_config(acme_data), data_dir=data, workers=False) as lake:
        lake.connection.put_bytes(b"id,email\n1,a@example.com\n", "customers/secret.csv", "curated", SECRET)
        lake.connection.put_bytes(b"id\n1\n", "sales/untagged.csv", "curated")
        yield lake, home


def datalake(home: Path, *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-c", "from datalake_cfn.cli import main; main()", *args]
    env = {**os.environ, "COLUMNS": "200"}
    return subprocess.run(command, cwd=home, capture_output=True, text=True, timeout=120, env=env, check=False)


def test_get_as_analyst_of_a_secret_curated_object_is_denied_and_as_steward_succeeds(
    running: tuple[LocalLake, Path],
) -> None:
    _, home = running
    denied = datalake(home, "--as", "analyst", "get", "curated", "customers/secret.csv", "-o", "out.csv")
    assert denied.returncode == 3, denied.stderr  # 3: access denied (README, exit codes)
    assert "access denied: analyst (clearance internal) may not read" in denied.stderr
    assert '"DenyReadAboveInternal"' in denied.stderr
    assert "Traceback" not in denied.stderr
    assert not (home / "out.csv").exists()

    allowed = datalake(home, "--as", "steward", "get", "curated", "customers/secret.csv", "-o", "out.csv")
    assert allowed.returncode == 0, allowed.stderr
    assert (home / "out.csv").read_text() == "id,email\n1,a@example.com\n"


def test_get_of_an_untagged_object_and_of_a_missing_one(running: tuple[LocalLake, Path]) -> None:
    _, home = running
    untagged = datalake(home, "--as", "engineer", "get", "curated", "sales/untagged.csv", "-o", "-")
    assert untagged.returncode == 3 and "DenyReadUntaggedObjects" in untagged.stderr
    missing = datalake(home, "--as", "steward", "get", "curated", "sales/nope.csv")
    assert missing.returncode == 2 and "no object" in missing.stderr
    operator = datalake(home, "get", "curated", "sales/untagged.csv", "-o", "-")  # no --as: not enforced
    assert operator.returncode == 0 and operator.stdout == "id\n1\n"
