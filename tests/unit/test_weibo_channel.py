"""The Weibo poller with an in-memory Weibo, desk and ledger: what a citizen on Weibo and an operator would notice."""

from __future__ import annotations

import json
import logging
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
from test_desk import make_desk
from weibo_fakes import ACCOUNT, Crash, FakeApi, crash_once, jpeg, mention

from complaints.adapters.weibo.memory import MemoryMentionLedger
from complaints.domain.weibo import (
    MAX_COMMENT_CHARS,
    MalformedMention,
    UnknownMention,
    WeiboRateLimited,
    WeiboRejected,
    WeiboTokenInvalid,
    WeiboUnavailable,
    answer_comment,
    closed_comment,
    reply_text,
)
from complaints.domain.weibo_channel import WeiboChannel


class Clock:
    def __init__(self, t: float = 1_800_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


@pytest.fixture()
def world(city):
    """A desk, an empty Weibo, a ledger and a clock; `channel()` builds a fresh poller over them (a new process)."""

    class World:
        desk = make_desk(city)
        api = FakeApi()
        ledger = MemoryMentionLedger()
        clock = Clock()
        sleeps: list[float] = []

        def channel(self, **kw) -> WeiboChannel:
            return WeiboChannel(
                intake=self.desk.intake,
                api=self.api,
                ledger=self.ledger,
                account=ACCOUNT,
                clock=self.clock,
                sleep=self.sleeps.append,
                **kw,
            )

        def tickets(self):
            return [t for t in self.desk.tickets.items.values() if t.channel == "weibo"]

    return World()


def comment_numbers(api: FakeApi) -> list[int]:
    return sorted(int(text.split("问题编号")[1].split("，")[0]) for _, text in api.comments)


def test_each_mention_becomes_one_ticket_with_one_comment_carrying_its_number(world, city):
    world.api.statuses = [mention(i) for i in range(1, 4)]
    outcome = world.channel().poll()
    assert (outcome.created, outcome.replies_sent, outcome.stopped) == (3, 3, None)
    tickets = world.tickets()
    assert sorted(t.ticket_no for t in tickets) == comment_numbers(world.api)
    by_ticket = {world.ledger.record(s.idstr).ticket_id: s for s in world.api.statuses}
    for t in tickets:
        assert t.text == "塘下镇韩田村有工厂偷排污水，河水发黑"  # no @-mention, no t.cn link
        # The author, and the mention the answer loop's messenger comments the agency's answer under.
        status = by_ticket[t.id]
        assert world.desk.contacts.open(t.id, t.contact_sealed) == {
            "weibo_uid": status.user.idstr,
            "weibo_mention": status.idstr,
        }
        assert "weibo_uid" not in t.model_dump_json()  # sealed, not stored in clear
    for status_id, text in world.api.comments:  # each comment on its own mention, with that mention's ticket
        ticket = world.desk.tickets.get(world.ledger.record(status_id).ticket_id)
        assert f"问题编号{ticket.ticket_no}" in text and city.ticket_link(ticket.ticket_no) in text
        assert len(text) <= MAX_COMMENT_CHARS
    # Through the same desk as the API: queued for classification, like an app complaint.
    assert len(world.desk.classify_queue.messages) == 3
    assert world.ledger.cursor() == world.api.statuses[-1].idstr


def test_pagination_reaches_back_to_the_cursor_across_several_pages(world):
    world.api.statuses = [mention(i) for i in range(1, 8)]
    outcome = world.channel(page_size=2).poll()
    assert outcome.created == 7 and outcome.fetched == 7
    pages = [c for c in world.api.calls if c[0] == "mentions"]
    assert [c[2] for c in pages[:2]] == [None, world.api.statuses[4].idstr]  # max_id: below the lowest seen
    assert len(pages) == 5  # 2 + 2 + 2 + 1, then an empty page
    # Tickets are numbered in the order citizens wrote: oldest mention first.
    by_mention = {world.ledger.record(s.idstr).ticket_id: s.number for s in world.api.statuses}
    tickets = sorted(world.tickets(), key=lambda t: t.ticket_no)
    assert [by_mention[t.id] for t in tickets] == sorted(by_mention.values())
    # The next run asks only for what is newer than the cursor.
    world.api.calls.clear()
    world.channel(page_size=2).poll()
    assert world.api.calls == [("mentions", world.api.statuses[-1].idstr, None, 2)]


def test_no_duplicates_across_polls_or_overlapping_pages(world):
    world.api.statuses = [mention(i) for i in range(1, 4)]
    world.channel().poll()
    world.api.statuses.append(mention(4))
    second = world.channel().poll()
    world.channel().poll()
    assert second.created == 1
    assert len(world.tickets()) == 4 and len(world.api.comments) == 4


def test_a_server_that_ignores_since_id_creates_no_duplicates(world):
    world.api.statuses = [mention(i) for i in range(1, 4)]
    world.channel().poll()
    world.ledger.cursor_id = None  # as if the cursor were lost: every mention comes again
    again = world.channel().poll()
    assert (again.created, again.already_handled) == (0, 3)
    assert len(world.tickets()) == 3 and len(world.api.comments) == 3


@pytest.mark.parametrize("where", ["advance", "mark_ticketed"])
def test_a_crash_between_ticket_creation_and_cursor_update_creates_nothing_twice(world, where):
    world.api.statuses = [mention(i) for i in range(1, 5)]
    restore = crash_once(world.ledger, where, after=1)  # the second mention's ticket exists, its bookkeeping not
    with pytest.raises(Crash):
        world.channel().poll()
    restore()
    assert len(world.tickets()) == 2
    outcome = world.channel().poll()  # the next run, in a fresh environment
    assert len(world.tickets()) == 4
    # The second mention: its ticket was recorded (only the cursor missed it), or found again by its id.
    expected = {"advance": (2, 0, 1), "mark_ticketed": (2, 1, 0)}[where]
    assert (outcome.created, outcome.recovered, outcome.already_handled) == expected
    assert comment_numbers(world.api) == sorted(t.ticket_no for t in world.tickets())


# The namespace the ids were once derived from, in the source for anyone to read.
_OLD_NAMESPACE = uuid.UUID("8f0b7a1e-2d53-4c37-9a57-6f1c0e5d9b21")


def test_a_weibo_tickets_id_cannot_be_worked_out_from_its_public_mention(world, city):
    world.api.statuses = [mention(1), mention(2)]
    world.channel().poll()
    ids = {s.idstr: world.ledger.record(s.idstr).ticket_id for s in world.api.statuses}
    assert all(world.desk.tickets.get(t) is not None for t in ids.values())
    for mention_id, ticket_id in ids.items():
        assert ticket_id not in (uuid.uuid5(_OLD_NAMESPACE, f"weibo:{mention_id}").hex, mention_id)
    # The same mentions on another desk get other ids: nothing about a mention fixes its ticket's id.
    again = WeiboChannel(intake=make_desk(city).intake, api=world.api, ledger=MemoryMentionLedger(), account=ACCOUNT)
    again.poll()
    assert not set(ids.values()) & set(again.intake.tickets.items)


def test_a_crash_before_the_ticket_exists_waits_for_the_claim_to_expire(world):
    world.api.statuses = [mention(1)]
    restore = crash_once(world.desk.intake, "submit")
    with pytest.raises(Crash):
        world.channel().poll()
    restore()
    chosen = world.ledger.record(mention(1).idstr).ticket_id  # the claim recorded the id it chose
    busy = world.channel().poll()  # the claim may belong to a run still going: leave the mention alone
    assert (busy.created, busy.stopped, world.ledger.cursor()) == (0, "busy", None)
    world.clock.t += 121
    assert world.channel(lease_s=120).poll().created == 1
    (ticket,) = world.tickets()
    assert ticket.id == chosen  # the run that took the claim over made the ticket the first one meant to


def test_rate_limit_while_fetching_stops_the_run_and_keeps_the_cursor(world):
    world.api.statuses = [mention(1)]
    world.api.errors["mentions"] = [WeiboRateLimited("User requests out of rate limit", 10023)]
    outcome = world.channel().poll()
    assert (outcome.stopped, outcome.created, world.ledger.cursor(), world.sleeps) == ("rate_limited", 0, None, [])
    assert world.channel().poll().created == 1


def test_rate_limit_on_replies_keeps_tickets_and_replies_later(world):
    world.api.statuses = [mention(1), mention(2)]
    world.api.errors["comment"] = [WeiboRateLimited("IP requests out of rate limit", 10022)]
    outcome = world.channel().poll()
    assert (outcome.created, outcome.replies_sent, outcome.stopped) == (2, 0, "rate_limited")
    assert len(world.ledger.pending_replies()) == 2
    later = world.channel().poll()
    assert (later.created, later.replies_sent) == (0, 2)
    assert len(world.api.comments) == 2


def test_token_errors_stop_the_poll_and_keep_the_cursor(world):
    world.api.statuses = [mention(1)]
    world.channel().poll()
    world.api.statuses.append(mention(2))
    world.api.errors["mentions"] = [WeiboTokenInvalid("expired_token", 21327)]
    outcome = world.channel().poll()
    assert (outcome.stopped, outcome.created) == ("token_invalid", 0)
    assert world.ledger.cursor() == mention(1).idstr
    assert world.channel().poll().created == 1


def test_server_errors_are_retried_with_backoff(world):
    world.api.statuses = [mention(1)]
    world.api.errors["mentions"] = [WeiboUnavailable("HTTP 503"), WeiboUnavailable("timed out")]
    outcome = world.channel(backoff_s=1.0).poll()
    assert (outcome.created, outcome.stopped) == (1, None)
    assert world.sleeps == [1.0, 2.0]


def test_server_errors_that_persist_end_the_run_without_losing_anything(world):
    world.api.statuses = [mention(1)]
    world.api.errors["mentions"] = [WeiboUnavailable("HTTP 502")] * 3
    outcome = world.channel(attempts=3).poll()
    assert (outcome.created, outcome.stopped, world.ledger.cursor()) == (0, "unavailable", None)
    assert world.channel().poll().created == 1


def test_a_failed_reply_is_retried_later_with_growing_delays_then_abandoned(world):
    world.api.statuses = [mention(1)]
    world.api.errors["comment"] = [WeiboRejected("system busy", 20019)] * 3
    channel = world.channel(max_reply_attempts=3, reply_backoff_s=60)
    assert channel.poll().replies_failed == 1
    (pending,) = world.ledger.pending_replies()
    assert pending.next_at == world.clock.t + 60
    assert channel.poll().replies_failed == 0  # not due yet: no call at all
    world.clock.t += 60
    channel.poll()
    assert world.ledger.pending_replies()[0].next_at == world.clock.t + 120
    world.clock.t += 120
    assert channel.poll().replies_abandoned == 1
    assert world.ledger.pending_replies() == [] and world.api.comments == []
    assert len(world.tickets()) == 1


def test_a_reply_failing_on_a_server_error_never_blocks_new_tickets(world):
    world.api.statuses = [mention(1)]
    world.api.errors["comment"] = [WeiboUnavailable("HTTP 500")] * 3
    first = world.channel().poll()
    assert (first.created, first.replies_failed) == (1, 1)
    world.api.statuses.append(mention(2))
    world.clock.t += 3600
    second = world.channel().poll()
    assert (second.created, second.replies_sent) == (1, 2)


def test_pictures_prefer_the_large_size_and_failures_leave_a_ticket_without_photo(world):
    good, thumb_only = "https://wx1.sinaimg.cn/large/a.jpg", "https://wx1.sinaimg.cn/thumbnail/b.jpg"
    world.api.pictures = {good: jpeg(), thumb_only.replace("thumbnail", "large"): jpeg((300, 200))}
    world.api.pictures["https://wx1.sinaimg.cn/large/not-an-image.jpg"] = b"<html>403 Forbidden</html>"
    world.api.statuses = [
        mention(1, original_pic=good, pic_urls=[{"thumbnail_pic": good.replace("large", "thumbnail")}]),
        mention(2, pic_urls=[{"thumbnail_pic": thumb_only}]),
        mention(3, original_pic="https://wx1.sinaimg.cn/large/not-an-image.jpg"),
        mention(4, original_pic="https://wx1.sinaimg.cn/large/gone.jpg"),
    ]
    assert world.channel().poll().created == 4
    photos = {world.ledger.record(s.idstr).ticket_id: s.number for s in world.api.statuses}
    with_photo = sorted(photos[t.id] - 5_061_874_203_100_000 for t in world.tickets() if t.photo)
    assert with_photo == [1, 2]
    assert len(world.desk.photos.objects) == 4  # display copy and thumbnail of each


def test_empty_mentions_and_reposts_of_our_own_posts_are_skipped_with_a_reason(world, caplog):
    own_post = {"idstr": "5061700000000001", "created_at": "Mon Nov 23 10:00:00 +0800 2026", "text": "通知"}
    own_post["user"] = {"idstr": "7751234567", "screen_name": ACCOUNT}
    world.api.statuses = [
        mention(1, text=" "),
        mention(2, text="转发微博", retweeted_status=own_post),
        mention(3),
    ]
    with caplog.at_level(logging.INFO, logger="complaints"):
        outcome = world.channel().poll()
    assert (outcome.created, outcome.skipped, outcome.skip_reasons) == (1, 2, {"empty": 1, "repost_of_own_post": 1})
    assert world.ledger.cursor() == mention(3).idstr and len(world.api.comments) == 1
    assert {r.reason for r in caplog.records if r.getMessage() == "Weibo mention skipped"} == {
        "empty",
        "repost_of_own_post",
    }


def test_a_malformed_mention_is_skipped_counted_and_logged_by_its_id_alone(world, caplog):
    bad = MalformedMention(idstr=mention(2).idstr)
    world.api.statuses = [mention(1), bad, mention(3)]
    with caplog.at_level(logging.INFO, logger="complaints"):
        outcome = world.channel().poll()
    assert (outcome.created, outcome.malformed, outcome.skip_reasons, outcome.stopped) == (2, 1, {"malformed": 1}, None)
    assert world.ledger.cursor() == mention(3).idstr and world.ledger.record(bad.idstr).reason == "malformed"
    (logged,) = [r for r in caplog.records if "malformed" in r.getMessage()]
    assert logged.mention_id == bad.idstr
    world.api.statuses.append(mention(4))
    later = world.channel().poll()
    assert (later.created, later.malformed, later.stopped) == (1, 0, None)


def test_statuses_without_a_usable_id_are_counted_and_hold_nothing_up(world):
    world.api.statuses = [mention(1)]
    world.api.unidentified = 2
    outcome = world.channel().poll()
    assert (outcome.created, outcome.malformed, outcome.stopped) == (1, 2, None)


def test_a_mention_whose_author_is_gone_keeps_the_mention_as_its_contact(world):
    world.api.statuses = [mention(1, user=None)]
    world.channel().poll()
    (ticket,) = world.tickets()
    assert world.desk.contacts.open(ticket.id, ticket.contact_sealed) == {"weibo_mention": mention(1).idstr}


def test_the_citizens_weibo_id_and_the_token_reach_no_log_and_no_public_view(world, caplog):
    world.api.statuses = [mention(7)]
    with caplog.at_level(logging.DEBUG):
        world.channel().poll()
    (ticket,) = world.tickets()
    uid = world.desk.contacts.open(ticket.id, ticket.contact_sealed)["weibo_uid"]
    logged = "\n".join(
        f"{r.getMessage()} {json.dumps(r.__dict__, default=str, ensure_ascii=False)}" for r in caplog.records
    )
    assert uid not in logged and "市民7" not in logged
    assert uid not in json.dumps(ticket.to_public())


# ------------------------------------------------- comments queued later
def ticketed(world, n: int = 1):
    """A mention made a ticket, its ticket-number reply posted: as the messenger finds it when the agency answers."""
    world.api.statuses.append(mention(n))
    world.channel().poll()
    record = world.ledger.record(mention(n).idstr)
    return mention(n).idstr, record.ticket_id, record.ticket_no


def test_a_comment_is_queued_once_per_key_and_posted_by_the_next_run(world, city):
    mention_id, ticket_id, ticket_no = ticketed(world)
    text = answer_comment(ticket_no, "已责令工厂停产整改。", city)
    assert world.ledger.queue_comment(mention_id, f"{ticket_id}#answer-1", text, ticket_no, now=world.clock.t)
    # The messenger's request delivered again, even with another text: nothing more is queued.
    assert not world.ledger.queue_comment(mention_id, f"{ticket_id}#answer-1", text + "!", ticket_no, world.clock.t)
    outcome = world.channel().poll()
    assert (outcome.replies_sent, world.api.comments[-1]) == (1, (mention_id, text))
    assert world.ledger.comment_state(f"{ticket_id}#answer-1") == "sent"
    # Redelivered after it was posted: still remembered, never posted twice.
    assert not world.ledger.queue_comment(mention_id, f"{ticket_id}#answer-1", text, ticket_no, world.clock.t)
    assert world.channel().poll().replies_sent == 0
    assert [t for _, t in world.api.comments].count(text) == 1
    # Another key is another comment.
    closed = closed_comment(ticket_no, city)
    assert world.ledger.queue_comment(mention_id, f"{ticket_id}#closed", closed, ticket_no, world.clock.t)
    world.channel().poll()
    assert world.api.comments[-1] == (mention_id, closed) and len(world.api.comments) == 3


def test_a_tickets_number_is_posted_before_the_comments_queued_about_it(world, city):
    world.api.statuses = [mention(1)]
    world.api.errors["comment"] = [WeiboUnavailable("HTTP 503")] * 3  # the first reply waits for a later run
    world.channel().poll()
    mention_id, record = mention(1).idstr, world.ledger.record(mention(1).idstr)
    world.clock.t += 3600
    world.ledger.queue_comment(mention_id, f"{record.ticket_id}#closed", "已办结", record.ticket_no, world.clock.t)
    assert world.channel().poll().replies_sent == 2
    assert [text for _, text in world.api.comments] == [reply_text(record.ticket_no, city), "已办结"]


def test_only_the_mention_of_that_ticket_takes_a_comment_and_nothing_weibo_would_refuse(world):
    mention_id, ticket_id, ticket_no = ticketed(world)
    world.api.statuses.append(mention(2, text=" "))  # skipped: no ticket
    world.channel().poll()
    for args in ((mention(2).idstr, ticket_no), (mention(3).idstr, ticket_no), (mention_id, ticket_no + 1)):
        with pytest.raises(UnknownMention):
            world.ledger.queue_comment(args[0], "k", "已答复", args[1], world.clock.t)
    for key, text in (("k", "长" * 141), ("k", " "), ("", "已答复"), ("k k", "已答复"), ("k", "\ud83d")):
        with pytest.raises(ValueError):
            world.ledger.queue_comment(mention_id, key, text, ticket_no, world.clock.t)
    assert world.ledger.pending_replies() == [] and world.ledger.comments == {}


def test_two_messengers_queueing_the_same_key_at_once_queue_it_once(world):
    mention_id, ticket_id, ticket_no = ticketed(world)
    start = threading.Barrier(8)

    def queue(i: int) -> bool:
        start.wait()
        return world.ledger.queue_comment(mention_id, f"{ticket_id}#answer-1", f"答复{i}", ticket_no, world.clock.t)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(queue, range(8)))
    assert results.count(True) == 1
    (pending,) = world.ledger.pending_replies()
    assert pending.text == f"答复{results.index(True)}"


