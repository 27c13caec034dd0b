"""moto's emulated AWS on loopback, in a process of its own, served for a desk under load.

moto's own ThreadedMotoServer runs on werkzeug's development server, which closes the connection after every
request (each AWS call pays a new TCP connection and thread) and, for every request, lists moto's package folder
to find the emulated service, under a lock. Here the same moto application is served by waitress (keep-alive, a
pool of threads), the service found for a host name is remembered, and it all runs in its own process, so the
emulated AWS and the functions calling it use two cores instead of sharing one interpreter lock. One shortcut is
taken inside moto's SQS, with the same outcome: to check a received message's retention period moto 5 computes
every attribute of its queue — counting all its messages, several times — for each message it hands out, so a
receive slows with the square of the backlog; here the retention period is read directly. And the clock SQS reads
for every message on every count is `time.time()` instead of two datetime conversions. DynamoDB requests are
served one at a time, so that they are atomic as DynamoDB's are (see `application`), and DynamoDB Streams requests
with them, so that a stream is never read in the middle of a write. moto's streams are made to keep three more of
DynamoDB's promises (see `_faithful_streams`); a TransactWriteItems backs up only the items it names, not every
item of the table (see `_transactions_back_up_what_they_name`); the SES identities it knows are reported
verified, as the local stack verifies every identity of the template (see resources.py); and a DynamoDB Query reads
its page, not the whole table, and answers are serialised without probing every AttributeValue (moto_query.py:
the same answers, at a page's cost).

moto has no End User Messaging SMS and Voice v2: its SendVoiceMessage (the car owner's call) is answered here, checked
as AWS checks it, and recorded in the outbox, and DescribePhoneNumbers lists one voice number (see `voice_message`).

Besides AWS, the process answers `GET /_outbox/published` and `GET /_outbox/deliveries` (see outbox.py): what
SNS was asked to send, and what each e-mail and SMS subscriber (and each number a call rang) would have received.
S3 bucket names cannot start with `_`, so these paths never shadow an AWS request.

    python -m complaints_tools.local.aws_server     # prints its endpoint URL on the first line of stdout

The process ends when its standard input closes (the stack that started it stopped or died); Ctrl-C in a
terminal reaches the stack, which saves its state through this process before closing it.
"""

from __future__ import annotations

import copy
import datetime
import json
import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import uuid
from typing import Any

from complaints_tools.local import moto_query, outbox
from complaints_tools.local.template import ACCOUNT

# SQS long polls hold a thread each (one per queue poller, WaitTimeSeconds 1), besides every concurrent call.
THREADS = 48


def _dispatcher() -> Any:
    from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app

    class Dispatcher(DomainDispatcherApplication):
        def __init__(self) -> None:
            super().__init__(create_backend_app)
            self._backends: dict[str | None, Any] = {}

        def get_backend_for_host(self, host: str | None) -> Any:
            try:
                return self._backends[host]
            except KeyError:
                backend = self._backends[host] = super().get_backend_for_host(host)
                return backend

    return Dispatcher()


def _quicker_sqs() -> None:
    import time

    from moto.sqs import models

    original_unix_time = models.unix_time

    def unix_time(dt: Any = None) -> float:
        return original_unix_time(dt) if dt is not None else time.time()

    def unix_time_millis(dt: Any = None) -> float:
        return unix_time(dt) * 1000.0

    def is_message_valid_based_on_retention_period(self: Any, queue_name: str, message: Any) -> bool:
        retention = int(self.get_queue(queue_name).message_retention_period)
        return retention + message.sent_timestamp / 1000 > time.time()

    models.unix_time, models.unix_time_millis = unix_time, unix_time_millis
    models.SQSBackend.is_message_valid_based_on_retention_period = is_message_valid_based_on_retention_period


# DynamoDB Streams: a shard iterator expires 15 minutes after it is handed out; records are kept 24 hours.
ITERATOR_LIFETIME_S = 15 * 60
STREAM_RETENTION = datetime.timedelta(hours=24)


