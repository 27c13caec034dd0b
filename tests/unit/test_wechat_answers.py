"""The messenger's `wechat` delivery: customer-service text inside the 48-hour window, template message or SMS
outside it (or on 45015), refused otherwise; rate limits retried; each message sent once."""

from __future__ import annotations

import pytest
from test_answer_loop import Desk, answered, time  # noqa: F401 (the frozen-clock fixture)

from complaints.adapters.memory import MemoryTokenStore
from complaints.domain import clock
from complaints.domain.desk.wechat_answers import WechatDelivery
from complaints.domain.wechat import WechatOutsideWindow, WechatRateLimited
from complaints.domain.wechat_token import TokenKeeper

OPENID = "oAbCdEfGhIjKlMnOpQrStUvWxYz0"


class FakeApi:
    """WeChat as the delivery sees it: what was sent, and errors to answer next."""

    def __init__(self) -> None:
        self.texts: list[tuple[str, str]] = []
        self.templates: list[tuple[str, str, dict]] = []
        self.errors: list[Exception] = []

    def fetch_token(self, force: bool = False) -> tuple[str, int]:
        return "token", 7200

    def send_text(self, access_token: str, openid: str, text: str) -> None:
        if self.errors:
            raise self.errors.pop(0)
        self.texts.append((openid, text))

    def send_template(self, access_token, openid, template_id, data, url) -> None:
        self.templates.append((openid, template_id, data))


@pytest.fixture()
def wechat(desk):
    api = FakeApi()
    seen: dict[str, float] = {}
    sms: list[tuple[str, str]] = []

    def send_sms(phone: str, text: str, ticket_no: int) -> str:
        sms.append((phone, text))
        return f"sms-{len(sms)}"

    delivery = WechatDelivery(
        api=api,
        tokens=TokenKeeper(api, MemoryTokenStore(), clock=clock.epoch),
        last_seen=seen.get,
        send_sms=send_sms,
        clock=clock.epoch,
    )
    desk.messenger.wechat = delivery
    return api, seen, sms, delivery


@pytest.fixture()
def desk(city, time) -> Desk:  # noqa: F811
    return Desk(city)


def test_an_answer_inside_the_window_is_a_customer_service_text_sent_once(desk, city, wechat):
    api, seen, sms, _ = wechat
    seen[OPENID] = clock.epoch() - 3600
    ticket = answered(desk, city, contact={"wechat_openid": OPENID, "phone": "13812345678"})
    desk.send_all()
    desk.send_all()  # a redelivered stream record
    assert len(api.texts) == 1 and api.texts[0][0] == OPENID
    assert "已处理" in api.texts[0][1] and str(ticket.ticket_no) in api.texts[0][1]
    assert sms == [] and desk.channels.sent == []  # the phone is the fallback, not a second copy


def test_outside_the_window_a_template_message_goes_out_where_configured(desk, city, wechat):
    api, seen, sms, delivery = wechat
    delivery.template_id = "tpl-answer"
    seen[OPENID] = clock.epoch() - 49 * 3600
    answered(desk, city, contact={"wechat_openid": OPENID, "phone": "13812345678"})
    desk.send_all()
    assert api.texts == [] and [t[1] for t in api.templates] == ["tpl-answer"] and sms == []


def test_outside_the_window_without_a_template_the_answer_goes_by_sms(desk, city, wechat):
    api, seen, sms, _ = wechat
    seen[OPENID] = clock.epoch() - 49 * 3600
    answered(desk, city, contact={"wechat_openid": OPENID, "phone": "13812345678"})
    desk.send_all()
    assert api.texts == [] and [p for p, _ in sms] == ["13812345678"]


def test_wechats_45015_falls_back_to_sms_and_without_a_phone_the_delivery_is_refused(desk, city, wechat):
    api, seen, sms, _ = wechat
    seen[OPENID] = clock.epoch() - 3600
    api.errors = [WechatOutsideWindow("out of window", 45015), WechatOutsideWindow("out of window", 45015)]
    answered(desk, city, contact={"wechat_openid": OPENID, "phone": "13812345678"})
    other = answered(desk, city, contact={"wechat_openid": OPENID}, n=2)
    desk.send_all()
    assert len(sms) == 1 and api.texts == []
    assert desk.outbox.deliveries(other.id, "answer-1")["wechat"]["state"] == "refused"


def test_a_rate_limit_is_raised_for_the_stream_to_retry_and_the_retry_sends_once(desk, city, wechat):
    api, seen, _, _ = wechat
    seen[OPENID] = clock.epoch() - 3600
    ticket = answered(desk, city, contact={"wechat_openid": OPENID})
    api.errors = [WechatRateLimited("api freq out of limit", 45009)]
    with pytest.raises(WechatRateLimited):
        desk.send_all()
    assert desk.outbox.deliveries(ticket.id, "answer-1") == {}  # released, not recorded
    desk.send_all()
    desk.send_all()
    assert len(api.texts) == 1
