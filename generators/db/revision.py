"""Render an Alembic revision file from planned operations (pure: text in, text out)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from jinja2 import Environment, PackageLoader, StrictUndefined

from generators.db.operations import Operation

_env = Environment(
    loader=PackageLoader("templates", "db"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
)


def python_string(value: str | None) -> str:
    """A Python literal for `value`: a triple-quoted block for multi-line SQL, kept exact."""
    if value is None:
        return "None"
    if "\n" in value and '"""' not in value and "\\" not in value and not value.endswith('"'):
        return f'"""{value}"""'
    return repr(value)


_env.filters["pystr"] = python_string


def slug(message: str) -> str:
    words = re.sub(r"[^a-z0-9]+", "_", message.lower()).strip("_")
    return words[:40].rstrip("_") or "migration"


def render_revision(
    revision: str,
    down_revision: str | None,
    message: str,
    operations: Sequence[Operation],
    revision_file: str,
) -> str:
    ordered = [op for op in operations if op.phase == "before"]
    ordered += [op for op in operations if op.phase == "transaction"]
    ordered += [op for op in operations if op.phase == "concurrent"]
    return _env.get_template("revision.py.j2").render(
        message=message.strip().splitlines()[0] if message.strip() else "Migration",
        revision=revision,
        down_revision=down_revision,
        operations=ordered,
        revision_file=revision_file,
    )
