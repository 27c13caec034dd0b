"""Benchmark: the complaint page's first load — how many bytes it costs and how soon a phone on slow 3G can use it.

In Debian's Chromium (headless, driven by Playwright as the browser tests do) against a local stack of its own
(`complaints run` in a process of its own, serving web/ as CloudFront does, gzip included):

1. First load of `/`: every HTML, JS and CSS response the page requests on a cold load (a fresh browser context,
   nothing cached), summed as it came over the wire (compressed body bytes), and uncompressed; the JSON it fetches
   (`/config.json`) is reported beside them. Target: HTML + JS + CSS ≤ 150 KB compressed.
2. Time to interactive on a simulated slow 3G phone: the DevTools protocol's Network.emulateNetworkConditions
   (400 kbit/s down and up, 400 ms round trip) and a 4× slower CPU (Emulation.setCPUThrottlingRate), at a 360×640
   viewport; interactive is the page's own `desk:ready` performance mark (layout.js: its scripts ran, the form's
   handlers are attached and the district picker is filled from /config.json), from navigation start. Target ≤ 3 s.
   Baselines measured in the same run, the same way: the same page unthrottled, and a blank HTML page (no scripts,
   no styles) through the same throttling — the floor that the network alone sets.

Each time is the median of RUNS cold loads.

    .venv/bin/python bench/bench_web.py

Human-readable lines first; the last line is one JSON object with the figures.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "browser"))
from browser_helpers import CHROMIUM, PHONE, launch_chromium  # noqa: E402

from complaints_tools.loadtest import start_stack  # noqa: E402

RUNS = 5
TARGET_FIRST_LOAD_KB = 150
TARGET_TTI_S = 3.0
SLOW_3G = {
    "offline": False,
    "latency": 400,  # ms, added to every request's round trip
    "downloadThroughput": 400 * 1000 / 8,  # bytes/s
    "uploadThroughput": 400 * 1000 / 8,
}
CPU_SLOWDOWN = 4
PAGE_KINDS = ("document", "script", "stylesheet")
BLANK = b"<!doctype html><html lang=zh-CN><meta charset=utf-8><link rel=icon href=data:,><title>-</title></html>"


class BlankPage:
    """One tiny HTML page on loopback: the baseline for what the throttled network alone costs."""

    def __init__(self) -> None:
        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:  # noqa: N802
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(BLANK)))
                self.end_headers()
                self.wfile.write(BLANK)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/"

    def stop(self) -> None:
        self.server.shutdown()


def first_load(browser: Any, url: str) -> dict[str, Any]:
    """What a cold load of `url` requested: per kind, the compressed (on the wire) and uncompressed body bytes."""
    context = browser.new_context(viewport=PHONE)
    page = context.new_page()
    responses: list[Any] = []
    page.on("requestfinished", lambda r: responses.append(r))
    page.goto(url)
    page.wait_for_selector("html[data-ready]", state="attached")
    page.wait_for_load_state("networkidle")
    by_kind: dict[str, dict[str, int]] = {}
    files = []
    for request in responses:
        response = request.response()
        kind = request.resource_type
        wire = request.sizes()["responseBodySize"]
        body = len(response.body()) if response else 0
        got = by_kind.setdefault(kind, {"requests": 0, "compressed_bytes": 0, "bytes": 0})
        got["requests"] += 1
        got["compressed_bytes"] += wire
        got["bytes"] += body
        files.append((request.url.removeprefix(url.rstrip("/")), kind, wire, body))
    context.close()
    return {"by_kind": by_kind, "files": files}


def time_to_interactive(browser: Any, url: str, throttled: bool, mark: str | None = "desk:ready") -> float:
    """Seconds from navigation start to the page's `mark` (or to the load event for a page without one)."""
    context = browser.new_context(viewport=PHONE, is_mobile=True, has_touch=True)
    page = context.new_page()
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    if throttled:
        cdp.send("Network.emulateNetworkConditions", SLOW_3G)
        cdp.send("Emulation.setCPUThrottlingRate", {"rate": CPU_SLOWDOWN})
    page.goto(url, wait_until="load", timeout=60_000)
    if mark:
        page.wait_for_selector("html[data-ready]", state="attached", timeout=60_000)
        ms = page.evaluate(f"() => performance.getEntriesByName({json.dumps(mark)})[0].startTime")
    else:
        ms = page.evaluate("() => performance.getEntriesByType('navigation')[0].loadEventEnd")
    context.close()
    return ms / 1000


