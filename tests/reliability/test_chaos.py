"""Chaos against the local lake: crashes, repeats, slowness, outages and poison (acceptance 1).

Workers run in child processes (`chaos_worker.py`) against an emulator in this process,
so they can be killed with SIGKILL, slowed past their visibility timeout, or cut off from
the endpoint. Every test ends with `datalake verify` finding nothing unaccounted, and
checks exactly-once where it is a promise: one output object per input, written once
(one S3 version), holding each input row once.
"""

from __future__ import annotations

import io
import os
import signal
import time

import pyarrow.parquet as pq
import pytest
from reliability_helpers import ChaosLake, TcpProxy, wait_for

from datalake_cfn.reliability.verify import peek_messages

pytestmark = pytest.mark.slow

PNG = b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256))


def sales_csv(n: int, rows: int = 3) -> bytes:
    lines = ["order_id,amount,note"] + [f"{n}-{r},{n * 10 + r},row {r} of file {n}" for r in range(rows)]
    return ("\n".join(lines) + "\n").encode()


def staged_keys(lake: ChaosLake) -> set[str]:
    return {o["Key"] for o in lake.connection.list_objects("staged")}


def curated_keys(lake: ChaosLake) -> set[str]:
    return {o["Key"] for o in lake.connection.list_objects("curated")}


def assert_exactly_once(lake: ChaosLake, sources: dict[str, bytes]) -> None:
    """Each source has one output per zone, written once, with each of its rows once."""
    for key, data in sources.items():
        stem = key.removesuffix(".csv")
        assert lake.versions("staged", key) == 1, f"{key} was written to staged more than once"
        assert lake.versions("curated", f"{stem}.parquet") == 1, f"{key} was written to curated more than once"
        table = pq.read_table(io.BytesIO(lake.connection.get_bytes("curated", f"{stem}.parquet")))
        expected = [line.split(",")[0] for line in data.decode().splitlines()[1:]]
        assert sorted(table.column("order_id").to_pylist()) == sorted(expected)
    assert curated_keys(lake) == {f"{key.removesuffix('.csv')}.parquet" for key in sources}


def assert_verified(lake: ChaosLake, dead_lettered: int = 0) -> None:
    code, output = lake.verify()
    assert code == 0, output
    assert "every object is accounted for" in output
    assert f"({dead_lettered} in the DLQ)" in output


def test_a_worker_killed_mid_batch_loses_nothing_and_duplicates_nothing(chaos_lake: ChaosLake) -> None:
    sources = {f"sales/kill-{i:02d}.csv": sales_csv(i) for i in range(12)}
    for key, data in sources.items():
        chaos_lake.put(key, data)
    doomed = chaos_lake.start_worker("--slow", "sales/=0.4", "--visibility", "4")
    # Some objects of the first batch are written, the rest of it is still being processed.
    wait_for(lambda: staged_keys(chaos_lake), 60, "the first outputs of the batch")
    os.kill(doomed.pid, signal.SIGKILL)
    doomed.wait(timeout=30)
    assert doomed.returncode == -signal.SIGKILL
    assert len(staged_keys(chaos_lake)) < len(sources), "the worker finished before it was killed"
    chaos_lake.start_worker("--visibility", "4")
    chaos_lake.wait_until_idle()
    assert_exactly_once(chaos_lake, sources)
    assert chaos_lake.connection.dlq_depth() == 0
    assert_verified(chaos_lake)


def test_duplicate_deliveries_make_one_output_each(chaos_lake: ChaosLake) -> None:
    sources = {f"sales/dup-{i}.csv": sales_csv(i) for i in range(6)}
    for key, data in sources.items():
        chaos_lake.put(key, data)
    sqs = chaos_lake.connection.client("sqs")
    raw_queue = chaos_lake.connection.queue_url(chaos_lake.lake.names.queue("raw"))
    events = [body for body in peek_messages(sqs, raw_queue) if '"Records"' in body]
    assert len(events) == len(sources)
    for body in events * 2:  # every event delivered three times, mostly within one batch
        sqs.send_message(QueueUrl=raw_queue, MessageBody=body)
    chaos_lake.start_worker()
    chaos_lake.wait_until_idle()
    for body in events:  # and once more, long after its output was written
        sqs.send_message(QueueUrl=raw_queue, MessageBody=body)
    chaos_lake.wait_until_idle()
    assert_exactly_once(chaos_lake, sources)
    assert chaos_lake.connection.dlq_depth() == 0
    assert_verified(chaos_lake)


def test_a_handler_slower_than_the_visibility_timeout(chaos_lake: ChaosLake) -> None:
    sleeping = chaos_lake.tmp / "slow-handler-sleeping"
    slow = chaos_lake.start_worker(
        *("--slow", "sales/slow=10", "--slow-once", "--slow-marker", str(sleeping)),
        *("--visibility", "2", "--batch-size", "1"),
    )
    sources = {"sales/slow.csv": sales_csv(1)}
    chaos_lake.put("sales/slow.csv", sources["sales/slow.csv"])

    wait_for(sleeping.exists, 30, "the slow worker to receive the message")
    chaos_lake.start_worker("--visibility", "2", "--batch-size", "1")
    # The message reappears after 2 s; the second worker processes it while the first still sleeps.
    wait_for(lambda: "sales/slow.parquet" in curated_keys(chaos_lake), 60, "the second worker's output")
    assert not (chaos_lake.tmp / "slow-handler-sleeping.awake").exists(), "the output waited for the slow worker"
    assert slow.poll() is None
    chaos_lake.wait_until_idle()  # the first worker wakes up, finds the output made, and skips
    assert_exactly_once(chaos_lake, sources)
    assert chaos_lake.connection.dlq_depth() == 0
    assert_verified(chaos_lake)


