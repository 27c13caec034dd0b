"""The WeChat API adapter against a running fake WeChat: tokens, sends recorded, media, and every errcode mapped."""

from __future__ import annotations

import socket
import threading

import pytest

from complaints.adapters.fetch import FetchPolicy
from complaints.adapters.wechat.http import WechatHttpApi, checked_api_base, picture_fetcher
from complaints.domain.wechat import (
    WechatError,
    WechatMediaRefused,
    WechatOutsideWindow,
    WechatRateLimited,
    WechatRefused,
    WechatTokenRejected,
    WechatUnavailable,
)
from complaints_tools.fake_wechat import FakeWechat

OPENID = "oUser1234567890abcdef"


@pytest.fixture
def fake():
    f = FakeWechat().start()
    yield f
    f.stop()


def api_for(fake: FakeWechat, **kwargs) -> WechatHttpApi:
    pictures = picture_fetcher(FetchPolicy.parse(fake.url))
    return WechatHttpApi(fake.api_base, fake.app_id, lambda: fake.app_secret, pictures, **kwargs)


def test_a_token_is_fetched_with_its_lifetime_and_stays_the_same_until_forced(fake):
    api = api_for(fake)
    token, expires_in = api.fetch_token()
    assert expires_in == 7200 and len(token) > 32
    assert api.fetch_token()[0] == token
    renewed, _ = api.fetch_token(force=True)
    assert renewed != token
    assert fake.stats()["token_fetches"] == 3
    fake.set_last_seen(OPENID, fake.clock())
    with pytest.raises(WechatTokenRejected) as e:
        api.send_text(token, OPENID, "您的问题已受理")
    assert e.value.code == 42001  # the forced refresh ended the old token
    api.send_text(renewed, OPENID, "您的问题已受理")


def test_a_shorter_lifetime_set_on_the_fake_is_what_the_token_says(fake):
    fake.configure(expires_in=60)
    assert api_for(fake).fetch_token()[1] == 60


def test_an_expired_token_is_rejected_as_42001_and_an_unknown_one_as_40001(fake):
    api = api_for(fake)
    token, _ = api.fetch_token()
    fake.set_last_seen(OPENID, fake.clock())
    fake.expire_tokens()
    with pytest.raises(WechatTokenRejected) as expired:
        api.send_text(token, OPENID, "x")
    with pytest.raises(WechatTokenRejected) as unknown:
        api.media("not-a-token", "m")
    assert (expired.value.code, unknown.value.code) == (42001, 40001)
    assert fake.messages() == []


def test_a_wrong_secret_is_refused_and_the_secret_is_nowhere_in_the_error(fake):
    api = WechatHttpApi(fake.api_base, fake.app_id, lambda: "0" * 32, picture_fetcher(FetchPolicy()))
    with pytest.raises(WechatRefused) as e:
        api.fetch_token()
    assert e.value.code == 40125
    assert "0" * 32 not in str(e.value) and fake.app_secret not in str(e.value)


def test_a_customer_service_message_inside_the_window_is_recorded(fake):
    api = api_for(fake)
    token, _ = api.fetch_token()
    fake.set_last_seen(OPENID, fake.clock() - 47 * 3600)
    api.send_text(token, OPENID, "您的问题 RA-20261202-0001 已答复：路灯已修好")
    (message,) = fake.messages()
    assert (message["kind"], message["touser"], message["content"]) == (
        "custom",
        OPENID,
        "您的问题 RA-20261202-0001 已答复：路灯已修好",
    )


def test_a_customer_service_message_outside_the_window_is_45015(fake):
    api = api_for(fake)
    token, _ = api.fetch_token()
    fake.set_last_seen(OPENID, fake.clock() - 49 * 3600)
    with pytest.raises(WechatOutsideWindow) as e:
        api.send_text(token, OPENID, "x")
    assert e.value.code == 45015
    with pytest.raises(WechatOutsideWindow):
        api.send_text(token, "oNeverWrote", "x")
    assert fake.messages() == []


def test_a_template_message_is_recorded_with_its_data_and_link(fake):
    api = api_for(fake)
    token, _ = api.fetch_token()
    data = {"first": "您的问题已答复", "keyword1": "RA-20261202-0001", "remark": "点击查看"}
    api.send_template(token, OPENID, "tmpl-answer", data, "https://desk.example.cn/t/RA-20261202-0001")
    (message,) = fake.messages()
    assert message["kind"] == "template" and message["template_id"] == "tmpl-answer"
    assert message["data"] == data and message["url"] == "https://desk.example.cn/t/RA-20261202-0001"


def test_media_comes_back_as_its_bytes_and_an_unknown_id_is_40007(fake):
    api = api_for(fake)
    token, _ = api.fetch_token()
    media_id = fake.add_media(b"\xff\xd8\xff\xe0photo", "image/jpeg")
    assert api.media(token, media_id) == b"\xff\xd8\xff\xe0photo"
    with pytest.raises(WechatRefused) as e:
        api.media(token, "no-such-media")
    assert e.value.code == 40007


