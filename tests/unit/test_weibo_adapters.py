"""Weibo adapters for real: the ledger in DynamoDB (moto, table from template.yaml), the HTTP client against the
fake Weibo server over loopback, and the token from an SSM SecureString through Powertools Parameters."""

from __future__ import annotations

import json
import threading
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from aws_lambda_powertools.utilities.parameters import SSMProvider
from moto import mock_aws

from complaints.adapters.fetch import FetchPolicy
from complaints.adapters.weibo.dynamo import DynamoMentionLedger
from complaints.adapters.weibo.http import WEIBO_PICTURE_HOSTS, WeiboHttpApi, picture_fetcher
from complaints.domain.weibo import (
    PictureUnavailable,
    UnknownMention,
    WeiboRateLimited,
    WeiboRejected,
    WeiboTokenInvalid,
    WeiboUnavailable,
)
from complaints.wiring import weibo_token
from complaints_tools.fake_weibo import FakeWeibo
from complaints_tools.local.resources import create_all
from complaints_tools.local.template import Template

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture()
def ledger(aws_credentials):
    with mock_aws():
        tpl = Template.load(ROOT / "template.yaml")
        create_all(tpl)
        yield DynamoMentionLedger(tpl.physical["TicketsTable"]["Ref"])


@pytest.fixture(scope="module")
def fake():
    server = FakeWeibo().start()
    yield server
    server.stop()


@pytest.fixture()
def api(fake):
    fake.reset()
    tokens: list[bool] = []

    def token(force: bool) -> str:
        tokens.append(force)
        return fake.token

    # As the local stack configures it: Weibo's picture hosts and the fake's exact origin.
    pictures = picture_fetcher(FetchPolicy.parse(f"{WEIBO_PICTURE_HOSTS},{fake.url}"))
    client = WeiboHttpApi(fake.api_base, token, timeout_s=0.5, pictures=pictures)
    client.tokens_asked = tokens
    return client


def control(fake: FakeWeibo, path: str, body=None):
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(fake.url + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(req, timeout=5) as r:
        return json.loads(r.read())


# ------------------------------------------------------------------ ledger
def test_cursor_only_moves_forward_and_keeps_all_64_bits(ledger):
    assert ledger.cursor() is None
    ledger.advance("5061874203100037")
    ledger.advance("9223372036854775807")
    ledger.advance("5061874203100074")  # an overlapping, slower run
    assert ledger.cursor() == "9223372036854775807"


def test_a_claim_is_exclusive_until_its_lease_expires_and_keeps_the_ticket_id_it_chose(ledger):
    assert ledger.claim("1", "a" * 32, now=1000.0, lease_s=120) == "a" * 32
    assert ledger.claim("1", "b" * 32, now=1100.0, lease_s=120) is None
    assert ledger.record("1").ticket_id == "a" * 32
    # Taken over after its lease: the first run may have created ticket aaa…, so the id stays.
    assert ledger.claim("1", "c" * 32, now=1121.0, lease_s=120) == "a" * 32
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1122.0)
    assert ledger.claim("1", "d" * 32, now=99999.0, lease_s=120) is None  # done is done


def test_ticketing_queues_exactly_one_reply_even_when_repeated(ledger):
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1000.0)
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1001.0)
    (pending,) = ledger.pending_replies()
    assert (pending.mention_id, pending.ticket_no, pending.attempts, pending.next_at) == ("1", 10001, 0, 1000.0)
    ledger.reply_failed("1", attempts=1, next_at=1060.0)
    assert ledger.pending_replies()[0].next_at == 1060.0
    ledger.reply_sent("1", now=1061.0)
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1062.0)  # a rerun after the reply went out
    assert ledger.pending_replies() == []
    assert ledger.record("1").state == "ticketed"


def test_skips_and_abandoned_replies_are_recorded(ledger):
    ledger.mark_skipped("2", "empty", now=1.0)
    assert (ledger.record("2").state, ledger.record("2").reason) == ("skipped", "empty")
    ledger.mark_ticketed("3", "b" * 32, 10002, now=1.0)
    ledger.reply_abandoned("3", "target weibo does not exist (error_code 20101)", now=2.0)
    assert ledger.pending_replies() == []


def item(ledger, pk: str) -> dict:
    return ledger.table.get_item(Key={"pk": pk}, ConsistentRead=True).get("Item") or {}


