"""The benchmark, one command: `make bench` (= `python -m bench.run`); `--record` keeps the results.

For each input (every shape of bench.generate at every size of --sizes, plus --large-sizes of
the bench's own `orders` shape) it generates the seeded CSV once (bench/data/, git-ignored)
and runs the engines of bench.engines, each in its own process, in --rounds interleaved
rounds (the order rotates each round, so a burst of load on the shared machine hits every
engine alike); the median round is the number, the spread is shown. It checks that their
outputs hold the same rows, then times the staged -> curated hop (row groups and a DuckDB
scan of the curated output, before and after the row-group target), the engine through
the emulator, the handler's cold import and `datalake --help`, and the local lake under a
burst.

A plain run prints the tables and leaves every tracked file alone. With `--record` it
merges the results into bench/results/*.json and regenerates bench/results/throughput.png,
the generated tables of docs/performance.md and the throughput figures `datalake cost` uses.

    python -m bench.run --record              # everything (takes a long while; see docs/performance.md)
    BENCH_SIZES=100MB python -m bench.run     # a quick look, nothing written
    python -m bench.run --shapes orders --sizes 10MB --large-sizes '' --no-lake --no-import
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.engines import BASELINES, ENGINES
from bench.generate import SEED, SHAPES, dataset_file, parse_size
from bench.measure import ChildRun, memory_cap_mb, run_child

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = "100MB,1GB"
DEFAULT_LARGE_SIZES = "4GB"  # orders only: the memory bound must hold there too
DEFAULT_EMULATOR_SIZES = "100MB"
TYPED_HOP_MAX_BYTES = 1 << 30  # the staged -> curated hop is timed up to 1 GB inputs
PANDAS_MAX_BYTES = 1 << 30  # pandas needs about 8x the file in memory: beyond 1 GB it is capped anyway
UNVERIFIED = {"floor"}  # writes nothing: its rows are not compared
RECORDED = ("engines", "emulator", "import", "lake", "stages")
STAGES_MAX_BYTES = 128 << 20  # stages are measured on the 100 MB inputs: larger ones spill digests to disk


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message} (load {os.getloadavg()[0]:.1f})", flush=True)


def environment() -> dict:
    import duckdb
    import numpy
    import pandas
    import polars
    import psutil
    import pyarrow

    return {
        "date": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": platform.machine(),
        "cpu": _cpu_model(),
        "cpus": os.cpu_count(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "versions": {
            "pyarrow": pyarrow.__version__,
            "numpy": numpy.__version__,
            "pandas": pandas.__version__,
            "duckdb": duckdb.__version__,
            "polars": polars.__version__,
        },
        "load_average_at_start": list(os.getloadavg()),
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _round_entry(run: ChildRun, input_bytes: int) -> dict:
    entry = {"ok": run.ok, "peak_rss_mb": run.peak_rss_mb, "load": os.getloadavg()[0], "error": run.error}
    if run.ok:
        entry.update(
            seconds=run.report["seconds"],
            cpu_seconds=run.report["cpu_seconds"],
            import_seconds=run.report["import_seconds"],
            mb_per_second=input_bytes / 1e6 / run.report["seconds"],
        )
    return entry


def _summary(rounds: list[dict]) -> dict:
    """One engine's rounds -> the median round's numbers, the spread, and every round."""
    failed = [r for r in rounds if not r["ok"]]
    peak = max(r["peak_rss_mb"] for r in rounds)
    if failed:
        return {"ok": False, "error": failed[0]["error"], "peak_rss_mb": peak, "rounds": rounds}
    seconds = [r["seconds"] for r in rounds]
    speeds = [r["mb_per_second"] for r in rounds]
    return {
        "ok": True,
        "error": "",
        "seconds": statistics.median(seconds),
        "mb_per_second": statistics.median(speeds),
        "mb_per_second_min": min(speeds),
        "mb_per_second_max": max(speeds),
        "cpu_seconds": statistics.median(r["cpu_seconds"] for r in rounds),
        "peak_rss_mb": peak,
        "load": statistics.median(r["load"] for r in rounds),
        "rounds": rounds,
    }


def bench_engines(
    shape: str,
    size_name: str,
    data_dir: Path,
    work_dir: Path,
    engines: list[str],
    rounds: int,
    typed_hop: bool,
    pandas_max: int = PANDAS_MAX_BYTES,
) -> dict:
    """All engines on one input, in `rounds` interleaved rounds of separate processes; the input's result entry."""
    from bench.verify import row_set_digest

    source = dataset_file(data_dir, size_name, shape=shape)
    input_bytes = source.stat().st_size
    cap = memory_cap_mb()
    label = f"{shape}-{size_name}"
    log(f"{label}: input {source.name} ({input_bytes / 1e6:,.0f} MB); memory cap per run {cap:,} MB; {rounds} rounds")
    runnable = [e for e in engines if not (e == "pandas" and input_bytes > pandas_max)]
    per_engine: dict[str, list[dict]] = {e: [] for e in runnable}
    digests: dict[str, dict] = {}
    staged: Path | None = None
    outputs: dict[str, int] = {}
    for number in range(rounds):
        order = runnable[number % len(runnable) :] + runnable[: number % len(runnable)]
        for engine in order:
            target = work_dir / f"{engine}-{label}.csv"
            run = run_child(["-m", "bench.child", engine, str(source), str(target)], cap_mb=cap)
            entry = _round_entry(run, input_bytes)
            per_engine[engine].append(entry)
            if run.ok:
                log(
                    f"{label} round {number + 1} {engine:>8}: {entry['seconds']:7.2f} s "
                    f"{entry['mb_per_second']:6.1f} MB/s  peak RSS {run.peak_rss_mb:6.0f} MB"
                )
            else:
                log(f"{label} round {number + 1} {engine:>8}: FAILED ({run.error})")
            if run.ok and number == 0 and engine not in UNVERIFIED:
                digests[engine] = row_set_digest(target).as_dict()
                outputs[engine] = target.stat().st_size
            if engine == "datalake" and run.ok and number == 0 and typed_hop:
                staged = target.rename(work_dir / f"staged-{label}.csv")
            target.unlink(missing_ok=True)
    results = {engine: _summary(entries) for engine, entries in per_engine.items()}
    for engine in engines:
        if engine not in results:
            reason = f"not run above {pandas_max / 2**20:,.0f} MB (pandas needs about 8x the file in memory)"
            results[engine] = {"ok": False, "skipped": True, "peak_rss_mb": 0.0, "rounds": [], "error": reason}
    reference = digests.get("datalake") or next(iter(digests.values()), None)
    for engine, entry in results.items():
        if engine in digests:
            entry.update(rows=digests[engine]["rows"], output_bytes=outputs[engine])
            entry["same_rows"] = digests[engine] == reference
    same = [e["same_rows"] for e in results.values() if "same_rows" in e]
    if not all(same):
        log(f"{label}: OUTPUTS DIFFER: { ({k: v.get('same_rows') for k, v in results.items()}) }")
    typed = {}
    if staged is not None:
        typed = bench_typed(staged, label, work_dir, cap)
        staged.unlink(missing_ok=True)
    return {
        "shape": shape,
        "size": size_name,
        "input_bytes": input_bytes,
        "input_file": source.name,
        "seed": SEED,
        "rounds": rounds,
        "memory_cap_mb": cap,
        "all_same_rows": bool(same) and all(same),
        "engines": results,
        "typed": typed,
    }


