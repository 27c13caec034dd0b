"""The WeChat conversation on in-memory ports: what starts, completes and cancels a complaint, and 查询."""

from __future__ import annotations

from types import SimpleNamespace

from hypothesis import given
from hypothesis import strategies as st

from complaints.domain.desk.wechat_conversation import (
    MAX_RECENT_TICKETS,
    WechatConversation,
    WechatUser,
    remember_ticket,
)
from complaints.domain.wechat import WechatInbound, openid_key

APP = "wx0000000000000000"
ALICE, BOB = "oAlice000000000000000000000", "oBob00000000000000000000000"


class Users:
    def __init__(self) -> None:
        self.items: dict[str, WechatUser] = {}

    def get(self, key: str) -> WechatUser:
        return self.items.get(key) or WechatUser(key=key)

    def put(self, user: WechatUser) -> None:
        self.items[user.key] = user


class Drafts:
    def __init__(self) -> None:
        self.queued: list[dict] = []

    def submit(self, draft: dict) -> None:
        self.queued.append(draft)


class Clock:
    now = 1_764_640_000.0

    def __call__(self) -> float:
        return self.now


def conversation(tickets=None):
    users, drafts, clock = Users(), Drafts(), Clock()
    c = WechatConversation(
        users=users,
        drafts=drafts,
        tickets=SimpleNamespace(get=(tickets or {}).get),
        user_key=lambda openid: openid_key(APP, openid),
        seal=lambda ticket_id, contact: f"sealed:{ticket_id}",
        clock=clock,
    )
    return c, users, drafts, clock


def msg(openid=ALICE, type_="text", n=[0], **fields) -> WechatInbound:  # noqa: B006 (a message counter)
    n[0] += 1
    return WechatInbound(
        to_user="gh_ruian", from_user=openid, create_time=int(Clock.now), msg_type=type_, msg_id=str(n[0]), **fields
    )


def test_a_long_text_submits_at_once_with_the_pictures_and_location_sent_before():
    c, users, drafts, clock = conversation()
    assert "图片已收到" in c.handle(msg(type_="image", media_id="m1", pic_url="https://mmbiz.qpic.cn/a"))
    assert "位置已收到" in c.handle(msg(type_="location", location_x=27.78, location_y=120.65, label="安阳街道"))
    assert "正在登记" in c.handle(msg(content="安阳街道路灯坏了一个多月没人修"))
    (draft,) = drafts.queued
    assert draft["picture"]["media_id"] == "m1" and draft["location"]["label"] == "安阳街道"
    assert draft["contact_sealed"] == f"sealed:{draft['ticket_id']}" and ALICE not in str(draft)
    user = users.get(openid_key(APP, ALICE))
    assert user.pictures == [] and user.location is None and user.last_seen == int(clock.now)


def test_pictures_and_locations_older_than_ten_minutes_are_not_used():
    c, _, drafts, clock = conversation()
    c.handle(msg(type_="image", media_id="old"))
    clock.now += 601
    c.handle(msg(content="安阳街道路灯坏了一个多月没人修"))
    assert drafts.queued[0]["picture"] is None
    clock.now -= 601


def test_another_users_pictures_never_join_a_complaint():
    c, _, drafts, _ = conversation()
    c.handle(msg(openid=BOB, type_="image", media_id="bobs"))
    c.handle(msg(content="安阳街道路灯坏了一个多月没人修"))
    assert drafts.queued[0]["picture"] is None


def test_cancel_drops_what_is_pending():
    c, _, drafts, _ = conversation()
    c.handle(msg(type_="image", media_id="m1"))
    assert "已取消" in c.handle(msg(content="取消"))
    assert c.handle(msg(content="取消")) == "没有待提交的内容。"
    c.handle(msg(content="安阳街道路灯坏了一个多月没人修"))
    assert drafts.queued[0]["picture"] is None


@given(st.text(max_size=9).filter(lambda t: t.strip() not in ("取消",) and not t.strip().startswith("查询")))
def test_a_text_under_ten_characters_gets_help_and_submits_nothing(text):
    c, _, drafts, _ = conversation()
    assert "10个字以上" in c.handle(msg(content=text))
    assert drafts.queued == []


def test_query_answers_only_the_senders_own_ticket():
    answer = SimpleNamespace(text="已修复")
    ticket = SimpleNamespace(ticket_no=10001, status=SimpleNamespace(value="answered"), answers=[answer])
    c, users, _, _ = conversation({"a" * 32: ticket})
    alice = users.get(openid_key(APP, ALICE))
    remember_ticket(alice, 10001, "a" * 32)
    users.put(alice)
    assert c.handle(msg(content="查询 10001")) == "问题10001：已答复\n答复：已修复"
    assert c.handle(msg(openid=BOB, content="查询 10001")) == c.handle(msg(content="查询 99999"))
    assert c.handle(msg(openid=BOB, content="查询 10001")) == "没有找到您反映的这个问题编号。"


def test_subscribe_is_welcomed_other_events_get_success_and_voice_a_polite_note():
    c, _, drafts, _ = conversation()
    assert "欢迎关注" in c.handle(msg(type_="event", event="subscribe"))
    assert c.handle(msg(type_="event", event="unsubscribe")) is None
    for kind in ("voice", "video", "link", "something_new"):
        assert "请发送文字、图片或位置" in c.handle(msg(type_=kind))
    assert drafts.queued == []


def test_a_user_keeps_only_the_latest_tickets_for_query():
    user = WechatUser(key="k")
    for n in range(10001, 10001 + MAX_RECENT_TICKETS + 5):
        remember_ticket(user, n, f"{n:032x}")
    assert len(user.tickets) == MAX_RECENT_TICKETS and "10001" not in user.tickets
