"""End to end in the local lake: files put in raw, timed until their Parquet lands in curated.

The lake is the real local lake (emulator, provisioned buckets, S3 event notifications into
SQS, `--lake-workers` zone workers per queue (default 1, as `LocalLake`) running the Lambda
handler code, the lake's default batch size and batching window). The uploader's S3 client is
made before the clock starts, as a producer's would be. Each file's latency runs from the
moment its PUT returned to the moment the curated zone's queue delivered the event of its
Parquet object, so it includes both hops, both queues' polling and the batching window, as a
user would see it.
"""

from __future__ import annotations

import statistics
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

DATASET = "orders"
SMALL_BYTES = 100 * 1024


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, round(share * (len(ordered) - 1))))]


def _workload(lake, payloads: list[tuple[str, bytes | Path]], timeout: float, put_threads: int) -> dict:
    from zone_consumer.pipeline import output_key

    expected = {output_key(key, "parquet"): key for key, _ in payloads}
    put_done: dict[str, float] = {}
    arrived: dict[str, float] = {}
    all_arrived = threading.Event()
    lock = threading.Lock()

    def on_curated(zone: str, objects: list) -> None:
        now = time.perf_counter()
        with lock:
            for obj in objects:
                if obj.key in expected and obj.key not in arrived:
                    arrived[obj.key] = now
            if len(arrived) == len(expected):
                all_arrived.set()

    lake.listeners.append(on_curated)
    total = 0

    def put(item: tuple[str, bytes | Path]) -> None:
        key, payload = item
        if isinstance(payload, Path):
            lake.connection.put_file(payload, key=key)
        else:
            lake.connection.put_bytes(payload, key)
        put_done[key] = time.perf_counter()

    for _, payload in payloads:
        total += payload.stat().st_size if isinstance(payload, Path) else len(payload)
    lake.connection.client("s3")  # the uploader's client exists before the clock starts, as a producer's would
    started = time.perf_counter()
    with ThreadPoolExecutor(put_threads) as pool:
        list(pool.map(put, payloads))
    complete = all_arrived.wait(timeout)
    finished = max(arrived.values(), default=time.perf_counter())
    lake.listeners.remove(on_curated)
    latencies = [arrived[c] - put_done[k] for c, k in expected.items() if c in arrived]
    wall = finished - started
    return {
        "files": len(payloads),
        "bytes": total,
        "arrived": len(arrived),
        "complete": complete,
        "wall_seconds": wall,
        "files_per_second": len(arrived) / wall,
        "mb_per_second": total / 1e6 / wall * len(arrived) / len(payloads),
        "p50_seconds": statistics.median(latencies) if latencies else float("nan"),
        "p95_seconds": _percentile(latencies, 0.95) if latencies else float("nan"),
        "max_seconds": max(latencies, default=float("nan")),
    }


def bench_lake(
    small_files: int,
    large_files: int,
    data_dir: Path,
    log: Callable[[str], None] = print,
    workers_per_queue: int = 1,
) -> dict:
    import logging

    from bench.generate import dataset_file, generate
    from datalake_cfn.config import parse_config
    from datalake_cfn.local.lake import LocalLake

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    config = parse_config({"lake": "benchlake", "datasets": [{"name": DATASET, "classification": "internal"}]})
    small_dir = data_dir / "lake-small"
    small_dir.mkdir(parents=True, exist_ok=True)
    small = []
    for i in range(small_files):
        path = small_dir / f"part-{i:05d}.csv"
        if not path.exists():
            generate(path, SMALL_BYTES, seed=10_000 + i)
        small.append((f"{DATASET}/small/part-{i:05d}.csv", path.read_bytes()))
    large = []
    if large_files:
        large_source = dataset_file(data_dir, "100MB")
        large = [(f"{DATASET}/large/file-{i:02d}.csv", large_source) for i in range(large_files)]
    workloads: dict[str, dict] = {}
    with LocalLake(config, workers_per_queue=workers_per_queue) as lake:
        settings = lake.worker_settings
        for name, payloads, timeout in (
            (f"{small_files} x 100 KB", small, 1800.0),
            (f"{large_files} x 100 MB", large, 3600.0),
        ):
            if not payloads:
                continue
            log(f"lake: putting {name} into raw")
            result = _workload(lake, payloads, timeout, put_threads=8 if payloads is small else 2)
            workloads[name] = result
            log(
                f"lake {name}: {result['files_per_second']:.1f} files/s, {result['mb_per_second']:.1f} MB/s, "
                f"put -> curated p50 {result['p50_seconds']:.2f} s, p95 {result['p95_seconds']:.2f} s"
            )
    return {
        "workloads": workloads,
        "workers_per_queue": workers_per_queue,
        "batch_size": settings.batch_size,
        "batching_window_seconds": settings.batching_window_seconds,
    }
