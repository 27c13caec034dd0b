"""The WeChat channel end to end over HTTP: the fake WeChat POSTs users' messages to the local stack's /wechat as
WeChat does (signed, encrypted in safe mode, retried), and records what the desk sends back through WeChat's API."""

from __future__ import annotations

import re
import time
import uuid

from complaints.domain.wechat import openid_key
from tests.integration.loop_helpers import BURNING_RUBBISH, Desk, delivered, staff, wait_until
from tests.photo_samples import phone_jpeg


def a_user() -> str:
    return "o" + uuid.uuid4().hex[:27]


def sent_to(wechat, openid: str, containing: str = "") -> list[dict]:
    return [m for m in wechat.messages() if m["touser"] == openid and containing in m.get("content", "")]


def ticket_no_sent(wechat, openid: str) -> int:
    got = wait_until(lambda: sent_to(wechat, openid, "问题编号"))
    assert got, f"no ticket number reached {openid} in WeChat"
    return int(re.search(r"问题编号(\d+)", got[0]["content"]).group(1))


def stored_ticket(stack, ticket_no: int) -> dict:
    tickets = wait_until(lambda: [t for t in stack.stored_tickets("wechat") if t["ticket_no"]["N"] == str(ticket_no)])
    assert tickets, ticket_no
    return tickets[0]


def user_item(stack, wechat, openid: str) -> dict:
    key = {"pk": {"S": f"wechat#user#{openid_key(wechat.app_id, openid)}"}}
    return stack.aws("dynamodb").get_item(TableName=stack.resource("TicketsTable"), Key=key).get("Item") or {}


def test_the_server_check_passes_and_a_forged_message_is_refused(stack, wechat):
    assert wechat.verify_server(f"{stack.url}/wechat")
    forged = stack.request(
        "POST",
        "/wechat?signature=0000&timestamp=1&nonce=1",
        raw=b"<xml><ToUserName>gh</ToUserName></xml>",
        headers={"Content-Type": "text/xml"},
    )
    assert forged.status == 403
    assert forged.json()["error"]["code"] == "signature_invalid"


def test_picture_location_and_text_make_a_ticket_whose_number_and_answer_reach_the_user_in_wechat(stack, wechat):
    openid = a_user()
    url = f"{stack.url}/wechat"
    media_id = wechat.add_media(phone_jpeg())
    assert "图片已收到" in wechat.send(url, openid, "image", media_id=media_id).reply
    assert "位置已收到" in wechat.send(url, openid, "location", location_x=27.7612, location_y=120.6207).reply
    assert "已收到您反映的问题" in wechat.send(url, openid, "text", content=BURNING_RUBBISH).reply

    ticket_no = ticket_no_sent(wechat, openid)
    item = stored_ticket(stack, ticket_no)
    assert item["photo"]["M"]["status"]["S"] == "ready"  # the picture, through WeChat's media API and the checks
    assert float(item["location"]["M"]["lat"]["N"]) == 27.7612
    assert openid not in str(item)  # the OpenID only sealed

    ticket_id = item["id"]["S"]
    dispatched = wait_until(lambda: stored_ticket(stack, ticket_no)["status"]["S"] == "dispatched")
    assert dispatched, "the WeChat ticket was not dispatched"
    Desk(stack, staff(stack, "eco")).answer(ticket_id, "已安排执法人员到现场处理焚烧垃圾的问题。")
    answer = wait_until(lambda: sent_to(wechat, openid, "已安排执法人员"))
    assert len(answer) == 1 and answer[0]["kind"] == "custom"

    status = wechat.send(url, openid, "text", content=f"查询 {ticket_no}").reply
    assert status.startswith(f"问题{ticket_no}：已答复") and "已安排执法人员" in status
    other = wechat.send(url, a_user(), "text", content=f"查询 {ticket_no}").reply
    assert other == "没有找到您反映的这个问题编号。"
    assert openid not in stack.log.read_text()  # WeChat puts it in the query string; no log line holds it


def test_a_message_delivered_three_times_makes_one_ticket_and_one_reply(stack, wechat):
    openid = a_user()
    delivery = wechat.send(
        f"{stack.url}/wechat", openid, "text", content="安阳街道万松路上的窨井盖破了一个大洞", repeat=3
    )
    assert delivery.statuses == [200, 200, 200]
    ticket_no_sent(wechat, openid)
    time.sleep(2)  # anything doubled would have reached the fake by now
    assert len(sent_to(wechat, openid, "问题编号")) == 1
    assert len(user_item(stack, wechat, openid)["tickets"]["M"]) == 1


def test_safe_and_plaintext_modes_both_work(stack, wechat):
    for safe in (True, False):
        openid = a_user()
        reply = wechat.send(f"{stack.url}/wechat", openid, "text", content="玉海街道路灯坏了好几天", safe_mode=safe)
        assert "已收到您反映的问题" in reply.reply
        ticket_no_sent(wechat, openid)


def test_an_expired_token_is_renewed_once_and_the_message_still_goes(stack, wechat):
    first = a_user()
    wechat.send(f"{stack.url}/wechat", first, "text", content="锦湖街道有一处水管爆裂，水流满地")
    ticket_no_sent(wechat, first)  # a token was fetched for it
    wechat.expire_tokens()
    before = wechat.stats()["token_fetches"]
    openid = a_user()
    wechat.send(f"{stack.url}/wechat", openid, "text", content="东山街道菜场门口垃圾堆了三天没人清运")
    ticket_no_sent(wechat, openid)
    assert wechat.stats()["token_fetches"] == before + 1


def test_outside_the_window_without_template_or_phone_the_message_is_recorded_refused_not_retried(stack, wechat):
    openid = a_user()
    wechat.inject("custom/send", 45015)  # WeChat says the 48 hours are over
    wechat.send(f"{stack.url}/wechat", openid, "text", content="飞云街道的公交站台顶棚被风吹坏了")
    item = wait_until(lambda: user_item(stack, wechat, openid).get("tickets", {}).get("M"))
    (ticket_id,) = [v["S"] for v in item.values()]
    states = wait_until(lambda: delivered(stack, ticket_id, "received"))
    assert states == {"wechat": "refused"}
    assert not sent_to(wechat, openid)


def test_a_blocked_driver_moves_a_car_from_wechat_and_neither_sees_the_others_number(stack, wechat):
    from tests.integration.test_car_moving_http import codes_sent

    stack.register_vehicle("浙C24680", "+8613900000024")
    url, openid = f"{stack.url}/wechat", a_user()
    assert "手机号码" in wechat.send(url, openid, "text", content="挪车").reply
    assert "验证码已发送" in wechat.send(url, openid, "text", content="138 0000 0024").reply
    code = wait_until(lambda: codes_sent(stack, "13800000024"))[-1]
    assert "车牌号" in wechat.send(url, openid, "text", content=f"13800000024 {code}").reply
    notified = wechat.send(url, openid, "text", content="浙c·24680 万松路12号门口").reply
    assert notified.startswith("已通知车主浙C24680") and "13900000024" not in notified

    def to_owner():
        got = [e for e in stack.outbox() if e["endpoint"].endswith("13900000024")]
        return got if {e["protocol"] for e in got} >= {"sms", "voice"} else None

    calls = wait_until(to_owner)
    assert calls, "the owner got no SMS and voice call"
    assert all("浙C24680" in e["message"] and "13800000024" not in e["message"] for e in calls)
    assert "万松路12号门口" in calls[0]["message"]
    assert not user_item(stack, wechat, openid).get("tickets", {}).get("M")  # no complaint was made of it
