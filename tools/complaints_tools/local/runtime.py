"""Run the real handlers the way Lambda does: API Gateway proxy events in, SQS batch events from a poller."""

from __future__ import annotations

import base64
import importlib.util
import json
import logging
import queue
import re
import sys
import threading
import time
import uuid
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

    def invoke(self, event: dict) -> Any:
        try:
            handler = self._idle.get_nowait()
        except queue.Empty:
            number = self._reserve()
            handler = self._start(number) if number else self._idle.get()
        try:
            result = handler(event, LambdaContext(self.name, self.memory, self.timeout))
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
