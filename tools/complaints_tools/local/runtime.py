"""Run the real handlers the way Lambda does: API Gateway proxy events in, SQS batch events from a poller, DynamoDB
stream batches from a stream poller."""

from __future__ import annotations

import base64
import datetime
import importlib.util
import json
import logging
import queue
import re
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3

from complaints_tools.local.faults import WorkerKilled

log = logging.getLogger("complaints.local")

# API Gateway REST API limit on a request payload.
MAX_BODY_BYTES = 10 * 1024 * 1024


@dataclass
class LambdaContext:
    function_name: str
    memory_limit_in_mb: int = 512
    timeout_s: int = 15
    aws_request_id: str = ""
    invoked_function_arn: str = ""
    log_group_name: str = ""
    log_stream_name: str = "local"
    function_version: str = "$LATEST"

    def __post_init__(self) -> None:
        self._deadline = time.monotonic() + self.timeout_s
        self.aws_request_id = self.aws_request_id or str(uuid.uuid4())
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{self.function_name}"
        self.log_group_name = f"/aws/lambda/{self.function_name}"

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self._deadline - time.monotonic()) * 1000))


class _PerThread:
    """An attribute with one value per thread, for instances (and classes without their own metaclass)."""

    def __init__(self, local: threading.local, name: str) -> None:
        self.local, self.name = local, name

    def __get__(self, obj: Any, owner: Any = None) -> Any:
        return getattr(self.local, self.name, None)

    def __set__(self, obj: Any, value: Any) -> None:
        setattr(self.local, self.name, value)


def powertools_state_per_thread() -> None:
    """Make Powertools' per-process resolver state per thread.

    The REST resolver keeps the event being handled in class attributes (`BaseRouter.current_event`,
    `lambda_context`): one per process, which on Lambda is one per execution environment, handling one event at a
    time. Here every environment lives in one process and invocations run on their callers' threads, so without this
    two concurrent requests read each other's headers (a citizen's GET was checked against another's receipt).
    The keys Powertools' logger adds to each record are made per thread as well (see `_PerThreadLogKeys`).
    """
    from aws_lambda_powertools.event_handler.api_gateway import BaseRouter

    if getattr(type(BaseRouter), "per_thread", False):
        return
    local = threading.local()
    per_thread = {name: _PerThread(local, name) for name in ("current_event", "lambda_context")}
    for name, attribute in per_thread.items():  # instance access (`app.current_event`): a descriptor in the class
        setattr(BaseRouter, name, attribute)
    # Class access (`BaseRouter.current_event = …`): a data descriptor of the metaclass, reading the same value.
    meta = {name: property(a.__get__, a.__set__) for name, a in per_thread.items()}
    BaseRouter.__class__ = type("PerThreadRouterMeta", (type(BaseRouter),), {**meta, "per_thread": True})
    _log_keys_per_thread()


class _PerThreadLogKeys:
    """The keys a Powertools formatter adds to every record, one set per thread.

    Every function's Logger has the service name `complaint-desk`, so in one process they all share one handler and
    one formatter, and `inject_lambda_context` and `append_keys` write into that formatter's `log_format`. On Lambda
    that is one function's environment; here it would label the Weibo poller's lines with the classify function's
    name and another ticket's id. Each thread starts from the keys the formatter had when its Logger was made.
    """

    def __init__(self) -> None:
        self.local = threading.local()

    def __get__(self, formatter: Any, owner: Any = None) -> Any:
        if formatter is None:
            return self
        per_formatter = self.local.__dict__.setdefault("keys", {})
        if id(formatter) not in per_formatter:
            initial = formatter.__dict__.get(_INITIAL_LOG_KEYS, formatter.__dict__.get("log_format", {}))
            per_formatter[id(formatter)] = dict(initial)
        return per_formatter[id(formatter)]

    def __set__(self, formatter: Any, value: dict) -> None:
        self.local.__dict__.setdefault("keys", {})[id(formatter)] = value


_INITIAL_LOG_KEYS = "_local_initial_log_keys"


