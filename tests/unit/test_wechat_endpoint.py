"""`/wechat` end to end on one machine: the fake WeChat POSTs to the endpoint (through a loopback HTTP server that
turns requests into API Gateway events, as the local stack does), the use cases are built by `wiring` from the
environment the template gives, and every AWS service is moto's."""

from __future__ import annotations

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

import boto3
import pytest
from moto import mock_aws

from complaints import wiring
from complaints.adapters.wechat.dynamo import draft_of
from complaints.domain.wechat import openid_key
from complaints_tools.fake_wechat import FakeWechat
from complaints_tools.local.template import Template
from tests.photo_samples import phone_jpeg

OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"


class _Gateway:
    """A loopback server that hands each request to `handle(event)` as API Gateway's proxy event."""

    def __init__(self, handle) -> None:
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:
                pass

            def _answer(self, method: str) -> None:
                split = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode("utf-8") if length else ""
                event = {
                    "httpMethod": method,
                    "path": split.path,
                    "queryStringParameters": dict(parse_qsl(split.query)) or None,
                    "body": body or None,
                    "isBase64Encoded": False,
                }
                out = outer.handle(event)
                data = out["body"].encode("utf-8")
                self.send_response(out["statusCode"])
                for k, v in out["headers"].items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

        self.handle = handle
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wechat"


@pytest.fixture()
def desk(aws_credentials, monkeypatch, city_file, pytestconfig):
    fake = FakeWechat(app_id="wx" + "ab" * 8).start()
    props = Template.load(pytestconfig.rootpath / "template.yaml").resources["TicketsTable"]["Properties"]
    with mock_aws():
        boto3.client("dynamodb").create_table(
            TableName="tickets",
            BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=props["AttributeDefinitions"],
            KeySchema=props["KeySchema"],
            GlobalSecondaryIndexes=props["GlobalSecondaryIndexes"],
        )
        boto3.client("s3").create_bucket(Bucket="photos")
        queue = boto3.client("sqs").create_queue(QueueName="classify")["QueueUrl"]
        key = boto3.client("kms").create_key()["KeyMetadata"]["KeyId"]
        ssm = boto3.client("ssm")
        for name, value in {"token": fake.token, "aes-key": fake.aes_key, "app-secret": fake.app_secret}.items():
            ssm.put_parameter(Name=f"/complaints/wechat/{name}", Value=value, Type="SecureString")
        for k, v in {
            "TICKETS_TABLE": "tickets",
            "CITY_CONFIG": str(city_file),
            "PHOTOS_BUCKET": "photos",
            "CLASSIFY_QUEUE_URL": queue,
            "CONTACT_KEY_ID": key,
            "WECHAT_API_BASE": fake.api_base,
            "WECHAT_APP_ID": fake.app_id,
            "WECHAT_PARAMETER_PREFIX": "/complaints/wechat",
            "MEDIA_FETCH_HOSTS": f"*.qpic.cn,{fake.url}",
        }.items():
            monkeypatch.setenv(k, v)
        endpoint = wiring.wechat_endpoint()
        gateway = _Gateway(endpoint.handle)
        fake.server_url = gateway.url
        yield fake, boto3.resource("dynamodb").Table("tickets")
        gateway.server.shutdown()
    fake.stop()


def _drafts(table) -> list[dict]:
    items = table.scan()["Items"]  # a test's look at everything stored
    return [draft_of(i) for i in items if i["pk"].startswith("wechat#draft#")]


def test_the_server_check_echoes_only_a_signed_echostr(desk):
    fake, _ = desk
    assert fake.verify_server()
    endpoint = wiring.wechat_endpoint()
    answer = endpoint.handle(
        {"httpMethod": "GET", "queryStringParameters": {"signature": "0" * 40, "timestamp": "1", "nonce": "2"}}
    )
    assert answer["statusCode"] == 403
    assert json.loads(answer["body"])["error"]["code"] == "signature_invalid"


