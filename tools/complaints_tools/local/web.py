"""What CloudFront does in front of the API, on the local stack: pages from `web/`, the security headers.

The template is the source of truth for both. Which paths are pages is the `PAGES` table (and `PAGE_PATTERNS`, for
the paths with an id in them: a ticket on the board, the car owner's link) in the code of its
`AWS::CloudFront::Function`, read from there: a browser navigation (GET or HEAD that
accepts text/html) to a page path gets the page, `/config.json` and `/assets/…` are files, and everything else
goes on to the API. The headers are the template's `AWS::CloudFront::ResponseHeadersPolicy`, on every answer, the
API's included, with one local difference: the AWS endpoints the policy names (the photo bucket, Cognito) are moto's
endpoint here, as they are for every client of the local stack.

Like CloudFront, text files of 1,000 bytes or more go out gzip-compressed to a client that accepts it, and a
missing file is S3's 403 (the bucket grants CloudFront GetObject only, no listing).
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from complaints_tools.local.template import Template
from complaints_tools.web import CACHE_CONTROL, content_type

COMPRESSIBLE = ("text/", "application/json", "application/javascript", "image/svg+xml", "application/manifest")
MIN_COMPRESS_BYTES = 1000  # CloudFront compresses objects from 1,000 bytes to 10,000,000 bytes
_AWS_ORIGIN = re.compile(r"https://[A-Za-z0-9.-]+\.amazonaws\.com")
_MISSING = (
    b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code><Message>Access Denied</Message></Error>'
)


@dataclass(frozen=True)
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes


def router_code(tpl: Template) -> str:
    (fn,) = tpl.of_type("AWS::CloudFront::Function").values()
    return fn["Properties"]["FunctionCode"]


def pages_of(code: str) -> tuple[dict[str, str], list[tuple[re.Pattern[str], str]]]:
    """The router's page table and its patterns (path pattern, page), as its JavaScript declares them."""
    table = re.search(r"^\s*var PAGES = (\{.*\});$", code, re.MULTILINE)
    patterns = re.search(r"^\s*var PAGE_PATTERNS = (\[.*\]);$", code, re.MULTILINE)
    if not table or not patterns:
        raise ValueError("the CloudFront function no longer declares PAGES and PAGE_PATTERNS as read here")
    return json.loads(table.group(1)), [(re.compile(p), page) for p, page in json.loads(patterns.group(1))]


def security_headers(tpl: Template, aws_endpoint: str) -> dict[str, str]:
    """The response headers policy's security headers, with AWS origins replaced by the local endpoint."""
    (policy,) = tpl.of_type("AWS::CloudFront::ResponseHeadersPolicy").values()
    config = policy["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    local = "{0.scheme}://{0.netloc}".format(urlsplit(aws_endpoint))
    csp = " ".join(str(tpl.resolve(config["ContentSecurityPolicy"]["ContentSecurityPolicy"])).split())
    csp = _AWS_ORIGIN.sub(local, csp)
    # One origin named twice (both photo bucket host forms become moto's) reads as one.
    csp = "; ".join(" ".join(dict.fromkeys(d.split())) for d in csp.split("; "))
    hsts = config["StrictTransportSecurity"]
    return {
        "Content-Security-Policy": csp,
        "X-Content-Type-Options": "nosniff",
        "Referrer-Policy": config["ReferrerPolicy"]["ReferrerPolicy"],
        "X-Frame-Options": config["FrameOptions"]["FrameOption"],
        "Strict-Transport-Security": f"max-age={hsts['AccessControlMaxAgeSec']}"
        + ("; includeSubDomains" if hsts.get("IncludeSubdomains") else "")
        + ("; preload" if hsts.get("Preload") else ""),
    }


class WebEdge:
    """Routes a request to a page or file (an Answer) or to the API (None), and adds the security headers."""

    def __init__(self, tpl: Template, web_dir: Path, aws_endpoint: str, config: Callable[[], dict[str, Any]]):
        self.web_dir = Path(web_dir).resolve()
        self.pages, self.page_patterns = pages_of(router_code(tpl))
        self.headers = security_headers(tpl, aws_endpoint)
        self._config = config

    def answer(self, method: str, path: str, headers: dict[str, str]) -> Answer | None:
        lower = {k.lower(): v for k, v in headers.items()}
        if path == "/config.json":
            if method not in ("GET", "HEAD"):
                return self._refused()
            body = json.dumps(self._config(), ensure_ascii=False).encode("utf-8")
            return self._file(body, "application/json", lower)
        if path.startswith("/assets/"):
            if method not in ("GET", "HEAD"):  # the /assets/* behaviour allows GET and HEAD only
                return self._refused()
            found = self._asset(path)
            if found is None:
                return Answer(403, {"Content-Type": "application/xml"}, _MISSING)
            return self._file(_read(found, found.stat().st_mtime_ns), content_type(found), lower)
        navigation = method in ("GET", "HEAD") and "text/html" in lower.get("accept", "")
        page = self.pages.get(path) or self._page_of_pattern(path)
        if not (navigation and page):
            return None
        found = self.web_dir / page.lstrip("/")
        if not found.is_file():
            return Answer(403, {"Content-Type": "application/xml"}, _MISSING)
        return self._file(_read(found, found.stat().st_mtime_ns), content_type(found), lower)

    def _page_of_pattern(self, path: str) -> str | None:
        # fullmatch: JavaScript's `$` is the end of the string, Python's `$` also matches before a final newline.
        return next((page for pattern, page in self.page_patterns if pattern.fullmatch(path)), None)

    def _asset(self, path: str) -> Path | None:
        candidate = (self.web_dir / path.lstrip("/")).resolve()
        assets = self.web_dir / "assets"
        if not candidate.is_relative_to(assets) or not candidate.is_file():
            return None
        return candidate

    @staticmethod
    def _refused() -> Answer:
        return Answer(403, {"Content-Type": "text/plain"}, b"This distribution is not configured to allow the method")

    @staticmethod
    def _file(body: bytes, ctype: str, headers: dict[str, str]) -> Answer:
        etag = '"' + hashlib.md5(body, usedforsecurity=False).hexdigest() + '"'
        out = {"Content-Type": ctype, "Cache-Control": CACHE_CONTROL, "ETag": etag, "Vary": "Accept-Encoding"}
        if headers.get("if-none-match") == etag:
            return Answer(304, out, b"")
        if (
            len(body) >= MIN_COMPRESS_BYTES
            and ctype.startswith(COMPRESSIBLE)
            and "gzip" in headers.get("accept-encoding", "")
        ):
            body = gzip.compress(body, compresslevel=6, mtime=0)
            out["Content-Encoding"] = "gzip"
        return Answer(200, out, body)  # the gateway sends no body for HEAD, with this one's length


@lru_cache(maxsize=256)
def _read(path: Path, mtime_ns: int) -> bytes:  # mtime in the key: an edited page is served fresh
    return path.read_bytes()
