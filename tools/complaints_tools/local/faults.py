"""Faults the local stack injects into the real handlers' AWS calls, to prove that nothing is lost or doubled.

Set at start with LOCAL_FAULTS (`sns_publish_fail=0.2,dynamodb_throttle=0.1,kill_classify=0.05,model=corrupt`, or
the same as JSON) or at run time with `POST /_local/faults` (JSON; `GET` shows them). Local only: hooks on the
boto3 default session of the stack's process, which every handler's client is created from.

- `sns_publish_fail`: share of SNS Publish and PublishBatch calls that fail as a whole (as after the SDK's own retries),
  an SMS published straight to a phone number included.
- `ses_send_fail`: share of SES SendEmail calls (v2; v1 SendEmail and SendRawEmail too) answered with a throttling
  error, as after the SDK's own retries.
- `dynamodb_throttle`: share of DynamoDB data-plane HTTP requests answered with a throttling error; the SDK retries
  them as it retries real throttles, so only a run of them reaches the code.
- `kill_classify`: share of the classify worker's sends to the route queue during which the worker dies: the
  invocation ends at once, in the middle of its batch, as a Lambda killed by a timeout or out of memory.
- `model`: `missing` or `corrupt` makes new classify environments load a missing or damaged model file.
"""

from __future__ import annotations

import json
import os
import random
import tempfile
import threading
from contextlib import contextmanager
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any

import boto3
from botocore.awsrequest import AWSResponse

_DATA_PLANE = {
    "GetItem",
    "PutItem",
    "UpdateItem",
    "DeleteItem",
    "Query",
    "Scan",
    "BatchGetItem",
    "BatchWriteItem",
    "TransactWriteItems",
    "TransactGetItems",
}


class WorkerKilled(BaseException):
    """The worker process died mid-invocation. A BaseException: no handler code may catch and survive it."""


@dataclass
class Faults:
    sns_publish_fail: float = 0.0
    ses_send_fail: float = 0.0
    dynamodb_throttle: float = 0.0
    kill_classify: float = 0.0
    model: str = "ok"

    @classmethod
    def parse(cls, spec: str | dict | None) -> Faults:
        if not spec:
            return cls()
        if isinstance(spec, str):
            spec = spec.strip()
            spec = json.loads(spec) if spec.startswith("{") else dict(p.split("=", 1) for p in spec.split(",") if p)
        known = {f.name: f.type for f in fields(cls)}
        unknown = set(spec) - set(known)
        if unknown:
            raise ValueError(f"unknown faults {sorted(unknown)}; known: {sorted(known)}")
        out = cls(**{k: (str(v) if k == "model" else float(v)) for k, v in spec.items()})
        if out.model not in ("ok", "missing", "corrupt"):
            raise ValueError("model must be ok, missing or corrupt")
        return out


class FaultInjector:
    """Holds the current faults and counts what it injected; `install()` hooks the boto3 default session."""

    def __init__(self, faults: Faults | None = None, seed: int | None = None) -> None:
        self.faults = faults or Faults()
        self.kill_queue_urls: set[str] = set()
        self.injected = {
            "sns_publish_fail": 0,
            "ses_send_fail": 0,
            "dynamodb_throttle": 0,
            "kill_classify": 0,
            "model": 0,
        }
        self._random = random.Random(seed)
        self._lock = threading.Lock()
        self._env_lock = threading.Lock()
        self._broken_models = Path(tempfile.mkdtemp(prefix="complaints-faults-"))

    def as_dict(self) -> dict[str, Any]:
        return {"faults": asdict(self.faults), "injected": dict(self.injected)}

    def _roll(self, name: str, rate: float) -> bool:
        if rate <= 0:
            return False
        with self._lock:
            hit = self._random.random() < rate
            if hit:
                self.injected[name] += 1
        return hit

    def install(self) -> None:
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        events = boto3.DEFAULT_SESSION.events
        events.register("before-call.sns.Publish", self._sns_publish)
        events.register("before-call.sns.PublishBatch", self._sns_publish)
        for operation in ("sesv2.SendEmail", "ses.SendEmail", "ses.SendRawEmail"):
            events.register(f"before-call.{operation}", self._ses_send)
        events.register("before-send.dynamodb", self._dynamodb_send)
        events.register("before-parameter-build.sqs.SendMessage", self._sqs_send)

    def _sns_publish(self, **kwargs: Any):
        if self._roll("sns_publish_fail", self.faults.sns_publish_fail):
            status = 500
            http = AWSResponse("local-fault", status, {}, _Raw(b""))
            return http, {
                "Error": {"Code": "InternalError", "Message": "injected fault: SNS publish failed"},
                "ResponseMetadata": {"HTTPStatusCode": status},
            }
        return None

    def _ses_send(self, event_name: str = "", **kwargs: Any):
        if not self._roll("ses_send_fail", self.faults.ses_send_fail):
            return None
        # SES v2 throttles with 429 TooManyRequestsException, v1 with 400 Throttling.
        status, code = (429, "TooManyRequestsException") if ".sesv2." in event_name else (400, "Throttling")
        http = AWSResponse("local-fault", status, {}, _Raw(b""))
        return http, {
            "Error": {"Code": code, "Message": "injected fault: SES sending rate exceeded"},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    def _dynamodb_send(self, request: Any = None, **kwargs: Any):
        target = (request.headers.get("X-Amz-Target") or b"") if request is not None else b""
        operation = (target.decode() if isinstance(target, bytes) else target).rsplit(".", 1)[-1]
        if operation in _DATA_PLANE and self._roll("dynamodb_throttle", self.faults.dynamodb_throttle):
            body = json.dumps(
                {
                    "__type": "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException",
                    "message": "injected fault: throughput exceeded",
                }
            ).encode()
            return AWSResponse(request.url, 400, {"x-amzn-RequestId": "local-fault"}, _Raw(body))
        return None

    def _sqs_send(self, params: dict | None = None, **kwargs: Any):
        if (params or {}).get("QueueUrl") in self.kill_queue_urls and self._roll(
            "kill_classify", self.faults.kill_classify
        ):
            raise WorkerKilled("injected fault: the classify worker died in the middle of its batch")
        return None

    @contextmanager
    def environment(self, env: dict[str, str]):
        """While a new execution environment initialises: MODEL_DIR pointing at a missing or damaged model."""
        model = self.faults.model
        if model == "ok" or "MODEL_DIR" not in env:
            yield
            return
        broken = self._broken_models / model
        if model == "corrupt":
            broken.mkdir(exist_ok=True)
            for f in Path(env["MODEL_DIR"]).iterdir():
                data = f.read_bytes()
                # A copy cut short, as by an interrupted deploy: every file of the model loses its second half.
                (broken / f.name).write_bytes(data[: len(data) // 2])
        with self._env_lock:
            saved = os.environ.get("MODEL_DIR")
            os.environ["MODEL_DIR"] = str(broken)
            self.injected["model"] += 1
            try:
                yield
            finally:
                os.environ["MODEL_DIR"] = saved


class _Raw:
    """What AWSResponse reads a body from."""

    def __init__(self, data: bytes) -> None:
        self.data = data

    def stream(self, **kwargs: Any):
        yield self.data