def _log_keys_per_thread() -> None:
    from aws_lambda_powertools import Logger
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    if isinstance(LambdaPowertoolsFormatter.__dict__.get("log_format"), _PerThreadLogKeys):
        return
    LambdaPowertoolsFormatter.log_format = _PerThreadLogKeys()
    made = Logger.__init__

    def init_then_remember_keys(self: Logger, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        formatter = self.registered_formatter
        # The first Logger of a service configures the shared formatter (service name, …) on this thread; the
        # others reuse it as it is.
        if isinstance(formatter, LambdaPowertoolsFormatter) and _INITIAL_LOG_KEYS not in formatter.__dict__:
            formatter.__dict__[_INITIAL_LOG_KEYS] = dict(formatter.log_format)

    Logger.__init__ = init_then_remember_keys


@dataclass
class Function:
    """A function and its warm execution environments.

    Lambda runs one event at a time per environment and starts another when all are busy. Here an environment is a
    separate import of the handler module (its own module-level state: resolver, clients, model), so concurrent
    requests never share per-invocation state, up to `max_environments` at once.
    """

    name: str
    loader: Callable[[int], Callable[[dict, Any], Any]]
    memory: int = 512
    timeout: int = 15
    max_environments: int = 4

    def __post_init__(self) -> None:
        self._idle: queue.LifoQueue[Callable[[dict, Any], Any]] = queue.LifoQueue()
        self._lock = threading.Lock()
        self.environments = 0
        self.init_errors = 0
        self._started = 0
        # Environments started before the last reset() are not reused when their invocation ends.
        self._generation = 0
        self._born: dict[int, int] = {}
        try:  # the first one starts with the stack, as a warm start
            self._idle.put(self._start(self._reserve()))
        except Exception:
            log.exception("%s failed to initialise; its invocations fail until it can", self.name)

    def _reserve(self) -> int:
        """Number of a new environment, or 0 if all `max_environments` exist (then wait for an idle one)."""
        with self._lock:
            if self.environments >= self.max_environments:
                return 0
            self.environments += 1
            self._started += 1
            return self._started

    def _start(self, number: int) -> Callable[[dict, Any], Any]:
        generation = self._generation
        try:
            handler = self.loader(number)
            self._born[id(handler)] = generation
            return handler
        except Exception:
            # As on Lambda, an init error fails the invocation, and the next one tries a fresh environment.
            with self._lock:
                self.environments -= 1
                self.init_errors += 1
            raise

    def reset(self) -> None:
        """Drop the idle environments: the next invocations start fresh ones (a new deploy, a changed layer).

        Environments busy now are dropped when their invocation ends (see `_release`)."""
        with self._lock:
            self._generation += 1
        while True:
            try:
                handler = self._idle.get_nowait()
            except queue.Empty:
                return
            with self._lock:
                self.environments -= 1
                self._born.pop(id(handler), None)

    def invoke(self, event: dict, request_id: str = "") -> Any:
        """Run `event` in an idle environment (a new one if none is idle and fewer than `max_environments` exist);
        `request_id` is the invocation's `context.aws_request_id` (a new one if empty)."""
        try:
            handler = self._idle.get_nowait()
        except queue.Empty:
            number = self._reserve()
            handler = self._start(number) if number else self._idle.get()
        try:
            result = handler(event, LambdaContext(self.name, self.memory, self.timeout, aws_request_id=request_id))
        except BaseException as e:
            if not isinstance(e, Exception):  # the environment died with its worker
                with self._lock:
                    self.environments -= 1
                    self._born.pop(id(handler), None)
                raise
            self._release(handler)
            raise
        self._release(handler)
        return result

    def _release(self, handler: Callable[[dict, Any], Any]) -> None:
        with self._lock:
            stale = self._born.get(id(handler), self._generation) != self._generation
            if stale:
                self.environments -= 1
                self._born.pop(id(handler), None)
        if not stale:
            self._idle.put(handler)


def load_handler(code_dir: Path, module: str, attr: str, unique_name: str) -> Callable[[dict, Any], Any]:
    """Import `<code_dir>/<module>.py` under a unique module name (three functions all call theirs `app`)."""
    spec = importlib.util.spec_from_file_location(unique_name, code_dir / f"{module.replace('.', '/')}.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[unique_name] = mod
    spec.loader.exec_module(mod)
    return getattr(mod, attr)


# ------------------------------------------------------------------- gateway
@dataclass
class Route:
    method: str
    template: str
    pattern: re.Pattern[str]
    function: Function
    authorizer: Any = None  # a CognitoAuthorizer (local/authorizer.py) for routes behind one


def compile_route(method: str, template: str, function: Function, authorizer: Any = None) -> Route:
    """`{name}` matches one path segment, `{name+}` the rest of the path (API Gateway's greedy variable)."""
    regex = re.escape(template)
    regex = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\+\\\}", r"(?P<\1>.+)", regex)
    regex = re.sub(r"\\\{([A-Za-z_][A-Za-z0-9_]*)\\\}", r"(?P<\1>[^/]+)", regex)
    return Route(method, template, re.compile(f"^{regex}$"), function, authorizer)


def match_route(routes: list[Route], method: str, path: str) -> tuple[Route, dict[str, str]] | None:
    """The most specific route first, as API Gateway picks: literal paths before greedy `{proxy+}` ones."""
    for route in sorted(routes, key=lambda r: ("+}" in r.template, r.template.count("{"))):
        m = route.pattern.match(path)
        if m and route.method in (method, "ANY"):
            return route, m.groupdict()
    return None


def gateway_response(
    responses: dict[str, dict[str, Any]], response_type: str, status: int, message: str
) -> tuple[int, bytes]:
    """API Gateway's own answer of `response_type` (status and JSON body), as the template's GatewayResponses shape
    it: the type's own entry, else DEFAULT_4XX or DEFAULT_5XX, else API Gateway's `{"message": …}`."""
    default = "DEFAULT_4XX" if status < 500 else "DEFAULT_5XX"
    configured = responses.get(response_type) or responses.get(default)
    template = (configured or {}).get("ResponseTemplates", {}).get("application/json")
    if template is None:
        return status, json.dumps({"message": message}).encode()
    # Gateway response templates are not run through VTL; only $context variables are substituted.
    body = template.replace("$context.error.messageString", json.dumps(message))
    return int(configured.get("StatusCode", status)), body.encode()


def proxy_event(
    method: str, raw_path: str, headers: dict[str, str], body: bytes, route: Route, stage: str, params: dict[str, str]
) -> dict[str, Any]:
    """The event API Gateway (REST, Lambda proxy integration) hands the function."""
    split = urlsplit(raw_path)
    multi_q = parse_qs(split.query, keep_blank_values=True)
    try:
        text, is_b64 = body.decode("utf-8"), False
    except UnicodeDecodeError:
        # API Gateway passes bodies it cannot read as text base64-encoded.
        text, is_b64 = base64.b64encode(body).decode("ascii"), True
    return {
        "resource": route.template,
        "path": split.path,
        "httpMethod": method,
        "headers": headers or None,
        "multiValueHeaders": {k: [v] for k, v in headers.items()} or None,
        "queryStringParameters": {k: v[-1] for k, v in multi_q.items()} or None,
        "multiValueQueryStringParameters": multi_q or None,
        "pathParameters": params or None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route.template,
            "httpMethod": method,
            "path": f"/{stage}{split.path}",
            "stage": stage,
            "requestId": str(uuid.uuid4()),
            "identity": {"sourceIp": "127.0.0.1"},
            "requestTimeEpoch": int(time.time() * 1000),
        },
        "body": text if body else None,
        "isBase64Encoded": is_b64,
    }