def test_a_stuck_invocation_is_abandoned_at_the_function_timeout(chaos_lake: ChaosLake) -> None:
    """As Lambda stops a function at its timeout: the worker gives up on the invocation, says
    where it was stuck, and the message is processed by the next one; the zone never freezes."""
    stuck = chaos_lake.tmp / "stuck-invocation"
    worker = chaos_lake.start_worker(
        *("--slow", "sales/stuck=3600", "--slow-once", "--slow-marker", str(stuck)),
        *("--function-timeout", "3", "--visibility", "30", "--batch-size", "1"),
    )
    sources = {"sales/stuck.csv": sales_csv(1), "sales/after.csv": sales_csv(2)}
    chaos_lake.put("sales/stuck.csv", sources["sales/stuck.csv"])
    wait_for(stuck.exists, 30, "the invocation to get stuck")
    chaos_lake.put("sales/after.csv", sources["sales/after.csv"])
    # Both come out of the same worker process while the first invocation still sleeps:
    # the raw queue's worker abandoned it after 3 s instead of waiting an hour.
    chaos_lake.wait_until_idle()
    assert_exactly_once(chaos_lake, sources)
    assert worker.poll() is None
    log = (chaos_lake.tmp / "worker-0.log").read_text()
    assert "the invocation timed out after 3 s (the function timeout); its 1 message will be redelivered" in log
    assert "in process_slowly" in log.split("timed out after 3 s", 1)[1]  # where it was stuck
    assert chaos_lake.connection.dlq_depth() == 0
    assert_verified(chaos_lake)


def test_an_invocation_stuck_every_time_ends_in_the_dlq(chaos_lake: ChaosLake) -> None:
    """Stuck on every attempt: the consumer never gets to dead-letter it, so the queue's redrive
    policy does after maxReceiveCount receives (as on AWS), and the DLQ says what that means."""
    worker = chaos_lake.start_worker(
        *("--slow", "sales/hangs=3600", "--function-timeout", "1", "--visibility", "30", "--batch-size", "1")
    )
    chaos_lake.put("sales/hangs.csv", sales_csv(1))
    chaos_lake.put("sales/fine.csv", sales_csv(2))
    chaos_lake.wait_until_idle()
    letters = chaos_lake.connection.dead_letters()
    assert [letter.keys for letter in letters] == [[f"{chaos_lake.lake.names.bucket('raw')}/sales/hangs.csv"]]
    assert "timed out on every attempt" in letters[0].reason
    assert_exactly_once(chaos_lake, {"sales/fine.csv": sales_csv(2)})
    assert worker.poll() is None
    log = (chaos_lake.tmp / "worker-0.log").read_text()
    assert log.count("the invocation timed out after 1 s") == chaos_lake.config.pipeline.max_receive_count
    assert_verified(chaos_lake, dead_lettered=1)


def test_workers_ride_out_an_unreachable_endpoint(chaos_lake: ChaosLake) -> None:
    proxy = TcpProxy(target_port=chaos_lake.lake.emulator.port).start()
    try:
        worker = chaos_lake.start_worker("--visibility", "5", endpoint=proxy.endpoint)
        before = {f"sales/before-{i}.csv": sales_csv(i) for i in range(4)}
        for key, data in before.items():
            chaos_lake.put(key, data)
        wait_for(lambda: len(curated_keys(chaos_lake)) == len(before), 60, "the first files to flow")
        proxy.cut()
        during = {f"sales/during-{i}.csv": sales_csv(10 + i) for i in range(4)}
        for key, data in during.items():  # producers still reach the lake; its workers do not
            chaos_lake.put(key, data)
        time.sleep(4)
        assert worker.poll() is None, "the worker died while its endpoint was unreachable"
        assert not any(key.startswith("sales/during") for key in staged_keys(chaos_lake))
        proxy.start()
        wait_for(lambda: len(curated_keys(chaos_lake)) == len(before) + len(during), 90, "the workers to resume")
        chaos_lake.wait_until_idle()
        assert worker.poll() is None
        assert_exactly_once(chaos_lake, before | during)
        assert chaos_lake.connection.dlq_depth() == 0
        assert_verified(chaos_lake)
    finally:
        proxy.cut()


def test_one_poison_record_among_good_ones_is_the_only_dead_letter(chaos_lake: ChaosLake) -> None:
    good = {f"sales/good-{i}.csv": sales_csv(i) for i in range(9)}
    for key, data in good.items():
        chaos_lake.put(key, data)
    chaos_lake.put("sales/poison.csv", PNG)
    worker = chaos_lake.start_worker()  # all ten are waiting: they arrive in one batch
    chaos_lake.wait_until_idle()
    letters = chaos_lake.connection.dead_letters()
    assert [letter.keys for letter in letters] == [[f"{chaos_lake.lake.names.bucket('raw')}/sales/poison.csv"]]
    assert "PNG" in letters[0].reason and letters[0].zone == "raw"
    assert letters[0].attempts == "1"  # a PNG fails the same way every time: dead-lettered on the first receive
    assert_exactly_once(chaos_lake, good)
    assert worker.poll() is None
    assert_verified(chaos_lake, dead_lettered=1)