def median_of(measure, runs: int = RUNS) -> float:
    return statistics.median(measure() for _ in range(runs))


def run(out) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    log = Path(f"/tmp/bench-web-{os.getpid()}.log")
    proc, url = start_stack("", log)  # the load test's way: `complaints run` in a process of its own, no faults
    blank = BlankPage()
    out.write(f"stack at {url} (log {log}); Chromium {CHROMIUM}\n")
    try:
        with sync_playwright() as p:
            browser = launch_chromium(p)
            load = first_load(browser, url + "/")
            page_kinds = {k: v for k, v in load["by_kind"].items() if k in PAGE_KINDS}
            compressed = sum(v["compressed_bytes"] for v in page_kinds.values())
            raw = sum(v["bytes"] for v in page_kinds.values())
            others = [v for k, v in load["by_kind"].items() if k not in PAGE_KINDS]  # /config.json
            for path, kind, wire, body in load["files"]:
                out.write(f"  {kind:10} {path:28} {wire / 1024:6.1f} KB on the wire, {body / 1024:6.1f} KB\n")
            out.write(
                f"first load of /: {sum(v['requests'] for v in page_kinds.values())} HTML/JS/CSS files, "
                f"{compressed / 1024:.1f} KB compressed ({raw / 1024:.1f} KB uncompressed; target ≤ "
                f"{TARGET_FIRST_LOAD_KB} KB), plus {sum(v['requests'] for v in others)} other request(s) of "
                f"{sum(v['compressed_bytes'] for v in others) / 1024:.1f} KB\n"
            )
            fast = median_of(lambda: time_to_interactive(browser, url + "/", throttled=False))
            slow = median_of(lambda: time_to_interactive(browser, url + "/", throttled=True))
            floor = median_of(lambda: time_to_interactive(browser, blank.url, throttled=True, mark=None))
            browser.close()
    finally:
        blank.stop()
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
    out.write(
        f"time to interactive of / on slow 3G (400 kbit/s, 400 ms RTT, CPU ×{CPU_SLOWDOWN}): {slow:.2f} s "
        f"(target ≤ {TARGET_TTI_S} s; median of {RUNS})\n"
        f"  baselines in this run: the same page unthrottled {fast:.3f} s; a blank page through the same "
        f"throttling {floor:.2f} s — the page costs {slow / floor:.1f}× the network's floor\n"
    )
    return {
        "web_first_load_kb": round(compressed / 1024, 1),
        "web_first_load_uncompressed_kb": round(raw / 1024, 1),
        "web_first_load_files": sum(v["requests"] for v in page_kinds.values()),
        "web_slow3g_tti_s": round(slow, 2),
        "web_unthrottled_tti_s": round(fast, 3),
        "web_slow3g_blank_page_s": round(floor, 2),
        "web_slow3g_tti_vs_blank": round(slow / floor, 2),
        "web_first_load_within_target": compressed / 1024 <= TARGET_FIRST_LOAD_KB,
        "web_slow3g_tti_within_target": slow <= TARGET_TTI_S,
    }


def main() -> int:
    if not CHROMIUM.exists():
        print(f"no Chromium at {CHROMIUM}: make browser installs it", file=sys.stderr)
        return 1
    figures = run(sys.stdout)
    print(json.dumps(figures, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
