"""Every class of user mistake, through the installed console script: one readable message, the
documented exit code (README "Exit codes"), never a traceback. No lake needed."""

from __future__ import annotations

from pathlib import Path

import pytest
from cli_helpers import assert_clean, run_datalake

from datalake_cfn.cli import hoist_global_options


@pytest.fixture
def lake_dir(tmp_path: Path) -> Path:
    (tmp_path / "lake.yaml").write_text("lake: acme\n")
    return tmp_path


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        ((), "Usage: datalake"),
        (("staus",), "No such command 'staus'. Did you mean 'status'?"),
        (("put",), "Missing argument 'FILES"),
        (("query",), "Missing argument 'SQL'"),
        (("ls", "--bogus"), "No such option: --bogus"),
        (("cost", "--days", "40"), "Invalid value for '--days'"),
        (("synth",), "No such command 'synth'"),
        (("deploy",), "Missing argument 'STACK'"),  # `datalake deploy` is back, on the published templates
        (("diff",), "No such command 'diff'"),
    ],
)
def test_usage_mistakes_exit_2_with_the_problem_named(lake_dir: Path, args: tuple[str, ...], needle: str) -> None:
    assert_clean(run_datalake(*args, cwd=lake_dir), 2, needle)


def test_version_help_and_completion_work(lake_dir: Path) -> None:
    from datalake_cfn import __version__

    assert_clean(run_datalake("--version", cwd=lake_dir), 0, f"datalake {__version__}")
    for flag in ("-h", "--help"):
        result = run_datalake(flag, cwd=lake_dir)
        assert_clean(result, 0, "Usage: datalake", "--as", "PERSONA")
        assert "<bool>" not in result.output and "<str>" not in result.output
    put_help = run_datalake("put", "-h", cwd=lake_dir)
    assert_clean(put_help, 0, "FILES...")
    assert "<list[Path]>" not in put_help.output and "{files}" not in put_help.output
    assert_clean(run_datalake("--show-completion", "bash", cwd=lake_dir), 0, "_DATALAKE_COMPLETE")


def test_a_broken_lake_yaml_is_a_configuration_error(tmp_path: Path) -> None:
    (tmp_path / "lake.yaml").write_text("lake: Acme\nzones: 3\n")
    assert_clean(run_datalake("status", cwd=tmp_path), 2, "lake.yaml", "lake:", "zones:")
    assert_clean(run_datalake("status", cwd=tmp_path / ".."), 2, "not found", "datalake init")


def test_no_running_lake_is_unreachable_exit_4(lake_dir: Path) -> None:
    for args in (("status",), ("ls",), ("query", "select 1"), ("dlq", "list"), ("verify", "--wait", "0")):
        assert_clean(run_datalake(*args, cwd=lake_dir), 4, "no local lake is running", "datalake up")


def test_empty_sql_is_refused_before_anything_runs(lake_dir: Path) -> None:
    assert_clean(run_datalake("query", "  ", cwd=lake_dir), 2, "empty SQL")


def test_get_into_a_missing_directory_says_so(lake_dir: Path) -> None:
    result = run_datalake("get", "curated", "sales/x.parquet", "-o", "nodir/x.parquet", cwd=lake_dir)
    assert_clean(result, 2, "nodir", "does not exist")


def test_clearance_without_as_is_a_usage_error(lake_dir: Path) -> None:
    assert_clean(run_datalake("access", "--clearance", "public", cwd=lake_dir), 2)


def test_aws_without_credentials_exits_4_in_one_line(lake_dir: Path) -> None:
    env = {"AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_CONFIG_FILE": "/nonexistent",
           "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent", "AWS_EC2_METADATA_DISABLED": "true"}  # fmt: skip
    result = run_datalake("query", "--aws", "select 1", cwd=lake_dir, env=env)
    assert_clean(result, 4, "credentials")
    assert len(result.stderr.strip().splitlines()) <= 2, result.stderr


def test_a_bug_shows_its_traceback_and_asks_for_a_report(lake_dir: Path, tmp_path: Path) -> None:
    """A program error is not a user mistake: its traceback stays, with a request to report it."""
    hook = tmp_path / "sitecustomize.py"
    hook.write_text(
        "import datalake_cfn.cli.lake as lake\n"
        "def boom(*a, **k):\n    raise RuntimeError('planted bug')\n"
        "lake.status_table = boom\nlake.connect = lambda state: None\n"
    )
    result = run_datalake("status", cwd=lake_dir, env={"PYTHONPATH": str(tmp_path)})
    assert result.returncode == 70, result.output
    assert "Traceback" in result.stderr and "planted bug" in result.stderr and "report" in result.stderr


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["ls", "raw", "--as", "analyst"], ["--as", "analyst", "ls", "raw"]),
        (
            ["query", "select 1", "--as=analyst", "--clearance", "public"],
            ["--as=analyst", "--clearance", "public", "query", "select 1"],
        ),
        (["--as", "steward", "ls"], ["--as", "steward", "ls"]),
        (["-c", "x.yaml", "get", "raw", "k", "--", "--as"], ["-c", "x.yaml", "get", "raw", "k", "--", "--as"]),
        (["etl", "run", "job", "--data", "d"], ["--data", "d", "etl", "run", "job"]),
    ],
)  # fmt: skip
def test_global_options_after_the_subcommand_are_hoisted(argv: list[str], expected: list[str]) -> None:
    assert hoist_global_options(argv) == expected
