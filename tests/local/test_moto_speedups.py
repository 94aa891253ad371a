"""moto_speedups changes how fast moto answers, never what it answers.

Each test talks to an emulator of its own (moto's server, patches installed; not `mock_aws`,
whose reset would wipe the moto state other tests' lakes share in this process) and compares
with moto's own code (kept in `moto_speedups.ORIGINALS`) or with what SQS/S3 document.
"""

from __future__ import annotations

import time
import uuid

import pytest

from datalake_cfn.local import moto_speedups
from datalake_cfn.local.emulator import Emulator, local_client

REGION = "us-east-1"
ACCOUNT = "123456789012"


@pytest.fixture(scope="module")
def emulator():
    running = Emulator(region=REGION).start()
    yield running
    running.stop()


@pytest.fixture
def name() -> str:
    return f"speedups-{uuid.uuid4().hex[:10]}"


def _sqs(emulator):
    return local_client("sqs", emulator.endpoint, REGION)


def _s3(emulator):
    return local_client("s3", emulator.endpoint, REGION)


def test_queue_attributes_still_count_every_message(emulator, name):
    sqs = _sqs(emulator)
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    for i in range(25):
        sqs.send_message(QueueUrl=url, MessageBody=f"m{i}")
    sqs.send_message(QueueUrl=url, MessageBody="later", DelaySeconds=60)
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60)["Messages"]
    assert len(got) == 10
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attributes["ApproximateNumberOfMessages"] == "15"
    assert attributes["ApproximateNumberOfMessagesNotVisible"] == "10"
    assert attributes["ApproximateNumberOfMessagesDelayed"] == "1"
    assert attributes["MessageRetentionPeriod"] == "345600"


def test_fifo_content_based_deduplication_still_drops_the_repeat(emulator, name):
    sqs = _sqs(emulator)
    url = sqs.create_queue(
        QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true", "ContentBasedDeduplication": "true"}
    )["QueueUrl"]
    for _ in range(2):
        sqs.send_message(QueueUrl=url, MessageBody="same", MessageGroupId="g")
    sqs.send_message(QueueUrl=url, MessageBody="other", MessageGroupId="g")
    bodies = [m["Body"] for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == ["same", "other"]


def test_fifo_without_content_based_deduplication_needs_an_id(emulator, name):
    sqs = _sqs(emulator)
    url = sqs.create_queue(QueueName=f"{name}.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    with pytest.raises(sqs.exceptions.ClientError):
        sqs.send_message(QueueUrl=url, MessageBody="x", MessageGroupId="g")


def test_retention_check_agrees_with_moto_and_drops_an_expired_message(emulator, name):
    from moto.sqs.models import sqs_backends

    sqs = _sqs(emulator)
    url = sqs.create_queue(QueueName=name, Attributes={"MessageRetentionPeriod": "60"})["QueueUrl"]
    sqs.send_message(QueueUrl=url, MessageBody="fresh")
    backend = sqs_backends[ACCOUNT][REGION]
    message = backend.get_queue(name)._messages[0]
    original = moto_speedups.ORIGINALS["sqs.retention"]
    for age in (0, 59, 61, 3600):
        message.sent_timestamp = int((time.time() - age) * 1000)
        assert (
            backend.is_message_valid_based_on_retention_period(name, message)
            is original(backend, name, message)
            is (age < 60)
        )
    assert sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []) == []
    message.sent_timestamp = int(time.time() * 1000)
    message.change_visibility(0)
    assert [m["Body"] for m in sqs.receive_message(QueueUrl=url)["Messages"]] == ["fresh"]


def test_sqs_clock_is_moto_clock(emulator):
    original = moto_speedups.ORIGINALS["sqs.unix_time"]
    from moto.sqs import models

    assert abs(models.unix_time() - original()) < 0.05
    assert abs(models.unix_time_millis() - original() * 1000) < 50


@pytest.mark.parametrize("algorithm", [None, "CRC32", "SHA256"])
def test_multipart_completion_equals_moto_own(emulator, name, algorithm):
    from moto.s3.models import s3_backends

    s3 = _s3(emulator)
    s3.create_bucket(Bucket=name)
    extra = {"ChecksumAlgorithm": algorithm} if algorithm else {}
    upload = s3.create_multipart_upload(Bucket=name, Key="k", **extra)["UploadId"]
    bodies = [bytes([i]) * (5 << 20) for i in (1, 2)] + [b"tail"]
    parts = []
    for number, body in enumerate(bodies, start=1):
        etag = s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=number, Body=body, **extra)["ETag"]
        parts.append((number, etag))
    multipart = s3_backends[ACCOUNT]["aws"].get_bucket(name).multiparts[upload]
    ours = moto_speedups._complete(multipart, iter(parts))
    theirs = moto_speedups.ORIGINALS["s3.complete"](multipart, iter(parts))
    assert ours == theirs
    assert ours[0] == b"".join(bodies)
    s3.complete_multipart_upload(
        Bucket=name,
        Key="k",
        UploadId=upload,
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e} for n, e in parts]},
    )
    head = s3.head_object(Bucket=name, Key="k")
    assert head["ETag"].strip('"') == ours[1]
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"".join(bodies)


def test_multipart_completion_refuses_a_wrong_etag(emulator, name):
    from moto.s3.exceptions import InvalidPart
    from moto.s3.models import s3_backends

    s3 = _s3(emulator)
    s3.create_bucket(Bucket=name)
    upload = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=1, Body=b"x")
    multipart = s3_backends[ACCOUNT]["aws"].get_bucket(name).multiparts[upload]
    with pytest.raises(InvalidPart):
        moto_speedups._complete(multipart, iter([(1, '"0123"')]))