def _faithful_streams() -> None:
    """Three promises of DynamoDB Streams that moto 5 does not keep, kept (once per process).

    - A cancelled transaction leaves no stream records. moto backs up every table a TransactWriteItems names (a
      deep copy, its stream included) and puts the copy back when the transaction is cancelled: the records its
      first writes appended vanish from the table, but every shard iterator handed out before still reads the old
      shard object, which sees none of the table's later writes — a reader following NextShardIterator would go
      blind after the first cancelled transaction (the Weibo poller's conditional transaction cancels routinely).
      Here the backup shares the stream (which also spares copying every record the table ever produced) and a
      cancelled transaction truncates it back to where it stood.
    - Records older than 24 hours are trimmed from the shard (TrimmedDataAccessException for an iterator that
      points at them), instead of being kept forever.
    - Shard iterators expire after 15 minutes (ExpiredIteratorException), instead of being kept forever — moto
      stores every iterator it hands out, and a reader gets a new one with every GetRecords.
    """
    from moto.dynamodb.models.table import StreamShard

    if getattr(StreamShard, "faithful", False):
        return
    StreamShard.faithful = True
    _streams_untouched_by_cancelled_transactions()
    _streams_keep_24_hours()
    _shard_iterators_expire()


def _streams_untouched_by_cancelled_transactions() -> None:
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.table import StreamShard

    StreamShard.__deepcopy__ = lambda self, memo: self  # a table's backup shares its stream
    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        before = {n: (t.stream_shard, len(t.stream_shard.items)) for n, t in self.tables.items() if t.stream_shard}
        try:
            transact(self, transact_items)
        except BaseException:
            for name, (shard, length) in before.items():
                del shard.items[length:]  # the records of the writes the cancellation undid
                if name in self.tables:
                    shard.table = self.tables[name]  # the restored copy, which shares this shard
            raise

    DynamoDBBackend.transact_write_items = transact_write_items


def _streams_keep_24_hours() -> None:
    from moto.core.utils import utcnow
    from moto.dynamodb.models.table import StreamShard

    add = StreamShard.add

    def add_then_trim(self: StreamShard, old: Any, new: Any) -> None:
        add(self, old, new)
        horizon, expired = utcnow() - STREAM_RETENTION, 0
        while (
            expired < len(self.items)
            and self.items[expired].record["dynamodb"]["ApproximateCreationDateTime"] < horizon
        ):
            expired += 1
        if expired:  # sequence numbers are positions from the shard's start: move the start past them
            del self.items[:expired]
            self.starting_sequence_number += expired

    StreamShard.add = add_then_trim