@pytest.mark.parametrize("safe_mode", [True, False])
def test_picture_location_and_text_make_one_ticket_with_all_three(desk, safe_mode):
    fake, table = desk
    media_id = fake.add_media(phone_jpeg())
    assert "图片已收到" in fake.send(None, OPENID, "image", media_id=media_id, safe_mode=safe_mode).reply
    located = fake.send(
        None, OPENID, "location", location_x=27.7796, location_y=120.6554, label="瑞安市安阳街道", safe_mode=safe_mode
    )
    assert "位置已收到" in located.reply
    done = fake.send(None, OPENID, "text", content="安阳街道万松路的窨井盖破了，很危险", safe_mode=safe_mode)
    assert "已收到您反映的问题" in done.reply

    [draft] = _drafts(table)
    assert draft["location"]["lat"] == pytest.approx(27.7796)
    assert draft["picture"]["media_id"] == media_id
    assert OPENID not in json.dumps(draft, ensure_ascii=False)  # the OpenID only sealed
    drafts = wiring.wechat_drafts()
    ticket_no = drafts.make_ticket(draft)
    assert drafts.make_ticket(draft) == ticket_no  # the stream delivering the draft again makes no second ticket

    ticket = drafts.intake.tickets.get(draft["ticket_id"])
    assert ticket.channel == "wechat" and ticket.ticket_no == ticket_no
    assert ticket.photo is not None and ticket.photo.status == "ready"
    assert ticket.location.lat == pytest.approx(27.7796)
    contact = wiring.intake().contacts.open(ticket.id, ticket.contact_sealed)
    assert contact == {"wechat_openid": OPENID}
    received = table.get_item(Key={"pk": f"message#{ticket.id}#received"})["Item"]
    assert received["kind"] == "received" and received["audience"] == "citizen"

    status = fake.send(None, OPENID, "text", content=f"查询 {ticket_no}", safe_mode=safe_mode).reply
    assert status == f"问题{ticket_no}：已受理"


def test_a_message_delivered_three_times_makes_one_draft_and_one_reply(desk):
    fake, table = desk
    delivery = fake.send(None, OPENID, "text", content="飞云街道的路灯坏了一个多星期了", repeat=3)
    assert delivery.statuses == [200, 200, 200]
    assert len(_drafts(table)) == 1
    user = table.get_item(Key={"pk": f"wechat#user#{openid_key(fake.app_id, OPENID)}"})["Item"]
    assert int(user["version"]) == 1  # handled once: the two redeliveries changed nothing


def test_another_users_ticket_number_is_not_found(desk):
    fake, table = desk
    fake.send(None, OPENID, "text", content="锦湖街道有人在河边烧垃圾，烟很大")
    drafts = wiring.wechat_drafts()
    ticket_no = drafts.make_ticket(_drafts(table)[0])
    assert fake.send(None, "oSomebodyElse000000000000000", "text", content=f"查询 {ticket_no}").reply == (
        "没有找到您反映的这个问题编号。"
    )


def test_bad_signatures_stale_timestamps_and_bad_xml_are_refused_with_nothing_stored(desk):
    fake, table = desk
    endpoint = wiring.wechat_endpoint()
    crypto = fake.crypto
    now = str(int(time.time()))

    def post(query: dict, body: str) -> dict:
        return endpoint.handle({"httpMethod": "POST", "queryStringParameters": query, "body": body})

    good = crypto.signature(fake.token, now, "7")
    xml = (
        f"<xml><ToUserName>gh_x</ToUserName><FromUserName>{OPENID}</FromUserName><CreateTime>{now}</CreateTime>"
        "<MsgType>text</MsgType><Content>一二三四五六七八九十十一</Content><MsgId>99</MsgId></xml>"
    )
    assert post({"signature": "f" * 40, "timestamp": now, "nonce": "7"}, xml)["statusCode"] == 403
    stale = str(int(now) - 3600)
    assert (
        post({"signature": crypto.signature(fake.token, stale, "7"), "timestamp": stale, "nonce": "7"}, xml)[
            "statusCode"
        ]
        == 403
    )
    bad = post({"signature": good, "timestamp": now, "nonce": "7"}, "<xml><ToUserName>")
    assert bad["statusCode"] == 400 and json.loads(bad["body"])["error"]["code"] == "malformed_message"
    bomb = '<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "aaaa">]><xml>&a;</xml>'
    assert post({"signature": good, "timestamp": now, "nonce": "7"}, bomb)["statusCode"] == 400
    tampered = base64.b64encode(b"\0" * 32).decode()
    sig = crypto.signature(fake.token, now, "7", tampered)
    safe = post(
        {"encrypt_type": "aes", "msg_signature": sig, "timestamp": now, "nonce": "7"},
        f"<xml><Encrypt>{tampered}</Encrypt></xml>",
    )
    assert safe["statusCode"] == 403
    assert not [i for i in table.scan()["Items"] if i["pk"].startswith("wechat#")]


def test_the_messenger_answers_wechat_users_through_wechat(desk, monkeypatch):
    monkeypatch.setenv("CITIZEN_EMAIL_SENDER", "desk@example.org")
    monkeypatch.setenv("DISPATCH_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:dispatch")
    monkeypatch.setenv("TRIAGE_TOPIC_ARN", "arn:aws:sns:us-east-1:123456789012:triage")
    messenger = wiring.messenger()
    assert messenger.wechat is not None
    monkeypatch.delenv("WECHAT_APP_ID")
    assert wiring.messenger().wechat is None
