"""`datalake access`: the matrix as a Rich table plus a PNG heat map or an HTML page."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from datalake_cfn.cli import app
from datalake_cfn.cli.state import UserError


@pytest.fixture()
def lake_yaml(tmp_path: Path, acme_data: dict) -> Path:
    path = tmp_path / "lake.yaml"
    path.write_text(yaml.safe_dump(acme_data))
    return path


def run(*args: str) -> tuple[int, str, BaseException | None]:
    result = CliRunner().invoke(app, list(args), env={"COLUMNS": "200"})
    return result.exit_code, result.output, result.exception


def test_access_prints_the_matrix_and_writes_a_png(lake_yaml: Path, tmp_path: Path) -> None:
    picture = tmp_path / "matrix.png"
    code, output, error = run("--config", str(lake_yaml), "access", "--picture", str(picture))
    assert code == 0, (output, error)
    assert "all 480 cells match the design table (spec)" in output
    for header in ("persona", "public", "secret", "untagged"):
        assert header in output
    assert "LRWTD" in output  # the steward's cells
    assert picture.read_bytes().startswith(b"\x89PNG")


def test_access_html_for_one_persona_with_a_session_clearance(lake_yaml: Path, tmp_path: Path) -> None:
    page = tmp_path / "matrix.html"
    code, output, error = run(
        "--config", str(lake_yaml), "--as", "analyst", "--clearance", "public", "access", "-o", str(page)
    )
    assert code == 0, (output, error)
    assert "all 120 cells match" in output
    html = page.read_text()
    assert "<table>" in html and "DenyReadAbovePublic" in html  # tooltips name the deciding statement
    assert "engineer" not in output.split("access matrix", 1)[1]


def test_access_without_tls_denies_everything(lake_yaml: Path, tmp_path: Path) -> None:
    code, output, _ = run("--config", str(lake_yaml), "access", "--without-tls", "-o", str(tmp_path / "m.html"))
    assert code == 0 and "all 480 cells match" in output
    assert "LRWTD" not in output and "without TLS" in output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["access", "--picture", "m.txt"], "use a .png"),
        (["access", "--session", "analyst:public"], "persona=level"),
        (["access", "--session", "analyst=topsecret"], "persona=level"),
        (["access", "--templates-dir", "/nonexistent"], "no rendered templates"),
    ],
)
def test_access_user_mistakes(lake_yaml: Path, args: list[str], message: str) -> None:
    code, _, error = run("--config", str(lake_yaml), *args)
    assert code != 0 and isinstance(error, UserError) and message in str(error)
