"""The published consumer zip runs with only what the managed layer provides.

The zip is downloaded from the emulator where `build.py publish` put it, unpacked into an
empty directory, and imported in a fresh virtual environment (uv, from its local cache) that
holds boto3, pyarrow, pandas and numpy and nothing else: no datalake_cfn, no Powertools or
typing_extensions but the zip's own. Its handler then processes one real S3-event SQS record (moto's notification
of a put into the raw bucket) and writes the staged object.
"""

from __future__ import annotations

import csv
import io
import json
import os
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest
from publish_helpers import BIN, client, publish_json

from datalake_cfn.config import parse_config
from datalake_cfn.naming import LakeNames
from datalake_cfn.routing import consumer_spec, queue_routes

LAYER = ("boto3", "pyarrow", "pandas", "numpy")
"""The managed layer's packages the consumer uses; the zip carries Powertools and what it imports."""

DRIVER = """
import importlib.util, json, os, sys, types
root = sys.argv[1]
sys.path.insert(0, root)
assert importlib.util.find_spec("datalake_cfn") is None, "the venv must not hold the builder"
from zone_consumer.handler import handler
import aws_lambda_powertools, zone_consumer
assert zone_consumer.__file__.startswith(root) and aws_lambda_powertools.__file__.startswith(root)
context = types.SimpleNamespace(function_name="acme-raw", memory_limit_in_mb=512, aws_request_id="r-1",
    invoked_function_arn="arn:aws:lambda:us-east-1:123456789012:function:acme-raw")
print(json.dumps(handler(json.loads(sys.stdin.read()), context)))
"""


@pytest.fixture(scope="module")
def layer_python(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A fresh venv with only the layer's four packages, pinned to the versions tested here."""
    venv = tmp_path_factory.mktemp("layer") / "venv"
    uv = BIN / "uv"
    subprocess.run([str(uv), "venv", "--quiet", "--python", sys.executable, str(venv)], check=True, timeout=120)
    pins = [f"{name}=={metadata.version(name)}" for name in LAYER]
    install = [str(uv), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *pins]
    if subprocess.run([*install, "--offline"], capture_output=True, timeout=600).returncode != 0:
        subprocess.run(install, check=True, timeout=600)  # a machine whose uv cache is empty
    return venv / "bin" / "python"


def test_the_published_zip_processes_a_real_s3_event_with_only_the_layer(
    tmp_path: Path, endpoint: str, layer_python: Path
) -> None:
    published = publish_json(tmp_path, endpoint, "--zones", "2", bucket="zip-artifacts")
    zipped = next(a for a in published["objects"] if a["key"].endswith("zone-consumer.zip"))
    archive = tmp_path / "zone-consumer.zip"
    archive.write_bytes(client("s3", endpoint).get_object(Bucket=zipped["bucket"], Key=zipped["key"])["Body"].read())
    root = tmp_path / "unpacked"
    root.mkdir()
    with zipfile.ZipFile(archive) as z:
        z.extractall(root)

    freeze = subprocess.run([str(layer_python), "-m", "pip", "--version"], capture_output=True, text=True)
    assert freeze.returncode != 0  # uv's venv has no pip either: nothing but the four and their dependencies

    zones = [{"name": "raw", "next": "staged"}, {"name": "staged"}]
    config = parse_config({"lake": "zipt", "zones": zones, "datasets": [{"name": "sales"}]})
    names = LakeNames.for_config(config)
    s3, sqs = client("s3", endpoint), client("sqs", endpoint)
    raw, staged = names.bucket("raw"), names.bucket("staged")
    for bucket in (raw, staged):
        s3.create_bucket(Bucket=bucket)
    queue = sqs.create_queue(QueueName="zipt-raw-events")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    s3.put_bucket_notification_configuration(
        Bucket=raw,
        NotificationConfiguration={"QueueConfigurations": [{"QueueArn": queue_arn, "Events": ["s3:ObjectCreated:*"]}]},
    )
    s3.put_object(Bucket=raw, Key="sales/2026/orders one.csv", Body=b"Order Id, Amount \n1, 9.5\n2,\n1, 9.5\n")
    record = None
    for _ in range(10):
        for message in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10, WaitTimeSeconds=1).get(
            "Messages", []
        ):
            if "ObjectCreated" in message["Body"]:
                record = message
        if record:
            break
    assert record is not None, "moto sent no S3 event"
    event = {
        "Records": [
            {
                "messageId": record["MessageId"],
                "receiptHandle": record["ReceiptHandle"],
                "body": record["Body"],
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": record["MD5OfBody"],
                "eventSource": "aws:sqs",
                "eventSourceARN": queue_arn,
                "awsRegion": "us-east-1",
            }
        ]
    }
    route = next(r for r in queue_routes(config, names) if r.zone.name == "raw" and r.has_consumer)
    spec = consumer_spec(config, names, route, dlq_url=None)
    environ = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PYTHON", "VIRTUAL_ENV"))}
    environ.update(
        DATALAKE_SPEC=spec.to_json(),
        AWS_ENDPOINT_URL=endpoint,
        AWS_REGION="us-east-1",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
    )
    result = subprocess.run(
        [str(layer_python), "-s", "-c", DRIVER, str(root)],
        input=json.dumps(event),
        env=environ,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {"batchItemFailures": []}
    written = s3.list_objects_v2(Bucket=staged).get("Contents", [])
    assert len(written) == 1 and written[0]["Key"].startswith("sales/"), written
    body = s3.get_object(Bucket=staged, Key=written[0]["Key"])["Body"].read().decode()
    rows = list(csv.reader(io.StringIO(body)))
    assert rows[0][:2] == ["order_id", "amount"]  # cleaned: snake_case headers, trimmed
    assert [r[:2] for r in rows[1:]] == [["1", "9.5"], ["2", ""]]  # the duplicate row dropped
    tags = {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=staged, Key=written[0]["Key"])["TagSet"]}
    assert "dataclassification" in tags