def test_a_comment_is_queued_once_per_key_and_the_key_outlives_its_posting(ledger):
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1000.0)
    ledger.reply_sent("1", now=1001.0)
    key = "a" * 32 + "#answer-1"
    assert ledger.queue_comment("1", key, "已有部门答复", 10001, now=2000.0) is True
    assert ledger.queue_comment("1", key, "另一个文本", 10001, now=2001.0) is False
    ledger.mark_ticketed("2", "b" * 32, 10002, now=2002.0)
    # One GetItem finds both kinds: the ticket-number reply and the queued comment.
    assert sorted((p.entry, p.mention_id, p.text, p.key, p.next_at) for p in ledger.pending_replies()) == [
        ("2", "2", None, None, 2002.0),
        (f"comment#{key}", "1", "已有部门答复", key, 2000.0),
    ]
    comment = next(p for p in ledger.pending_replies() if p.key)
    ledger.reply_failed(comment.entry, attempts=1, next_at=2060.0)
    assert next(p for p in ledger.pending_replies() if p.key).attempts == 1
    ledger.reply_sent(comment.entry, now=2061.0)
    assert [p.entry for p in ledger.pending_replies()] == ["2"]
    # Recorded with the comment, not as if it were the mention's first reply.
    assert item(ledger, "weibo#1")["replied_at"] == 1001
    assert (ledger.comment_state(key), item(ledger, f"weibo#comment#{key}")["sent_at"]) == ("sent", 2061)
    assert ledger.queue_comment("1", key, "已有部门答复", 10001, now=3000.0) is False  # redelivered later
    assert [p.entry for p in ledger.pending_replies()] == ["2"]


def test_an_abandoned_comment_is_recorded_with_its_key_and_not_on_the_mention(ledger):
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1000.0)
    ledger.queue_comment("1", "k#closed", "已办结", 10001, now=1000.0)
    ledger.reply_abandoned("comment#k#closed", "target weibo does not exist (error_code 20101)", now=2000.0)
    assert [p.entry for p in ledger.pending_replies()] == ["1"]
    remembered = item(ledger, "weibo#comment#k#closed")
    assert (remembered["state"], remembered["reply_error"][:6]) == ("abandoned", "target")
    assert "reply_error" not in item(ledger, "weibo#1")
    assert ledger.queue_comment("1", "k#closed", "已办结", 10001, now=3000.0) is False


def test_a_comment_goes_only_under_its_tickets_mention_and_refused_ones_write_nothing(ledger):
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1000.0)
    ledger.mark_skipped("2", "empty", now=1.0)
    for mention_id, ticket_no in (("2", 10001), ("3", 10001), ("1", 10002)):
        with pytest.raises(UnknownMention):
            ledger.queue_comment(mention_id, "k", "已答复", ticket_no, now=1.0)
    with pytest.raises(ValueError):
        ledger.queue_comment("1", "k", "长" * 141, 10001, now=1.0)
    assert [p.entry for p in ledger.pending_replies()] == ["1"]
    # Everything the ledger writes is under weibo#: the function's IAM condition (and the messenger's) allows no more.
    pks = [i["pk"] for i in ledger.table.scan()["Items"]]
    assert pks and all(pk.startswith("weibo#") for pk in pks)


def _serialised(ledger):
    """DynamoDB runs the transactions on one item one at a time; moto does not (it checks, then writes, unlocked)."""
    lock, transact = threading.Lock(), ledger.client.transact_write_items

    def one_at_a_time(**kwargs):
        with lock:
            return transact(**kwargs)

    ledger.client.transact_write_items = one_at_a_time


def test_messengers_racing_on_one_key_queue_one_comment(ledger):
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1000.0)
    _serialised(ledger)
    start = threading.Barrier(8)

    def queue(i: int) -> bool:
        start.wait()
        return ledger.queue_comment("1", "a#answer-1", f"答复{i}", 10001, now=2000.0 + i)

    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(queue, range(8)))
    assert results.count(True) == 1
    (comment,) = [p for p in ledger.pending_replies() if p.key]
    assert comment.text == f"答复{results.index(True)}"


def test_the_loser_of_a_race_learns_it_from_the_condition_not_from_an_earlier_read(ledger):
    """The first messenger gets as far as its write; the second queues the key in full; then the first writes."""
    ledger.mark_ticketed("1", "a" * 32, 10001, now=1000.0)
    transact, first_at_write, second_done = ledger.client.transact_write_items, threading.Event(), threading.Event()

    def held(**kwargs):
        if threading.current_thread().name == "first":
            first_at_write.set()
            second_done.wait(5)
        return transact(**kwargs)

    ledger.client.transact_write_items = held
    results = {}
    first = threading.Thread(
        name="first", target=lambda: results.update(first=ledger.queue_comment("1", "k", "一", 10001, now=1.0))
    )
    first.start()
    assert first_at_write.wait(5)
    results["second"] = ledger.queue_comment("1", "k", "二", 10001, now=2.0)
    second_done.set()
    first.join(5)
    assert results == {"second": True, "first": False}
    assert [p.text for p in ledger.pending_replies() if p.key] == ["二"]


