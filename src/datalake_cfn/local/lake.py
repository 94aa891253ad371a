"""The local lake: emulator + provisioned resources + zone workers, in one object.

    with LocalLake(config) as lake:
        lake.connection.put_file(Path("sales.csv"), dataset="sales")
        lake.wait_until_idle()

`datalake up`, `datalake demo` and the tests all run the lake through this class.
"""

from __future__ import annotations

import json
import logging
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from zone_consumer.handler import ZoneConsumer

from datalake_cfn.config import LakeConfig
from datalake_cfn.local.connection import LakeConnection
from datalake_cfn.local.emulator import LOCAL_ACCESS_KEY, LOCAL_SECRET_KEY, local_client
from datalake_cfn.local.emulator_process import EmulatorProcess
from datalake_cfn.local.provisioner import ProvisionedLake, provision
from datalake_cfn.local.workers import DeadLetterCounter, Listener, QueueWorker, WorkerSettings
from datalake_cfn.naming import LakeNames
from datalake_cfn.routing import consumer_spec, queue_routes

LOG_FILE = "consumers.log"  # in the data directory: the consumers' JSON log lines (`datalake logs`)
WORKER_STOP_SECONDS = 10.0  # a worker finishes the invocation it is in (the local function timeout is longer)
EMULATOR_LOG_FILE = "emulator.log"  # in the data directory: what the emulator's process logged


def log_path(data_dir: Path) -> Path:
    """Where the consumers of a lake with this data directory log."""
    return data_dir / LOG_FILE


@dataclass(frozen=True)
class ZoneFlow:
    """What a zone's workers did since the lake started (the live view of `datalake up`)."""

    zone: str
    processed: int
    retried: int
    failed: int
    queued: int


