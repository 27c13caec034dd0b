"""The pages in a real browser: Debian's Chromium driven by Playwright, against one local stack for the module.

Nothing is downloaded: Playwright drives the system's /usr/bin/chromium (`make test` installs it when it can), and
axe-core comes from npm into tests/browser/node_modules. Where either is missing, the tests skip and say why.

Every test gets a fresh browser context (no cookies, no localStorage) and fails if the page logged a console
error or threw: a Content-Security-Policy violation is one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from browser_helpers import CHROMIUM, DESKTOP, STAFF_PASSWORD, Watched, launch_chromium, watch
from integration.conftest import PHOTO_WAIT_S, LocalStackClient, start_stack, stop_stack

from complaints_tools.fake_weibo import FakeWeibo
from complaints_tools.staff import StaffPool


def pytest_collection_modifyitems(items):
    for item in items:
        if "/browser/" in str(item.fspath):
            item.add_marker(pytest.mark.browser)
            item.add_marker(pytest.mark.integration)  # it starts the local stack, as the integration tests do


@pytest.fixture(scope="module")
def browser():
    sync_api = pytest.importorskip("playwright.sync_api", reason="Playwright is not installed (pip install -e .[dev])")
    if not CHROMIUM.exists():
        pytest.skip(f"no Chromium at {CHROMIUM} (make browser installs Debian's chromium as root; or set CHROMIUM)")
    with sync_api.sync_playwright() as p:
        b = launch_chromium(p)
        yield b
        b.close()


@pytest.fixture(scope="module")
def stack(tmp_path_factory) -> Iterator[LocalStackClient]:
    weibo = FakeWeibo().start()
    log = tmp_path_factory.mktemp("browser-stack") / "stack.log"
    proc, client = start_stack(weibo, log, "--parameter", f"PhotoWaitSeconds={PHOTO_WAIT_S}")
    yield client
    stop_stack(proc)
    weibo.stop()


@pytest.fixture(scope="module")
def site(stack) -> str:
    """Where the pages are: the local stack serves them as CloudFront does (tools/complaints_tools/local/web.py)."""
    return stack.url


@pytest.fixture(scope="module")
def staff_pool(stack) -> StaffPool:
    return StaffPool.of_local_stack(stack.url)


@pytest.fixture(scope="module")
def eco_staff(staff_pool, city) -> dict[str, str]:
    """A member of the environment bureau (eco) with a permanent password."""
    staff_pool.add(city, "eco", "wang@ruian.example", STAFF_PASSWORD)
    return {"email": "wang@ruian.example", "password": STAFF_PASSWORD}


@pytest.fixture(scope="module")
def triage_staff(staff_pool, city) -> dict[str, str]:
    staff_pool.add(city, "triage-desk", "li@ruian.example", STAFF_PASSWORD)
    return {"email": "li@ruian.example", "password": STAFF_PASSWORD}


@pytest.fixture()
def new_page(browser, site) -> Iterator[Any]:
    """new_page(viewport, **context options) → a Watched page in a fresh context; checked when the test ends: no
    console error, no uncaught exception."""
    opened: list[tuple[Any, Watched]] = []

    def make(viewport: dict[str, int] = DESKTOP, **options: Any) -> Watched:
        context = browser.new_context(viewport=viewport, base_url=site, locale="zh-CN", **options)
        w = watch(context.new_page())
        opened.append((context, w))
        return w

    yield make
    problems = [e for _, w in opened for e in w.errors]
    for context, _ in opened:
        context.close()
    assert problems == [], "the pages logged errors:\n" + "\n".join(problems)
