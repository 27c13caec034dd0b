"""WeChat's official-account API over HTTP (stdlib only), its errcodes translated into the domain's error classes.

JSON bodies in, JSON out; an answer `{"errcode": n, "errmsg": …}` with n ≠ 0 is an error whatever the HTTP status
(WeChat answers most errors with 200). The access token travels as the `access_token` query parameter, as WeChat
wants; it is never logged, and no error raised here carries a URL, a token, the AppSecret or an OpenID. Pictures
(PicUrls) come through `complaints.adapters.fetch`, from WeChat's picture hosts only.
"""

from __future__ import annotations

import http.client
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from complaints.adapters import fetch
from complaints.adapters.fetch import FetchPolicy, FetchRefused, MediaFetcher
from complaints.domain.photos import MAX_INLINE_BYTES
from complaints.domain.wechat import (
    WechatMediaRefused,
    WechatRefused,
    WechatUnavailable,
    error_for,
)

DEFAULT_API_BASE = "https://api.weixin.qq.com"
# Where WeChat serves the pictures users send (PicUrl): the template's MediaFetchHosts should admit these.
WECHAT_PICTURE_HOSTS = "*.qpic.cn"
# Token and send answers are a few hundred bytes; a media file is capped on its own.
MAX_ANSWER_BYTES = 64 * 1024


def checked_api_base(url: str) -> str:
    """WECHAT_API_BASE, if it is one (see fetch.checked_api_base). The ValueError never repeats the value."""
    return fetch.checked_api_base(url, "WeChat")


