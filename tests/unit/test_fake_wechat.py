"""The fake WeChat sends what WeChat sends: messages our WechatCrypto verifies in both modes, with WeChat's retries,
and it refuses replies WeChat would refuse."""

from __future__ import annotations

import json
import socket
import threading
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

import pytest

from complaints.adapters.wechat.crypto import WechatCrypto
from complaints.adapters.wechat.messages import SUCCESS, parse, text_reply
from complaints_tools.fake_wechat import FakeWechat, ReplyInvalid


class Endpoint:
    """A stand-in for our /wechat endpoint: checks every signature with WechatCrypto, keeps what it read, answers
    as told (`fail_first` answers 500 that many times first)."""

    def __init__(self, fake: FakeWechat, reply: str = "text", fail_first: int = 0) -> None:
        self.crypto = WechatCrypto(fake.token, fake.aes_key, fake.app_id)
        self.reply, self.fail_first = reply, fail_first
        self.received: list[dict] = []
        endpoint = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):  # noqa: N802
                q = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                ok = endpoint.crypto.check(q["signature"], q["timestamp"], q["nonce"])
                self._answer(200 if ok else 403, q["echostr"].encode() if ok else b"")

            def do_POST(self):  # noqa: N802
                q = {k: v[-1] for k, v in parse_qs(urlsplit(self.path).query).items()}
                body = self.rfile.read(int(self.headers["Content-Length"]))
                endpoint.received.append({"query": q, "body": body})
                if len(endpoint.received) <= endpoint.fail_first:
                    return self._answer(500, b"")
                assert endpoint.crypto.check(q["signature"], q["timestamp"], q["nonce"])
                safe = q.get("encrypt_type") == "aes"
                inner = endpoint.crypto.unwrap(body, q["msg_signature"], q["timestamp"], q["nonce"]) if safe else body
                message = parse(inner)
                endpoint.received[-1]["message"] = message
                if endpoint.reply == "success":
                    return self._answer(200, SUCCESS.encode())
                reply = text_reply(message.from_user, message.to_user, f"收到 {message.msg_type}", 1764640000)
                if endpoint.reply == "wrong-recipient":
                    reply = text_reply("oSomeoneElse", message.to_user, "x", 1764640000)
                if safe and endpoint.reply != "plain-in-safe-mode":
                    reply = endpoint.crypto.wrap(reply, q["timestamp"], q["nonce"])
                self._answer(200, reply.encode())

            def _answer(self, status, body):
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, args=(0.1,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/wechat"

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def fake():
    f = FakeWechat().start()
    yield f
    f.stop()


@pytest.fixture
def endpoint(fake):
    e = Endpoint(fake)
    yield e
    e.close()


@pytest.mark.parametrize("safe_mode", [True, False])
def test_a_text_message_is_signed_so_our_crypto_verifies_it_and_the_reply_comes_back(fake, endpoint, safe_mode):
    delivery = fake.send(endpoint.url, "oUser123", content="路灯不亮了，已经三天", safe_mode=safe_mode)
    assert (delivery.reply, delivery.attempts) == ("收到 text", 1)
    (received,) = endpoint.received
    assert received["query"]["openid"] == "oUser123"
    assert ("encrypt_type" in received["query"]) is safe_mode
    if safe_mode:
        assert b"oUser123" not in received["body"] and "路灯".encode() not in received["body"]
    message = received["message"]
    assert (message.from_user, message.to_user, message.content) == (
        "oUser123",
        fake.original_id,
        "路灯不亮了，已经三天",
    )
    assert message.msg_id


def test_image_location_and_event_messages_carry_their_fields(fake, endpoint):
    media_id = fake.add_media(b"\xff\xd8\xffjpeg", "image/jpeg")
    fake.send(endpoint.url, "oUser123", type="image", media_id=media_id)
    fake.send(endpoint.url, "oUser123", type="location", location_x=27.78, location_y=120.65, label="瑞安市万松路")
    fake.send(endpoint.url, "oUser123", type="event", event="subscribe", safe_mode=False)
    image, location, event = (r["message"] for r in endpoint.received)
    assert (image.media_id, image.pic_url) == (media_id, fake.pic_url(media_id))
    with urllib.request.urlopen(image.pic_url, timeout=5) as r:
        assert r.read() == b"\xff\xd8\xffjpeg"
    assert (location.location_x, location.location_y, location.label) == (27.78, 120.65, "瑞安市万松路")
    assert (event.event, event.msg_id) == ("subscribe", None)


def test_an_error_answer_is_retried_three_times_with_the_very_same_message(fake):
    endpoint = Endpoint(fake, fail_first=2)
    try:
        delivery = fake.send(endpoint.url, "oUser123", content="井盖丢了，很危险")
    finally:
        endpoint.close()
    assert (delivery.attempts, delivery.statuses, delivery.reply) == (3, [500, 500, 200], "收到 text")
    assert len({r["body"] for r in endpoint.received}) == 1


def test_after_three_retries_wechat_gives_up(fake):
    endpoint = Endpoint(fake, fail_first=10)
    try:
        delivery = fake.send(endpoint.url, "oUser123", content="井盖丢了，很危险")
    finally:
        endpoint.close()
    assert (delivery.attempts, delivery.reply) == (4, None)


def test_no_server_at_all_is_four_attempts_without_an_answer(fake):
    endpoint = Endpoint(fake)
    url = endpoint.url
    endpoint.close()
    delivery = fake.send(url, "oUser123", content="x")
    assert (delivery.attempts, delivery.statuses, delivery.reply) == (4, [None] * 4, None)


def test_repeat_delivers_the_same_message_that_many_times(fake, endpoint):
    delivery = fake.send(endpoint.url, "oUser123", content="噪音扰民，每晚十二点", repeat=3)
    assert delivery.attempts == 3
    assert len({r["message"].msg_id for r in endpoint.received}) == 1
    assert len(endpoint.received) == 3


def test_success_is_taken_as_no_reply(fake):
    endpoint = Endpoint(fake, reply="success")
    try:
        assert fake.send(endpoint.url, "oUser123", content="x").reply == SUCCESS
    finally:
        endpoint.close()


@pytest.mark.parametrize("reply", ["wrong-recipient", "plain-in-safe-mode"])
def test_a_reply_wechat_would_refuse_is_an_error(fake, reply):
    endpoint = Endpoint(fake, reply=reply)
    try:
        with pytest.raises(ReplyInvalid):
            fake.send(endpoint.url, "oUser123", content="x")
    finally:
        endpoint.close()


def test_the_echostr_handshake(fake, endpoint):
    assert fake.verify_server(endpoint.url)
    other = FakeWechat(app_id=fake.app_id, aes_key=fake.aes_key)  # another token: its signatures do not check out
    assert not other.verify_server(endpoint.url)


def test_the_http_send_control_does_the_same_as_send(fake, endpoint):
    fake.server_url = endpoint.url
    request = urllib.request.Request(
        f"{fake.url}/_fake/send",
        data=json.dumps({"openid": "oUser123", "content": "垃圾桶满了没人收", "safe_mode": True}).encode(),
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10) as r:
        answer = json.load(r)
    assert answer == {"reply": "收到 text", "attempts": 1, "statuses": [200]}
    assert endpoint.received[0]["message"].content == "垃圾桶满了没人收"


def test_credentials_not_given_are_random_and_usable(fake):
    other = FakeWechat()
    assert (other.token, other.app_id, other.app_secret, other.aes_key) != (
        fake.token,
        fake.app_id,
        fake.app_secret,
        fake.aes_key,
    )
    assert len(fake.aes_key) == 43 and fake.app_id.startswith("wx")
    WechatCrypto(fake.token, fake.aes_key, fake.app_id).decrypt(fake.crypto.encrypt("x"))


def test_no_answer_within_the_timeout_is_retried_like_an_error():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # takes the connection, never answers
    fake = FakeWechat(reply_timeout_s=0.2)
    try:
        delivery = fake.send(f"http://127.0.0.1:{listener.getsockname()[1]}/wechat", "oUser123", content="x")
    finally:
        listener.close()
    assert (delivery.attempts, delivery.statuses, delivery.reply) == (4, [None] * 4, None)


def call(fake: FakeWechat, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"):
    request = urllib.request.Request(f"{fake.url}{path}", data=body, method=method)
    if body is not None:
        request.add_header("Content-Type", content_type)
    with urllib.request.urlopen(request, timeout=10) as r:
        return r.headers.get("Content-Type"), r.read()


def test_the_http_controls_register_media_inject_errors_and_move_the_window(fake):
    _, answer = call(fake, "POST", "/_fake/media", b"\x89PNG\r\n", "image/png")
    media = json.loads(answer)
    assert call(fake, "GET", media["pic_url"].removeprefix(fake.url)) == ("image/png", b"\x89PNG\r\n")
    call(fake, "POST", "/_fake/errors", json.dumps({"stable_token": [-1]}).encode())
    body = json.dumps({"grant_type": "client_credential", "appid": fake.app_id, "secret": fake.app_secret}).encode()
    assert json.loads(call(fake, "POST", "/cgi-bin/stable_token", body)[1]) == {"errcode": -1, "errmsg": "system error"}
    token = json.loads(call(fake, "POST", "/cgi-bin/stable_token", body)[1])["access_token"]
    _, got = call(fake, "GET", f"/cgi-bin/media/get?access_token={token}&media_id={media['media_id']}")
    assert got == b"\x89PNG\r\n"
    send = json.dumps({"touser": "oUser9", "msgtype": "text", "text": {"content": "您好"}}).encode()
    path = f"/cgi-bin/message/custom/send?access_token={token}"
    assert json.loads(call(fake, "POST", path, send)[1])["errcode"] == 45015
    call(fake, "POST", "/_fake/last_seen", json.dumps({"openid": "oUser9", "epoch": fake.clock()}).encode())
    assert json.loads(call(fake, "POST", path, send)[1]) == {"errcode": 0, "errmsg": "ok"}
    assert [m["content"] for m in json.loads(call(fake, "GET", "/_fake/messages")[1])] == ["您好"]
    assert json.loads(call(fake, "GET", "/_fake/stats")[1])["token_fetches"] == 2


def test_the_plain_token_endpoint_gives_a_new_token_and_the_old_one_lives_five_more_minutes(fake):
    now = [1_764_640_000.0]
    fake.clock = lambda: now[0]
    query = f"/cgi-bin/token?grant_type=client_credential&appid={fake.app_id}&secret={fake.app_secret}"
    first = json.loads(call(fake, "GET", query)[1])["access_token"]
    second = json.loads(call(fake, "GET", query)[1])["access_token"]
    assert first != second
    now[0] += 299
    assert json.loads(call(fake, "GET", f"/cgi-bin/media/get?access_token={first}&media_id=x")[1])["errcode"] == 40007
    now[0] += 2
    assert json.loads(call(fake, "GET", f"/cgi-bin/media/get?access_token={first}&media_id=x")[1])["errcode"] == 42001
    assert json.loads(call(fake, "GET", f"/cgi-bin/media/get?access_token={second}&media_id=x")[1])["errcode"] == 40007


def test_a_wrong_secret_or_app_id_is_refused_as_wechat_does(fake):
    for appid, secret, code in ((fake.app_id, "wrong", 40125), ("wx0000000000000000", fake.app_secret, 40013)):
        body = json.dumps({"grant_type": "client_credential", "appid": appid, "secret": secret}).encode()
        assert json.loads(call(fake, "POST", "/cgi-bin/stable_token", body)[1])["errcode"] == code