def test_multipart_completion_with_the_default_crc64_checksum_equals_moto_own(emulator, name):
    """A full-object checksum (CRC64NVME, what an upload without a checksum algorithm gets) over the one buffer."""
    from moto.s3.models import s3_backends

    s3 = _s3(emulator)
    s3.create_bucket(Bucket=name)
    upload = s3.create_multipart_upload(Bucket=name, Key="k", ChecksumAlgorithm="CRC64NVME")["UploadId"]
    bodies = [bytes(range(256)) * (5 << 12), b"end"]
    parts = [
        (n, s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=n, Body=body)["ETag"])
        for n, body in enumerate(bodies, start=1)
    ]
    multipart = s3_backends[ACCOUNT]["aws"].get_bucket(name).multiparts[upload]
    ours = moto_speedups._complete(multipart, iter(parts))
    assert ours == moto_speedups.ORIGINALS["s3.complete"](multipart, iter(parts))
    assert ours[2] is not None and ours[2][0] == "FULL_OBJECT"


@pytest.mark.parametrize("size", [0, 100, (1 << 20) + 1])
def test_a_key_value_reads_back_the_same_and_a_large_one_goes_to_its_file(emulator, size):
    from moto.s3.models import FakeKey

    value = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    ours = FakeKey("k", value, account_id=ACCOUNT, region_name=REGION, max_buffer_size=1 << 20)
    theirs = FakeKey("k", b"", account_id=ACCOUNT, region_name=REGION, max_buffer_size=1 << 20)
    moto_speedups.ORIGINALS["s3.set_value"](theirs, value)
    assert ours.value == theirs.value == value
    assert ours.contentsize == theirs.contentsize == size
    assert ours.etag == theirs.etag
    assert ours._value_buffer._rolled == (size > 1 << 20)
    ours.value = "text"  # moto's own tests set str values: stored as UTF-8, the rest truncated
    assert ours.value == b"text" and ours.contentsize == 4


def test_a_part_stays_in_memory_with_the_etag_and_bytes_moto_gives_it(emulator, name):
    from moto.s3.models import s3_backends

    s3 = _s3(emulator)
    s3.create_bucket(Bucket=name)
    upload = s3.create_multipart_upload(Bucket=name, Key="k")["UploadId"]
    body = bytes(range(256)) * (6 << 12)  # 6 MiB: over moto's 5 MB spool, so moto would write it to a file
    etag = s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=1, Body=body)["ETag"]
    multipart = s3_backends[ACCOUNT]["aws"].get_bucket(name).multiparts[upload]
    ours = multipart.parts[1]
    theirs = moto_speedups.ORIGINALS["s3.set_part"](multipart, 2, body)
    assert not ours._value_buffer._rolled and theirs._value_buffer._rolled
    assert etag == ours.etag == theirs.etag
    assert ours.value == theirs.value == body and ours.contentsize == theirs.contentsize
    replaced = s3.upload_part(Bucket=name, Key="k", UploadId=upload, PartNumber=1, Body=b"again")["ETag"]
    assert ours.disposed  # the overwritten part is let go, as moto does
    assert multipart.parts[1].value == b"again" and replaced == multipart.parts[1].etag
    assert multipart.partlist == [1, 2]


def test_the_server_dispatch_finds_the_backend_moto_finds(emulator):
    from moto import backends
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    assert tuple(backends.list_of_moto_modules()) == tuple(moto_speedups.ORIGINALS["server.list_of_moto_modules"]())
    dispatcher = DomainDispatcherApplication(create_backend_app)
    original = moto_speedups.ORIGINALS["server.get_backend_for_host"]
    hosts = [None, "moto_api", "s3", "s3.us-east-1.amazonaws.com", "sqs.eu-west-1.amazonaws.com", "glue.amazonaws.com"]
    for host in hosts + hosts:  # the second round answers from what the first remembered
        assert dispatcher.get_backend_for_host(host) == original(dispatcher, host), host
    assert dispatcher.get_backend_for_host("s3.us-east-1.amazonaws.com") == "s3"


def test_a_host_naming_no_backend_is_looked_up_each_time(emulator, capsys):
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    dispatcher = DomainDispatcherApplication(create_backend_app)
    for _ in range(2):
        assert dispatcher.get_backend_for_host("nothing.us-east-1.amazonaws.com") is None
    assert capsys.readouterr().out.count("Unable to find appropriate backend") == 2  # moto says so every time


def test_the_request_line_is_logged_exactly_when_werkzeug_would_log_it(emulator, caplog):
    import logging

    from werkzeug.serving import WSGIRequestHandler

    class Handler(WSGIRequestHandler):
        def __init__(self) -> None:  # no socket: only what log_request reads
            self.path, self.command, self.request_version, self.client_address = "/b/k", "GET", "HTTP/1.1", ("h", 1)

    with caplog.at_level(logging.ERROR, logger="werkzeug"):  # the emulator's setting: nothing is logged
        Handler().log_request(200, 5)
    assert not caplog.records
    with caplog.at_level(logging.INFO, logger="werkzeug"):
        Handler().log_request(200, 5)
    assert any("GET /b/k HTTP/1.1" in record.getMessage() for record in caplog.records)
