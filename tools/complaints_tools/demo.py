"""`make demo`: two dozen sample complaints through the running local stack, and who got each; then the fake
Weibo's sample mentions through one run of the Weibo poller, and the replies it posted."""

from __future__ import annotations

import json
import time
import unicodedata
import urllib.request
from typing import Any

# One or more for every department of the city file, a local matter for a town, a co-recipient, and two for triage.
SAMPLES = [
    ("上望街道薛里村路边有人焚烧垃圾，黑烟滚滚，气味刺鼻，已经好几天了", None),
    ("塘下镇韩田村一家工厂晚上偷偷往河里排污水，河水发黑发臭", None),
    ("安阳街道万松路的窨井盖破了一个大洞，晚上骑车很危险，请尽快修补", None),
    ("飞云江大桥附近公交站台被拆了，等车只能站在马路边，希望恢复站台", None),
    ("莘塍街道有个小区物业不作为，垃圾堆在楼道里没人清，物业费还年年涨", None),
    ("汀田街道我们小区的电梯三天两头困人，年检标签都过期了", None),
    ("孩子今年上小学，户口在玉海街道，请问学区怎么划分？报名要哪些材料？", None),
    ("孩子学校食堂的饭菜经常吃出头发，学校也不重视", None),
    ("我在马屿镇一家鞋厂打工，老板拖欠三个月工资不发，去问就推脱", None),
    ("在汀田街道一家健身房办了预付卡，现在老板跑路了，几十个人的钱要不回来", None),
    ("市人民医院挂号排队太久了，早上六点去排到十点还没看上病", None),
    ("人民医院的医生态度很差，问两句就不耐烦，还凶病人", None),
    ("上望街道新街村路口的红绿灯坏了好几天，早晚高峰车子乱成一团", None),
    ("买的二手房过户半年了，不动产登记一直说材料不全，房产证办不下来", None),
    ("曹村镇有人在溪里非法采砂，晚上挖沙船轰隆隆的，河岸都塌了", None),
    ("在外地住院回来报销，医保说异地就医没备案不给报，请问怎么补办", None),
    ("我妈一个人在湖岭镇生活，想申请低保，村里说不符合条件，请问低保标准是多少", None),
    ("体育中心的游泳馆暑假人挤人，更衣室脏得很，水也浑", None),
    ("我是退伍军人，退役军人优待证申请了三个月还没拿到", None),
    ("塘下镇农贸市场的摊位费乱涨，市场管理方也不管，摊主都很有意见", None),
    ("东山街道上京村的村道烂了好几年，一下雨全是泥水，电动车经常摔", None),  # local: the town handles it
    ("飞云街道这几天渣土车撒得满路都是泥，开得又快，太危险了", None),  # with a copy for the traffic police
    ("这里半夜一直有施工噪音，吵得睡不着", {"lat": 27.785, "lng": 120.72}),
    ("路灯不亮好几个星期了", None),
    # Nothing but courtesy and a phone number: no evidence for any kind of problem, so a person reads it.
    ("你好，我想问一下这个事情到底怎么办才好。有事请联系我：0577 6581 2301", None),
    # Not Chinese: the model has no evidence for any category, so a person reads it (reason `no_evidence`).
    ("The street light outside my house has been broken for weeks", None),
]


def _call(method: str, url: str, body: dict | None = None, headers: dict | None = None) -> tuple[int, Any]:
    data = json.dumps(body).encode("utf-8") if body is not None else None
    req = urllib.request.Request(
        url, data=data, method=method, headers={"Content-Type": "application/json", **(headers or {})}
    )
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")


def _pad(text: str, width: int) -> str:
    """Left-align in a terminal column: CJK characters take two cells."""
    cells = sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)
    return text + " " * max(0, width - cells)


def run_demo(base: str) -> int:
    tickets = []
    for text, location in SAMPLES:
        body: dict[str, Any] = {"text": text, "channel": "app"}
        if location:
            body["location"] = location
        status, created = _call("POST", f"{base}/complaints", body)
        if status != 201:
            print(f"rejected ({status}): {created}")
            return 1
        tickets.append((text, created))
    final = {}
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and len(final) < len(tickets):
        for _, c in tickets:
            if c["id"] in final:
                continue
            _, t = _call("GET", f"{base}/complaints/{c['id']}", headers={"X-Receipt": c["receipt"]})
            if t.get("status") in ("dispatched", "triage"):
                final[c["id"]] = t
        time.sleep(0.2)
    _, outbox = _call("GET", f"{base}/_local/outbox")
    print(
        f"{'ticket':>7}  {_pad('status', 10)} {_pad('agency', 24)} {_pad('category', 14)} {_pad('district', 10)} "
        f"{'conf':>5}  text / notified"
    )
    for text, c in tickets:
        t = final.get(c["id"], {"status": "pending"})
        notified = sorted(
            {
                f"{o['protocol']}:{o['endpoint']}"
                + (f" (reason: {o['attributes']['reason']})" if "reason" in o["attributes"] else "")
                for o in outbox
                if o["attributes"].get("ticket_no") == str(c["ticket_no"])
            }
        )
        conf = t.get("confidence")
        print(
            f"{c['ticket_no']:>7}  {_pad(t['status'], 10)} {_pad(t.get('department') or '-', 24)} "
            f"{_pad(t.get('category') or '-', 14)} {_pad(t.get('district') or '-', 10)} "
            f"{conf if conf is not None else 0:>5.2f}  {text[:30]}"
        )
        for n in notified:
            print(f"{'':>79}→ {n}")
    weibo_ok = _weibo_demo(base)
    return 0 if len(final) == len(tickets) and weibo_ok else 1


def _weibo_demo(base: str) -> bool:
    """The local stack's fake Weibo starts without mentions: add its samples, run the poller once, show the tickets."""
    _, health = _call("GET", f"{base}/_local/health")
    api_base = health.get("weibo_api_base") or ""
    status, added = _call("POST", api_base.removesuffix("/2") + "/_fake/samples", {}) if api_base else (0, {})
    if status != 200:
        print("\nWeibo: the stack reads a Weibo that is not its own fake; no sample mentions sent")
        return True
    status, outcome = _call("POST", f"{base}/_local/schedules/WeiboFunction")
    if status != 200:
        print(f"\nWeibo poller failed ({status}): {outcome}")
        return False
    print(f"\nWeibo: {added['added']} sample mentions of @瑞网议事厅 added; one poll: {json.dumps(outcome)}")
    _, comments = _call("GET", api_base.removesuffix("/2") + "/_fake/comments")
    for comment in comments:
        print(f"  reply to mention {comment['status']['idstr']}: {comment['text']}")
    return True
