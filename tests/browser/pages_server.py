"""A stand-in for the local stack's serving of web/, for a stack that does not serve the pages yet: the contract's
paths and headers in front of the stack, every other request passed through to it.

Used by the browser tests only when the stack itself answers `GET /` with something other than a page.
"""

from __future__ import annotations

import json
import mimetypes
import re
import threading
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit

from complaints.city import load_city

PAGES = {
    "/": "index.html",
    "/my": "my.html",
    "/board": "board.html",
    "/agency": "agency.html",
    "/triage": "triage.html",
}
TICKET_PAGE = re.compile(r"^/board/\d+$")


def _origin(url: str) -> str:
    split = urlsplit(url)
    return f"{split.scheme}://{split.netloc}"


class PagesServer:
    def __init__(self, root: Path, stack_url: str, health: dict) -> None:
        self.web = root / "web"
        self.stack_url = stack_url
        aws = _origin(health["aws_endpoint"])
        city = load_city(root / "city" / "ruian.toml")
        self.config = {
            "city": {"code": city.code, "name": city.name, "board_name": city.board},
            "districts": [{"name": d.name, "kind": d.kind, "lat": d.lat, "lng": d.lng} for d in city.districts],
            "categories": [c.name for c in city.categories],
            "agencies": [{"id": a.id, "name": a.name, "kind": a.kind} for a in city.agencies],
            "cognito": {
                "endpoint": health["aws_endpoint"].rstrip("/") + "/",
                "region": health["region"],
                "client_id": health["resources"]["StaffUserPoolClient"],
            },
        }
        self.headers = {
            "Content-Security-Policy": (
                f"default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob: {aws}; "
                f"connect-src 'self' {aws}; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
                "form-action 'self'"
            ),
            "X-Content-Type-Options": "nosniff",
            "Referrer-Policy": "strict-origin-when-cross-origin",
            "X-Frame-Options": "DENY",
        }
        self._http: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._http.server_address[1]}"

    def start(self) -> PagesServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def do_GET(self):  # noqa: N802
                server.handle(self)

            def do_POST(self):  # noqa: N802
                server.handle(self)

        self._http = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._http.daemon_threads = True
        threading.Thread(target=self._http.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        if self._http:
            self._http.shutdown()

    def handle(self, req: BaseHTTPRequestHandler) -> None:
        path = req.path.split("?", 1)[0]
        wants_page = req.command == "GET" and "text/html" in (req.headers.get("Accept") or "")
        if req.command == "GET" and path == "/config.json":
            return self.send(req, 200, "application/json", json.dumps(self.config, ensure_ascii=False).encode())
        if req.command == "GET" and path.startswith("/assets/"):
            file = (self.web / path.lstrip("/")).resolve()
            if file.is_file() and self.web.resolve() in file.parents:
                kind = mimetypes.guess_type(file.name)[0] or "application/octet-stream"
                kind = "text/javascript" if file.suffix == ".js" else kind
                return self.send(
                    req, 200, kind + ("; charset=utf-8" if kind.startswith("text/") else ""), file.read_bytes()
                )
            return self.send(req, 404, "text/plain", b"not found")
        page = PAGES.get(path) or ("ticket.html" if TICKET_PAGE.match(path) else None)
        if page and (wants_page or path == "/"):
            return self.send(req, 200, "text/html; charset=utf-8", (self.web / page).read_bytes())
        self.forward(req)

    def forward(self, req: BaseHTTPRequestHandler) -> None:
        length = int(req.headers.get("Content-Length") or 0)
        body = req.rfile.read(length) if length else None
        headers = {k: v for k, v in req.headers.items() if k.lower() not in ("host", "connection", "content-length")}
        out = urllib.request.Request(self.stack_url + req.path, data=body, method=req.command, headers=headers)
        try:
            with urllib.request.urlopen(out, timeout=30) as r:
                status, kind, data = r.status, r.headers.get("Content-Type", ""), r.read()
        except urllib.error.HTTPError as e:
            status, kind, data = e.code, e.headers.get("Content-Type", ""), e.read()
        self.send(req, status, kind, data)

    def send(self, req: BaseHTTPRequestHandler, status: int, kind: str, body: bytes) -> None:
        req.send_response(status)
        for k, v in {**self.headers, "Content-Type": kind, "Content-Length": str(len(body))}.items():
            req.send_header(k, v)
        req.end_headers()
        req.wfile.write(body)