def test_a_failing_comment_is_retried_with_growing_delays_then_abandoned_and_the_key_kept(world):
    mention_id, ticket_id, ticket_no = ticketed(world)
    key = f"{ticket_id}#answer-1"
    world.ledger.queue_comment(mention_id, key, "已答复", ticket_no, now=world.clock.t)
    world.api.errors["comment"] = [WeiboRejected("system busy", 20019)] * 3
    channel = world.channel(max_reply_attempts=3, reply_backoff_s=60)
    assert channel.poll().replies_failed == 1
    (pending,) = world.ledger.pending_replies()
    assert (pending.key, pending.attempts, pending.next_at) == (key, 1, world.clock.t + 60)
    assert channel.poll().replies_failed == 0  # not due yet
    world.clock.t += 60
    channel.poll()
    assert world.ledger.pending_replies()[0].next_at == world.clock.t + 120
    world.clock.t += 120
    assert channel.poll().replies_abandoned == 1
    assert world.ledger.pending_replies() == [] and world.ledger.comment_state(key) == "abandoned"
    assert world.ledger.abandoned == {f"comment#{key}": "system busy (error_code 20019)"}
    assert not world.ledger.queue_comment(mention_id, key, "已答复", ticket_no, world.clock.t)  # abandoned is done
    assert len(world.api.comments) == 1  # the ticket's number only


def test_weibo_down_holds_queued_comments_for_a_later_run(world):
    mention_id, ticket_id, ticket_no = ticketed(world)
    for key in ("a", "b"):
        world.ledger.queue_comment(mention_id, f"{ticket_id}#{key}", key, ticket_no, now=world.clock.t)
    world.api.errors["comment"] = [WeiboUnavailable("HTTP 502")] * 3
    outcome = world.channel().poll()
    assert (outcome.replies_failed, outcome.stopped, len(world.ledger.pending_replies())) == (1, None, 2)
    world.clock.t += 3600
    assert world.channel().poll().replies_sent == 2
    assert [t for _, t in world.api.comments[1:]] == ["b", "a"]  # b was due first: a had failed once
