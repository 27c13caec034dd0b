"""The local gateway holds each client address to the web ACL's rate rule, read from template.yaml."""

from __future__ import annotations

import json
from pathlib import Path

from complaints_tools.local.template import Template
from complaints_tools.local.waf import RateLimiter, rate_rules

ROOT = Path(__file__).resolve().parents[2]


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_the_rule_is_the_templates_with_its_parameter_and_answers_429_rate_limited():
    (default,) = rate_rules(Template.load(ROOT / "template.yaml"))
    assert default.limit == Template.load(ROOT / "template.yaml").doc["Parameters"]["PerIpRequestsPer5Min"]["Default"]
    (rule,) = rate_rules(Template.load(ROOT / "template.yaml", parameters={"PerIpRequestsPer5Min": "10"}))
    assert (rule.limit, rule.window_s, rule.status, rule.content_type) == (10, 300, 429, "application/json")
    assert json.loads(rule.body)["error"]["code"] == "rate_limited"


def test_an_address_over_the_limit_is_blocked_until_its_last_five_minutes_are_under_it_again():
    (rule,) = rate_rules(Template.load(ROOT / "template.yaml", parameters={"PerIpRequestsPer5Min": "10"}))
    clock = Clock()
    limiter = RateLimiter(rule, clock=clock)
    answers = []
    for _ in range(12):
        answers.append(limiter.blocks("203.0.113.7"))
        clock.now += 1
    assert answers == [False] * 10 + [True, True]
    assert limiter.blocks("198.51.100.2") is False  # another citizen is not held back
    # An address that keeps sending stays blocked: its blocked requests count too, as WAF counts them.
    still = []
    for _ in range(600):
        still.append(limiter.blocks("203.0.113.7"))
        clock.now += 1
    assert all(still)
    clock.now += 300  # five quiet minutes
    assert limiter.blocks("203.0.113.7") is False


def test_the_test_suite_and_the_load_test_raise_the_limit_to_the_highest_waf_allows():
    from complaints_tools.local.waf import highest_limits

    assert highest_limits(ROOT) == ["--parameter", "PerIpRequestsPer5Min=2000000000"]
    (rule,) = rate_rules(Template.load(ROOT / "template.yaml", parameters={"PerIpRequestsPer5Min": "2000000000"}))
    assert rule.limit == 2_000_000_000
