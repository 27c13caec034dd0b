"""WeChat's deliveries, each handled once: the conversation's reply, the user's item and the draft, stored together.

WeChat waits 5 seconds for an answer and then delivers the same message again, three times in all. Every delivery
has a key (`WechatInbound.dedup_key`: the MsgId, or sender and CreateTime for an event). The first to be handled
commits, in one transaction, the key with the reply it gave, the user's item (under the version it read) and the
draft the conversation submitted, if any. A redelivery finds the key and gives the same reply again, doing nothing
else; two deliveries handled at once cannot both commit, and the loser answers with the winner's reply. A user whose
item changed in between (two of their messages at once) is handled again on the fresh item.

So one message makes at most one draft, and one draft one ticket (desk/wechat_drafts.py).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any, Protocol

from complaints.domain.desk.wechat_conversation import WechatConversation, WechatUser
from complaints.domain.errors import TemporarilyUnavailable
from complaints.domain.wechat import WechatInbound

log = logging.getLogger("complaints")

# Two messages of one user handled at the same moment: the later one is handled again this many times.
MAX_ATTEMPTS = 3


class UserChanged(Exception):
    """The user's item is no longer at the version the handler read."""


class NotSeen:
    """No delivery with this key was handled."""


NOT_SEEN = NotSeen()


class InboxStore(Protocol):
    def reply(self, key: str) -> str | None | NotSeen:
        """The reply given to the delivery with this key (None: "success"), or NOT_SEEN."""

    def user(self, user_key: str) -> WechatUser:
        """The user's item, a fresh one (version 0) for a new user."""

    def commit(self, key: str, reply: str | None, user: WechatUser, draft: dict[str, Any] | None) -> bool:
        """Store the key with its reply, the user (expecting `user.version`) and the draft, all or nothing.
        False if the key was stored meanwhile; UserChanged if the user's version moved."""


class _Unit:
    """The conversation's users and drafts for one delivery: what it would write, held until the commit."""

    def __init__(self, store: InboxStore) -> None:
        self.store = store
        self.user: WechatUser | None = None
        self.draft: dict[str, Any] | None = None

    def get(self, key: str) -> WechatUser:
        return self.store.user(key)

    def put(self, user: WechatUser) -> None:
        self.user = user

    def submit(self, draft: dict[str, Any]) -> None:
        self.draft = draft


@dataclass
class WechatInbox:
    store: InboxStore
    conversation: WechatConversation  # its `users` and `drafts` are replaced per delivery

    def receive(self, msg: WechatInbound) -> str | None:
        """The reply to this delivery: the same for every delivery of one message."""
        key = msg.dedup_key()
        seen = self.store.reply(key)
        if not isinstance(seen, NotSeen):
            log.info("WeChat delivery seen before", extra={"delivery": key})
            return seen
        for _ in range(MAX_ATTEMPTS):
            unit = _Unit(self.store)
            reply = replace(self.conversation, users=unit, drafts=unit).handle(msg)
            if unit.user is None:
                raise RuntimeError("the conversation stored no user")
            try:
                if self.store.commit(key, reply, unit.user, unit.draft):
                    if unit.draft:
                        log.info("WeChat complaint drafted", extra={"ticket_id": unit.draft["ticket_id"]})
                    return reply
            except UserChanged:
                continue
            # Another delivery of the same message committed first: answer as it did.
            won = self.store.reply(key)
            return None if isinstance(won, NotSeen) else won
        raise TemporarilyUnavailable("the message could not be stored; WeChat will deliver it again")
