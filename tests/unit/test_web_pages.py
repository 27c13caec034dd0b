"""The pages' source, read as text: what the CSP and the no-CDN rule need of them, and what keeps data from ever
being parsed as HTML. (The browser tests show the same in Chromium; these say which line broke it.)"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path

import pytest

WEB = Path(__file__).resolve().parents[2] / "web"
PAGES = sorted(WEB.glob("*.html"))
SCRIPTS = sorted((WEB / "assets").glob("*.js"))


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline_script = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        self._in_script = tag == "script"

    def handle_data(self, data):
        if getattr(self, "_in_script", False) and data.strip():
            self.inline_script = True

    def handle_endtag(self, tag):
        self._in_script = False


def _tags(page: Path) -> _Tags:
    parser = _Tags()
    parser.feed(page.read_text(encoding="utf-8"))
    return parser


def _imports(module: str, seen: set[str] | None = None) -> set[str]:
    seen = set() if seen is None else seen
    for name in re.findall(r'from "\./([\w.-]+\.js)"', (WEB / "assets" / module).read_text(encoding="utf-8")):
        if name not in seen:
            seen.add(name)
            _imports(name, seen)
    return seen


def test_there_is_a_page_for_each_path_of_the_contract():
    assert {p.name for p in PAGES} == {
        "index.html",
        "my.html",
        "board.html",
        "ticket.html",
        "agency.html",
        "triage.html",
        "owner.html",
    }


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_page_is_chinese_has_a_main_landmark_and_nothing_inline_or_from_elsewhere(page):
    parsed = _tags(page)
    tags = dict(parsed.tags)
    assert tags["html"].get("lang") == "zh-CN"
    assert "main" in tags
    assert any(t == "meta" and a.get("name") == "viewport" for t, a in parsed.tags)
    assert not parsed.inline_script, "inline scripts are refused by the CSP (script-src 'self')"
    for tag, attrs in parsed.tags:
        assert "style" not in attrs, f"<{tag} style=…> is refused by the CSP (style-src 'self')"
        assert not [a for a in attrs if a.startswith("on")], f"<{tag}> has an inline event handler"
        for name in ("src", "href"):
            assert not (attrs.get(name) or "").startswith(("http:", "https:", "//")), "no CDN, fonts or trackers"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_a_page_preloads_exactly_the_modules_its_script_imports(page):
    # One round trip for all the modules instead of one per level of imports: on slow 3G, 400 ms each.
    parsed = _tags(page)
    (script,) = [a["src"] for t, a in parsed.tags if t == "script"]
    preloaded = {a["href"] for t, a in parsed.tags if t == "link" and a.get("rel") == "modulepreload"}
    assert (WEB / script.lstrip("/")).is_file()
    assert preloaded == {f"/assets/{m}" for m in _imports(Path(script).name)}


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda p: p.name)
def test_scripts_never_parse_data_as_html_nor_run_strings(script):
    source = script.read_text(encoding="utf-8")
    for sink in (
        "innerHTML",
        "outerHTML",
        "insertAdjacentHTML",
        "document.write",
        "eval(",
        "new Function",
        'setTimeout("',
        ".style.",
    ):
        assert sink not in source, f"{script.name} uses {sink}"
    assert not re.search(r"[\"'`]https?://", source), "no URL of another site"