def bench_typed(staged: Path, label: str, work_dir: Path, cap: int) -> dict[str, dict]:
    """The staged -> curated hop on the engine's staged output: time, memory, row groups, a DuckDB scan.

    `datalake-per-block` is the engine with one row group per input block (the behaviour before
    the row-group target); `datalake` is the engine as configured.
    """
    from bench.engines import TYPED_ENGINES
    from bench.scan import describe_parquet

    results: dict[str, dict] = {}
    for engine in TYPED_ENGINES:
        target = work_dir / f"{engine}-{label}.parquet"
        env = {"DATALAKE_ROW_GROUP_ROWS": "0"} if engine == "datalake-per-block" else {}
        child_engine = "datalake" if engine.startswith("datalake") else engine
        run = run_child(["-m", "bench.child", child_engine, str(staged), str(target), "--typed"], cap_mb=cap, env=env)
        entry = run.as_dict()
        if run.ok:
            entry.update(
                seconds=run.report["seconds"],
                input_bytes=staged.stat().st_size,
                mb_per_second=staged.stat().st_size / 1e6 / run.report["seconds"],
                output_bytes=target.stat().st_size,
                **describe_parquet(target),
            )
            log(
                f"{label} {engine:>18} staged -> curated: {entry['seconds']:7.2f} s  peak RSS {run.peak_rss_mb:6.0f} MB"
                f"  {entry['row_groups']} row groups  DuckDB scan {entry['duckdb_scan_seconds']:.2f} s"
            )
        else:
            log(f"{label} {engine:>18} staged -> curated: FAILED ({run.error})")
        target.unlink(missing_ok=True)
        results[engine] = entry
    return results


