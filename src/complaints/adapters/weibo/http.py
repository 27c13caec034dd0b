"""Weibo's open API over HTTP (stdlib only), its errors translated into the domain's error classes.

The access token travels as the `access_token` parameter, as the API documents; it is never logged, and no
error raised here carries a URL. Pictures come through `complaints.adapters.fetch`, from Weibo's picture hosts only.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from pydantic import ValidationError

from complaints.adapters import fetch
from complaints.adapters.fetch import FetchPolicy, FetchRefused, MediaFetcher
from complaints.domain.photos import MAX_INLINE_BYTES
from complaints.domain.weibo import (
    MalformedMention,
    MentionsPage,
    PictureUnavailable,
    WeiboRateLimited,
    WeiboRejected,
    WeiboStatus,
    WeiboTokenInvalid,
    WeiboUnavailable,
    error_for,
)

DEFAULT_API_BASE = "https://api.weibo.com/2"
# Where Weibo serves pictures (wx1…wx4, tvax1…, ww1…): the template's MediaFetchHosts default, checked by a test.
WEIBO_PICTURE_HOSTS = "*.sinaimg.cn"


def checked_api_base(url: str) -> str:
    """WEIBO_API_BASE, if it is one (see fetch.checked_api_base). The ValueError never repeats the value."""
    return fetch.checked_api_base(url, "Weibo")


# A page of 200 mentions is well under 2 MB; anything much larger is not an answer we want in memory.
MAX_ANSWER_BYTES = 8 * 1024 * 1024


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """Weibo's API does not redirect; a 3xx is an error answer, not somewhere to send the token."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)

# The token source: called with force=True after Weibo rejected the token, so a renewed one is picked up at once.
TokenSource = Callable[[bool], str]


class WeiboHttpApi:
    def __init__(
        self,
        base_url: str,
        token: TokenSource,
        timeout_s: float = 5.0,
        pictures: MediaFetcher | None = None,
        max_answer_bytes: int = MAX_ANSWER_BYTES,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s
        self.max_answer_bytes = max_answer_bytes
        self.pictures = pictures or picture_fetcher(FetchPolicy.parse(WEIBO_PICTURE_HOSTS))
        self._token_rejected = False

    # ------------------------------------------------------------------ API
    def mentions(self, since_id: str | None, max_id: str | None, count: int) -> MentionsPage:
        params: dict[str, Any] = {"count": count}
        if since_id:
            params["since_id"] = since_id
        if max_id:
            params["max_id"] = max_id
        doc = self._call("GET", "statuses/mentions.json", params)
        statuses = doc.get("statuses") if isinstance(doc, dict) else None
        if not isinstance(statuses, list):
            raise WeiboRejected("mentions answer has no statuses list")
        # One status Weibo got wrong must not hold up the others (nor every later run): it is marked, not raised.
        found: list[WeiboStatus | MalformedMention] = []
        unidentified = 0
        for status in statuses:
            for shape in (WeiboStatus, MalformedMention):
                try:
                    found.append(shape.model_validate(status))
                    break
                except (ValidationError, RecursionError):
                    continue
            else:
                unidentified += 1
        return MentionsPage(found, unidentified)

    def comment(self, status_id: str, text: str) -> None:
        self._call("POST", "comments/create.json", {"id": status_id, "comment": text})

    def picture(self, url: str) -> bytes:
        try:
            return self.pictures.fetch(self._over_https(url))
        except FetchRefused as e:
            raise PictureUnavailable(str(e)) from None

    def _over_https(self, url: str) -> str:
        """Weibo's JSON still writes many picture links as http://; its picture hosts serve the same over https.
        A link to an exact http origin on the allow-list (the local stack's fake) stays as it is."""
        split = urllib.parse.urlsplit(url)
        try:
            plain = split.scheme == "http" and split.port is None
        except ValueError:
            return url  # a malformed port: the fetcher refuses it
        if plain and not self.pictures.policy.admits("http", split.hostname or "", 80):
            return urllib.parse.urlunsplit(split._replace(scheme="https"))
        return url

    # ------------------------------------------------------------------ HTTP
    def _call(self, method: str, path: str, params: dict[str, Any]) -> Any:
        force, self._token_rejected = self._token_rejected, False
        query = urllib.parse.urlencode({**params, "access_token": self.token(force)})
        url = f"{self.base_url}/{path}"
        if method == "GET":
            req = urllib.request.Request(f"{url}?{query}", method="GET")
        else:
            req = urllib.request.Request(
                url,
                data=query.encode("utf-8"),
                method=method,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
        cap = self.max_answer_bytes
        try:
            with _OPENER.open(req, timeout=self.timeout_s) as r:
                status, body = r.status, r.read(cap + 1)
        except urllib.error.HTTPError as e:
            status, body = e.code, e.read(cap + 1)
        except (OSError, http.client.HTTPException) as e:  # refused, reset, timed out, cut short
            raise WeiboUnavailable(f"{path}: no answer ({type(e).__name__})") from None
        if len(body) > cap:
            raise WeiboRejected(f"{path}: an answer larger than {cap} bytes")
        return self._answer(path, status, body)

    def _answer(self, path: str, status: int, body: bytes) -> Any:
        try:
            doc = json.loads(body)
        except ValueError:
            doc = None
        except RecursionError:  # nested deeper than Python's parser goes: no answer Weibo documents
            raise WeiboRejected(f"{path}: an answer nested too deeply") from None
        if isinstance(doc, dict) and "error_code" in doc:
            try:
                code = int(doc["error_code"])
            except (TypeError, ValueError):
                code = -1
            error = error_for(code, f"{path}: {doc.get('error') or 'error'}")
            if isinstance(error, WeiboTokenInvalid):
                self._token_rejected = True
            raise error
        if status >= 500:
            raise WeiboUnavailable(f"{path}: HTTP {status}")
        if status == HTTPStatus.TOO_MANY_REQUESTS:
            raise WeiboRateLimited(f"{path}: HTTP 429")
        if status >= 400 or doc is None:
            raise WeiboRejected(f"{path}: HTTP {status}, {'not JSON' if doc is None else 'no error code'}")
        return doc


def picture_fetcher(policy: FetchPolicy, deadline_s: float = 10.0) -> MediaFetcher:
    """Pictures as the desk takes inline photos: at most MAX_INLINE_BYTES, within `deadline_s` in all."""
    return MediaFetcher(policy, max_bytes=MAX_INLINE_BYTES, deadline_s=deadline_s)
