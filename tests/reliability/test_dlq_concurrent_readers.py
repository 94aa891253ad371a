"""Two DLQ readers at once both see every entry (SQS has no peek: a reader hides what it reads).

`datalake up`'s crawler reads the DLQ to skip rejected objects while a user runs `dlq list` or
`verify`; before the reader waited for entries another reader held, one of them saw a shorter list.
"""

from __future__ import annotations

import json
import threading

from datalake_cfn.config import parse_config
from datalake_cfn.local.lake import LocalLake


def test_a_reader_waits_for_entries_another_reader_holds() -> None:
    config = parse_config({"lake": "twodlq", "datasets": [{"name": "sales", "classification": "internal"}]})
    with LocalLake(config, workers=False) as lake:
        connection = lake.connection
        sqs = connection.client("sqs")
        url = connection.queue_url(connection.names.dlq)
        for i in range(3):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Event": "s3:TestEvent", "n": i}))
        held = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
        assert len(held) == 3  # another reader holds them all, for the moment it lists them

        def release() -> None:
            sqs.change_message_visibility_batch(
                QueueUrl=url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": 0}
                    for i, m in enumerate(held)
                ],
            )

        timer = threading.Timer(0.5, release)
        timer.start()
        try:
            letters = connection.dead_letters(resolve=False)
        finally:
            timer.join()
        assert len(letters) == 3
        assert len(connection.dead_letters(resolve=False)) == 3  # and released again for the next reader