def _shard_iterators_expire() -> None:
    from moto.core.exceptions import JsonRESTError
    from moto.dynamodbstreams.models import DynamoDBStreamsBackend, ShardIterator

    made = ShardIterator.__init__

    def made_at(self: ShardIterator, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        self.made_at = time.monotonic()

    ShardIterator.__init__ = made_at
    get_records = DynamoDBStreamsBackend.get_records

    def get_records_unexpired(self: DynamoDBStreamsBackend, iterator_arn: str, limit: int) -> dict[str, Any]:
        iterators, oldest = self.shard_iterators, time.monotonic() - ITERATOR_LIFETIME_S
        while iterators:  # in the order they were made
            arn, first = next(iter(iterators.items()))
            if getattr(first, "made_at", oldest) > oldest:
                break
            del iterators[arn]
        iterator = iterators.get(iterator_arn)
        if iterator is None:
            raise JsonRESTError("ExpiredIteratorException", "Iterator expired (or never handed out)")
        if iterator.sequence_number < iterator.stream_shard.starting_sequence_number:
            raise JsonRESTError("TrimmedDataAccessException", "The records this iterator points at have expired")
        return get_records(self, iterator_arn, limit)

    DynamoDBStreamsBackend.get_records = get_records_unexpired


_transaction = threading.local()  # .named: {table name: hash keys} of the TransactWriteItems running in this thread


def _transactions_back_up_what_they_name() -> None:
    """A TransactWriteItems costs what it writes, not what the table holds (once per process).

    moto backs up every table a transaction names — a deep copy of all its items — to put back if the transaction is
    cancelled, so that each transaction's cost grows with the table: 1.5 s with 1,000 tickets in it, 8 s with 5,000,
    where DynamoDB's does not grow at all. A transaction changes only the items it names, so the backup here copies
    those and shares every other item with the table: a cancelled transaction leaves the table exactly as moto's own
    backup did. Any other deep copy of a table (a backup, a restore) copies it whole, as before.
    """
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType
    from moto.dynamodb.models.table import Table

    if getattr(Table, "backs_up_what_it_names", False):
        return
    Table.backs_up_what_it_names = True
    transact = DynamoDBBackend.transact_write_items

    def transact_write_items(self: DynamoDBBackend, transact_items: list[dict[str, Any]]) -> None:
        named: dict[str, set[DynamoType]] = {}
        for entry in transact_items:
            for op_type, op in entry.items():
                table = self.tables.get(op.get("TableName")) if isinstance(op, dict) else None
                key = (op.get("Item") if op_type == "Put" else op.get("Key")) if table else None
                if key and table.hash_key_attr in key:
                    named.setdefault(table.name, set()).add(DynamoType(key[table.hash_key_attr]))
        _transaction.named = named
        try:
            transact(self, transact_items)
        finally:
            _transaction.named = None

    def backup(self: Table, memo: dict[int, Any]) -> Table:
        named = (getattr(_transaction, "named", None) or {}).get(self.name)
        copied = self.__class__.__new__(self.__class__)
        memo[id(self)] = copied
        if named is None:  # not a transaction's backup: all of it, as copy.deepcopy would (its key orders aside)
            state = {k: v for k, v in self.__dict__.items() if k != moto_query.ATTR}
            copied.__dict__.update(copy.deepcopy(state, memo))
            return copied
        copied.__dict__.update(self.__dict__)
        copied.items = copy.copy(self.items)  # the same items, but in a dict of the backup's own
        for hash_key in [k for k in named if k in self.items]:  # whole partitions, for a table with a range key
            copied.items[hash_key] = copy.deepcopy(self.items[hash_key], memo)
        return copied

    Table.__deepcopy__ = backup
    DynamoDBBackend.transact_write_items = transact_write_items


def _verified_identities() -> None:
    """SES identities moto knows are reported VerifiedForSendingStatus true: moto sends from them (it refuses
    identities it does not know), so they are the verified ones."""
    from moto.ses.models import EmailIdentity

    if getattr(EmailIdentity, "verified", False):
        return
    made = EmailIdentity.__init__

    def verified(self: EmailIdentity, *args: Any, **kwargs: Any) -> None:
        made(self, *args, **kwargs)
        self.verified_for_sending_status = True

    EmailIdentity.__init__ = verified
    EmailIdentity.verified = True


VOICE_TARGET = "PinpointSMSVoiceV2."
_E164 = re.compile(r"^\+[1-9][0-9]{6,14}$")
_IDENTITY = re.compile(r"^[A-Za-z0-9_:/+-]{1,256}$")
_BODY_LIMITS = {"TEXT": 3000, "SSML": 6000}  # characters, SSML's tags included


def _voice_ids() -> frozenset[str]:
    import botocore.session

    model = botocore.session.get_session().get_service_model("pinpoint-sms-voice-v2")
    return frozenset(model.shape_for("VoiceId").enum)


# The account's one phone number: what DescribePhoneNumbers lists (a caller without a configured origination
# identity uses the account's voice number). SendVoiceMessage takes any well-formed identity, this one or another.
LOCAL_VOICE_NUMBER_ID = "phone-complaints-local"
LOCAL_VOICE_NUMBER = "+12065550100"


def voice_message(operation: str, request: Any, region: str = "us-east-1") -> tuple[int, dict[str, Any]]:
    """End User Messaging SMS and Voice v2 (`pinpoint-sms-voice-v2`), which moto lacks: SendVoiceMessage, checked
    as AWS checks it (an E.164 destination, an origination identity, a body that is not blank and within its limit,
    a known voice) and recorded in the outbox, and DescribePhoneNumbers (the account's one number, with the VOICE
    capability); any other operation is unknown here. (status, JSON body)."""
    if operation == "DescribePhoneNumbers":
        return 200, {"PhoneNumbers": _phone_numbers(request, region)}
    if operation != "SendVoiceMessage":
        return 400, {"__type": "UnknownOperationException", "message": f"{operation} is not emulated locally"}
    if not isinstance(request, dict):
        return _invalid("CANNOT_PARSE", None, "The request body is not a JSON object")
    destination, identity = request.get("DestinationPhoneNumber"), request.get("OriginationIdentity")
    body, body_type = request.get("MessageBody"), request.get("MessageBodyTextType", "TEXT")
    for name, value in (("DestinationPhoneNumber", destination), ("OriginationIdentity", identity)):
        if value is None or value == "":
            return _invalid("MISSING_PARAMETER", name, f"{name} is required")
    # The number is the citizen's: the message names the rule, never the value.
    if not isinstance(destination, str) or not _E164.match(destination):
        return _invalid("INVALID_PARAMETER", "DestinationPhoneNumber", "The destination must be in E.164 format")
    if not isinstance(identity, str) or not _IDENTITY.match(identity):
        return _invalid("FIELD_VALIDATION_FAILED", "OriginationIdentity", "Not a phone number, pool, id or ARN")
    if body_type not in _BODY_LIMITS:
        return _invalid("FIELD_VALIDATION_FAILED", "MessageBodyTextType", "Must be TEXT or SSML")
    if not isinstance(body, str) or not body.strip():
        return _invalid("MISSING_PARAMETER", "MessageBody", "MessageBody must not be empty")
    if len(body) > _BODY_LIMITS[body_type]:
        limit = _BODY_LIMITS[body_type]
        return _invalid("MAXIMUM_SIZE_EXCEEDED", "MessageBody", f"At most {limit} characters for {body_type}")
    if "VoiceId" in request and request["VoiceId"] not in _voice_ids():
        return _invalid("FIELD_VALIDATION_FAILED", "VoiceId", "Not a voice of Amazon Polly")
    outbox.record_voice(destination, body)
    return 200, {"MessageId": uuid.uuid4().hex}


def _phone_numbers(request: Any, region: str) -> list[dict[str, Any]]:
    number = {
        "PhoneNumberArn": f"arn:aws:sms-voice:{region}:{ACCOUNT}:phone-number/{LOCAL_VOICE_NUMBER_ID}",
        "PhoneNumberId": LOCAL_VOICE_NUMBER_ID,
        "PhoneNumber": LOCAL_VOICE_NUMBER,
        "Status": "ACTIVE",
        "IsoCountryCode": "US",
        "MessageType": "TRANSACTIONAL",
        "NumberCapabilities": ["SMS", "VOICE"],
        "NumberType": "TOLL_FREE",
        "MonthlyLeasingPrice": "2.00",
        "TwoWayEnabled": False,
        "SelfManagedOptOutsEnabled": False,
        "OptOutListName": "Default",
        "DeletionProtectionEnabled": False,
        "CreatedTimestamp": 1796169600,
    }
    attributes = {
        "status": [number["Status"]],
        "number-capability": number["NumberCapabilities"],
        "iso-country-code": [number["IsoCountryCode"]],
        "message-type": [number["MessageType"]],
        "number-type": [number["NumberType"]],
    }
    filters = (request.get("Filters") or []) if isinstance(request, dict) else []
    for f in filters:  # a filter on anything else matches nothing, as on an account without such numbers
        if not set(f.get("Values") or []) & set(attributes.get(f.get("Name"), [])):
            return []
    return [number]


def _invalid(reason: str, field: str | None, message: str) -> tuple[int, dict[str, Any]]:
    fields = [{"Name": field, "Message": message}] if field else []
    return 400, {"__type": "ValidationException", "message": message, "Reason": reason, "Fields": fields}


def _answer_voice(environ: dict[str, Any], start_response: Any, region: str) -> list[bytes]:
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
        request = json.loads(environ["wsgi.input"].read(length) or b"{}")
    except ValueError:
        request = None
    operation = environ["HTTP_X_AMZ_TARGET"].removeprefix(VOICE_TARGET)
    status, answer = voice_message(operation, request, region)
    headers = [("Content-Type", "application/x-amz-json-1.0"), ("x-amzn-RequestId", uuid.uuid4().hex)]
    if status != 200:
        headers.append(("x-amzn-ErrorType", answer["__type"]))
    start_response("200 OK" if status == 200 else "400 Bad Request", headers)
    return [json.dumps(answer, ensure_ascii=False).encode("utf-8")]


def application(region: str) -> Any:
    """moto's WSGI application, with the outbox's two read-only routes in front of it.

    DynamoDB requests are served one at a time. DynamoDB makes each request atomic — an ADD never hands out a
    number twice, of two conditional writes racing for one item only one wins — but moto reads, decides and writes
    without a lock, so concurrent threads of its server could repeat ticket numbers and both win a routing claim.
    DynamoDB Streams requests take the same turns, so that no reader sees the records of a transaction that is
    still running (and may yet be cancelled).
    """
    _faithful_streams()
    _transactions_back_up_what_they_name()
    _verified_identities()
    moto_query.install()
    aws = _dispatcher()
    dynamodb = threading.Lock()

    def app(environ: dict[str, Any], start_response: Any) -> Any:
        path = environ.get("PATH_INFO", "")
        # DynamoDB_20120810.* and DynamoDBStreams_20120810.*
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            with dynamodb:
                return list(aws(environ, start_response))
        if environ.get("HTTP_X_AMZ_TARGET", "").startswith(VOICE_TARGET):
            return _answer_voice(environ, start_response, region)
        if not path.startswith("/_outbox/"):
            return aws(environ, start_response)
        query = urllib.parse.parse_qs(environ.get("QUERY_STRING", ""))
        labels = json.loads(query.get("labels", ["{}"])[0])
        if path == "/_outbox/published":
            body: Any = outbox.published(labels)
        elif path == "/_outbox/deliveries":
            body = outbox.outbox(region, labels)
        else:
            start_response("404 Not Found", [("Content-Type", "application/json")])
            return [b'{"error": "no such route"}']
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        start_response("200 OK", [("Content-Type", "application/json; charset=utf-8")])
        return [data]

    return app


def serve(region: str, host: str = "127.0.0.1", port: int = 0) -> None:
    from waitress.server import create_server

    outbox.install()
    _quicker_sqs()
    server = create_server(
        application(region), host=host, port=port, threads=THREADS, connection_limit=1000, channel_timeout=120
    )
    bound_host, bound_port = server.socket.getsockname()[:2]
    print(f"http://{bound_host}:{bound_port}", flush=True)
    os.dup2(2, 1)  # nobody reads stdout after that line: anything printed later goes where errors go
    logging.getLogger("waitress.queue").setLevel(logging.ERROR)  # "task queue depth" under load is expected
    threading.Thread(target=server.run, name="aws", daemon=True).start()
    sys.stdin.read()  # until the stack closes the pipe, or dies


class AwsServer:
    """The child process: `start()` returns once it answers; `endpoint` is its URL; `stop()` ends it."""

    def __init__(self, region: str) -> None:
        self.region = region
        self.endpoint = ""
        self._proc: subprocess.Popen | None = None

    def start(self) -> AwsServer:
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "complaints_tools.local.aws_server", self.region],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self.endpoint = self._proc.stdout.readline().strip()
        if not self.endpoint.startswith("http://"):
            self._proc.kill()
            raise RuntimeError("the emulated AWS (moto) did not start; its errors are above")
        return self

    def get(self, path: str, labels: dict[str, str]) -> Any:
        url = f"{self.endpoint}{path}?labels={urllib.parse.quote(json.dumps(labels))}"
        with urllib.request.urlopen(url, timeout=60) as r:
            return json.loads(r.read())

    def stop(self) -> None:
        if self._proc is None:
            return
        self._proc.stdin.close()
        try:
            self._proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.wait()


if __name__ == "__main__":
    # The stack decides when this process ends (it saves its state through it first): not a terminal's Ctrl-C,
    # nor a TERM sent to the whole process group.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    serve(sys.argv[1] if len(sys.argv) > 1 else "us-east-1")
