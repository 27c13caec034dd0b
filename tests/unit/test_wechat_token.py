from __future__ import annotations

import pytest

from complaints.adapters.memory import MemoryTokenStore
from complaints.domain.wechat import WechatTokenRejected
from complaints.domain.wechat_token import TokenKeeper


class Api:
    """WeChat's token endpoint: each fetch issues a new token; `valid` is the one WeChat accepts."""

    def __init__(self) -> None:
        self.fetches = 0
        self.valid: str | None = None

    def fetch_token(self, force: bool = False) -> tuple[str, int]:
        self.fetches += 1
        self.valid = f"token-{self.fetches}"
        return self.valid, 7200

    def send(self, token: str) -> str:
        if token != self.valid:
            raise WechatTokenRejected("access token expired", 42001)
        return "sent"


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def keeper(api: Api, store: MemoryTokenStore, clock: Clock) -> TokenKeeper:
    return TokenKeeper(api=api, store=store, clock=clock)


def test_the_first_call_fetches_one_token_and_later_calls_reuse_it():
    api, store, clock = Api(), MemoryTokenStore(), Clock()
    k = keeper(api, store, clock)
    assert [k.call(api.send) for _ in range(3)] == ["sent"] * 3
    assert api.fetches == 1


def test_a_rejected_token_is_refreshed_once_and_the_call_retried():
    api, store, clock = Api(), MemoryTokenStore(), Clock()
    k = keeper(api, store, clock)
    k.call(api.send)
    api.valid = "revoked"  # WeChat expired the token early
    assert k.call(api.send) == "sent"
    assert api.fetches == 2


def test_a_token_refreshed_by_another_caller_is_used_instead_of_fetching_again():
    api, store, clock = Api(), MemoryTokenStore(), Clock()
    first, second = keeper(api, store, clock), keeper(api, store, clock)
    first.call(api.send)
    second.call(api.send)
    api.valid = "revoked"
    first.call(api.send)  # refreshes: version 2
    assert second.call(api.send) == "sent"  # its cached token is rejected; it finds version 2 in the store
    assert api.fetches == 2


def test_the_refresher_renews_only_when_less_than_forty_minutes_remain():
    api, store, clock = Api(), MemoryTokenStore(), Clock()
    k = keeper(api, store, clock)
    assert k.refresh_if_due() is True
    clock.now += 7200 - 2400 - 60
    assert k.refresh_if_due() is False
    clock.now += 120
    assert k.refresh_if_due() is True
    assert api.fetches == 2


def test_a_call_still_rejected_after_one_refresh_raises():
    api, store, clock = Api(), MemoryTokenStore(), Clock()
    k = keeper(api, store, clock)

    def always_rejected(token: str) -> str:
        raise WechatTokenRejected("invalid credential", 40001)

    with pytest.raises(WechatTokenRejected):
        k.call(always_rejected)
    assert api.fetches == 2


# ------------------------------------------------------------------ the token item in DynamoDB (moto)
@pytest.fixture()
def dynamo_store(aws_credentials):
    from pathlib import Path

    from moto import mock_aws

    from complaints.adapters.wechat.token_store import DynamoTokenStore
    from complaints_tools.local.resources import create_all
    from complaints_tools.local.template import Template

    with mock_aws():
        tpl = Template.load(Path(__file__).resolve().parents[2] / "template.yaml")
        create_all(tpl)
        yield DynamoTokenStore(tpl.physical["TicketsTable"]["Ref"])


def test_the_stored_token_changes_only_from_the_version_its_writer_saw(dynamo_store):
    assert dynamo_store.current() is None
    assert dynamo_store.replace("t1", 1_007_200.0, None) is True
    assert dynamo_store.replace("other", 1_007_200.0, None) is False  # a second first writer loses
    stored = dynamo_store.current()
    assert (stored.token, stored.version) == ("t1", 1)
    assert dynamo_store.replace("t2", 1_014_400.0, 1) is True
    assert dynamo_store.replace("stale", 1_014_400.0, 1) is False
    assert dynamo_store.current().token == "t2"


def test_two_keepers_over_dynamodb_share_one_refresh_of_a_rejected_token(dynamo_store):
    api, clock = Api(), Clock()
    first, second = TokenKeeper(api, dynamo_store, clock=clock), TokenKeeper(api, dynamo_store, clock=clock)
    first.call(api.send), second.call(api.send)
    api.valid = "revoked"
    assert first.call(api.send) == "sent"
    assert second.call(api.send) == "sent"
    assert api.fetches == 2
    assert dynamo_store.current().version == 2
