"""Configuration a function reads at init: what is wrong fails there, loudly, and never repeats a secret."""

from __future__ import annotations

import pytest

from complaints.wiring import Settings

SECRET = "2.00Abc-secret-token"


@pytest.fixture()
def env(monkeypatch):
    monkeypatch.setenv("TICKETS_TABLE", "tickets")
    monkeypatch.setenv("CITY_CONFIG", "city/ruian.toml")
    monkeypatch.setenv("MEDIA_FETCH_HOSTS", "*.sinaimg.cn")
    return monkeypatch


@pytest.mark.parametrize(
    "base",
    [
        "http://api.weibo.com/2",  # the token would cross the internet in clear
        "https:///2",
        "api.weibo.com/2",
        f"https://api.weibo.com/2?access_token={SECRET}",
        f"https://api.weibo.com/2#{SECRET}",
        f"https://{SECRET}@api.weibo.com/2",
        f"https://app:{SECRET}@api.weibo.com/2",
        "https://api.weibo.com:port/2",
        f"http://10.0.0.8:8090/2?{SECRET}",
    ],
)
def test_a_misconfigured_weibo_api_base_fails_at_init_without_repeating_it(env, base):
    env.setenv("WEIBO_API_BASE", base)
    with pytest.raises(RuntimeError, match="WEIBO_API_BASE") as failed:
        Settings.from_env("weibo_api_base")
    assert SECRET not in str(failed.value) and base not in str(failed.value)


@pytest.mark.parametrize("base", ["https://api.weibo.com/2", "http://127.0.0.1:8090/2", "http://[::1]:8090/2"])
def test_weibos_https_base_and_the_local_fakes_loopback_base_are_accepted(env, base):
    env.setenv("WEIBO_API_BASE", base)
    assert Settings.from_env("weibo_api_base").weibo_api_base == base


@pytest.mark.parametrize("hosts", ["", "*", "*.sinaimg.cn,10.0.0.1", "http://10.0.0.1:80", "http://127.0.0.1"])
def test_a_malformed_media_allow_list_fails_at_init(env, hosts):
    env.setenv("MEDIA_FETCH_HOSTS", hosts)
    with pytest.raises(RuntimeError, match="MEDIA_FETCH_HOSTS"):
        Settings.from_env()


def test_the_media_allow_list_is_parsed_once_at_init(env):
    env.setenv("MEDIA_FETCH_HOSTS", "*.sinaimg.cn, http://127.0.0.1:8090")
    policy = Settings.from_env("media_fetch_hosts").media_fetch_hosts
    assert policy.admits("https", "wx3.sinaimg.cn", 443) and policy.admits("http", "127.0.0.1", 8090)
    env.delenv("MEDIA_FETCH_HOSTS")
    with pytest.raises(RuntimeError, match="missing environment variables: MEDIA_FETCH_HOSTS"):
        Settings.from_env("media_fetch_hosts")
