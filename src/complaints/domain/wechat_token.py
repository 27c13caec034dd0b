"""WeChat's access token, kept in one place and refreshed by one writer at a time.

The token lives in one stored record (token, expiry, version). Callers read it (cached in memory until shortly
before it expires); a scheduled refresher renews it when less than `refresh_before_s` remains. A call that WeChat
answers with WechatTokenRejected (40001, 42001, 40014) refreshes once — a conditional write on the version it saw,
so concurrent callers do not each fetch a new token — and is retried once. The token is never logged.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol, TypeVar

from complaints.domain.wechat import WechatApi, WechatTokenRejected

T = TypeVar("T")


@dataclass(frozen=True)
class StoredToken:
    token: str
    expires_at: float  # epoch seconds
    version: int


class TokenStore(Protocol):
    def current(self) -> StoredToken | None:
        """The stored token, read consistently, or None before the first refresh."""

    def replace(self, token: str, expires_at: float, expected_version: int | None) -> bool:
        """Store a new token if the stored version is still `expected_version` (None: nothing stored yet)."""


@dataclass
class TokenKeeper:
    api: WechatApi
    store: TokenStore
    # The refresher renews a token with less than this left (WeChat's last 5 minutes overlap old and new).
    refresh_before_s: float = 2400.0
    # A cached token is trusted until this long before its expiry.
    cache_margin_s: float = 300.0
    clock: Callable[[], float] = time.time
    _cached: StoredToken | None = field(default=None, init=False, repr=False)

    def token(self) -> StoredToken:
        now = self.clock()
        if self._cached is not None and self._cached.expires_at - self.cache_margin_s > now:
            return self._cached
        stored = self.store.current()
        if stored is None or stored.expires_at - self.cache_margin_s <= now:
            stored = self._refresh(stored, force=False)
        self._cached = stored
        return stored

    def call(self, fn: Callable[[str], T]) -> T:
        """`fn(access_token)`; on a rejected token, one refresh (shared with concurrent callers) and one retry."""
        seen = self.token()
        try:
            return fn(seen.token)
        except WechatTokenRejected:
            self._cached = None
            fresh = self._refresh(seen, force=True)
            self._cached = fresh
            return fn(fresh.token)

    def refresh_if_due(self) -> bool:
        """The scheduled refresher: renew when less than `refresh_before_s` remains. True if it renewed."""
        stored = self.store.current()
        if stored is not None and stored.expires_at - self.refresh_before_s > self.clock():
            return False
        self._refresh(stored, force=False)
        return True

    def _refresh(self, seen: StoredToken | None, force: bool) -> StoredToken:
        current = self.store.current()
        if current is not None and (seen is None or current.version != seen.version):
            if current.expires_at - self.cache_margin_s > self.clock():
                return current  # somebody else refreshed since we looked: use theirs
            seen = current
        token, expires_in = self.api.fetch_token(force=force)
        expires_at = self.clock() + expires_in
        if self.store.replace(token, expires_at, seen.version if seen else None):
            return StoredToken(token, expires_at, (seen.version if seen else 0) + 1)
        # Lost the race to another writer: theirs is as fresh as ours.
        won = self.store.current()
        return won if won is not None else StoredToken(token, expires_at, 0)