# --------------------------------------------------------------------- poller
class QueuePoller(threading.Thread):
    """Lambda's SQS event source mapping: receive a batch, invoke, delete what succeeded.

    With ReportBatchItemFailures the function names the records that failed; those stay on the queue and come
    back after the visibility timeout, and after maxReceiveCount SQS moves them to the dead-letter queue.

    Messages are received with the queue's own visibility timeout (six times the function's timeout, as in
    template.yaml), so a batch that is slow under load is never handed out twice while it runs. `retry_after` (s),
    when given, only shortens the wait of the messages that failed: they are made visible again that much later
    instead of after the whole visibility timeout, so that a local run with faults ends in minutes.
    """

    def __init__(
        self,
        function: Function,
        queue_url: str,
        queue_arn: str,
        batch_size: int,
        region: str,
        retry_after: int | None = None,
    ) -> None:
        super().__init__(name=f"poller-{function.name}", daemon=True)
        self.function = function
        self.queue_url = queue_url
        self.queue_arn = queue_arn
        self.batch_size = min(batch_size, 10)
        self.retry_after = retry_after
        self.sqs = boto3.client("sqs", region_name=region)
        self.region = region
        self.stopping = threading.Event()
        self.invocations = 0
        self.errors = 0

    def run(self) -> None:
        while not self.stopping.is_set():
            try:
                self.poll_once(wait_s=1)
            except Exception:  # the poller must survive anything a handler or moto does
                log.exception("poller %s failed; continuing", self.function.name)
                time.sleep(0.5)

    def poll_once(self, wait_s: int = 0) -> int:
        kwargs: dict[str, Any] = {
            "QueueUrl": self.queue_url,
            "MaxNumberOfMessages": self.batch_size,
            "WaitTimeSeconds": wait_s,
            "MessageSystemAttributeNames": ["All"],
            "MessageAttributeNames": ["All"],
        }
        messages = self.sqs.receive_message(**kwargs).get("Messages", [])
        if not messages:
            return 0
        event = {"Records": [self._record(m) for m in messages]}
        self.invocations += 1
        try:
            result = self.function.invoke(event) or {}
            failed = {f["itemIdentifier"] for f in result.get("batchItemFailures", [])}
        except (Exception, WorkerKilled):
            # A crashed invocation fails the whole batch, as on Lambda.
            self.errors += 1
            log.exception("%s invocation failed; the batch will be retried", self.function.name)
            failed = {m["MessageId"] for m in messages}
        done = [m for m in messages if m["MessageId"] not in failed]
        if done:
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(done)],
            )
        retry = [m for m in messages if m["MessageId"] in failed]
        if retry and self.retry_after is not None:
            self.sqs.change_message_visibility_batch(
                QueueUrl=self.queue_url,
                Entries=[
                    {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"], "VisibilityTimeout": self.retry_after}
                    for i, m in enumerate(retry)
                ],
            )
        return len(messages)

    def _record(self, m: dict[str, Any]) -> dict[str, Any]:
        attrs = {
            k: {"stringValue": v.get("StringValue"), "dataType": v["DataType"]}
            for k, v in m.get("MessageAttributes", {}).items()
        }
        return {
            "messageId": m["MessageId"],
            "receiptHandle": m["ReceiptHandle"],
            "body": m["Body"],
            "attributes": m.get("Attributes", {}),
            "messageAttributes": attrs,
            "md5OfBody": m["MD5OfBody"],
            "eventSource": "aws:sqs",
            "eventSourceARN": self.queue_arn,
            "awsRegion": self.region,
        }


# ------------------------------------------------------------- stream poller
# The properties of a `Type: DynamoDB` event the stream poller honours; any other one is refused at start.
STREAM_EVENT_PROPERTIES = frozenset(
    {
        "Stream",
        "StartingPosition",
        "BatchSize",
        "MaximumBatchingWindowInSeconds",
        "MaximumRetryAttempts",
        "MaximumRecordAgeInSeconds",
        "BisectBatchOnFunctionError",
        "FunctionResponseTypes",
        "FilterCriteria",
        "DestinationConfig",
        "Enabled",
        "ParallelizationFactor",
    }
)
MAX_INVOKE_PAYLOAD_BYTES = 6 * 1024 * 1024  # Lambda's limit on a synchronous invocation's event
STREAM_RETENTION_S = 24 * 3600  # DynamoDB Streams keeps records for 24 hours


@dataclass(frozen=True)
class StreamSettings:
    """A DynamoDB event's properties, checked as Lambda checks an event source mapping's (defaults as there)."""

    starting_position: str
    batch_size: int = 100
    batching_window_s: float = 0.0
    max_retries: int = -1  # -1: until the record expires
    max_record_age_s: int = -1  # -1: until the record expires (24 hours)
    bisect: bool = False
    report_item_failures: bool = False
    enabled: bool = True
    filters: Callable[[dict[str, Any]], bool] = lambda record: True
    destination: str | None = None  # the on-failure destination's ARN

    @classmethod
    def from_event(cls, props: dict[str, Any]) -> StreamSettings:
        from complaints_tools.local.filtering import compile_criteria

        unknown = set(props) - STREAM_EVENT_PROPERTIES
        if unknown:
            raise NotImplementedError(f"the local stream poller does not emulate {sorted(unknown)}")
        position = props.get("StartingPosition")
        if position not in ("TRIM_HORIZON", "LATEST"):
            raise ValueError(f"StartingPosition must be TRIM_HORIZON or LATEST for a DynamoDB stream, not {position!r}")
        if int(props.get("ParallelizationFactor", 1)) != 1:
            raise NotImplementedError("the local stream poller reads each shard with one batch at a time")
        batch_size = int(props.get("BatchSize", 100))
        if not 1 <= batch_size <= 10000:
            raise ValueError(f"BatchSize must be 1 to 10000, not {batch_size}")
        retries = int(props.get("MaximumRetryAttempts", -1))
        if not -1 <= retries <= 10000:
            raise ValueError(f"MaximumRetryAttempts must be -1 to 10000, not {retries}")
        age = int(props.get("MaximumRecordAgeInSeconds", -1))
        if age != -1 and not 60 <= age <= 604800:
            raise ValueError(f"MaximumRecordAgeInSeconds must be -1 or 60 to 604800, not {age}")
        responses = list(props.get("FunctionResponseTypes") or [])
        if set(responses) - {"ReportBatchItemFailures"}:
            raise ValueError(f"unknown FunctionResponseTypes {responses}")
        destination_config = props.get("DestinationConfig") or {}
        if set(destination_config) - {"OnFailure"}:
            raise NotImplementedError(
                f"DestinationConfig of a stream takes OnFailure only, not {sorted(destination_config)}"
            )
        destination = (destination_config.get("OnFailure") or {}).get("Destination")
        if destination is not None and destination.split(":")[2:3] not in (["sqs"], ["sns"]):
            raise NotImplementedError(
                f"the local stream poller sends failures to SQS queues and SNS topics, not {destination}"
            )
        return cls(
            starting_position=position,
            batch_size=batch_size,
            batching_window_s=float(props.get("MaximumBatchingWindowInSeconds", 0)),
            max_retries=retries,
            max_record_age_s=age,
            bisect=bool(props.get("BisectBatchOnFunctionError", False)),
            report_item_failures="ReportBatchItemFailures" in responses,
            enabled=bool(props.get("Enabled", True)),
            filters=compile_criteria(props.get("FilterCriteria")),
            destination=destination,
        )


def _attribute_json(value: Any) -> Any:
    """DynamoDB JSON as Lambda's event carries it: boto3 hands binary (B, BS) values over as bytes; JSON has base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, dict):
        return {k: _attribute_json(v) for k, v in value.items()}
    if isinstance(value, list | set | tuple):
        return [_attribute_json(v) for v in value]
    return value


def stream_event_record(raw: dict[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One record of the event Lambda hands a function for a DynamoDB stream, from a GetRecords record (boto3's).

    `ApproximateCreationDateTime` is epoch seconds, rounded down to the second as DynamoDB Streams rounds it; the
    images are those the stream's view type carries; `eventSourceARN` is the stream's ARN.
    """
    d = raw["dynamodb"]
    view = d.get("StreamViewType")
    body: dict[str, Any] = {}
    created = d.get("ApproximateCreationDateTime")
    if created is not None:
        seconds = created.timestamp() if isinstance(created, datetime.datetime) else float(created)
        body["ApproximateCreationDateTime"] = float(int(seconds))
    body["Keys"] = _attribute_json(d["Keys"])
    if view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and "NewImage" in d:
        body["NewImage"] = _attribute_json(d["NewImage"])
    if view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and "OldImage" in d:
        body["OldImage"] = _attribute_json(d["OldImage"])
    body["SequenceNumber"] = d["SequenceNumber"]
    body["SizeBytes"] = d["SizeBytes"]
    body["StreamViewType"] = view
    record = {
        "eventID": raw["eventID"],
        "eventName": raw["eventName"],
        "eventVersion": raw["eventVersion"],
        "eventSource": raw.get("eventSource", "aws:dynamodb"),
        "awsRegion": region,
        "dynamodb": body,
        "eventSourceARN": stream_arn,
    }
    identity = raw.get("userIdentity")  # on the REMOVE records of items deleted by TTL
    if identity:
        record["userIdentity"] = {"type": identity.get("Type"), "principalId": identity.get("PrincipalId")}
    return record


def _utc_iso(epoch_s: float, millis: bool = False) -> str:
    at = datetime.datetime.fromtimestamp(epoch_s, tz=datetime.UTC)
    return at.isoformat(timespec="milliseconds" if millis else "seconds").replace("+00:00", "Z")


@dataclass
class _Attempt:
    """Records to invoke the function with, and what happened to them so far."""

    records: list[dict[str, Any]]
    retries: int = 0
    invokes: int = 0
    request_id: str = ""
    function_error: bool = False


class StreamPoller(threading.Thread):
    """Lambda's event source mapping for a DynamoDB stream, read from moto through the DynamoDB Streams API.

    Every shard of the stream is read (new shards as they appear, children after their parents, from their start),
    from StartingPosition (fixed when the poller is made: LATEST skips what is in the stream then), about four times
    a second while there is nothing new. Each record becomes the record Lambda hands the function
    (`stream_event_record`); records no filter of FilterCriteria matches are dropped, and count as processed. The
    others go to the function in order, one batch at a time per shard, at most BatchSize records (and 6 MB) each,
    as soon as there are any (or after MaximumBatchingWindowInSeconds).

    A batch succeeds when the function returns; with ReportBatchItemFailures its answer may name failed records
    (`batchItemFailures[].itemIdentifier`, a SequenceNumber): the records before the lowest one named are done, the
    rest is retried; an empty, null or unknown identifier fails the whole batch. A function error fails the whole
    batch; with BisectBatchOnFunctionError it is split in two (first half first), which costs no retry. A failed
    batch is retried up to MaximumRetryAttempts times (-1: until its records are MaximumRecordAgeInSeconds old, or
    expire after 24 hours); then the on-failure destination (an SQS queue or SNS topic) receives Lambda's record of
    it (`DDBStreamBatchInfo`: shard, first and last sequence numbers, arrival times, size) and the poller moves on.

    Locally retries come quickly, so that a failing record reaches its destination in seconds rather than minutes:
    the wait before retry n is 0.1 s doubled n times, capped at 2 s (`backoff_s`); Lambda's own backoff is longer.
    Nothing a handler or moto does stops the poller: errors are logged and it carries on.
    """

    def __init__(
        self,
        function: Function,
        stream_arn: str,
        settings: StreamSettings | dict[str, Any],
        region: str,
        poll_s: float = 0.25,
        backoff_s: tuple[float, float] = (0.1, 2.0),
        discover_s: float = 10.0,
    ) -> None:
        super().__init__(name=f"stream-{function.name}", daemon=True)
        self.function = function
        self.stream_arn = stream_arn
        self.settings = settings if isinstance(settings, StreamSettings) else StreamSettings.from_event(settings)
        self.region = region
        self.poll_s, self.backoff_s, self.discover_s = poll_s, backoff_s, discover_s
        self.function_arn = f"arn:aws:lambda:{region}:{stream_arn.split(':')[4]}:function:{function.name}"
        self.streams = boto3.client("dynamodbstreams", region_name=region)
        self.stopping = threading.Event()
        self.counts = dict.fromkeys(
            ("records", "filtered_out", "invocations", "errors", "partial_failures", "retries", "dead_lettered"), 0
        )
        self._lock = threading.Lock()
        self._send_failure = self._destination(self.settings.destination)
        self.shards: dict[str, _ShardReader] = {}
        self._discover(self.settings.starting_position)  # LATEST means the stream's end now, not when a thread runs

    @property
    def invocations(self) -> int:
        return self.counts["invocations"]

    @property
    def errors(self) -> int:
        return self.counts["errors"]

    def count(self, name: str, n: int = 1) -> None:
        with self._lock:
            self.counts[name] += n

    def as_dict(self) -> dict[str, Any]:
        return {"stream_arn": self.stream_arn, "shards": len(self.shards), **self.counts}

    def backoff(self, retry: int) -> float:
        first, cap = self.backoff_s
        return min(first * 2**retry, cap)

    def _destination(self, arn: str | None) -> Callable[[str], Any] | None:
        if arn is None:
            return None
        service, account, name = arn.split(":")[2], arn.split(":")[4], arn.split(":")[5]
        if service == "sqs":
            sqs = boto3.client("sqs", region_name=self.region)
            url = sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            return lambda body: sqs.send_message(QueueUrl=url, MessageBody=body)
        sns = boto3.client("sns", region_name=self.region)
        return lambda body: sns.publish(TopicArn=arn, Message=body)

    def send_failure(self, body: dict[str, Any]) -> bool:
        """Send an on-failure record, retrying until the destination takes it (False: none configured)."""
        if self._send_failure is None:
            return False
        text = json.dumps(body)
        while not self.stopping.is_set():
            try:
                self._send_failure(text)
                return True
            except Exception:
                log.exception(
                    "%s: could not send a failed batch to %s; retrying", self.function.name, self.settings.destination
                )
                self.stopping.wait(1.0)
        return False

    # ------------------------------------------------------------- shards
    def _discover(self, position: str | None = None) -> None:
        """Add the shards not seen yet: at start from `position`, later ones from their start (TRIM_HORIZON), as
        Lambda reads a new child shard whole."""
        shards, start = [], None
        while True:
            kwargs = {"StreamArn": self.stream_arn, **({"ExclusiveStartShardId": start} if start else {})}
            description = self.streams.describe_stream(**kwargs)["StreamDescription"]
            shards += description.get("Shards", [])
            start = description.get("LastEvaluatedShardId")
            if not start:
                break
        for shard in shards:
            shard_id = shard["ShardId"]
            if shard_id in self.shards:
                continue
            closed = "EndingSequenceNumber" in shard.get("SequenceNumberRange", {})
            reader = _ShardReader(self, shard_id, shard.get("ParentShardId"), position or "TRIM_HORIZON")
            if position == "LATEST" and closed:
                reader.finished = True  # nothing will be written there any more
            self.shards[shard_id] = reader
            if self.is_alive() and not reader.finished:
                reader.start()

    def parent_done(self, parent_id: str | None) -> bool:
        parent = self.shards.get(parent_id) if parent_id else None
        return parent is None or parent.finished  # a parent the stream no longer lists has expired

    def run(self) -> None:
        for reader in list(self.shards.values()):
            if not reader.finished:
                reader.start()
        while not self.stopping.wait(self.discover_s):
            try:
                self._discover()
            except Exception:  # the poller must survive anything moto does
                log.exception(
                    "stream poller %s could not list the shards of %s; continuing", self.function.name, self.stream_arn
                )

    def join(self, timeout: float | None = None) -> None:
        super().join(timeout)
        for reader in list(self.shards.values()):
            if reader.is_alive():
                reader.join(timeout)


class _ShardReader(threading.Thread):
    """One shard of a StreamPoller's stream: its records in order, one batch at a time."""

    def __init__(self, poller: StreamPoller, shard_id: str, parent_id: str | None, position: str) -> None:
        super().__init__(name=f"stream-{poller.function.name}-{shard_id[-8:]}", daemon=True)
        self.poller, self.shard_id, self.parent_id, self.position = poller, shard_id, parent_id, position
        self.pending: list[dict[str, Any]] = []  # read, matching the filters, not yet done
        self.pending_since = 0.0
        self.last_read: str | None = None  # sequence number of the last record read
        self.closed = False  # the shard has no more records to give
        self.finished = False
        self.iterator = self._acquire() if position == "LATEST" else None

    def _acquire(self) -> str:
        kwargs = {"StreamArn": self.poller.stream_arn, "ShardId": self.shard_id}
        if self.last_read:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=self.last_read)
        else:
            kwargs.update(ShardIteratorType=self.position)
        return self.poller.streams.get_shard_iterator(**kwargs)["ShardIterator"]

    def run(self) -> None:
        p = self.poller
        while not p.stopping.is_set():
            try:
                if not p.parent_done(self.parent_id):
                    p.stopping.wait(p.poll_s)
                    continue
                read = self._read() if not self.closed and len(self.pending) < p.settings.batch_size else 0
                if self.pending and self._window_over():
                    batch = self._next_batch()
                    if self._deliver(batch):
                        del self.pending[: len(batch)]
                        self.pending_since = time.monotonic()
                elif self.closed and not self.pending:
                    self.finished = True
                    return
                elif not read:
                    p.stopping.wait(p.poll_s)
            except Exception:  # the poller must survive anything a handler or moto does
                log.exception("stream poller %s failed on %s; continuing", p.function.name, self.shard_id)
                p.stopping.wait(0.5)

    def _read(self) -> int:
        from botocore.exceptions import ClientError

        p = self.poller
        try:
            if self.iterator is None:
                self.iterator = self._acquire()
            got = p.streams.get_records(ShardIterator=self.iterator, Limit=1000)
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code")
            if code == "ExpiredIteratorException":  # a new one from where this one was
                self.iterator = None
                return 0
            if code == "TrimmedDataAccessException":  # as Lambda: on from the oldest record still there
                log.warning("%s: records of %s expired before they were read", p.function.name, self.shard_id)
                self.iterator, self.last_read, self.position = None, None, "TRIM_HORIZON"
                return 0
            raise
        self.iterator = got.get("NextShardIterator")
        self.closed = self.iterator is None
        for raw in got.get("Records", []):
            record = stream_event_record(raw, p.stream_arn, p.region)
            self.last_read = record["dynamodb"]["SequenceNumber"]
            p.count("records")
            if p.settings.filters(record):
                if not self.pending:
                    self.pending_since = time.monotonic()
                self.pending.append(record)
            else:
                p.count("filtered_out")
        return len(got.get("Records", []))

    def _window_over(self) -> bool:
        s = self.poller.settings
        return (
            s.batching_window_s <= 0
            or len(self.pending) >= s.batch_size
            or self.closed
            or time.monotonic() - self.pending_since >= s.batching_window_s
        )

    def _next_batch(self) -> list[dict[str, Any]]:
        batch, size = [], 0
        for record in self.pending:
            n = len(json.dumps(record))
            if batch and (len(batch) >= self.poller.settings.batch_size or size + n > MAX_INVOKE_PAYLOAD_BYTES):
                break
            batch.append(record)
            size += n
        return batch

    def _deliver(self, batch: list[dict[str, Any]]) -> bool:
        """Invoke until every record of `batch` is done or dead-lettered (False: the poller stopped first)."""
        p, s = self.poller, self.poller.settings
        todo = deque([_Attempt(batch)])
        while todo:
            if p.stopping.is_set():
                return False
            attempt = todo.popleft()
            expired, attempt.records = self._split_expired(attempt.records)
            if expired:
                self._dead_letter(
                    _Attempt(expired, attempt.retries, attempt.invokes, attempt.request_id, attempt.function_error),
                    "RecordAgeExceeded",
                )
            if not attempt.records:
                continue
            attempt.request_id = str(uuid.uuid4())
            attempt.invokes += 1
            failed_at, attempt.function_error = self._invoke(attempt.records, attempt.request_id)
            if failed_at is None:
                continue
            records = attempt.records
            if attempt.function_error and s.bisect and len(records) > 1:
                half = (len(records) + 1) // 2
                todo.appendleft(_Attempt(records[half:], attempt.retries, attempt.invokes, attempt.request_id, True))
                todo.appendleft(_Attempt(records[:half], attempt.retries, attempt.invokes, attempt.request_id, True))
                continue
            rest = records[failed_at:]  # those before the first failed record are done
            if s.max_retries < 0 or attempt.retries < s.max_retries:
                p.count("retries")
                p.stopping.wait(p.backoff(attempt.retries))
                todo.appendleft(
                    _Attempt(rest, attempt.retries + 1, attempt.invokes, attempt.request_id, attempt.function_error)
                )
            else:
                self._dead_letter(
                    _Attempt(rest, attempt.retries, attempt.invokes, attempt.request_id, attempt.function_error),
                    "RetryAttemptsExhausted",
                )
        return True

    def _split_expired(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """(records older than MaximumRecordAgeInSeconds — or 24 hours, when the stream drops them —, the others)."""
        s = self.poller.settings
        oldest = time.time() - (s.max_record_age_s if s.max_record_age_s >= 0 else STREAM_RETENTION_S)
        n = 0
        while n < len(records) and records[n]["dynamodb"].get("ApproximateCreationDateTime", oldest) < oldest:
            n += 1
        return records[:n], records[n:]

    def _invoke(self, records: list[dict[str, Any]], request_id: str) -> tuple[int | None, bool]:
        """(index of the first record to retry, or None if all are done; whether the function failed)."""
        p = self.poller
        p.count("invocations")
        try:
            result = p.function.invoke({"Records": records}, request_id=request_id)
        except (Exception, WorkerKilled):
            p.count("errors")
            log.exception(
                "%s invocation failed on %d stream records; they will be retried", p.function.name, len(records)
            )
            return 0, True
        if not p.settings.report_item_failures or not isinstance(result, dict):
            return None, False
        failures = result.get("batchItemFailures")
        if not failures:  # none, null, an empty list: complete success
            return None, False
        sequence_numbers = [r["dynamodb"]["SequenceNumber"] for r in records]
        positions = []
        for failure in failures if isinstance(failures, list) else [failures]:
            identifier = failure.get("itemIdentifier") if isinstance(failure, dict) else None
            if not identifier or identifier not in sequence_numbers:
                log.warning(
                    "%s named failed record %r, not a sequence number of its batch: the whole batch failed",
                    p.function.name,
                    identifier,
                )
                p.count("partial_failures")
                return 0, False
            positions.append(sequence_numbers.index(identifier))
        p.count("partial_failures")
        return min(positions), False

    def _dead_letter(self, attempt: _Attempt, condition: str) -> None:
        p, records = self.poller, attempt.records
        p.count("dead_lettered", len(records))
        first, last = records[0]["dynamodb"], records[-1]["dynamodb"]
        body: dict[str, Any] = {
            "requestContext": {
                "requestId": attempt.request_id or str(uuid.uuid4()),
                "functionArn": p.function_arn,
                "condition": condition,
                "approximateInvokeCount": attempt.invokes,
            },
            "responseContext": {"statusCode": 200, "executedVersion": "$LATEST"},
            "version": "1.0",
            "timestamp": _utc_iso(time.time(), millis=True),
            "DDBStreamBatchInfo": {
                "shardId": self.shard_id,
                "startSequenceNumber": first["SequenceNumber"],
                "endSequenceNumber": last["SequenceNumber"],
                "approximateArrivalOfFirstRecord": _utc_iso(first.get("ApproximateCreationDateTime", time.time())),
                "approximateArrivalOfLastRecord": _utc_iso(last.get("ApproximateCreationDateTime", time.time())),
                "batchSize": len(records),
                "streamArn": p.stream_arn,
            },
        }
        if attempt.function_error:
            body["responseContext"]["functionError"] = "Unhandled"
        if not attempt.invokes:
            del body["responseContext"]
        if p.send_failure(body):
            log.warning(
                "%s: %d stream records sent to %s (%s)",
                p.function.name,
                len(records),
                p.settings.destination,
                condition,
            )
        elif not p.stopping.is_set():
            log.warning(
                "%s: %d stream records discarded (%s, no on-failure destination)",
                p.function.name,
                len(records),
                condition,
            )


# ------------------------------------------------------------------ scheduler
_RATE = re.compile(r"^rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)$")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def schedule_seconds(expression: str) -> int:
    """Seconds between runs of an EventBridge `rate(…)` expression. cron(…) is not emulated."""
    m = _RATE.match(expression.strip())
    if m is None:
        raise ValueError(f"the local stack runs rate(…) schedules only, not {expression!r}")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2).removesuffix("s")]


