"""The AWS adapters against moto's in-process mock, with resources created from template.yaml."""

from __future__ import annotations

import base64
import json
from urllib.parse import unquote_plus

import boto3
import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from complaints.adapters.aws import DynamoTicketRepository, KmsContactVault, S3PhotoStore, SnsNotifier, SqsWorkQueue
from complaints.city import AGENCY, COPY
from complaints.domain.errors import MoveNotAllowed
from complaints.domain.routing import Notice
from complaints.domain.tickets import HistoryEntry, Status, Ticket, now_iso
from complaints_tools.local.resources import create_all
from complaints_tools.local.template import Template

ROOT = __import__("pathlib").Path(__file__).resolve().parents[2]


@pytest.fixture()
def stack(aws_credentials):
    with mock_aws():
        tpl = Template.load(ROOT / "template.yaml")
        create_all(tpl)
        yield tpl


def new_ticket(ticket_id: str, no: int) -> Ticket:
    now = now_iso()
    return Ticket(
        id=ticket_id,
        ticket_no=no,
        status=Status.RECEIVED,
        text="上望街道有人烧垃圾",
        channel="app",
        created_at=now,
        receipt_hash="h",
        history=[HistoryEntry(status=Status.RECEIVED, at=now)],
    )


def test_ticket_numbers_start_at_the_citys_first_number_and_count_up(stack):
    # Under concurrency, see test_local_aws_server.py: moto's in-process mock does not apply one update at a time
    # as DynamoDB does (threads racing here get the same number), the local stack's moto server does.
    repo = DynamoTicketRepository(stack.physical["TicketsTable"]["Ref"], first_ticket_no=10001)
    assert [repo.next_ticket_no() for _ in range(40)] == list(range(10001, 10041))


def test_ticket_round_trip_and_conditional_transition(stack):
    repo = DynamoTicketRepository(stack.physical["TicketsTable"]["Ref"])
    repo.create(new_ticket("a" * 32, 7))
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        repo.create(new_ticket("a" * 32, 8))  # an id is never overwritten
    fields = {"category": "环境保护", "confidence": 0.91, "top3": [["环境保护", 0.91]], "district": None}
    repo.record_classification("a" * 32, fields, "环境保护 0.91")
    with pytest.raises(MoveNotAllowed, match="classified"):  # someone already did it
        repo.record_classification("a" * 32, fields, "环境保护 0.91")
    t = repo.get("a" * 32)
    assert (t.status, t.category, t.confidence, t.ticket_no) == (Status.CLASSIFIED, "环境保护", 0.91, 7)
    assert [h.status for h in t.history] == [Status.RECEIVED, Status.CLASSIFIED]
    assert repo.get("b" * 32) is None


def test_photo_store_links_are_presigned_and_expire(stack):
    store = S3PhotoStore(stack.physical["PhotosBucket"]["Ref"])
    store.put("photos/x/display.jpg", b"\xff\xd8\xff", "image/jpeg")
    link = store.link("photos/x/display.jpg", 3600)
    assert "X-Amz-Expires=3600" in link and "X-Amz-Signature=" in link
    store.delete("photos/x/display.jpg")
    assert "Contents" not in boto3.client("s3").list_objects_v2(Bucket=stack.physical["PhotosBucket"]["Ref"])


def test_an_agency_photo_link_is_signed_by_a_session_made_for_it_and_says_its_lifetime(stack):
    bucket = stack.physical["PhotosBucket"]["Ref"]
    store = S3PhotoStore(bucket, link_role_arn=stack.physical["PhotoLinkRole"]["Arn"])
    store.put("photos/abc/display.jpg", b"jpeg", "image/jpeg")
    first, second = (store.lasting_link("photos/abc/display.jpg", 3600) for _ in range(2))
    query = [dict(p.split("=", 1) for p in unquote_plus(u.split("?", 1)[1]).split("&")) for u in (first, second)]
    assert [q["X-Amz-Expires"] for q in query] == ["3600", "3600"]
    # Each link has a session of the link role of its own: not the function's credentials, not a shared session.
    own_key = boto3.Session().get_credentials().access_key
    keys = {q["X-Amz-Credential"].split("/")[0] for q in query}
    assert len(keys) == 2 and own_key not in keys
    assert "X-Amz-Security-Token" in query[0]


def test_photo_store_reads_within_a_limit(stack):
    from complaints.domain.errors import PhotoTooLarge

    store = S3PhotoStore(stack.physical["PhotosBucket"]["Ref"])
    store.put("originals/x", b"0123456789", "image/jpeg")
    assert store.read("originals/x", 10) == b"0123456789"
    with pytest.raises(PhotoTooLarge):
        store.read("originals/x", 9)


