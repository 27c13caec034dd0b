"""The web ACL in front of the API stage, as the local gateway enforces it: its per-address rate rules.

WAF counts every request from an address over the rule's window (the blocked ones too) and blocks the address
while that count is above the limit; so does `RateLimiter`. The limit, the window and the answer (status, content
type, body) are read from template.yaml, resolved with the stack's parameters (`--parameter PerIpRequestsPer5Min=…`).
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from complaints_tools.local.template import Template

# WAF's names for the content types of custom response bodies.
CONTENT_TYPES = {
    "APPLICATION_JSON": "application/json",
    "TEXT_PLAIN": "text/plain; charset=utf-8",
    "TEXT_HTML": "text/html; charset=utf-8",
}


@dataclass
class RateRule:
    name: str
    limit: int
    window_s: int
    status: int
    content_type: str
    body: bytes


def rate_rules(tpl: Template) -> list[RateRule]:
    """The rate-based rules of the web ACLs associated with the API; other kinds of rule are refused."""
    rules = []
    for acl in tpl.of_type("AWS::WAFv2::WebACL").values():
        props = acl["Properties"]
        bodies = props.get("CustomResponseBodies", {})
        for rule in props.get("Rules", []):
            rate = rule["Statement"].get("RateBasedStatement")
            if rate is None or rate.get("AggregateKeyType") != "IP" or "ScopeDownStatement" in rate:
                raise NotImplementedError(f"the local gateway cannot enforce the WAF rule {rule['Name']}")
            response = rule["Action"]["Block"].get("CustomResponse", {})
            body = bodies.get(response.get("CustomResponseBodyKey"), {})
            rules.append(
                RateRule(
                    name=rule["Name"],
                    limit=int(tpl.resolve(rate["Limit"])),
                    window_s=int(rate.get("EvaluationWindowSec", 300)),
                    status=int(response.get("ResponseCode", 403)),
                    content_type=CONTENT_TYPES[body.get("ContentType", "TEXT_PLAIN")],
                    body=str(body.get("Content", "")).encode("utf-8"),
                )
            )
    return rules


@dataclass
class RateLimiter:
    rule: RateRule
    clock: object = time.monotonic
    _seen: dict[str, deque[float]] = field(default_factory=dict)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def blocks(self, address: str) -> bool:
        """Count this request from `address`; True if the address is now over the limit."""
        now = self.clock()
        with self._lock:
            # The newest limit + 1 requests are all that matter: the address is over the limit when the oldest
            # of them is still inside the window.
            seen = self._seen.setdefault(address, deque(maxlen=self.rule.limit + 1))
            seen.append(now)
            return len(seen) > self.rule.limit and now - seen[0] < self.rule.window_s


def highest_limits(root: Path) -> list[str]:
    """`complaints run` arguments raising each rate rule's limit to its parameter's MaxValue: for the tests and the
    load test, which send everything from one address."""
    tpl = Template.load(Path(root) / "template.yaml")
    args = []
    for acl in tpl.of_type("AWS::WAFv2::WebACL").values():
        for rule in acl["Properties"].get("Rules", []):
            name = rule["Statement"]["RateBasedStatement"]["Limit"]["Ref"]
            args += ["--parameter", f"{name}={tpl.doc['Parameters'][name]['MaxValue']}"]
    return args
