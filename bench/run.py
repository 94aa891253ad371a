"""The benchmark, one command: `make bench` (= `python -m bench.run`).

For each input size (BENCH_SIZES, default 100MB,1GB,2GB) it generates the seeded CSV once
(bench/data/, git-ignored), runs the four engines of bench.engines one after the other,
each in its own process, checks that their outputs hold the same rows, and records wall
time, MB/s, peak RSS and output size. It then measures the engine through the emulator
(streamed GET vs pyarrow's S3FileSystem), the handler's cold import, and the local lake
end to end, and writes bench/results/*.json, bench/results/throughput.png, the tables of
docs/performance.md and the throughput figures `datalake cost` uses.

    python -m bench.run                       # everything (the 2 GB runs take minutes)
    BENCH_SIZES=100MB python -m bench.run     # a quick run
    python -m bench.run --sizes 1MB --out /tmp/b --docs /tmp/b/perf.md --no-lake
"""

from __future__ import annotations

import argparse
import logging
import os
import platform
import time
from datetime import UTC, datetime
from pathlib import Path

from bench.engines import ENGINES
from bench.generate import SEED, dataset_file, parse_size
from bench.measure import ChildRun, memory_cap_mb, run_child

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SIZES = "100MB,1GB,2GB"
DEFAULT_EMULATOR_SIZES = "100MB"
TYPED_HOP_MAX_BYTES = 1 << 30  # the staged -> curated hop (for the cost model) is timed up to 1 GB inputs


