"""Shared fixtures: throwaway projects and a private copy of the invoices example."""

from __future__ import annotations

import shutil
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "invoices"

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
