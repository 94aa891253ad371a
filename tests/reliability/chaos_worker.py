"""A zone worker in its own process, for the chaos tests: kill -9 it, slow it down, cut it off.

    python chaos_worker.py --config lake.yaml --endpoint http://127.0.0.1:PORT [--slow sales/a=6] ...

It runs the same thing the local lake runs in threads - one `QueueWorker` per queue, each
calling `ZoneConsumer.handle` with Lambda-shaped events - against an emulator started by the
test, and writes `--ready FILE` once it polls. `--slow SUBSTRING=SECONDS` makes the handler
sleep before processing any object whose key contains SUBSTRING (every time, or only the
first time with `--slow-once`), to outlast the visibility timeout or `--function-timeout`.
"""

from __future__ import annotations

import argparse
import faulthandler
import logging
import signal
import threading
import time
from pathlib import Path
from typing import Any

from zone_consumer.handler import ZoneConsumer

from datalake_cfn.config import load_config
from datalake_cfn.local.emulator import local_client
from datalake_cfn.local.workers import QueueWorker, WorkerSettings
from datalake_cfn.naming import LakeNames
from datalake_cfn.routing import consumer_spec, queue_routes


def slowed(process: Any, rules: dict[str, float], once: bool, marker: Path | None) -> Any:
    """Wrap `process` to sleep on matching keys; write `marker` as each sleep begins and
    `marker`.awake as it ends.

    The marker is how a test knows the slow handler holds the message: watching the queue's
    in-flight count instead races the visibility timeout, whose window is only seconds long.
    """
    done: set[str] = set()
    lock = threading.Lock()

    def process_slowly(obj: Any) -> Any:
        with lock:
            first = obj.key not in done
            done.add(obj.key)
        for substring, seconds in rules.items():
            if substring in obj.key and (first or not once):
                if marker is not None:
                    marker.write_text(obj.key)
                time.sleep(seconds)
                if marker is not None:
                    marker.with_name(marker.name + ".awake").write_text(obj.key)
        return process(obj)

    return process_slowly


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--config", required=True)
    parser.add_argument("--endpoint", required=True)
    parser.add_argument("--ready", required=True)
    parser.add_argument("--visibility", type=int, default=5)
    parser.add_argument("--batch-size", type=int, default=10)
    parser.add_argument("--slow", action="append", default=[])
    parser.add_argument("--slow-once", action="store_true")
    parser.add_argument("--slow-marker", type=Path, help="file written when a slowed handler starts sleeping")
    parser.add_argument("--function-timeout", type=float, help="abandon an invocation after this many seconds")
    args = parser.parse_args()
    faulthandler.register(signal.SIGUSR1)  # `kill -USR1` dumps every thread's stack into the worker's log
    logging.basicConfig(level=logging.WARNING)
    logging.getLogger("datalake").propagate = False  # as in the local lake: the consumers' JSON lines, once
    config = load_config(args.config)
    names = LakeNames.for_config(config)
    kms = local_client("kms", args.endpoint, names.region)
    settings = WorkerSettings(
        batch_size=args.batch_size,
        batching_window_seconds=0.3,
        visibility_timeout_seconds=args.visibility,
        retry_delay_seconds=0,
        poll_wait_seconds=1,
        function_timeout_seconds=args.function_timeout,
    )
    rules = {rule.split("=", 1)[0]: float(rule.split("=", 1)[1]) for rule in args.slow}
    workers = []
    for route in queue_routes(config, names):
        sqs = local_client("sqs", args.endpoint, names.region)
        consumer = None
        if route.has_consumer:
            target_key = kms.describe_key(KeyId=names.key_alias(route.zone.next))["KeyMetadata"]["Arn"]
            spec = consumer_spec(
                config,
                names,
                route,
                dlq_url=names.queue_url(names.dlq, args.endpoint),
                target_kms_key_id=target_key,
            )
            consumer = ZoneConsumer(spec, local_client("s3", args.endpoint, names.region), sqs)
            if rules:
                consumer.pipeline.process = slowed(consumer.pipeline.process, rules, args.slow_once, args.slow_marker)
        workers.append(
            QueueWorker(
                name=route.queue_name,
                sqs=sqs,
                queue_url=names.queue_url(route.queue_name, args.endpoint),
                queue_arn=names.queue_arn(route.queue_name),
                region=names.region,
                settings=settings,
                consumer=consumer,
                zone=route.zone.name,
            )
        )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    for worker in workers:
        worker.start()
    Path(args.ready).write_text("ready")
    while not stop.wait(0.2):
        dead = [w.name for w in workers if not w.is_alive()]
        if dead:
            raise SystemExit(f"worker threads died: {dead}")
    for worker in workers:
        worker.stop()
    for worker in workers:
        worker.join(timeout=10)


if __name__ == "__main__":
    main()