def log(message: str) -> None:
    print(f"[bench {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


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


def bench_engines(size_name: str, data_dir: Path, work_dir: Path, engines: list[str], typed_hop: bool = True) -> dict:
    """All engines on one input size, in the same run; returns the size's result entry."""
    from bench.verify import row_set_digest

    source = dataset_file(data_dir, size_name)
    input_bytes = source.stat().st_size
    cap = memory_cap_mb()
    log(f"{size_name}: input {source.name} ({input_bytes / 1e6:,.0f} MB); memory cap per run {cap:,} MB")
    results: dict[str, dict] = {}
    digests: dict[str, dict] = {}
    typed: dict[str, dict] = {}
    for engine in engines:
        target = work_dir / f"{engine}-{size_name}.csv"
        run: ChildRun = run_child(["-m", "bench.child", engine, str(source), str(target)], cap_mb=cap)
        entry = run.as_dict()
        if run.ok:
            seconds = run.report["seconds"]
            entry.update(
                seconds=seconds,
                import_seconds=run.report["import_seconds"],
                mb_per_second=input_bytes / 1e6 / seconds,
                output_bytes=target.stat().st_size,
            )
            digest = row_set_digest(target).as_dict()
            digests[engine] = digest
            entry["rows"] = digest["rows"]
            log(
                f"{size_name} {engine:>8}: {seconds:7.2f} s  {entry['mb_per_second']:6.1f} MB/s  "
                f"peak RSS {run.peak_rss_mb:7.0f} MB  {digest['rows']:,} rows"
            )
        else:
            log(f"{size_name} {engine:>8}: FAILED ({run.error})")
        if engine == "datalake" and run.ok and typed_hop:
            typed = bench_typed(target, size_name, work_dir, cap)
        target.unlink(missing_ok=True)
        results[engine] = entry
    reference = next(iter(digests.values()), None)
    same = {engine: digest == reference for engine, digest in digests.items()}
    for engine, entry in results.items():
        entry["same_rows"] = same.get(engine)
    if not all(same.values()):
        log(f"{size_name}: OUTPUTS DIFFER: {same}")
    return {
        "size": size_name,
        "input_bytes": input_bytes,
        "input_file": source.name,
        "seed": SEED,
        "memory_cap_mb": cap,
        "all_same_rows": bool(digests) and all(same.values()),
        "engines": results,
        "typed": typed,
    }


def bench_typed(staged: Path, size_name: str, work_dir: Path, cap: int) -> dict[str, dict]:
    """The staged -> curated hop on the zone engine's staged output (for the cost model)."""
    from bench.engines import TYPED_ENGINES

    results: dict[str, dict] = {}
    for engine in TYPED_ENGINES:
        target = work_dir / f"{engine}-{size_name}.parquet"
        run = run_child(["-m", "bench.child", engine, str(staged), str(target), "--typed"], cap_mb=cap)
        entry = run.as_dict()
        if run.ok:
            entry.update(
                seconds=run.report["seconds"],
                input_bytes=staged.stat().st_size,
                mb_per_second=staged.stat().st_size / 1e6 / run.report["seconds"],
                output_bytes=target.stat().st_size,
            )
            seconds, rss = entry["seconds"], run.peak_rss_mb
            log(f"{size_name} {engine:>8} staged -> curated: {seconds:7.2f} s  peak RSS {rss:7.0f} MB")
        else:
            log(f"{size_name} {engine:>8} staged -> curated: FAILED ({run.error})")
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


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default=os.environ.get("BENCH_SIZES", DEFAULT_SIZES), help="e.g. 100MB,1GB")
    parser.add_argument("--engines", default=",".join(ENGINES), help="subset of " + ",".join(ENGINES))
    parser.add_argument(
        "--emulator-sizes", default=os.environ.get("BENCH_EMULATOR_SIZES", DEFAULT_EMULATOR_SIZES), help="'' to skip"
    )
    parser.add_argument("--emulator-modes", default=",".join(EMULATOR_MODES), help="subset of the I/O paths")
    parser.add_argument("--data", type=Path, default=ROOT / "bench" / "data", help="where inputs are generated")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results", help="results directory")
    parser.add_argument(
        "--docs", type=Path, default=ROOT / "docs" / "performance.md", help="page whose tables to refresh"
    )
    parser.add_argument(
        "--throughput-file",
        type=lambda value: Path(value) if value else None,
        default=ROOT / "src" / "datalake_cfn" / "data" / "throughput.json",
        help="measured throughput for `datalake cost` ('' to skip)",
    )
    parser.add_argument("--no-import", action="store_true", help="skip the cold-import measurement")
    parser.add_argument("--import-samples", type=int, default=7, help="fresh interpreters timed for the cold import")
    parser.add_argument("--no-lake", action="store_true", help="skip the local lake end-to-end run")
    parser.add_argument("--lake-small", type=int, default=1000, help="small files for the end-to-end run")
    parser.add_argument("--lake-large", type=int, default=10, help="100 MB files for the end-to-end run")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    from bench import report

    args = parse_args(argv)
    sizes = [s.strip() for s in args.sizes.split(",") if s.strip()]
    engines = [e.strip() for e in args.engines.split(",") if e.strip()]
    unknown = sorted(set(engines) - set(ENGINES))
    if unknown:
        raise SystemExit(f"unknown engines {unknown}; choose from {sorted(ENGINES)}")
    for size in sizes:
        parse_size(size)
    args.out.mkdir(parents=True, exist_ok=True)
    work = args.data / "out"
    work.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    env = environment()
    log(f"{env['cpus']} CPUs ({env['cpu']}), {env['memory_gb']} GB, load {env['load_average_at_start']}")
    for size in sizes:
        entry = bench_engines(size, args.data, work, engines, typed_hop=parse_size(size) <= TYPED_HOP_MAX_BYTES)
        report.merge(args.out / "engines.json", env, size, entry)
    for size in [s.strip() for s in args.emulator_sizes.split(",") if s.strip()]:
        modes = tuple(m.strip() for m in args.emulator_modes.split(",") if m.strip())
        report.merge(args.out / "emulator.json", env, size, bench_emulator(size, args.data, modes))
    if not args.no_import:
        from bench.imports import cold_import

        result = cold_import(args.import_samples)
        log(f"cold import of the handler: median {result['median_seconds']:.3f} s (goal < {result['goal_seconds']} s)")
        report.merge(args.out / "import.json", env, "handler", result)
    if not args.no_lake:
        from bench.lake import bench_lake

        report.merge(args.out / "lake.json", env, "e2e", bench_lake(args.lake_small, args.lake_large, args.data, log))
    report.write_all(args.out, args.docs, args.throughput_file)
    log(f"done in {time.perf_counter() - started:,.0f} s; results in {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