def test_media_larger_than_the_cap_is_refused(fake):
    api = api_for(fake, max_media_bytes=1000)
    token, _ = api.fetch_token()
    with pytest.raises(WechatMediaRefused):
        api.media(token, fake.add_media(b"\xff" * 1001))
    assert api.media(token, fake.add_media(b"\xff" * 1000)) == b"\xff" * 1000


def test_a_picture_comes_through_the_fetch_helper_from_allowed_hosts_only(fake):
    media_id = fake.add_media(b"\xff\xd8\xffpic", "image/jpeg")
    assert api_for(fake).picture(fake.pic_url(media_id)) == b"\xff\xd8\xffpic"
    with pytest.raises(WechatMediaRefused):
        api_for(fake).picture(fake.pic_url("missing"))
    nowhere = WechatHttpApi(fake.api_base, fake.app_id, lambda: fake.app_secret)  # WeChat's hosts only
    with pytest.raises(WechatMediaRefused) as e:
        nowhere.picture(fake.pic_url(media_id))
    assert fake.url not in str(e.value)


@pytest.mark.parametrize(
    "code, error",
    [
        (40001, WechatTokenRejected),
        (42001, WechatTokenRejected),
        (40014, WechatTokenRejected),
        (45015, WechatOutsideWindow),
        (45047, WechatRateLimited),
        (45009, WechatRateLimited),
        (45011, WechatRateLimited),
        (-1, WechatUnavailable),
        (40003, WechatRefused),
        (48001, WechatRefused),
    ],
)
@pytest.mark.parametrize("endpoint", ["custom/send", "template/send", "media/get"])
def test_every_errcode_is_its_error_class_and_the_error_names_no_token_or_openid(fake, endpoint, code, error):
    api = api_for(fake)
    token, _ = api.fetch_token()
    fake.set_last_seen(OPENID, fake.clock())
    fake.inject(endpoint, code)
    call = {
        "custom/send": lambda: api.send_text(token, OPENID, "x"),
        "template/send": lambda: api.send_template(token, OPENID, "t", {"k": "v"}, None),
        "media/get": lambda: api.media(token, fake.add_media(b"\xff")),
    }[endpoint]
    with pytest.raises(error) as e:
        call()
    assert type(e.value) is error and e.value.code == code
    assert token not in str(e.value) and OPENID not in str(e.value) and "access_token=" not in str(e.value)
    call()  # the injected error was for one call only
    assert fake.stats()[endpoint] == 2


def test_the_token_fetch_maps_errors_too(fake):
    fake.inject({"stable_token": [-1, 45009]})
    api = api_for(fake)
    with pytest.raises(WechatUnavailable):
        api.fetch_token()
    with pytest.raises(WechatRateLimited):
        api.fetch_token()
    assert api.fetch_token()[1] == 7200


@pytest.mark.parametrize("status", [500, 502, 503])
def test_a_5xx_is_unavailable(fake, status):
    api = api_for(fake)
    token, _ = api.fetch_token()
    fake.inject("custom/send", status)
    with pytest.raises(WechatUnavailable) as e:
        api.send_text(token, OPENID, "x")
    assert e.value.code is None and str(status) in str(e.value)


def test_no_answer_in_time_and_no_server_are_unavailable():
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)  # accepts, never answers
    port = listener.getsockname()[1]
    silent = WechatHttpApi(
        f"http://127.0.0.1:{port}", "wx1", lambda: "s", picture_fetcher(FetchPolicy()), timeout_s=0.3
    )
    try:
        with pytest.raises(WechatUnavailable) as e:
            silent.fetch_token()
        assert "no answer" in str(e.value)
    finally:
        listener.close()
    gone = WechatHttpApi(f"http://127.0.0.1:{port}", "wx1", lambda: "s", picture_fetcher(FetchPolicy()))
    with pytest.raises(WechatUnavailable):
        gone.send_text("tok-secret", OPENID, "x")


def test_an_answer_that_is_not_json_is_refused_without_echoing_it():
    body = b"<html>token tok-secret</html>"
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)

    def answer_once():
        conn, _ = listener.accept()
        conn.recv(65536)
        conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s" % (len(body), body))
        conn.close()

    threading.Thread(target=answer_once, daemon=True).start()
    api = WechatHttpApi(f"http://127.0.0.1:{listener.getsockname()[1]}", "wx1", lambda: "s")
    try:
        with pytest.raises(WechatRefused) as e:
            api.send_text("tok-secret", OPENID, "x")
    finally:
        listener.close()
    assert "tok-secret" not in str(e.value) and isinstance(e.value, WechatError)


@pytest.mark.parametrize(
    "base",
    [
        "http://api.weixin.qq.com",
        "https://user:pw@api.weixin.qq.com",
        "https://api.weixin.qq.com/?access_token=x",
        "https://api.weixin.qq.com:99999",
        "ftp://127.0.0.1",
        "https://",
    ],
)
def test_an_api_base_that_is_not_https_or_loopback_http_is_refused_without_repeating_it(base):
    with pytest.raises(ValueError) as e:
        checked_api_base(base)
    assert base not in str(e.value)


def test_https_and_loopback_http_api_bases_are_taken():
    assert checked_api_base("https://api.weixin.qq.com") == "https://api.weixin.qq.com"
    assert checked_api_base("http://127.0.0.1:8091") == "http://127.0.0.1:8091"