EMULATOR_MODES = ("get", "download_file", "engine-get", "engine-s3fs")


def bench_emulator(size_name: str, data_dir: Path, modes_to_run: tuple[str, ...] = EMULATOR_MODES) -> dict:
    """The engine's I/O paths against moto's server on 127.0.0.1 (each mode in its own process)."""
    import boto3
    from moto.server import ThreadedMotoServer

    from bench.engines import BENCH_LAKE
    from datalake_cfn.config import parse_config
    from datalake_cfn.naming import LakeNames

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one log line per request otherwise
    source = dataset_file(data_dir, size_name)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        endpoint = f"http://{host}:{port}"
        names = LakeNames.for_config(parse_config(BENCH_LAKE))
        s3 = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        for zone in ("raw", "staged"):
            s3.create_bucket(Bucket=names.bucket(zone))
        key = f"orders/{source.name}"
        s3.upload_file(str(source), names.bucket("raw"), key)
        modes: dict[str, dict] = {}
        for mode in modes_to_run:
            run = run_child(["-m", "bench.s3child", mode, endpoint, names.bucket("raw"), key])
            entry = run.as_dict()
            entry["load"] = os.getloadavg()[0]
            if run.ok:
                entry["seconds"] = run.report["seconds"]
                entry["mb_per_second"] = source.stat().st_size / 1e6 / run.report["seconds"]
                log(f"emulator {size_name} {mode:>13}: {entry['seconds']:7.2f} s  peak RSS {run.peak_rss_mb:5.0f} MB")
            else:
                log(f"emulator {size_name} {mode:>13}: FAILED ({run.error})")
            modes[mode] = entry
        return {"size": size_name, "input_bytes": source.stat().st_size, "modes": modes}
    finally:
        server.stop()


def _list(text: str) -> list[str]:
    return [item.strip() for item in text.split(",") if item.strip()]


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--record", action="store_true", help="write bench/results/, the chart and the docs' tables")
    parser.add_argument(
        "--sizes", default=os.environ.get("BENCH_SIZES", DEFAULT_SIZES), help="every shape, e.g. 100MB,1GB"
    )
    parser.add_argument(
        "--large-sizes",
        default=os.environ.get("BENCH_LARGE_SIZES", DEFAULT_LARGE_SIZES),
        help="orders only ('' to skip)",
    )
    parser.add_argument("--shapes", default=",".join(SHAPES), help="subset of " + ",".join(SHAPES))
    parser.add_argument("--rounds", type=int, default=int(os.environ.get("BENCH_ROUNDS", 3)), help="interleaved rounds")
    parser.add_argument("--engines", default=",".join(ENGINES), help="subset of " + ",".join(ENGINES))
    parser.add_argument("--pandas-max", default="1GB", help="largest input pandas is run on (it needs ~8x in RAM)")
    parser.add_argument(
        "--emulator-sizes", default=os.environ.get("BENCH_EMULATOR_SIZES", DEFAULT_EMULATOR_SIZES), help="'' to skip"
    )
    parser.add_argument("--emulator-modes", default=",".join(EMULATOR_MODES), help="subset of the I/O paths")
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data", help="where inputs are generated")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="results directory (--record)")
    parser.add_argument(
        "--docs", type=Path, default=ROOT / "docs" / "performance.md", help="page whose tables to refresh (--record)"
    )
    parser.add_argument(
        "--throughput-file",
        type=lambda value: Path(value) if value else None,
        default=ROOT / "src" / "datalake_cfn" / "data" / "throughput.json",
        help="measured throughput for `datalake cost` (--record; '' to skip)",
    )
    parser.add_argument("--no-import", action="store_true", help="skip the cold-import and --help measurements")
    parser.add_argument("--import-samples", type=int, default=7, help="fresh interpreters timed for the cold import")
    parser.add_argument("--no-lake", action="store_true", help="skip the local lake end-to-end run")
    parser.add_argument("--no-stages", action="store_true", help="skip the per-stage CPU of the engine")
    parser.add_argument("--lake-small", type=int, default=1000, help="small files for the end-to-end run")
    parser.add_argument("--lake-large", type=int, default=10, help="100 MB files for the end-to-end run")
    parser.add_argument("--lake-workers", type=int, default=1, help="workers per queue in the local lake")
    return parser.parse_args(argv)


