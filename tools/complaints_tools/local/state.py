"""Keeps the local stack's tables and buckets across restarts, as AWS keeps them across deploys.

moto holds everything in memory. Without this, restarting `make run` would start an empty desk: ticket numbers
from 10001 again, old receipts unknown, and the Weibo poller — whose cursor and mention ledger live in the
tickets table — taking every mention the server still serves as new and commenting on it a second time.
The tables (items as DynamoDB JSON) and the buckets (objects as files) are written to a folder every few
seconds and when the stack stops, and loaded into the fresh moto when it starts. Queue messages are not kept:
a ticket still in flight when the stack stops stays where it was.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import threading
from pathlib import Path

import boto3

from complaints_tools.local.template import Template

log = logging.getLogger("complaints.local")

TABLES = "tables"
BUCKETS = "buckets"


def _names(tpl: Template, kind: str) -> list[str]:
    return [tpl.physical[logical]["Ref"] for logical in tpl.of_type(kind)]


def save(tpl: Template, folder: Path) -> None:
    """Write every table and bucket of the template into `folder`, replacing what was there at once."""
    folder.parent.mkdir(parents=True, exist_ok=True)
    work = folder.with_name(folder.name + ".saving")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir()
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    for table in _names(tpl, "AWS::DynamoDB::Table"):
        items = [i for page in dynamodb.get_paginator("scan").paginate(TableName=table) for i in page["Items"]]
        path = work / TABLES / f"{table}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(items, ensure_ascii=False), encoding="utf-8")
    for bucket in _names(tpl, "AWS::S3::Bucket"):
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                got = s3.get_object(Bucket=bucket, Key=obj["Key"])
                path = work / BUCKETS / bucket / obj["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(got["Body"].read())
                path.with_name(path.name + ".type").write_text(got.get("ContentType", ""), encoding="utf-8")
    old = folder.with_name(folder.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if folder.exists():
        os.replace(folder, old)
    os.replace(work, folder)
    shutil.rmtree(old, ignore_errors=True)


def restore(tpl: Template, folder: Path) -> int:
    """Load what `save` wrote into the freshly created tables and buckets; the number of items and objects."""
    if not folder.is_dir():
        return 0
    dynamodb, s3 = boto3.client("dynamodb"), boto3.client("s3")
    count = 0
    for table in _names(tpl, "AWS::DynamoDB::Table"):
        path = folder / TABLES / f"{table}.json"
        items = json.loads(path.read_text(encoding="utf-8")) if path.exists() else []
        for i in range(0, len(items), 25):
            batch = [{"PutRequest": {"Item": item}} for item in items[i : i + 25]]
            dynamodb.batch_write_item(RequestItems={table: batch})
        count += len(items)
    for bucket in _names(tpl, "AWS::S3::Bucket"):
        root = folder / BUCKETS / bucket
        if not root.is_dir():
            continue
        # A restored object is not a new upload: no ObjectCreated event while putting it back.
        notifications = s3.get_bucket_notification_configuration(Bucket=bucket)
        notifications.pop("ResponseMetadata", None)
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={})
        for path in sorted(root.rglob("*")):
            if path.is_file() and not path.name.endswith(".type"):
                kind = path.with_name(path.name + ".type")
                extra = {"ContentType": kind.read_text(encoding="utf-8")} if kind.exists() else {}
                s3.put_object(Bucket=bucket, Key=path.relative_to(root).as_posix(), Body=path.read_bytes(), **extra)
                count += 1
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration=notifications)
    return count


class Saver(threading.Thread):
    """Saves every `every_s` seconds until stopped; `stop()` saves one last time."""

    def __init__(self, tpl: Template, folder: Path, every_s: float = 5.0) -> None:
        super().__init__(name="local-state", daemon=True)
        self.tpl, self.folder, self.every_s = tpl, folder, every_s
        self.stopping = threading.Event()
        self.lock = threading.Lock()

    def save(self) -> None:
        with self.lock:
            try:
                save(self.tpl, self.folder)
            except Exception:
                log.exception("could not save the local state to %s", self.folder)

    def run(self) -> None:
        while not self.stopping.wait(self.every_s):
            self.save()

    def stop(self) -> None:
        self.stopping.set()
        self.save()
