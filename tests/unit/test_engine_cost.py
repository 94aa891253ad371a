"""The cost model (`datalake cost`): its arithmetic on known inputs, not on today's prices."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from datalake_cfn.cli import app
from datalake_cfn.config import parse_config
from datalake_cfn.costs import Workload, estimate, load_prices

CONFIG = parse_config({"lake": "unit", "datasets": [{"name": "orders"}]})


def profile(cpu_per_mb: float, cores: float, intercept: float, slope: float) -> dict:
    return {
        "cpu_seconds_per_mb": cpu_per_mb,
        "cores_used": cores,
        "rss_intercept_mb": intercept,
        "rss_per_input_mb": slope,
    }


THROUGHPUT = {
    "measured": "test",
    "engines": {"datalake": profile(0.01, 2.0, 250, 0.0), "pandas": profile(0.08, 1.0, 120, 8.0)},
    "typed": {"datalake": profile(0.005, 1.5, 200, 0.0), "pandas": profile(0.01, 1.0, 120, 3.0)},
    "ratios": {"staged_per_raw": 1.5, "curated_per_staged": 0.2},
}


def test_prices_file_is_dated_and_complete():
    prices = load_prices()
    assert prices["recorded"] and prices["region"] == "us-east-1"
    for section in ("lambda", "s3", "sqs", "kms", "glue"):
        assert section in prices and section in prices["sources"]


def test_engine_lambda_cost_follows_memory_times_duration():
    prices = load_prices()
    workload = Workload(daily_gb=1, file_mb=100, days=30)
    result = estimate(CONFIG, workload, throughput=THROUGHPUT, prices=prices)
    first, second = result.engine_hops
    assert (first.input_mb, second.input_mb) == (100, 150)
    vcpus = 1024 / prices["lambda"]["mb_per_vcpu"]
    assert first.seconds == pytest.approx(0.01 * 100 / vcpus + 0.05)
    assert first.memory_mb == second.memory_mb == CONFIG.pipeline.memory_mb
    files = workload.files_per_month
    gb_seconds = files * (first.seconds + second.seconds)  # 1024 MB = 1 GB
    requests = files * 2 / CONFIG.pipeline.batch_size / 1e6 * prices["lambda"]["per_million_requests"]
    lambda_item = result.items[0]
    assert lambda_item.engine == pytest.approx(gb_seconds * prices["lambda"]["x86_64_per_gb_second"] + requests)


def test_pandas_runs_at_the_memory_it_needs_and_cannot_run_past_lambdas_limit():
    small = estimate(CONFIG, Workload(daily_gb=1, file_mb=100), throughput=THROUGHPUT)
    assert small.original_hops[0].memory_mb >= 120 + 8 * 100
    assert small.original_feasible and small.original_total is not None
    huge = estimate(CONFIG, Workload(daily_gb=100, file_mb=2000), throughput=THROUGHPUT)
    assert not huge.original_feasible
    assert huge.original_total is None
    assert any("at most 10,240 MB" in note for note in huge.notes)
    assert all(hop.feasible for hop in huge.engine_hops)


def test_shared_services_cost_the_same_for_both_approaches_and_scale_with_volume():
    one = estimate(CONFIG, Workload(daily_gb=1, file_mb=10), throughput=THROUGHPUT)
    ten = estimate(CONFIG, Workload(daily_gb=10, file_mb=10), throughput=THROUGHPUT)
    for item in one.items[1:]:
        assert item.engine == item.original
    s3_one = next(i for i in one.items if i.name == "S3 requests").engine
    s3_ten = next(i for i in ten.items if i.name == "S3 requests").engine
    assert s3_ten == pytest.approx(10 * s3_one, rel=0.01)
    kms = next(i for i in ten.items if i.name.startswith("KMS"))
    assert "without Bucket Keys" in kms.detail


def test_an_engine_too_slow_for_the_timeout_is_flagged():
    slow = {**THROUGHPUT, "engines": {**THROUGHPUT["engines"], "datalake": profile(5.0, 1.0, 250, 0.0)}}
    result = estimate(CONFIG, Workload(daily_gb=1, file_mb=100), throughput=slow)
    assert not result.engine_hops[0].feasible
    assert "timeout" in result.engine_hops[0].reason


def test_cost_command_prints_both_columns(tmp_path: Path):
    (tmp_path / "lake.yaml").write_text("lake: unit\ndatasets:\n  - {name: orders}\n")
    (tmp_path / "t.json").write_text(json.dumps(THROUGHPUT))
    base = ["--config", str(tmp_path / "lake.yaml"), "cost", "--throughput", str(tmp_path / "t.json")]
    result = CliRunner().invoke(app, [*base, "--daily-gb", "200", "--file-mb", "2000"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "zone engine" in result.output and "original pandas" in result.output
    assert "cannot run" in result.output and "total" in result.output
    bad = CliRunner().invoke(app, [*base, "--memory", "64"])
    assert "128 to 10240" in str(bad.exception)


def test_the_cost_model_counts_the_endpoints_the_template_declares() -> None:
    from datalake_cfn.costs import INTERFACE_ENDPOINTS
    from datalake_cfn.stacks.network import INTERFACE_SERVICES

    assert len(INTERFACE_SERVICES) == INTERFACE_ENDPOINTS