def inputs(args: argparse.Namespace) -> list[tuple[str, str]]:
    """(shape, size) pairs to measure: every shape at --sizes, orders also at --large-sizes."""
    shapes = _list(args.shapes)
    unknown = sorted(set(shapes) - set(SHAPES))
    if unknown:
        raise SystemExit(f"unknown shapes {unknown}; choose from {list(SHAPES)}")
    pairs = [(shape, size) for size in _list(args.sizes) for shape in shapes]
    pairs += [("orders", size) for size in _list(args.large_sizes) if "orders" in shapes]
    for _, size in pairs:
        parse_size(size)
    return pairs


def lake_entries(run: dict, workers: int) -> dict[str, dict]:
    """One result entry per lake workload (the burst, the large files), each under its own key.

    So a run of one workload (`--lake-small 0`) refreshes that one and keeps the other's
    entry, with the environment of the run that measured it, as a partial engine run does.
    """
    suffix = "" if workers == 1 else f"-{workers}-workers"
    settings = {key: value for key, value in run.items() if key != "workloads"}
    return {
        f"e2e-{'burst' if '100 KB' in name else 'large'}{suffix}": {**settings, "workloads": {name: workload}}
        for name, workload in run["workloads"].items()
    }


def main(argv: list[str] | None = None) -> int:
    from bench import report

    args = parse_args(argv)
    engines = _list(args.engines)
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        raise SystemExit(f"unknown engines {unknown}; choose from {sorted(ENGINES)}")
    pairs = inputs(args)
    if args.rounds < 1:
        raise SystemExit("--rounds must be at least 1")
    work = args.data / "out"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    env = environment()
    log(f"{env['cpus']} CPUs ({env['cpu']}), {env['memory_gb']} GB, load {env['load_average_at_start']}")
    results: dict[str, dict] = {name: {} for name in RECORDED}
    for shape, size in pairs:
        typed = parse_size(size) <= TYPED_HOP_MAX_BYTES
        key = f"{shape}-{size}"
        results["engines"][key] = bench_engines(
            shape, size, args.data, work, engines, args.rounds, typed, parse_size(args.pandas_max)
        )
        if args.record:  # as each input finishes: a run stopped half-way keeps what it measured
            args.out.mkdir(parents=True, exist_ok=True)
            report.merge(
                args.out / "engines.json",
                {**env, "load_average_at_end": list(os.getloadavg())},
                key,
                results["engines"][key],
            )
    if not args.no_stages:
        from bench.stages import measure_stages

        for shape, size in pairs:
            if parse_size(size) <= STAGES_MAX_BYTES:
                key = f"{shape}-{size}"
                results["stages"][key] = measure_stages(dataset_file(args.data, size, shape=shape))
                log(f"{key}: stages {results['stages'][key]['cpu_seconds']:.2f} CPU s on one thread")
    for size in _list(args.emulator_sizes):
        results["emulator"][size] = bench_emulator(size, args.data, tuple(_list(args.emulator_modes)))
    if not args.no_import:
        from bench.imports import cold_import, command_start

        handler = cold_import(args.import_samples)
        log(f"cold import of the handler: median {handler['median_seconds']:.3f} s (goal <= {handler['goal_seconds']})")
        results["import"]["handler"] = handler
        cli = command_start(args.import_samples)
        log(f"`datalake --help`: median {cli['median_seconds']:.3f} s (goal <= {cli['goal_seconds']} s)")
        results["import"]["cli"] = cli
    if not args.no_lake:
        from bench.lake import bench_lake

        run = bench_lake(args.lake_small, args.lake_large, args.data, log, args.lake_workers)
        results["lake"].update(lake_entries(run, args.lake_workers))
    finished = {"load_average_at_end": list(os.getloadavg()), "wall_seconds": time.perf_counter() - started}
    env = {**env, **finished}
    if args.record:
        args.out.mkdir(parents=True, exist_ok=True)
        for name in RECORDED[1:]:  # the engines' results were merged as each input finished
            for key, entry in results[name].items():
                report.merge(args.out / f"{name}.json", env, key, entry)
        report.write_all(args.out, args.docs, args.throughput_file)
        log(f"done in {finished['wall_seconds']:,.0f} s; recorded in {args.out} and {args.docs}")
    else:
        wrapped = {name: {k: {"environment": env, **e} for k, e in group.items()} for name, group in results.items()}
        chart = Path(tempfile.gettempdir()) / "datalake-bench-throughput.png"
        print(report.render_text(wrapped, chart))
        log(f"done in {finished['wall_seconds']:,.0f} s; nothing recorded (pass --record); chart in {chart}")
    return 0


__all__ = ["BASELINES", "main"]

if __name__ == "__main__":
    raise SystemExit(main())
