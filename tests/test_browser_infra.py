"""The browser fixtures of tests/browser.py in real headless Chromium: a click on a page
served from 127.0.0.1, a screenshot, and console errors that fail a test.

The pages name an icon: without one Chromium asks for /favicon.ico, and its 404 is a
console error like any other.
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from tests.browser import REPO, ConsoleWatch, screenshot, serve_static

SITE = {
    "index.html": """\
        <!doctype html>
        <title>infra</title>
        <link rel="icon" href="data:,">
        <button id="go">Go</button> <p id="out">waiting</p>
        <script type="module" src="main.js"></script>
        """,
    "main.js": """\
        const out = document.querySelector("#out");
        document.querySelector("#go").addEventListener("click", () => {
          out.textContent = "clicked";
        });
        """,
    "broken.html": """\
        <!doctype html>
        <link rel="icon" href="data:,">
        <p id="status">loading</p>
        <script type="module">
          document.querySelector("#status").textContent = "ran";
          console.error("boom from the page");
          throw new TypeError("thrown from a module");
        </script>
        """,
}


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    root = tmp_path_factory.mktemp("site")
    for name, text in SITE.items():
        (root / name).write_text(textwrap.dedent(text), encoding="utf-8")
    with serve_static(root) as base:
        yield base


def test_a_click_changes_the_text_and_a_screenshot_is_saved(page: Page, site: str) -> None:
    page.goto(f"{site}/index.html")
    expect(page.locator("#out")).to_have_text("waiting")
    page.click("#go")
    expect(page.locator("#out")).to_have_text("clicked")
    path = screenshot(page, "browser-infra click")
    assert path.name == "browser-infra_click.png"
    assert path.read_bytes().startswith(b"\x89PNG\r\n\x1a\n")
    assert path.stat().st_size > 1_000


def test_the_watcher_reports_console_errors_and_uncaught_ones(
    page: Page, console: ConsoleWatch, site: str
) -> None:
    page.goto(f"{site}/broken.html")
    expect(page.locator("#status")).to_have_text("ran")
    page.evaluate("0")  # a round trip, so that the events sent before it have arrived
    assert len(console.errors) == 2, console.errors
    assert "console.error: boom from the page" in console.errors[0]
    assert console.errors[1] == "uncaught TypeError: thrown from a module"
    with pytest.raises(AssertionError, match="boom from the page"):
        console.assert_clean()
    assert len(console.take()) == 2  # forgotten: the page fixture finds a clean console
    console.assert_clean()


RUN = """\
import asyncio

import pytest

ERROR = "<script>console.error('boom')</script>"


def test_unmarked(page):
    page.set_content(ERROR)


@pytest.mark.console_errors_expected
def test_marked(page):
    page.set_content(ERROR)


def test_opted_out(page, console):
    console.expect_errors()
    page.set_content(ERROR)


def test_thrown(page):
    page.set_content("<script>throw new RangeError('bad')</script>")


def test_asyncio_between_browser_tests():
    async def one():
        return 1

    assert asyncio.run(one()) == 1


def test_clean_after(page):
    page.set_content("<p>ok</p>")
    assert page.inner_text("p") == "ok"
"""


def test_console_errors_fail_a_page_test_unless_it_opts_out(
    browser: Browser, tmp_path: Path
) -> None:
    """A pytest run of its own: the failures come from the fixture, not from the test."""
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --strict-markers\n")
    (tmp_path / "test_console.py").write_text(RUN)
    shots = tmp_path / "shots"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.browser", "-q", "-rf"],
        cwd=tmp_path,
        env={
            **os.environ,
            "PYTHONPATH": str(REPO),  # where `tests.browser` imports from
            "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1",  # schemathesis & co. cost 1.8 s to load
            "REFRAME_SCREENSHOTS": str(shots),
        },
        capture_output=True,
        text=True,
        timeout=120,
    )
    out = done.stdout + done.stderr
    assert "2 failed, 4 passed" in out, out
    assert "FAILED test_console.py::test_unmarked" in out, out
    assert "console.error: boom" in out
    assert "FAILED test_console.py::test_thrown" in out, out
    assert "uncaught RangeError: bad" in out
    assert sorted(path.name for path in shots.iterdir()) == [
        "failed-test_console.py_test_thrown.png",
        "failed-test_console.py_test_unmarked.png",
    ]


def test_asyncio_runs_in_a_test_without_the_browser() -> None:
    """After the browser tests above (in this process too), the main thread has no loop."""

    async def one() -> int:
        return 1

    assert asyncio.run(one()) == 1
