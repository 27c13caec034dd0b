"""The Weibo channel end to end: fake Weibo → scheduled poller → ticket → classify → route → dispatch → comment."""

from __future__ import annotations

import base64
import json
import re
import time
import urllib.request

FIXTURE_TICKETS = 7  # nine mentions: one repost of the board's own post, one empty


def comments(weibo) -> list[dict]:
    with urllib.request.urlopen(f"{weibo.url}/_fake/comments", timeout=5) as r:
        return json.loads(r.read())


def fault(weibo, **spec) -> None:
    req = urllib.request.Request(f"{weibo.url}/_fake/faults", data=json.dumps(spec).encode(), method="POST")
    urllib.request.urlopen(req, timeout=5).close()


def new_mention(weibo, n: int, text: str) -> str:
    idstr = str(9_007_199_254_740_993 + n)  # above 2**53: a float would lose it
    status = {
        "created_at": "Wed Nov 25 10:00:00 +0800 2026",
        "id": int(idstr),
        "idstr": idstr,
        "text": f"@瑞网议事厅 {text}",
        "user": {"id": 6000000000 + n, "idstr": str(6000000000 + n), "screen_name": f"测试市民{n}"},
        "pic_urls": [],
        "geo": None,
    }
    req = urllib.request.Request(f"{weibo.url}/_fake/mentions", data=json.dumps(status).encode(), method="POST")
    urllib.request.urlopen(req, timeout=5).close()
    return idstr


def ticket_no_in(comment: dict) -> int:
    return int(re.search(r"问题编号(\d+)", comment["text"]).group(1))


def wait_dispatched(stack, ticket_numbers: set[int], timeout: float = 20) -> dict[int, list[dict]]:
    deadline = time.monotonic() + timeout
    while True:
        out = {n: [o for o in stack.outbox() if o["attributes"].get("ticket_no") == str(n)] for n in ticket_numbers}
        if all(out.values()) or time.monotonic() > deadline:
            return out
        time.sleep(0.1)


def test_each_fixture_mention_becomes_a_dispatched_ticket_and_one_comment_with_its_number(stack, weibo):
    # The scheduler's first run (at start) did the work: nothing here triggers it.
    assert stack.health["schedules"]["WeiboFunction"]["every_s"] == 3600
    posted = comments(weibo)
    assert len(posted) == FIXTURE_TICKETS
    numbers = {ticket_no_in(c) for c in posted}
    assert len(numbers) == FIXTURE_TICKETS and all(len(c["text"]) <= 140 for c in posted)
    tickets = stack.stored_tickets("weibo")
    assert {int(t["ticket_no"]["N"]) for t in tickets} == numbers
    # Pictures come from the fake's own origin, which the local stack adds to MEDIA_FETCH_HOSTS: four mentions have
    # one, and one of those is a hotlink page, not a JPEG.
    assert sum(1 for t in tickets if t.get("photo", {}).get("M")) == 3
    # Dispatched like an app complaint: every one reached an agency (or triage) through SNS.
    dispatched = wait_dispatched(stack, numbers)
    assert all(dispatched.values()), {n for n, v in dispatched.items() if not v}
    for deliveries in dispatched.values():
        assert any("渠道: weibo" in d["message"] for d in deliveries if d["protocol"] == "email")
    # The citizen's Weibo identity is kept with the ticket, sealed with the contact key; never in what agencies
    # receive, never in clear in the table.
    kms = stack.aws("kms")
    contacts = [
        json.loads(
            kms.decrypt(
                CiphertextBlob=base64.b64decode(t["contact_sealed"]["S"]),
                EncryptionContext={"ticket_id": t["id"]["S"]},
            )["Plaintext"]
        )
        for t in tickets
    ]
    uids = {c["weibo_uid"] for c in contacts}
    # The mention too, for the answer loop's messenger to comment the answer under: the one each reply went under.
    assert {c["weibo_mention"] for c in contacts} == {c["status"]["idstr"] for c in posted}
    assert not any(uid in json.dumps(t) for t in tickets for uid in uids)
    outbox = json.dumps(stack.outbox(), ensure_ascii=False)
    assert len(uids) == FIXTURE_TICKETS and not any(uid in outbox for uid in uids)
    assert not any(uid in stack.log.read_text(encoding="utf-8") for uid in uids)


def test_more_runs_create_no_more_tickets_and_post_no_more_comments(stack, weibo):
    before = (len(stack.stored_tickets("weibo")), len(comments(weibo)))
    for _ in range(2):
        outcome = stack.run_weibo()
        assert (outcome["created"], outcome["replies_sent"], outcome["stopped"]) == (0, 0, None)
    assert (len(stack.stored_tickets("weibo")), len(comments(weibo))) == before


def test_a_new_mention_with_a_64_bit_id_gets_its_ticket_and_comment(stack, weibo):
    idstr = new_mention(weibo, 1, "锦湖街道外滩社区江滨路的路灯一整排都不亮，晚上散步很危险")
    outcome = stack.run_weibo()
    assert (outcome["created"], outcome["replies_sent"]) == (1, 1)
    (comment,) = [c for c in comments(weibo) if c["status"]["idstr"] == idstr]
    assert all(wait_dispatched(stack, {ticket_no_in(comment)}).values())


def test_an_expired_token_stops_the_run_and_the_next_run_catches_up(stack, weibo):
    idstr = new_mention(weibo, 2, "汀田街道九里村村口的垃圾桶三天没人清运，臭气熏天")
    fault(weibo, path="mentions", error_code=21327)
    stopped = stack.run_weibo()
    assert (stopped["stopped"], stopped["created"]) == ("token_invalid", 0)
    resumed = stack.run_weibo()
    assert (resumed["created"], resumed["replies_sent"]) == (1, 1)
    assert [c["status"]["idstr"] for c in comments(weibo)].count(idstr) == 1


def test_a_rate_limited_reply_is_posted_on_a_later_run(stack, weibo):
    idstr = new_mention(weibo, 3, "南滨街道阁巷村有大货车半夜拉渣土，路面全是泥")
    fault(weibo, path="comments", error_code=10023)
    first = stack.run_weibo()
    assert (first["created"], first["replies_sent"], first["stopped"]) == (1, 0, "rate_limited")
    assert idstr not in {c["status"]["idstr"] for c in comments(weibo)}
    later = stack.run_weibo()
    assert (later["created"], later["replies_sent"]) == (0, 1)
    assert [c["status"]["idstr"] for c in comments(weibo)].count(idstr) == 1


def test_a_server_error_is_retried_within_the_run(stack, weibo):
    new_mention(weibo, 4, "潘岱街道砚下村的山塘水库边护栏倒了，小孩子经常在那边玩")
    fault(weibo, path="mentions", status=503)
    outcome = stack.run_weibo()
    assert (outcome["created"], outcome["stopped"]) == (1, None)