class LocalLake:
    """A whole lake on 127.0.0.1."""

    def __init__(
        self,
        config: LakeConfig,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        data_dir: Path | None = None,
        workers: bool = True,
        worker_settings: WorkerSettings | None = None,
        workers_per_queue: int = 1,
    ):
        self.config = config
        self.names = LakeNames.for_config(config)
        self.data_dir = data_dir
        # In a process of its own (both cores: see emulator_process); with a data directory its
        # objects, tags, messages and tables survive a stop or a kill -9 (see durability).
        self.emulator = EmulatorProcess(
            host,
            port,
            state_dir=data_dir / "state" if data_dir is not None else None,
            log_file=data_dir / EMULATOR_LOG_FILE if data_dir is not None else None,
        )
        self.run_workers = workers
        self.worker_settings = worker_settings or WorkerSettings(
            batch_size=config.pipeline.batch_size,
            batching_window_seconds=min(float(config.pipeline.max_batching_window_seconds), 0.5),
            function_timeout_seconds=config.pipeline.timeout_seconds,
        )
        self.workers_per_queue = workers_per_queue
        self.workers: list[QueueWorker] = []
        self.listeners: list[Listener] = []
        self.provisioned: ProvisionedLake | None = None
        self.connection = LakeConnection(config, self.emulator.endpoint, self.names)

    # -- lifecycle ----------------------------------------------------------------------------
    @property
    def endpoint(self) -> str:
        return self.emulator.endpoint

    def start(self) -> LocalLake:
        self._route_consumer_logs()
        self.emulator.start()
        try:
            self.provisioned = provision(self.config, self.names, self.endpoint)
            if self.run_workers:
                self.start_workers()
        except BaseException:
            self.stop()
            raise
        if self.data_dir is not None:
            write_endpoint_file(self.data_dir, self.endpoint, self.names.region, self.names.lake)
        return self

    def _route_consumer_logs(self) -> None:
        """Consumers log JSON lines like in Lambda; locally they go to a file, not over the CLI's output."""
        logger = logging.getLogger("datalake")
        formatter = next((h.formatter for h in logger.handlers if h.formatter), None)
        for handler in list(logger.handlers):
            if isinstance(handler, logging.StreamHandler) and getattr(handler, "stream", None) is sys.stdout:
                logger.removeHandler(handler)
        if self.data_dir is not None and not any(isinstance(h, logging.FileHandler) for h in logger.handlers):
            self.data_dir.mkdir(parents=True, exist_ok=True)
            handler = logging.FileHandler(log_path(self.data_dir), encoding="utf-8")
            handler.setFormatter(formatter or logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
            logger.addHandler(handler)
        logger.propagate = False

    def stop(self) -> None:
        for worker in self.workers:
            worker.stop()
        # One deadline for all (they stop together). With the emulator gone a worker sits in its
        # client's retries against a closed port: nothing is left to finish, and workers are daemons.
        deadline = time.monotonic() + (WORKER_STOP_SECONDS if self.emulator.alive else 0.0)
        for worker in self.workers:
            worker.join(timeout=max(0.0, deadline - time.monotonic()))
        self.workers.clear()
        if self.data_dir is not None:
            (self.data_dir / "endpoint.json").unlink(missing_ok=True)
        self.emulator.stop()

    def __enter__(self) -> LocalLake:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def add_listener(self, listener: Listener) -> None:
        """Called with (zone, objects) when objects land in a zone without a consumer (e.g. curated)."""
        self.listeners.append(listener)

    def start_workers(self) -> None:
        assert self.provisioned is not None
        for route in queue_routes(self.config, self.names):
            for index in range(self.workers_per_queue):
                self.workers.append(self._worker(route, index))
        for worker in self.workers:
            worker.start()

    def _worker(self, route: Any, index: int) -> QueueWorker:
        assert self.provisioned is not None
        sqs = local_client("sqs", self.endpoint, self.names.region)
        worker = QueueWorker(
            name=f"{route.queue_name}-{index}",
            sqs=sqs,
            queue_url=self.provisioned.queue_urls[route.queue_name],
            queue_arn=self.names.queue_arn(route.queue_name),
            region=self.names.region,
            settings=self.worker_settings,
            listeners=self.listeners,
            zone=route.zone.name,
        )
        if route.has_consumer:
            target_alias = self.names.key_alias(route.zone.next)
            spec = consumer_spec(
                self.config,
                self.names,
                route,
                dlq_url=self.provisioned.dlq_url,
                target_kms_key_id=self.provisioned.key_arns[target_alias],
            )
            counting = DeadLetterCounter(sqs, self.provisioned.dlq_url, worker.stats)
            worker.consumer = ZoneConsumer(spec, local_client("s3", self.endpoint, self.names.region), counting)
        return worker

    def flow(self) -> list[ZoneFlow]:
        """Per zone with a queue: messages processed, retried, failed (to the DLQ) and still queued."""
        queued: dict[str, int] = {}
        for queue in self.connection.queue_status():
            queued[queue.zone] = queued.get(queue.zone, 0) + queue.visible + queue.in_flight
        flows = []
        for zone in self.config.zones:
            workers = [w for w in self.workers if w.zone == zone.name]
            if not workers and zone.name not in queued:
                continue
            with_stats = [w.stats for w in workers]
            failed = sum(s.dead_lettered for s in with_stats)
            flows.append(
                ZoneFlow(
                    zone=zone.name,
                    processed=sum(s.succeeded for s in with_stats) - failed,
                    retried=sum(s.failed for s in with_stats),
                    failed=failed,
                    queued=queued.get(zone.name, 0),
                )
            )
        return flows

    # -- waiting ------------------------------------------------------------------------------
    def pending(self) -> int:
        """Messages not yet handled in every queue, plus those being handled right now."""
        queued = sum(q.visible + q.in_flight for q in self.connection.queue_status())
        return queued + sum(w.stats.in_flight for w in self.workers)

    def wait_until_idle(
        self, timeout: float = 120.0, on_tick: Callable[[], None] | None = None, settle: float = 0.3
    ) -> bool:
        """Block until every queue is empty and no worker is busy (twice in a row); False on timeout."""
        deadline = time.monotonic() + timeout
        quiet = 0
        while time.monotonic() < deadline:
            if on_tick:
                on_tick()
            quiet = quiet + 1 if self.pending() == 0 else 0
            if quiet >= 2:
                return True
            time.sleep(settle)
        return False

    # -- for clients outside this process -----------------------------------------------------
    def client_environment(self) -> dict[str, str]:
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": LOCAL_ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": LOCAL_SECRET_KEY,
            "AWS_DEFAULT_REGION": self.names.region,
        }


def write_endpoint_file(data_dir: Path, endpoint: str, region: str, lake: str) -> None:
    """Announce a running lake to CLIs of the same data directory (read back by `running_endpoint`).

    Written aside and renamed: a CLI in another terminal polls for this file and must never
    read it half-written.
    """
    data_dir.mkdir(parents=True, exist_ok=True)
    info = {"endpoint": endpoint, "region": region, "pid": os.getpid(), "lake": lake}
    staging = data_dir / f".endpoint.json.{os.getpid()}"
    staging.write_text(json.dumps(info, indent=2))
    staging.replace(data_dir / "endpoint.json")


def running_endpoint(data_dir: Path) -> str | None:
    """The endpoint of a lake started by `datalake up` with this data directory, if it is running."""
    path = data_dir / "endpoint.json"
    if not path.exists():
        return None
    try:
        info = json.loads(path.read_text())
    except (OSError, ValueError):  # removed meanwhile, or left corrupt by an older version
        return None
    try:
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return str(info["endpoint"])