def test_a_transaction_conflict_is_tried_again(ledger, monkeypatch):
    from botocore.exceptions import ClientError

    ledger.mark_ticketed("1", "a" * 32, 10001, now=1000.0)
    transact, calls = ledger.client.transact_write_items, []
    conflict = {
        "Error": {"Code": "TransactionCanceledException", "Message": "Transaction cancelled"},
        "CancellationReasons": [{"Code": "None"}, {"Code": "TransactionConflict"}],
    }

    def conflicting_once(**kwargs):
        calls.append(kwargs["ClientRequestToken"])
        if len(calls) == 1:
            raise ClientError(conflict, "TransactWriteItems")
        return transact(**kwargs)

    ledger.client.transact_write_items = conflicting_once
    monkeypatch.setattr("complaints.adapters.weibo.dynamo.time.sleep", lambda s: None)
    assert ledger.queue_comment("1", "k", "已答复", 10001, now=1.0) is True
    assert len(calls) == 2 and calls[0] == calls[1]  # the same request: idempotent if the first did land


# -------------------------------------------------------------------- HTTP
def test_mentions_page_backwards_with_since_id_and_max_id(api, fake):
    everything = api.mentions(None, None, 200).statuses
    ids = [s.idstr for s in everything]
    assert ids == sorted(ids, key=int, reverse=True) and len(ids) == len(fake.statuses)
    page = api.mentions(ids[-1], ids[2], 3).statuses  # since the oldest, at most the third newest
    assert [s.idstr for s in page] == ids[2:5]
    with_geo = next(s for s in everything if s.geo)
    assert with_geo.location is not None and 27 < with_geo.location.lat < 28


def test_a_64_bit_id_survives_the_round_trip(api, fake):
    big = {**fake.statuses[0], "id": 9223372036854775807, "idstr": "9223372036854775807", "mid": "9223372036854775807"}
    fake.add_mention(big)
    (newest,) = api.mentions(None, None, 1).statuses
    assert newest.idstr == "9223372036854775807"
    api.comment(newest.idstr, "已收到，问题编号10001")
    assert fake.comments[-1]["status"]["idstr"] == "9223372036854775807"


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ({"error_code": 10022}, WeiboRateLimited),
        ({"error_code": 10023}, WeiboRateLimited),
        ({"error_code": 10024}, WeiboRateLimited),
        ({"error_code": 21327}, WeiboTokenInvalid),
        ({"error_code": 21332}, WeiboTokenInvalid),
        ({"status": 503}, WeiboUnavailable),
        ({"status": 502}, WeiboUnavailable),
        ({"delay_s": 2.0}, WeiboUnavailable),  # slower than the client's timeout
        ({"error_code": 20101}, WeiboRejected),
    ],
)
def test_weibo_errors_map_to_the_domain_error_classes(api, fake, fault, error):
    control(fake, "/_fake/faults", {"path": "mentions", **fault})
    with pytest.raises(error) as raised:
        api.mentions(None, None, 20)
    assert fake.token not in str(raised.value)
    assert len(api.mentions(None, None, 20).statuses) > 0  # the fault was one-off


def test_a_malformed_mention_is_marked_and_the_rest_of_the_page_still_arrives(api, fake):
    good = fake.mentions({})["statuses"][:2]
    nested = good[1]
    for _ in range(500):  # a repost of a repost of …: deeper than any validator should follow
        nested = {**good[1], "idstr": "5061874203199998", "retweeted_status": nested}
    answer = {
        "statuses": [
            good[0],
            {"idstr": "5061874203199999", "text": "no created_at", "user": {"screen_name": "x"}},
            {"idstr": "not-a-number", "created_at": "Tue Nov 24 09:12:00 +0800 2026"},
            nested,
            good[1],
        ]
    }
    control(fake, "/_fake/faults", {"path": "mentions", "body": json.dumps(answer)})
    page = api.mentions(None, None, 20)
    assert [(type(s).__name__, s.idstr) for s in page.statuses] == [
        ("WeiboStatus", good[0]["idstr"]),
        ("MalformedMention", "5061874203199999"),
        ("MalformedMention", "5061874203199998"),
        ("WeiboStatus", good[1]["idstr"]),
    ]
    assert page.unidentified == 1


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("[" * 50_000 + "]" * 50_000, "nested too deeply"),
        ('{"statuses": [' + "{}," * 50_000 + "{}]}", "larger than 120000 bytes"),
    ],
)
def test_an_answer_too_deep_or_too_large_is_refused_without_a_crash(fake, body, why):
    api = WeiboHttpApi(fake.api_base, lambda force: fake.token, timeout_s=2, max_answer_bytes=120_000)
    control(fake, "/_fake/faults", {"path": "mentions", "body": body})
    with pytest.raises(WeiboRejected, match=why):
        api.mentions(None, None, 20)
    assert api.mentions(None, None, 20).statuses


