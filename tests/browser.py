"""Headless Chromium for the tests, driven by Playwright's sync API (a pytest plugin,
loaded by tests/conftest.py).

Fixtures:
- `browser` (session): one Chromium for the whole run, Debian's package (`make chromium`)
  or `REFRAME_CHROMIUM`; skipped without it, failed under CI=true.
- `page` (function): a fresh context and page. The test FAILS if a `console.error` or an
  uncaught page error happened in that context, unless it is marked
  `@pytest.mark.console_errors_expected` or calls `console.expect_errors()`.
- `console` (function): the `ConsoleWatch` of `page`, to read or clear its errors.

Helpers: `screenshot(page, name)` saves test-artifacts/screenshots/<name>.png, or in
`REFRAME_SCREENSHOTS` (a failing `page` test saves one named after the test); `watch_console(page_or_context)` for pages
a test makes itself; `serve_static(folder)` serves a folder on 127.0.0.1.

Playwright's sync API marks its asyncio loop as running in the main thread for as long
as it is started, so `asyncio.run()` there would fail. Between tests the loop is parked
(unmarked) and it is marked again only for the tests whose fixtures include `browser`;
inside those, run asyncio code in a thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import http.server
import os
import re
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, WebError

REPO = Path(__file__).resolve().parent.parent
SCREENSHOTS = Path(os.environ.get("REFRAME_SCREENSHOTS", REPO / "test-artifacts" / "screenshots"))
INSTALL = "`make chromium` (as root: apt-get install -y --no-install-recommends chromium)"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium calls Google's hosts, which this machine's network refuses.
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    # Closing a tab makes Chromium load its omnibox popup's WebUI in a renderer of its own:
    # ~600 ms of CPU (measured in a trace) taken from the page under test on a 2-core machine.
    "--disable-features=WebUIOmniboxPopup,WebUIOmniboxAimPopup,OmniboxFullPopupWebUIContent",
]
#: Playwright's default of 30 s per action makes a broken page slow to report.
TIMEOUT_MS = 10_000
MARKER = "console_errors_expected"


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}: the `page` fixture does not fail the test on console errors"
    )


# The running-loop mark of Playwright's loop, taken off between tests (see the module doc).


@dataclass
class _Parking:
    loop: asyncio.AbstractEventLoop | None = None
    hooks: Any = None
    outside_hooks: Any = field(default_factory=sys.get_asyncgen_hooks)
    parked: bool = False

    def park(self) -> None:
        if not self.parked:
            self.loop, self.hooks = asyncio._get_running_loop(), sys.get_asyncgen_hooks()
            asyncio._set_running_loop(None)
            sys.set_asyncgen_hooks(*self.outside_hooks)
            self.parked = True

    def unpark(self) -> None:
        if self.parked:
            asyncio._set_running_loop(self.loop)
            sys.set_asyncgen_hooks(*self.hooks)
            self.parked = False


_parking: _Parking | None = None  # set while the session's Playwright runs


def _unpark() -> None:
    if _parking is not None:
        _parking.unpark()


@pytest.hookimpl(wrapper=True, tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> Iterator[None]:
    if "browser" in getattr(item, "fixturenames", ()):
        _unpark()
    return (yield)


@pytest.hookimpl(wrapper=True, trylast=True)
def pytest_runtest_teardown(item: pytest.Item) -> Iterator[None]:
    try:
        return (yield)
    finally:
        if _parking is not None:
            _parking.park()


def chromium_executable() -> str | None:
    configured = os.environ.get("REFRAME_CHROMIUM")
    if configured:
        return shutil.which(configured)
    return shutil.which("chromium")


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """Chromium for the run; skip without it (fail under CI=true or with REFRAME_CHROMIUM)."""
    global _parking
    executable = chromium_executable()
    if executable is None:
        configured = os.environ.get("REFRAME_CHROMIUM")
        if configured:
            pytest.fail(f"REFRAME_CHROMIUM={configured} is not an executable")
        message = f"no chromium on PATH for the browser tests; run {INSTALL}"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    from playwright.sync_api import sync_playwright

    parking = _Parking()  # the asyncgen hooks from before Playwright's loop set its own
    playwright = sync_playwright().start()
    _parking = parking
    try:
        launched = playwright.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS)
        try:
            yield launched
        finally:
            _unpark()
            launched.close()
    finally:
        _unpark()
        _parking = None
        playwright.stop()


@dataclass
class ConsoleWatch:
    """The `console.error` messages and uncaught errors of a page or context."""

    errors: list[str] = field(default_factory=list)
    expected: bool = False
    #: Failed responses a test provokes on purpose: (status, URL pattern).
    provoked: list[tuple[int, re.Pattern[str]]] = field(default_factory=list)

    def expect_response(self, status: int, url: str) -> None:
        """A request the test makes fail on purpose (a stale-ETag 412, another tenant's 404):
        Chromium logs it as a console error, which is not held against this test. Every other
        error still is."""
        self.provoked.append((status, re.compile(url)))

    def expect_errors(self) -> None:
        """Errors are part of this test: the `page` fixture does not fail it for them."""
        self.expected = True

    def take(self) -> list[str]:
        """The errors so far, which are then forgotten."""
        taken = list(self.errors)
        self.errors.clear()
        return taken

    def assert_clean(self) -> None:
        assert not self.errors, "errors in the browser console:\n" + "\n".join(self.errors)

    def on_console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            where = message.location
            if self._provoked(message.text, where["url"]):
                return
            self.errors.append(
                f"console.error: {message.text} ({where['url']}:{where['lineNumber']})"
            )

    def _provoked(self, text: str, url: str) -> bool:
        failed = re.match(
            r"Failed to load resource: the server responded with a status of (\d+)", text
        )
        return failed is not None and any(
            int(failed.group(1)) == status and pattern.search(url)
            for status, pattern in self.provoked
        )

    def on_error(self, error: WebError) -> None:
        self.errors.append(f"uncaught {error.error.name}: {error.error.message}")


def watch_console(target: Page | BrowserContext) -> ConsoleWatch:
    """Collect console errors of `target` (all pages of a context, or a page's context)."""
    from playwright.sync_api import Page

    context = target.context if isinstance(target, Page) else target
    watch = ConsoleWatch()
    context.on("console", watch.on_console)
    context.on("weberror", watch.on_error)
    return watch


_WATCH = pytest.StashKey[tuple[ConsoleWatch, "Page"]]()


@pytest.fixture
def page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Page]:
    """A new context and page; console errors fail the test (see the module doc)."""
    _unpark()
    context = browser.new_context()
    context.set_default_timeout(TIMEOUT_MS)
    watch = watch_console(context)
    if request.node.get_closest_marker(MARKER) is not None:
        watch.expect_errors()
    opened = context.new_page()
    request.node.stash[_WATCH] = (watch, opened)
    try:
        yield opened
    finally:
        del request.node.stash[_WATCH]
        context.close()


@pytest.fixture
def console(page: Page, request: pytest.FixtureRequest) -> ConsoleWatch:
    """The console errors of `page`."""
    return request.node.stash[_WATCH][0]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    """Fail a `page` test with console errors; screenshot a failing one."""
    watched = item.stash.get(_WATCH, None)
    try:
        result = yield
        if watched is not None and not watched[0].expected:
            with contextlib.suppress(Exception):  # unless the test closed its page:
                watched[1].evaluate("0")  # a round trip, so that earlier events have arrived
            watched[0].assert_clean()
        return result
    except (Exception, pytest.fail.Exception):
        if watched is not None:
            _failure_screenshot(watched[1], item.nodeid)
        raise


def screenshot(page: Page, name: str) -> Path:
    """Save the whole page as test-artifacts/screenshots/<name>.png and return the path."""
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    path = SCREENSHOTS / (re.sub(r"[^\w.-]+", "_", name).strip("_") + ".png")
    page.screenshot(path=path, full_page=True)
    return path


def _failure_screenshot(page: Page, nodeid: str) -> None:
    with contextlib.suppress(Exception):  # a closed or crashed page: the failure is reported
        screenshot(page, "failed-" + nodeid.rsplit("/", 1)[-1])


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def serve_static(folder: Path) -> Iterator[str]:
    """Serve `folder` over HTTP on 127.0.0.1 and a free port; yield the base URL."""
    handler = functools.partial(_QuietHandler, directory=str(folder))
    with http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler) as server:
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        try:
            yield f"http://127.0.0.1:{server.server_address[1]}"
        finally:
            server.shutdown()
            thread.join()
