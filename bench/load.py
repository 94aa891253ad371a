"""Load run of the local lake: 2,000 small files and five 200 MB files through three zones.

    python -m bench.load                      # the full run (about ten minutes on 2 cores)
    python -m bench.load --small 200 --big 1 --big-mb 20 --out /tmp/load   # a quick one

It runs the real local lake as `datalake up --data DIR` does (durable state directory,
emulator, provisioned zones, one consumer per queue and zone), puts the files into raw
from 8 threads (small files into two datasets, one of which has its own queue; the big
ones as multipart uploads), waits until every queue is drained, then runs `datalake
verify`'s reconciliation and records what it found next to the run's numbers in
bench/results/load.json and bench/results/load.md. The run fails (exit 1) if anything is
unaccounted for.

Not part of the test suite: it takes minutes and needs a few GB of disk.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import platform
import random
import shutil
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psutil

ROOT = Path(__file__).resolve().parents[1]
LAKE = {
    "lake": "loadrun",
    "datasets": [
        {"name": "sales", "classification": "internal"},
        {"name": "clickstream", "classification": "public", "own_queue": True},
    ],
}
COUNTRIES = ["PT", "DE", "FR", "NL", "US", "BR", "JP", "IN"]


def log(message: str) -> None:
    print(f"[load {datetime.now().strftime('%H:%M:%S')}] {message}", flush=True)


def small_csv(rng: random.Random, index: int) -> bytes:
    """A small export: 5-200 rows, a padded name, an empty cell now and then, an exact duplicate."""
    rows = ["Order ID,Customer Name,amount,country,created_at"]
    for r in range(rng.randint(5, 200)):
        name = rng.choice(["Ada", "Grace", "Alan", " Edsger ", "Barbara", ""])
        created = f"2026-01-{rng.randint(1, 28):02d}T{rng.randint(0, 23):02d}:00:00Z"
        rows.append(f"{index}-{r},{name},{rng.randint(1, 99999) / 100},{rng.choice(COUNTRIES)},{created}")
    rows.append(rows[-1])
    return ("\n".join(rows) + "\n").encode()


class PeakMemory:
    """Peak RSS of this process (workers + uploader) and its children (the emulator), sampled."""

    def __init__(self) -> None:
        self.process = psutil.Process()
        self.peak = self.process.memory_info().rss
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.25):
            self.peak = max(self.peak, self.rss())

    def rss(self) -> int:
        total = self.process.memory_info().rss
        for child in self.process.children(recursive=True):
            with contextlib.suppress(psutil.NoSuchProcess):
                total += child.memory_info().rss
        return total

    def __enter__(self) -> PeakMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def directory_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file())


def big_files(count: int, megabytes: int, data_dir: Path) -> list[Path]:
    from bench.generate import generate

    paths = []
    for i in range(count):
        path = data_dir / f"load-{megabytes}MB-seed{1000 + i}.csv"
        if not path.exists():
            log(f"generating {path.name}")
            generate(path, megabytes << 20, seed=1000 + i)
        paths.append(path)
    return paths


def run(small: int, big: int, big_mb: int, workers_per_queue: int, state_dir: Path) -> dict[str, Any]:
    from datalake_cfn.config import parse_config
    from datalake_cfn.local.lake import LocalLake
    from datalake_cfn.reliability.verify import LakeAccess, verify_lake

    config = parse_config(LAKE)
    rng = random.Random(20260101)
    payloads = [
        (f"{'sales' if i % 3 else 'clickstream'}/2026/small-{i:05d}.csv", small_csv(rng, i)) for i in range(small)
    ]
    paths = big_files(big, big_mb, ROOT / "bench" / "data")
    small_bytes = sum(len(data) for _, data in payloads)
    big_bytes = sum(path.stat().st_size for path in paths)
    result: dict[str, Any] = {
        "small_files": small,
        "small_bytes": small_bytes,
        "big_files": big,
        "big_bytes": big_bytes,
        "workers_per_queue": workers_per_queue,
        "durable": True,
    }
    cpu_before = psutil.Process().cpu_times()
    with PeakMemory() as memory, LocalLake(config, data_dir=state_dir, workers_per_queue=workers_per_queue) as lake:
        connection = lake.connection
        started = time.monotonic()

        def put_small(item: tuple[str, bytes]) -> None:
            connection.put_bytes(item[1], item[0])

        def put_big(path: Path) -> None:
            connection.put_file(path, dataset="sales")

        log(f"putting {small} small files ({small_bytes / 1e6:.1f} MB) and {big} x {big_mb} MB into raw")
        with ThreadPoolExecutor(8) as pool:
            uploads = [pool.submit(put_big, path) for path in paths]
            list(pool.map(put_small, payloads))
            for upload in uploads:
                upload.result()
        put_seconds = time.monotonic() - started
        log(f"all files put in {put_seconds:.0f} s; waiting for the zones to drain")

        def progress() -> None:
            now = time.monotonic()
            if now - progress.last > 30:  # type: ignore[attr-defined]
                progress.last = now  # type: ignore[attr-defined]
                queued = sum(q.visible + q.in_flight for q in connection.queue_status())
                log(f"{queued} message(s) queued or in flight, {len(connection.list_objects('curated'))} in curated")

        progress.last = time.monotonic()  # type: ignore[attr-defined]
        idle = lake.wait_until_idle(timeout=3 * 3600, on_tick=progress, settle=1.0)
        drained_seconds = time.monotonic() - started
        log(f"drained in {drained_seconds:.0f} s (idle: {idle}); verifying")
        verify_started = time.monotonic()
        report = verify_lake(config, LakeAccess.local(config, lake.endpoint))
        verify_seconds = time.monotonic() - verify_started
        zones = {}
        for zone in config.zones:
            objects = connection.list_objects(zone.name)
            zones[zone.name] = {"objects": len(objects), "bytes": sum(o["Size"] for o in objects)}
        curated_rows = curated_row_count(connection)
        result |= {
            "put_seconds": round(put_seconds, 1),
            "drained_seconds": round(drained_seconds, 1),
            "files_per_second": round((small + big) / drained_seconds, 2),
            "input_mb_per_second": round((small_bytes + big_bytes) / 1e6 / drained_seconds, 2),
            "verify_seconds": round(verify_seconds, 1),
            "zones": zones,
            "curated_rows": curated_rows,
            "dlq_depth": connection.dlq_depth(),
            "hops": [
                {
                    "hop": f"{hop.source_zone} -> {hop.target_zone}",
                    "objects": hop.objects,
                    "with_output": hop.with_output,
                    "dead_lettered": hop.dead_lettered,
                    "unaccounted": len(hop.problems),
                    "queued": hop.queued,
                }
                for hop in report.hops
            ],
            "unaccounted": [f"{p.zone}/{p.key}: {p.kind}: {p.detail}" for p in report.problems],
            "verified": report.ok,
        }
    result["durable_commits"] = lake.emulator.commits  # reported by the emulator's process at its clean stop
    cpu_after = psutil.Process().cpu_times()  # children's times: the emulator's process, waited for at stop
    result["cpu_seconds"] = round(sum(cpu_after[:4]) - sum(cpu_before[:4]), 1)
    result["peak_rss_mb"] = round(memory.peak / 2**20)
    result["state_dir_mb"] = round(directory_bytes(state_dir) / 2**20)
    return result


def curated_row_count(connection: Any) -> int:
    """Rows in curated, from the Parquet footers: two ranged reads per object, never the data."""
    import struct

    import pyarrow.parquet as pq

    s3 = connection.client("s3")
    bucket = connection.names.bucket("curated")
    total = 0
    for obj in connection.list_objects("curated"):
        size = obj["Size"]
        tail = s3.get_object(Bucket=bucket, Key=obj["Key"], Range=f"bytes={size - 8}-{size - 1}")["Body"].read()
        footer_length = struct.unpack("<I", tail[:4])[0]  # the file ends <footer><length: u32 LE>PAR1
        start = size - 8 - footer_length
        footer = s3.get_object(Bucket=bucket, Key=obj["Key"], Range=f"bytes={start}-{size - 1}")["Body"].read()
        total += pq.ParquetFile(io.BytesIO(b"PAR1" + footer)).metadata.num_rows  # offsets are not needed
    return total


def write_results(result: dict[str, Any], out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    (out / "load.json").write_text(json.dumps(result, indent=2) + "\n")
    lines = [
        "# Load run of the local lake",
        "",
        f"Recorded {result['recorded_at']} by `python -m bench.load` on {result['machine']}.",
        "",
        f"- input: {result['small_files']:,} small files ({result['small_bytes'] / 1e6:.1f} MB) and "
        f"{result['big_files']} files of {result['big_bytes'] / max(1, result['big_files']) / 2**20:.0f} MB "
        f"({result['big_bytes'] / 2**30:.2f} GB), put into raw from 8 threads",
        f"- lake: durable state directory, {result['workers_per_queue']} worker(s) per queue, "
        "the default batch size and batching window",
        f"- all files put in {result['put_seconds']} s; every queue drained after {result['drained_seconds']} s "
        f"({result['files_per_second']} files/s, {result['input_mb_per_second']} MB/s of input)",
        f"- peak memory {result['peak_rss_mb']} MB (emulator process, workers and uploader), "
        f"CPU {result['cpu_seconds']} s, state directory {result['state_dir_mb']} MB",
        f"- curated holds {result['curated_rows']:,} rows; DLQ depth {result['dlq_depth']}",
        "",
        "| hop | objects | with output | in DLQ | unaccounted |",
        "|---|---:|---:|---:|---:|",
    ]
    for hop in result["hops"]:
        lines.append(
            f"| {hop['hop']} | {hop['objects']:,} | {hop['with_output']:,} | {hop['dead_lettered']} | "
            f"{hop['unaccounted']} |"
        )
    lines += [
        "",
        "| zone | objects | bytes |",
        "|---|---:|---:|",
        *[f"| {name} | {z['objects']:,} | {z['bytes'] / 2**20:,.1f} MB |" for name, z in result["zones"].items()],
        "",
        f"**verify: {'nothing unaccounted' if result['verified'] else 'UNACCOUNTED OBJECTS'}** "
        f"(reconciliation took {result['verify_seconds']} s)",
    ]
    for line in result["unaccounted"][:50]:
        lines.append(f"- {line}")
    (out / "load.md").write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--small", type=int, default=2000, help="Number of small files.")
    parser.add_argument("--big", type=int, default=5, help="Number of big files.")
    parser.add_argument("--big-mb", type=int, default=200, help="Size of each big file (MB).")
    parser.add_argument("--workers-per-queue", type=int, default=2)
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "results")
    parser.add_argument("--keep-state", action="store_true", help="Keep the lake's state directory afterwards.")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    state_dir = Path(tempfile.mkdtemp(prefix="datalake-load-"))
    try:
        result = run(args.small, args.big, args.big_mb, args.workers_per_queue, state_dir)
    finally:
        if not args.keep_state:
            shutil.rmtree(state_dir, ignore_errors=True)
    result["recorded_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    result["machine"] = (
        f"{platform.system()} {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    )
    write_results(result, args.out)
    log(f"results in {args.out / 'load.md'}; verified: {result['verified']}")
    raise SystemExit(0 if result["verified"] else 1)


if __name__ == "__main__":
    main()