class _NoRedirects(urllib.request.HTTPRedirectHandler):
    """WeChat's API does not redirect; a 3xx is an error answer, not somewhere to send the token."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_OPENER = urllib.request.build_opener(_NoRedirects)


class WechatHttpApi:
    """The `WechatApi` port. `app_secret` is called only when a token is fetched, so a rotated secret is picked up."""

    def __init__(
        self,
        api_base: str,
        app_id: str,
        app_secret: Callable[[], str],
        pictures: MediaFetcher | None = None,
        timeout_s: float = 5.0,
        max_media_bytes: int = MAX_INLINE_BYTES,
    ) -> None:
        self.api_base = checked_api_base(api_base).rstrip("/")
        self.app_id = app_id
        self.app_secret = app_secret
        self.timeout_s = timeout_s
        self.max_media_bytes = max_media_bytes
        self.pictures = pictures or picture_fetcher(FetchPolicy.parse(WECHAT_PICTURE_HOSTS))

    # ------------------------------------------------------------------ API
    def fetch_token(self, force: bool = False) -> tuple[str, int]:
        body = {
            "grant_type": "client_credential",
            "appid": self.app_id,
            "secret": self.app_secret(),
            "force_refresh": force,
        }
        doc = self._json("cgi-bin/stable_token", None, body)
        token, expires_in = doc.get("access_token"), doc.get("expires_in")
        if not isinstance(token, str) or not token or not isinstance(expires_in, int) or expires_in <= 0:
            raise WechatRefused("cgi-bin/stable_token: an answer without access_token and expires_in")
        return token, expires_in

    def send_text(self, access_token: str, openid: str, text: str) -> None:
        body = {"touser": openid, "msgtype": "text", "text": {"content": text}}
        self._json("cgi-bin/message/custom/send", access_token, body)

    def send_template(
        self, access_token: str, openid: str, template_id: str, data: dict[str, str], url: str | None
    ) -> None:
        body: dict[str, Any] = {
            "touser": openid,
            "template_id": template_id,
            "data": {key: {"value": value} for key, value in data.items()},
        }
        if url:
            body["url"] = url
        self._json("cgi-bin/message/template/send", access_token, body)

    def media(self, access_token: str, media_id: str) -> bytes:
        path = "cgi-bin/media/get"
        status, content_type, body = self._request("GET", path, access_token, {"media_id": media_id}, None)
        if len(body) > self.max_media_bytes:
            raise WechatMediaRefused(f"{path}: larger than {self.max_media_bytes} bytes")
        # An error comes back as JSON (sometimes labelled text/plain); media never starts with "{".
        if "json" in content_type or "text/plain" in content_type or body.lstrip()[:1] == b"{":
            self._answer(path, status, body)
            raise WechatRefused(f"{path}: a JSON answer instead of the media")
        if status >= 500:
            raise WechatUnavailable(f"{path}: HTTP {status}")
        if status != 200 or not body:
            raise WechatRefused(f"{path}: HTTP {status}{'' if body else ', empty'}")
        return body

    def picture(self, url: str) -> bytes:
        try:
            return self.pictures.fetch(self._over_https(url))
        except FetchRefused as e:
            raise WechatMediaRefused(f"picture: {e}") from None

    def _over_https(self, url: str) -> str:
        """WeChat writes PicUrls as http://mmbiz.qpic.cn/…; the same host serves them over https. A link to an exact
        http origin on the allow-list (the local stack's fake) stays as it is."""
        split = urllib.parse.urlsplit(url)
        try:
            plain = split.scheme == "http" and split.port is None
        except ValueError:
            return url  # a malformed port: the fetcher refuses it
        if plain and not self.pictures.policy.admits("http", split.hostname or "", 80):
            return urllib.parse.urlunsplit(split._replace(scheme="https"))
        return url

    # ------------------------------------------------------------------ HTTP
    def _json(self, path: str, access_token: str | None, body: dict[str, Any]) -> dict[str, Any]:
        data = json.dumps(body, ensure_ascii=False).encode("utf-8")
        status, _, answer = self._request("POST", path, access_token, {}, data, cap=MAX_ANSWER_BYTES)
        return self._answer(path, status, answer)

    def _request(
        self,
        method: str,
        path: str,
        access_token: str | None,
        params: dict[str, str],
        data: bytes | None,
        cap: int | None = None,
    ) -> tuple[int, str, bytes]:
        query = {**params, **({"access_token": access_token} if access_token is not None else {})}
        url = f"{self.api_base}/{path}" + (f"?{urllib.parse.urlencode(query)}" if query else "")
        headers = {"Content-Type": "application/json; charset=utf-8"} if data is not None else {}
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        cap = self.max_media_bytes if cap is None else cap
        try:
            with _OPENER.open(req, timeout=self.timeout_s) as r:
                return r.status, r.headers.get("Content-Type", ""), r.read(cap + 1)
        except urllib.error.HTTPError as e:
            return e.code, e.headers.get("Content-Type", "") if e.headers else "", e.read(cap + 1)
        except (OSError, http.client.HTTPException) as e:  # refused, reset, timed out, cut short
            raise WechatUnavailable(f"{path}: no answer ({type(e).__name__})") from None

    @staticmethod
    def _answer(path: str, status: int, body: bytes) -> dict[str, Any]:
        if len(body) > MAX_ANSWER_BYTES:
            raise WechatRefused(f"{path}: an answer larger than {MAX_ANSWER_BYTES} bytes")
        try:
            doc = json.loads(body)
        except (ValueError, RecursionError):
            doc = None
        if isinstance(doc, dict) and doc.get("errcode") not in (None, 0):
            try:
                code = int(doc["errcode"])
            except (TypeError, ValueError):
                code = -1
            # errmsg is WeChat's own text ("invalid credential, access_token is invalid or not latest rid: …"):
            # kept out, as some carry the request's hint; the code says all the desk acts on.
            raise error_for(code, f"{path}: WeChat refused the call")
        if status >= 500:
            raise WechatUnavailable(f"{path}: HTTP {status}")
        if status != 200:
            raise WechatRefused(f"{path}: HTTP {status}")
        if not isinstance(doc, dict):
            raise WechatRefused(f"{path}: an answer that is not a JSON object")
        return doc


def picture_fetcher(policy: FetchPolicy, deadline_s: float = 10.0) -> MediaFetcher:
    """Pictures as the desk takes inline photos: at most MAX_INLINE_BYTES, within `deadline_s` in all."""
    return MediaFetcher(policy, max_bytes=MAX_INLINE_BYTES, deadline_s=deadline_s)
