"""An in-memory Weibo for the poller's unit tests: mentions newest first, comments kept, errors on demand."""

from __future__ import annotations

import io
from collections.abc import Callable

from PIL import Image

from complaints.domain.weibo import MalformedMention, MentionsPage, PictureUnavailable, WeiboError, WeiboStatus

ACCOUNT = "瑞网议事厅"


def jpeg(size=(640, 480)) -> bytes:
    buf = io.BytesIO()
    Image.new("RGB", size, (90, 120, 60)).save(buf, "JPEG")
    return buf.getvalue()


def mention(n: int, text: str = "塘下镇韩田村有工厂偷排污水，河水发黑", **extra) -> WeiboStatus:
    return WeiboStatus.model_validate(
        {
            "idstr": str(5_061_874_203_100_000 + n),
            "created_at": "Tue Nov 24 09:12:00 +0800 2026",
            "text": f"@{ACCOUNT} {text} http://t.cn/A6Xk9dP2",
            "user": {"idstr": str(6_100_000_000 + n), "screen_name": f"市民{n}"},
            **extra,
        }
    )


class FakeApi:
    def __init__(
        self, statuses: list[WeiboStatus | MalformedMention] = (), pictures: dict[str, bytes] | None = None
    ) -> None:
        self.statuses = list(statuses)
        self.pictures = pictures or {}
        self.comments: list[tuple[str, str]] = []
        self.calls: list[tuple] = []
        self.unidentified = 0  # statuses on the first page that had not even a usable id
        # Errors to raise, in order, per operation ("mentions" | "comment"); a callable decides per call.
        self.errors: dict[str, list[WeiboError]] = {"mentions": [], "comment": []}

    def _maybe_fail(self, op: str) -> None:
        if self.errors[op]:
            raise self.errors[op].pop(0)

    def mentions(self, since_id, max_id, count):
        self.calls.append(("mentions", since_id, max_id, count))
        self._maybe_fail("mentions")
        newest_first = sorted(self.statuses, key=lambda s: s.number, reverse=True)
        chosen = [
            s
            for s in newest_first
            if (since_id is None or s.number > int(since_id)) and (max_id is None or s.number <= int(max_id))
        ]
        unidentified, self.unidentified = self.unidentified, 0
        return MentionsPage(chosen[:count], unidentified)

    def comment(self, status_id, text):
        self.calls.append(("comment", status_id))
        self._maybe_fail("comment")
        self.comments.append((status_id, text))

    def picture(self, url):
        if url not in self.pictures:
            raise PictureUnavailable("HTTP 404")
        return self.pictures[url]


class Crash(BaseException):
    """A process dying mid-run: not an Exception, so nothing on the way catches it."""


def crash_once(obj, method: str, after: int = 0) -> Callable[[], None]:
    """Make `obj.method` crash on its call number `after + 1`, once."""
    original = getattr(obj, method)
    calls = {"n": 0}

    def wrapper(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == after + 1:
            raise Crash(method)
        return original(*args, **kwargs)

    setattr(obj, method, wrapper)
    return lambda: setattr(obj, method, original)
