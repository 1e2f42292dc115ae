"""Shared fixtures: throwaway projects, a private copy of the invoices example and
throwaway PostgreSQL databases.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import textwrap
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

# Chromium through Playwright: the browser, page and console fixtures (see tests/browser.py).
pytest_plugins = ["tests.browser"]

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "invoices"
BIN = REPO / "node_modules" / ".bin"

DEFAULT_GEN_TOML = """\
[app]
name = "shop"
roles = ["admin", "billing", "member"]
tenancy = "org"
"""

#: Write a project from {relative path: text}; gen.toml defaults to DEFAULT_GEN_TOML.
MakeProject = Callable[[dict[str, str]], Path]


@pytest.fixture
def make_project(tmp_path: Path) -> MakeProject:
    counter = iter(range(1_000))

    def make(files: dict[str, str]) -> Path:
        root = tmp_path / f"project{next(counter)}"
        files = {"gen.toml": DEFAULT_GEN_TOML, **files}
        for relative, text in files.items():
            path = root / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text), encoding="utf-8")
        return root

    return make


@pytest.fixture
def example_copy(tmp_path: Path) -> Path:
    """The invoices example without its .gen/ and generated/, in a temp folder."""
    target = tmp_path / "invoices"
    shutil.copytree(
        EXAMPLE, target, ignore=shutil.ignore_patterns(".gen", "generated", "__pycache__")
    )
    return target


# PostgreSQL: one server per session (see tests/pg.py for how it is chosen), one
# throwaway database per test.


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "embedded_pg: starts the bundled PostgreSQL through pgserver; never skipped, in CI too",
    )


@pytest.fixture(scope="session")
def pg_admin_url(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The URL of a server the tests may create databases on; skip (fail in CI) without one."""
    from tests import pg  # psycopg and SQLAlchemy load only when a test needs a database

    url, tried = pg.find_server(tmp_path_factory.mktemp("pg"))
    if url is not None:
        return url
    message = "no PostgreSQL server for the tests; tried " + "; ".join(tried)
    if os.environ.get("TEST_DATABASE_URL") or os.environ.get("CI") == "true":
        pytest.fail(message + ". Set TEST_DATABASE_URL to a server that allows CREATE DATABASE.")
    pytest.skip(message)


@pytest.fixture
def fresh_db(pg_admin_url: str) -> Iterator[str]:
    """The postgresql+psycopg:// URL of a new, empty database, dropped after the test."""
    from tests import pg

    url = pg.create_database(pg_admin_url)
    yield url
    pg.drop_database(pg_admin_url, url)


# Node: tsc and esbuild from `npm ci` check and bundle emitted TypeScript; node runs it.


@dataclass(frozen=True)
class Node:
    node: str
    tsc: Path
    esbuild: Path

    def typecheck(self, source: Path) -> None:
        done = subprocess.run(
            [self.tsc, "--strict", "--noImplicitAny", "--noEmit", "--target", "es2022", source],
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stdout + done.stderr

    def run(self, entry: Path, stdin: str) -> str:
        """Bundle `entry` (which imports .ts modules) with esbuild and run it with node."""
        bundle = entry.with_suffix(".bundle.mjs")
        build = [self.esbuild, entry, "--bundle", "--platform=node", "--format=esm"]
        built = subprocess.run(
            [*build, f"--outfile={bundle}", "--log-level=warning"], capture_output=True, text=True
        )
        assert built.returncode == 0, built.stderr
        done = subprocess.run([self.node, bundle], input=stdin, capture_output=True, text=True)
        assert done.returncode == 0, done.stderr
        return done.stdout


@pytest.fixture(scope="session")
def node() -> Node:
    """node, and tsc and esbuild from `npm ci`; skip without them (fail in CI)."""
    found = shutil.which("node")
    tsc, esbuild = BIN / "tsc", BIN / "esbuild"
    missing = [
        name
        for name, ok in [("node", found), ("tsc", tsc.exists()), ("esbuild", esbuild.exists())]
        if not ok
    ]
    if found is None or missing:
        message = f"missing {', '.join(missing)}; install Node 20 and run `make setup` (npm ci)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return Node(found, tsc, esbuild)
