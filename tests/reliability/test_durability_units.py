"""The durable lake's pure parts: which requests change what, and a journal cut by a crash."""

from __future__ import annotations

import io
import json
import pickle
import struct
import zlib
from pathlib import Path

import pytest

from datalake_cfn.local.durability import FRAME_HEADER, JOURNAL, DurableState, classify_request
from datalake_cfn.local.moto_state import ALL, Image

ENDPOINT_HOST = "127.0.0.1:4566"


def signed(service: str) -> str:
    return (
        f"AWS4-HMAC-SHA256 Credential=testing/20260101/us-east-1/{service}/aws4_request, "
        "SignedHeaders=host, Signature=abc"
    )


def s3_request(method: str, raw_uri: str) -> dict:
    path, _, query = raw_uri.partition("?")
    return {
        "REQUEST_METHOD": method,
        "RAW_URI": raw_uri,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "HTTP_HOST": ENDPOINT_HOST,
        "HTTP_AUTHORIZATION": signed("s3"),
    }


def json_request(service: str, target: str, body: dict) -> dict:
    data = json.dumps(body).encode()
    return {
        "REQUEST_METHOD": "POST",
        "RAW_URI": "/",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "HTTP_HOST": ENDPOINT_HOST,
        "HTTP_AUTHORIZATION": signed(service),
        "HTTP_X_AMZ_TARGET": target,
        "CONTENT_LENGTH": str(len(data)),
        "wsgi.input": io.BytesIO(data),
    }


def test_s3_reads_change_nothing() -> None:
    assert classify_request(s3_request("GET", "/bucket/sales/a.csv")) is None
    assert classify_request(s3_request("HEAD", "/bucket/sales/a.csv")) is None
    assert classify_request(s3_request("GET", "/bucket?list-type=2")) is None


def test_an_s3_write_names_its_key_decoded() -> None:
    change = classify_request(s3_request("PUT", "/bucket/sales/Q1%20r%C3%A9sum%C3%A9%2B.csv"))
    assert change is not None and change.wait
    assert change.selectors == {("s3key", "bucket", "sales/Q1 résumé+.csv")}
    tagging = classify_request(s3_request("PUT", "/bucket/sales/a.csv?tagging"))
    assert tagging is not None and tagging.selectors == {("s3key", "bucket", "sales/a.csv")}
    assert classify_request(s3_request("DELETE", "/bucket/sales/a.csv")).selectors == {
        ("s3key", "bucket", "sales/a.csv")
    }


def test_multipart_progress_is_not_kept_but_completion_is() -> None:
    assert classify_request(s3_request("POST", "/bucket/big.csv?uploads")) is None
    assert classify_request(s3_request("PUT", "/bucket/big.csv?partNumber=1&uploadId=abc")) is None
    assert classify_request(s3_request("DELETE", "/bucket/big.csv?uploadId=abc")) is None
    done = classify_request(s3_request("POST", "/bucket/big.csv?uploadId=abc"))
    assert done is not None and done.selectors == {("s3key", "bucket", "big.csv")}


def test_bucket_level_writes() -> None:
    assert classify_request(s3_request("POST", "/bucket?delete")).selectors == {("s3keys", "bucket")}
    assert classify_request(s3_request("PUT", "/bucket?notification")).selectors == {("s3bucket", "bucket")}


def test_sqs_writes_name_their_queue_and_only_receives_do_not_wait() -> None:
    url = "http://127.0.0.1:4566/123456789012/acme-raw"
    send = classify_request(json_request("sqs", "AmazonSQS.SendMessage", {"QueueUrl": url, "MessageBody": "x"}))
    assert send is not None and send.wait and send.selectors == {("sqs", "acme-raw")}
    receive = classify_request(json_request("sqs", "AmazonSQS.ReceiveMessage", {"QueueUrl": url}))
    assert receive is not None and not receive.wait
    assert classify_request(json_request("sqs", "AmazonSQS.GetQueueAttributes", {"QueueUrl": url})) is None
    create = classify_request(json_request("sqs", "AmazonSQS.CreateQueue", {"QueueName": "acme-dlq"}))
    assert create is not None and ("sqs", "acme-dlq") in create.selectors and ("svc", "sqs") in create.selectors


def test_the_body_stays_readable_for_moto() -> None:
    environ = json_request("sqs", "AmazonSQS.SendMessage", {"QueueUrl": "http://h/1/q", "MessageBody": "x"})
    classify_request(environ)
    assert json.loads(environ["wsgi.input"].read())["MessageBody"] == "x"


def test_other_services_by_action() -> None:
    assert classify_request(json_request("glue", "AWSGlue.GetTables", {"DatabaseName": "d"})) is None
    assert classify_request(json_request("glue", "AWSGlue.CreateTable", {})).selectors == {("svc", "glue")}
    assert classify_request(json_request("kms", "TrentService.DescribeKey", {})) is None
    assert classify_request(json_request("kms", "TrentService.CreateKey", {})).selectors == {("svc", "kms")}


def test_an_unsigned_write_saves_everything() -> None:
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "", "HTTP_HOST": ENDPOINT_HOST}
    assert classify_request(environ).selectors == {ALL}


def frame(changes: dict) -> bytes:
    payload = pickle.dumps(changes)
    return FRAME_HEADER.pack(len(payload), zlib.crc32(payload)) + payload


def test_a_journal_cut_mid_frame_keeps_the_whole_frames_and_drops_the_tail(tmp_path: Path) -> None:
    one, two = Image(b"one", frozenset()), Image(b"two", frozenset())
    whole = frame({("svc", "a"): one}) + frame({("svc", "b"): two, ("svc", "a"): None})
    torn = frame({("svc", "c"): one})[:-3]
    (tmp_path / JOURNAL).write_bytes(whole + torn)
    images: dict = {}
    frames, dropped = DurableState(tmp_path)._replay_journal(images)
    assert (frames, dropped) == (2, len(torn))
    assert images == {("svc", "b"): two}
    assert (tmp_path / JOURNAL).read_bytes() == whole  # the next append follows a whole frame


def test_a_corrupt_frame_stops_the_replay(tmp_path: Path) -> None:
    good = frame({("svc", "a"): Image(b"x", frozenset())})
    bad = bytearray(frame({("svc", "b"): Image(b"y", frozenset())}))
    bad[-1] ^= 0xFF
    (tmp_path / JOURNAL).write_bytes(good + bytes(bad) + good)
    images: dict = {}
    frames, _ = DurableState(tmp_path)._replay_journal(images)
    assert frames == 1 and set(images) == {("svc", "a")}
    assert struct.calcsize("<II") == FRAME_HEADER.size


def test_an_unreadable_state_directory_is_explained_and_released(tmp_path: Path) -> None:
    from datalake_cfn.local.durability import CHECKPOINT, DurabilityError

    (tmp_path / CHECKPOINT).write_bytes(b"not a pickle")
    state = DurableState(tmp_path)
    with pytest.raises(DurabilityError, match=r"cannot be loaded .* move that directory away"):
        state.open()
    state.close()  # nothing was started: closing is harmless
    other = DurableState(tmp_path)  # and the directory lock was released
    with pytest.raises(DurabilityError, match="cannot be loaded"):
        other.open()