def scheduled_event(rule_arn: str, region: str) -> dict[str, Any]:
    """The event EventBridge hands a function on a schedule."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": rule_arn.split(":")[4],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


class Scheduler(threading.Thread):
    """EventBridge's schedule rule: invoke the function every `every_s` seconds, the first time at once.

    Like a rule with MaximumRetryAttempts 0, a failed run is logged and the next one comes on time. `run_now()`
    runs one at once (for `POST /_local/schedules/<function>`), serialised with the timed runs.
    """

    def __init__(self, function: Function, rule_arn: str, every_s: float, region: str) -> None:
        super().__init__(name=f"schedule-{function.name}", daemon=True)
        self.function = function
        self.rule_arn = rule_arn
        self.every_s = every_s
        self.region = region
        self.stopping = threading.Event()
        self.invocations = 0
        self.errors = 0
        self.last_result: Any = None
        self._lock = threading.Lock()

    def run(self) -> None:
        while not self.stopping.is_set():
            self.run_now()
            self.stopping.wait(self.every_s)

    def run_now(self) -> Any:
        with self._lock:
            try:
                self.last_result = self.function.invoke(scheduled_event(self.rule_arn, self.region))
            except Exception:
                self.errors += 1
                self.last_result = None
                log.exception("%s scheduled run failed", self.function.name)
            finally:
                self.invocations += 1  # counted when done, so a caller waiting for a run sees its effects
            return self.last_result