def test_an_api_redirect_is_an_error_and_is_not_followed(api, fake):
    elsewhere = f"{fake.api_base}/statuses/mentions.json?count=1"
    control(fake, "/_fake/faults", {"path": "mentions", "status": 302, "location": elsewhere})
    with pytest.raises(WeiboRejected, match="HTTP 302"):
        api.mentions(None, None, 20)
    assert control(fake, "/_fake/requests") == ["mentions"]  # nothing asked where the redirect pointed


def test_a_rejected_token_is_fetched_afresh_next_time(api, fake):
    control(fake, "/_fake/faults", {"path": "mentions", "error_code": 21327})
    with pytest.raises(WeiboTokenInvalid):
        api.mentions(None, None, 20)
    api.mentions(None, None, 20)
    api.mentions(None, None, 20)
    assert api.tokens_asked == [False, True, False]


def test_comments_are_recorded_and_the_140_character_limit_is_enforced(api, fake):
    target = fake.statuses[0]["idstr"]
    api.comment(target, "您好，已收到您的反映，问题编号10001")
    with pytest.raises(WeiboRejected):
        api.comment(target, "长" * 141)
    with pytest.raises(WeiboRejected):
        api.comment("1", "已收到")  # no such status
    assert [c["text"] for c in control(fake, "/_fake/comments")] == ["您好，已收到您的反映，问题编号10001"]


def test_pictures_are_bounded_in_size(api, fake):
    assert api.picture(f"{fake.url}/sinaimg/large/a.jpg").startswith(b"\xff\xd8\xff")
    with pytest.raises(PictureUnavailable, match="larger than"):
        api.picture(f"{fake.url}/sinaimg/large/huge-1.jpg")
    with pytest.raises(PictureUnavailable):
        api.picture(f"{fake.url}/sinaimg/nosuchsize/a.jpg")
    with pytest.raises(PictureUnavailable):
        api.picture("file:///etc/passwd")


def test_weibos_plain_http_picture_links_are_fetched_over_https(fake):
    class Recorder:
        policy = FetchPolicy.parse(WEIBO_PICTURE_HOSTS)
        urls: list[str] = []

        def fetch(self, url: str) -> bytes:
            self.urls.append(url)
            return b"\xff\xd8\xff"

    pictures = Recorder()
    api = WeiboHttpApi(fake.api_base, lambda force: fake.token, pictures=pictures)
    api.picture("http://wx1.sinaimg.cn/large/a.jpg?KID=imgbed")
    api.picture("https://wx2.sinaimg.cn/large/b.jpg")
    assert pictures.urls == ["https://wx1.sinaimg.cn/large/a.jpg?KID=imgbed", "https://wx2.sinaimg.cn/large/b.jpg"]


def test_pictures_come_from_the_fake_weibos_exact_origin_and_not_another_port_on_its_host(api, fake):
    assert api.picture(f"{fake.url}/sinaimg/large/a.jpg").startswith(b"\xff\xd8\xff")
    other = FakeWeibo().start()  # the same 127.0.0.1, another port: as any other service on the machine
    try:
        with pytest.raises(PictureUnavailable, match="not an https link"):
            api.picture(f"{other.url}/sinaimg/large/a.jpg")
        with pytest.raises(PictureUnavailable, match="not on the media allow-list"):
            api.picture(f"https://127.0.0.1:{other.port}/sinaimg/large/a.jpg")
    finally:
        other.stop()


# ------------------------------------------------------------------- token
def test_the_token_comes_from_a_secure_string_cached_and_refreshed_on_demand(aws_credentials):
    with mock_aws():
        ssm = boto3.client("ssm")
        ssm.put_parameter(Name="/complaint-desk/weibo/access-token", Value="t1", Type="SecureString")
        token = weibo_token("/complaint-desk/weibo/access-token", SSMProvider())
        assert token(False) == "t1"
        ssm.put_parameter(Name="/complaint-desk/weibo/access-token", Value="t2", Type="SecureString", Overwrite=True)
        assert token(False) == "t1"  # cached: SSM is not asked every run
        assert token(True) == "t2"  # after Weibo rejected the token, the renewed one is used at once
        with pytest.raises(WeiboTokenInvalid, match="/nope"):
            weibo_token("/nope", SSMProvider())(False)


