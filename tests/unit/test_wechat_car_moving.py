"""`挪车` in WeChat: the conversation drives the same car-moving use case as the API, step by step."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
from test_car_moving import OWNER, desk  # noqa: F401  (the car-moving desk on in-memory ports)
from test_wechat_conversation import APP, Drafts, Users

from complaints.adapters.memory import MemoryCarMovingStore
from complaints.domain import clock
from complaints.domain.desk.wechat_conversation import WechatConversation
from complaints.domain.wechat import WechatInbound, openid_key

ALICE = "oAlice000000000000000000000"


@pytest.fixture
def store():
    """The car-moving desk's store in memory (the rules of both stores are test_car_moving.py's): its notices are
    what the owner would get."""
    return MemoryCarMovingStore()


@pytest.fixture
def chat(desk):  # noqa: F811
    users, drafts = Users(), Drafts()
    c = WechatConversation(
        users=users,
        drafts=drafts,
        tickets=SimpleNamespace(get=lambda _id: None),
        user_key=lambda openid: openid_key(APP, openid),
        seal=lambda ticket_id, contact: f"sealed:{ticket_id}",
        clock=clock.epoch,
        car_moving=desk,
    )

    def say(text: str, **kw) -> str:
        kind = kw.pop("type", "text")
        msg = WechatInbound(
            to_user="gh_x", from_user=ALICE, create_time=int(clock.epoch()), msg_type=kind, content=text, **kw
        )
        return c.handle(msg)

    return SimpleNamespace(say=say, desk=desk, drafts=drafts, users=users)


def code_sent(desk) -> str:  # noqa: F811
    return re.search(r"\d{6}", desk.texter.sent[-1][1]).group()


def verify(chat) -> None:
    assert "手机号码" in chat.say("挪车")
    assert "验证码已发送" in chat.say("138 0000 0001")
    assert "车牌号" in chat.say(f"13800000001 {code_sent(chat.desk)}")


def test_a_verified_user_names_the_plate_and_the_owner_is_notified_without_either_number(chat):
    verify(chat)
    reply = chat.say("浙c·12345 万松路12号门口")
    assert "已通知车主浙C12345" in reply and "13800000001" not in reply and OWNER[3:] not in reply
    notice = chat.desk.store.notices[-1]
    assert "万松路12号门口" in notice["sms"] and "13800000001" not in notice["sms"] + notice["voice"]
    assert chat.drafts.queued == []  # a long text in a car-moving step is not a complaint


def test_the_plate_alone_takes_the_location_sent_before(chat):
    verify(chat)
    chat.say("", type="location", location_x=27.78, location_y=120.65, label="瑞安市安阳街道万松路")
    assert "已通知车主浙C12345" in chat.say("浙C12345")
    assert "安阳街道万松路" in chat.desk.store.notices[-1]["sms"]


def test_a_second_request_starts_at_the_plate_and_the_wrong_code_is_refused_alike(chat, monkeypatch):
    assert "验证码已发送" in (chat.say("挪车"), chat.say("13800000001"))[1]
    assert "验证码不正确" in chat.say("13800000001 000000" if code_sent(chat.desk) != "000000" else "13800000001 1")
    assert "车牌号" in chat.say(f"13800000001 {code_sent(chat.desk)}")
    assert "车牌号" in chat.say("挪车")  # verified: straight to the plate


def test_remind_and_police_wait_ten_minutes_then_each_work_once(chat, monkeypatch):
    verify(chat)
    chat.say("浙C12345 万松路12号门口")
    assert "10分钟后" in chat.say("催单")
    monkeypatch.setattr(clock, "_offset_s", clock.offset_s() + 601)
    assert "已再次通知车主" in chat.say("催单")
    assert len(chat.desk.store.notices) == 2
    assert "问题编号10001" in chat.say("转交警")
    [ticket] = chat.desk.intake.submitted
    assert ticket.service == "jt05" and ticket.public is False
    assert "没有进行中的挪车请求" in chat.say("催单")


def test_unknown_plates_bad_plates_and_the_plate_hold_get_clear_answers(chat, monkeypatch):
    verify(chat)
    assert "未登记" in chat.say("浙C99999 万松路")
    assert "格式不正确" in chat.say("浙I12345 万松路")
    chat.say("浙C12345 万松路12号门口")
    chat.say("挪车")
    assert "分钟后再试" in chat.say("浙C12345 万松路12号门口")  # one notification per plate per 10 minutes


def test_cancel_leaves_car_moving_and_texts_are_complaints_again(chat):
    assert "手机号码" in chat.say("挪车")
    assert "已取消" in chat.say("取消")
    assert "已收到您反映的问题" in chat.say("万松路上的窨井盖破了一个洞很危险")
    assert len(chat.drafts.queued) == 1
