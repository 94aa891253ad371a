"""A multipart upload into the local lake's emulator sends exactly one S3 event, as S3 does."""

from __future__ import annotations

import json

from datalake_cfn.local.emulator import Emulator, local_client

REGION = "us-east-1"


def test_completed_multipart_upload_sends_one_complete_event():
    emulator = Emulator(region=REGION).start()
    try:
        s3 = local_client("s3", emulator.endpoint, REGION)
        sqs = local_client("sqs", emulator.endpoint, REGION)
        url = sqs.create_queue(QueueName="events")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        s3.create_bucket(Bucket="multipart-events")
        s3.put_bucket_notification_configuration(
            Bucket="multipart-events",
            NotificationConfiguration={"QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]},
        )
        upload = s3.create_multipart_upload(Bucket="multipart-events", Key="big.csv", Tagging="level=internal")
        parts = []
        for number, body in enumerate([b"a" * (5 << 20), b"b" * 10], start=1):
            etag = s3.upload_part(
                Bucket="multipart-events", Key="big.csv", UploadId=upload["UploadId"], PartNumber=number, Body=body
            )["ETag"]
            parts.append({"PartNumber": number, "ETag": etag})
        s3.complete_multipart_upload(
            Bucket="multipart-events", Key="big.csv", UploadId=upload["UploadId"], MultipartUpload={"Parts": parts}
        )
        s3.put_object(Bucket="multipart-events", Key="small.csv", Body=b"x")
        events = []
        while True:
            got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
            if not got:
                break
            for message in got:
                for record in json.loads(message["Body"]).get("Records", []):
                    events.append((record["eventName"], record["s3"]["object"]["key"]))
        assert sorted(events) == [
            ("ObjectCreated:CompleteMultipartUpload", "big.csv"),
            ("ObjectCreated:Put", "small.csv"),
        ]
        tags = s3.get_object_tagging(Bucket="multipart-events", Key="big.csv")["TagSet"]
        assert tags == [{"Key": "level", "Value": "internal"}]
    finally:
        emulator.stop()