def test_an_upload_form_allows_one_object_of_the_declared_type_and_originals_notify_the_photo_queue(stack):
    bucket = stack.physical["PhotosBucket"]["Ref"]
    form = S3PhotoStore(bucket).upload_form("originals/abc", "image/png", 1000, 600)
    policy = json.loads(__import__("base64").b64decode(form["fields"]["policy"]))
    assert {"Content-Type": "image/png"} in policy["conditions"]
    assert ["content-length-range", 1, 1000] in policy["conditions"]
    assert form["fields"]["key"] == "originals/abc" and "x-amz-signature" in form["fields"]
    # The POST itself is tried over HTTP on the local stack (tests/integration): the in-process mock sees boto3 only.
    S3PhotoStore(bucket).put("originals/abc", b"\x89PNG...", "image/png")
    sqs = boto3.client("sqs")
    bodies = [
        json.loads(m["Body"])
        for m in sqs.receive_message(QueueUrl=stack.physical["PhotoQueue"]["Ref"], MaxNumberOfMessages=10)["Messages"]
    ]
    created = [unquote_plus(r["s3"]["object"]["key"]) for b in bodies for r in b.get("Records", [])]
    assert created == ["originals/abc"]
    # Derived images do not notify: the prefix filter holds.
    S3PhotoStore(bucket).put("photos/abc/display.jpg", b"x", "image/jpeg")
    assert "Messages" not in sqs.receive_message(QueueUrl=stack.physical["PhotoQueue"]["Ref"])


def test_the_agency_gets_the_text_as_written_and_the_town_only_the_masked_copy(stack, city):
    sns, sqs = boto3.client("sns"), boto3.client("sqs")
    dispatch = stack.physical["DispatchTopic"]["Ref"]
    inboxes = {}
    for agency_id in ("eco", "jtj", "town-shangwang"):
        agency = city.agency(agency_id)
        url = sqs.create_queue(QueueName=f"inbox-{agency_id}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        policy = city.filter_policy(agency, agency.notify[0])  # the subscriptions `subscribe-agencies` makes
        sns.subscribe(
            TopicArn=dispatch,
            Protocol="sqs",
            Endpoint=arn,
            Attributes={"FilterPolicy": json.dumps(policy, ensure_ascii=False), "RawMessageDelivery": "false"},
        )
        inboxes[agency_id] = url
    attrs = {"department": "市生态环境局", "district": "上望街道", "ticket_no": "1"}
    notices = [
        Notice(who, "dispatch", f"[ruian] #1 {who}", {"default": text}, {**attrs, "audience": who, **extra})
        for who, text, extra in (
            (AGENCY, "全文 13812345678", {"agency": "eco"}),
            (COPY, "全文 138＊＊＊＊＊＊78", {}),
        )
    ]
    assert SnsNotifier({"dispatch": dispatch}).publish_batch("dispatch", notices) == []
    got = {
        n: [json.loads(m["Body"])["Message"] for m in sqs.receive_message(QueueUrl=u).get("Messages", [])]
        for n, u in inboxes.items()
    }
    assert got == {"eco": ["全文 13812345678"], "jtj": [], "town-shangwang": ["全文 138＊＊＊＊＊＊78"]}


def test_work_queue_sends_json(stack):
    url = stack.physical["ClassifyQueue"]["Ref"]
    SqsWorkQueue(url).send({"ticket_id": "abc"})
    (m,) = boto3.client("sqs").receive_message(QueueUrl=url)["Messages"]
    assert json.loads(m["Body"]) == {"ticket_id": "abc"}


def test_work_queue_delays_messages(stack):
    url = stack.physical["ClassifyQueue"]["Ref"]
    SqsWorkQueue(url).send({"ticket_id": "later"}, delay_s=900)
    assert "Messages" not in boto3.client("sqs").receive_message(QueueUrl=url)


def test_a_claim_is_conditional_on_its_holder_and_leaves_no_history(stack):
    repo = DynamoTicketRepository(stack.physical["TicketsTable"]["Ref"])
    repo.create(new_ticket("c" * 32, 9).model_copy(update={"status": Status.CLASSIFIED}))
    repo.claim_routing("c" * 32, "w1")
    # A second worker expecting no claim, or another holder, changes nothing.
    with pytest.raises(MoveNotAllowed):
        repo.claim_routing("c" * 32, "w2")
    with pytest.raises(MoveNotAllowed, match="another worker"):
        repo.record_dispatched("c" * 32, "w2", "市生态环境局")
    repo.record_dispatched("c" * 32, "w1", "市生态环境局")
    ticket = repo.get("c" * 32)
    assert ticket.status is Status.DISPATCHED and ticket.routing_claim is None and ticket.routing_since is None
    assert [h.status for h in ticket.history] == ["received", "dispatched"]


def test_contact_details_are_sealed_with_the_template_key_and_bound_to_their_ticket(stack):
    vault = KmsContactVault(stack.physical["ContactKey"]["Ref"])
    sealed = vault.seal("a" * 32, {"phone": "13812345678"})
    assert "13812345678" not in sealed and "138" not in base64.b64decode(sealed).decode("latin-1")
    assert vault.open("a" * 32, sealed) == {"phone": "13812345678"}
    with pytest.raises(ClientError):  # copied onto another ticket, it does not open
        vault.open("b" * 32, sealed)