# -------------------------------------------------------------- together
def test_the_fixture_through_real_adapters_gives_one_ticket_and_one_comment_per_complaint(ledger, api, fake, city):
    from test_desk import make_desk

    from complaints.domain.weibo_channel import WeiboChannel

    desk = make_desk(city)
    channel = WeiboChannel(intake=desk.intake, api=api, ledger=ledger, account=city.weibo_account, sleep=lambda s: None)
    first = channel.poll()
    assert (first.created, first.skipped, first.replies_sent) == (7, 2, 7)
    assert first.skip_reasons == {"repost_of_own_post": 1, "empty": 1}
    tickets = list(desk.tickets.items.values())
    assert sum(1 for t in tickets if t.photo) == 3  # four have pictures; one is a hotlink page, not a JPEG
    assert sum(1 for t in tickets if t.location) == 2
    again = WeiboChannel(intake=desk.intake, api=api, ledger=ledger, account=city.weibo_account).poll()
    assert (again.created, again.replies_sent, len(fake.comments)) == (0, 0, 7)
    numbers = sorted(t.ticket_no for t in tickets)
    assert sorted(int(c["text"].split("问题编号")[1][:5]) for c in fake.comments) == numbers


def test_a_comment_queued_in_dynamodb_is_posted_to_weibo_by_the_next_run(ledger, api, fake, city):
    from test_desk import make_desk

    from complaints.domain.weibo import answer_comment
    from complaints.domain.weibo_channel import WeiboChannel

    channel = WeiboChannel(intake=make_desk(city).intake, api=api, ledger=ledger, account=city.weibo_account)
    channel.poll()
    mention_id = fake.comments[0]["status"]["idstr"]
    record = ledger.record(mention_id)
    text = answer_comment(record.ticket_no, "经核查已整改，联系电话13812345678。", city)
    assert ledger.queue_comment(mention_id, f"{record.ticket_id}#answer-1", text, record.ticket_no, now=1.0)
    assert (channel.poll().replies_sent, len(fake.comments)) == (1, 8)
    assert (fake.comments[-1]["status"]["idstr"], fake.comments[-1]["text"]) == (mention_id, text)
    assert "13812345678" not in fake.comments[-1]["text"]
    assert channel.poll().replies_sent == 0


def test_a_malformed_mention_from_weibo_is_skipped_and_later_polls_go_on(ledger, api, fake, city):
    from test_desk import make_desk

    from complaints.domain.weibo_channel import WeiboChannel

    newest = max(int(s["idstr"]) for s in fake.statuses)
    fake.add_mention({"idstr": str(newest + 1), "text": "@瑞网议事厅 没有时间", "user": {"screen_name": "x"}})
    channel = WeiboChannel(intake=make_desk(city).intake, api=api, ledger=ledger, account=city.weibo_account)
    first = channel.poll()
    assert (first.created, first.malformed, first.stopped) == (7, 1, None)
    assert (ledger.record(str(newest + 1)).state, ledger.record(str(newest + 1)).reason) == ("skipped", "malformed")
    assert ledger.cursor() == str(newest + 1)
    fake.add_mention({**fake.statuses[1], "id": newest + 2, "idstr": str(newest + 2)})
    later = channel.poll()
    assert (later.created, later.malformed, later.stopped) == (1, 0, None)


# ------------------------------------------------------------- local stack
def test_the_local_stack_lets_pictures_come_from_its_weibos_exact_origin_only_when_it_is_on_loopback():
    from complaints_tools.local.stack import media_fetch_hosts

    assert media_fetch_hosts("*.sinaimg.cn", "http://127.0.0.1:8090/2") == "*.sinaimg.cn,http://127.0.0.1:8090"
    assert media_fetch_hosts("*.sinaimg.cn", "https://api.weibo.com/2") == "*.sinaimg.cn"


def test_the_local_stack_starts_a_fake_weibo_unless_told_where_weibo_is():
    from complaints_tools.local.stack import weibo_endpoint

    assert weibo_endpoint({"WEIBO_API_BASE": "http://127.0.0.1:9/2", "WEIBO_ACCESS_TOKEN": "t"}) == (
        "http://127.0.0.1:9/2",
        "t",
        None,
    )
    base, token, fake = weibo_endpoint({})
    try:
        statuses = WeiboHttpApi(base, lambda force: token).mentions(None, None, 200).statuses
        assert len(statuses) == len(fake.statuses)
    finally:
        fake.stop()
