"""A fake of Weibo's open API for tests and the local stack: mentions from a fixture, comments recorded.

    python -m complaints_tools.fake_weibo --port 8090      # base URL http://127.0.0.1:8090/2

Faithful to the documented shapes the poller relies on:

- `GET /2/statuses/mentions.json?access_token&since_id&max_id&count` → `{"statuses": [...], "total_number", …}`,
  newest first, since_id < id <= max_id, count ≤ 200 (default 20);
- `POST /2/comments/create.json` (form: access_token, id, comment ≤ 140 characters) → the comment;
- errors as `{"error", "error_code", "request"}`; pictures under `/sinaimg/{size}/{name}` as generated JPEGs.

With `samples=False` (the local stack's fake) it starts with no mentions; `POST /_fake/samples` adds the fixture's,
once (`make demo` does).

Test controls (not part of Weibo): `GET /_fake/comments`, `POST /_fake/mentions` (add one, as a citizen would),
`POST /_fake/samples` (add the fixture's mentions not yet there),
`POST /_fake/faults` (`{"path": "mentions"|"comments"|"*", "error_code"?, "status"?, "delay_s"?, "times"?, "body"?,
"location"?}`: `body` is sent as the JSON answer, as is; `location` goes with a 3xx `status`),
`POST /_fake/reset`.
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

FIXTURE = Path(__file__).with_name("data") / "weibo_mentions.json"
TOKEN = "fake-weibo-token"
MAX_COMMENT_CHARS = 140

_ERRORS = {
    10022: "IP requests out of rate limit",
    10023: "User requests out of rate limit",
    10024: "User requests for (%s) out of rate limit",
    21327: "expired_token",
    21332: "invalid_access_token",
    20101: "target weibo does not exist",
    10008: "param error, see doc for more info",
}
_SIZES = {"thumbnail": (120, 90), "bmiddle": (440, 330), "large": (1280, 960)}


@dataclass
class Fault:
    path: str  # "mentions", "comments" or "*"
    error_code: int | None = None
    status: int | None = None
    delay_s: float = 0.0
    times: int = 1
    body: str | None = None
    location: str | None = None


class FakeWeibo:
    """Start with `start()`; `api_base` is what WEIBO_API_BASE should be; `stop()` ends it."""

    def __init__(
        self,
        fixture: Path = FIXTURE,
        host: str = "127.0.0.1",
        port: int = 0,
        token: str = TOKEN,
        samples: bool = True,
    ) -> None:
        self.fixture = Path(fixture)
        self.samples = samples
        self.host, self.port = host, port
        self.token = token
        self._lock = threading.Lock()
        self._http: ThreadingHTTPServer | None = None
        self.reset()

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def api_base(self) -> str:
        return f"{self.url}/2"

    def reset(self) -> None:
        doc = json.loads(self.fixture.read_text(encoding="utf-8"))
        with self._lock:
            self.account: dict[str, Any] = doc["account"]
            self.statuses: list[dict[str, Any]] = doc["statuses"] if self.samples else []
            self.comments: list[dict[str, Any]] = []
            self.faults: list[Fault] = []
            self.requests: list[str] = []

    # ------------------------------------------------------------ behaviour
    def add_mention(self, status: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            self.statuses.append(status)
        return status

    def add_samples(self) -> int:
        """The fixture's mentions that are not there yet, as if their authors wrote them now; how many."""
        doc = json.loads(self.fixture.read_text(encoding="utf-8"))
        with self._lock:
            present = {s["idstr"] for s in self.statuses}
            new = [s for s in doc["statuses"] if s["idstr"] not in present]
            self.statuses.extend(new)
        return len(new)

    def add_fault(self, fault: Fault) -> None:
        with self._lock:
            self.faults.append(fault)

    def _take_fault(self, path: str) -> Fault | None:
        with self._lock:
            for f in self.faults:
                if f.path in ("*", path):
                    f.times -= 1
                    if f.times <= 0:
                        self.faults.remove(f)
                    return f
        return None

    def _render(self, status: dict[str, Any]) -> dict[str, Any]:
        # Pictures point at this server; the fixture writes them as {img}/<size>/<name>.
        text = json.dumps(status, ensure_ascii=False).replace("{img}", f"{self.url}/sinaimg")
        return json.loads(text)

    def mentions(self, params: dict[str, str]) -> dict[str, Any]:
        since = int(params.get("since_id") or 0)
        max_id = int(params.get("max_id") or 0)
        count = max(1, min(int(params.get("count") or 20), 200))
        with self._lock:
            ordered = sorted(self.statuses, key=lambda s: int(s["idstr"]), reverse=True)
        chosen = [s for s in ordered if int(s["idstr"]) > since and (not max_id or int(s["idstr"]) <= max_id)]
        page = [self._render(s) for s in chosen[:count]]
        return {
            "statuses": page,
            "advertises": [],
            "ad": [],
            "hasvisible": False,
            "previous_cursor": 0,
            "next_cursor": int(page[-1]["idstr"]) - 1 if len(chosen) > count else 0,
            "total_number": len(ordered),
        }

    def comment(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        status_id, text = form.get("id", ""), form.get("comment", "")
        with self._lock:
            target = next((s for s in self.statuses if s["idstr"] == status_id), None)
        if target is None:
            return 400, _error(20101, "/2/comments/create.json")
        if not text or len(text) > MAX_COMMENT_CHARS:
            return 400, _error(10008, "/2/comments/create.json")
        with self._lock:
            comment_id = 4_900_000_000_000_000 + len(self.comments) + 1
            comment = {
                "created_at": time.strftime("%a %b %d %H:%M:%S +0800 %Y"),
                "id": comment_id,
                "idstr": str(comment_id),
                "text": text,
                "user": {
                    "id": int(self.account["idstr"]),
                    "idstr": self.account["idstr"],
                    "screen_name": self.account["screen_name"],
                },
                "status": {"id": int(target["idstr"]), "idstr": target["idstr"]},
            }
            self.comments.append(comment)
        return 200, comment

    # ----------------------------------------------------------------- HTTP
    def start(self) -> FakeWeibo:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                fake._handle(self, "GET")

            def do_POST(self) -> None:  # noqa: N802
                fake._handle(self, "POST")

        self._http = _Server((self.host, self.port), Handler)
        self._http.daemon_threads = True
        self.port = self._http.server_address[1]
        threading.Thread(target=self._http.serve_forever, name="fake-weibo", daemon=True).start()
        return self

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()
            self._http.server_close()

    def _handle(self, req: BaseHTTPRequestHandler, method: str) -> None:
        split = urlsplit(req.path)
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else b""
        params = {k: v[-1] for k, v in parse_qs(split.query).items()}
        path = split.path
        if path.startswith("/_fake/"):
            return self._control(req, method, path, body)
        if path.startswith("/sinaimg/"):
            return self._picture(req, path)
        api = {"/2/statuses/mentions.json": ("GET", "mentions"), "/2/comments/create.json": ("POST", "comments")}
        if path not in api or api[path][0] != method:
            return _send_json(req, 404, _error(10014, path))
        if method == "POST":
            params.update({k: v[-1] for k, v in parse_qs(body.decode("utf-8")).items()})
        name = api[path][1]
        with self._lock:
            self.requests.append(name)
        fault = self._take_fault(name)
        if fault is not None:
            time.sleep(fault.delay_s)
            if fault.error_code is not None:
                return _send_json(req, fault.status or _status_for(fault.error_code), _error(fault.error_code, path))
            if fault.body is not None:
                return _send(req, fault.status or 200, "application/json;charset=UTF-8", fault.body.encode("utf-8"))
            if fault.location is not None:
                return _send(req, fault.status or 302, "text/html", b"", {"Location": fault.location})
            if fault.status is not None:
                return _send(req, fault.status, "text/html", b"<html><body>503 Service Unavailable</body></html>")
        if params.get("access_token") != self.token:
            return _send_json(req, 401, _error(21332, path))
        if name == "mentions":
            return _send_json(req, 200, self.mentions(params))
        status, doc = self.comment(params)
        return _send_json(req, status, doc)

    def _control(self, req: BaseHTTPRequestHandler, method: str, path: str, body: bytes) -> None:
        if method == "GET" and path == "/_fake/comments":
            with self._lock:
                return _send_json(req, 200, list(self.comments))
        if method == "GET" and path == "/_fake/requests":
            with self._lock:
                return _send_json(req, 200, list(self.requests))
        if method == "POST" and path == "/_fake/mentions":
            return _send_json(req, 201, self.add_mention(json.loads(body)))
        if method == "POST" and path == "/_fake/samples":
            return _send_json(req, 200, {"added": self.add_samples()})
        if method == "POST" and path == "/_fake/faults":
            self.add_fault(Fault(**json.loads(body)))
            return _send_json(req, 201, {"ok": True})
        if method == "POST" and path == "/_fake/reset":
            self.reset()
            return _send_json(req, 200, {"ok": True})
        return _send_json(req, 404, {"error": "no such control"})

    def _picture(self, req: BaseHTTPRequestHandler, path: str) -> None:
        _, _, size, name = path.split("/", 3)
        if name.startswith("broken"):
            # What an image host sends a hotlinker: a page, labelled as an image.
            return _send(req, 200, "image/jpeg", b"<html><body>403 Forbidden</body></html>")
        if name.startswith("huge"):
            return _send(req, 200, "image/jpeg", b"\xff\xd8\xff" + b"\0" * (6 * 1024 * 1024))
        if size not in _SIZES:
            return _send(req, 404, "text/plain", b"not found")
        return _send(req, 200, "image/jpeg", picture(name, _SIZES[size]))


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        if not isinstance(sys.exc_info()[1], ConnectionError):  # a client that stopped reading, as it may
            super().handle_error(request, client_address)


def picture(name: str, size: tuple[int, int]) -> bytes:
    """A JPEG whose colours follow from its name: different pictures differ, the same one is stable."""
    from PIL import Image, ImageDraw

    seed = sum(name.encode())
    im = Image.new("RGB", size, (seed * 7 % 256, seed * 13 % 256, seed * 29 % 256))
    draw = ImageDraw.Draw(im)
    w, h = size
    draw.rectangle((w // 5, h // 4, w * 3 // 5, h * 3 // 4), fill=(seed * 3 % 256, 90, 60))
    draw.ellipse((w // 2, h // 3, w * 4 // 5, h * 2 // 3), fill=(230, 230, 210))
    out = io.BytesIO()
    im.save(out, "JPEG", quality=80)
    return out.getvalue()


def _status_for(code: int) -> int:
    if code in (21327, 21332):
        return 401
    if code in (10022, 10023, 10024):
        return 403
    return 400


def _error(code: int, request: str) -> dict[str, Any]:
    return {"error": _ERRORS.get(code, "error"), "error_code": code, "request": request}


def _send_json(req: BaseHTTPRequestHandler, status: int, data: Any) -> None:
    _send(req, status, "application/json;charset=UTF-8", json.dumps(data, ensure_ascii=False).encode("utf-8"))


def _send(
    req: BaseHTTPRequestHandler, status: int, content_type: str, body: bytes, headers: dict[str, str] | None = None
) -> None:
    req.send_response(status)
    req.send_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        req.send_header(name, value)
    req.send_header("Content-Length", str(len(body)))
    req.end_headers()
    req.wfile.write(body)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--port", type=int, default=8090)
    parser.add_argument("--fixture", default=str(FIXTURE))
    args = parser.parse_args(argv)
    fake = FakeWeibo(Path(args.fixture), port=args.port).start()
    print(f"fake Weibo at {fake.api_base} (token {fake.token!r}); comments at {fake.url}/_fake/comments", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        fake.stop()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
