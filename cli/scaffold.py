"""`gen init`: a new project with one sample entity."""

from __future__ import annotations

import re
from pathlib import Path

GEN_TOML = """\
[app]
name = "{name}"
roles = ["admin", "member"]
tenancy = "org"

[auth]
providers = ["password", "magic_link"]
"""

SAMPLE_MODEL = '''\
"""A first entity. Add fields, run `gen check`, then `gen generate`."""

from compiler.dsl import (
    action,
    allow,
    boolean,
    date,
    entity,
    enum,
    index,
    owner,
    role,
    state,
    tenant_member,
    text,
    view,
)

Task = entity(
    "Task",
    doc="Something to do.",
    tenant=True,
    fields={
        "title": text().required().max_length(200),
        "notes": text(),
        "priority": enum(["low", "normal", "high"]).required().default("normal"),
        "due_date": date(),
        "starred": boolean().required().default(False),
        "status": state(
            ["open", "done"],
            initial="open",
            transitions={"finish": ("open", "done"), "reopen": ("done", "open")},
        ),
    },
    actions={"finish": action(), "reopen": action()},
    policies=allow(
        read=tenant_member(),
        create=tenant_member(),
        update=owner() | role("admin"),
        delete=role("admin"),
        finish=tenant_member(),
        reopen=owner() | role("admin"),
    ),
    views={"list": view().columns(["title", "priority", "due_date", "status"]).sort("due_date")},
    indexes=[index("status", "due_date")],
)
'''

GITIGNORE = """\
# Reframe: the hook store and its mirror are rebuilt by `gen generate`.
.gen/
generated/
"""


class ScaffoldError(Exception):
    pass


def _app_name(directory: Path, name: str | None) -> str:
    raw = name or directory.resolve().name
    slug = re.sub(r"[^a-z0-9_-]+", "-", raw.lower()).strip("-_") or "app"
    return slug if slug[0].isalpha() else f"app-{slug}"


def create_project(directory: Path, name: str | None = None) -> list[str]:
    """Write the project files; refuse a folder that already has content."""
    if directory.exists() and (not directory.is_dir() or any(directory.iterdir())):
        raise ScaffoldError(
            f"{directory} already exists and is not empty; choose a new folder so that no file is overwritten."
        )
    files = {
        "gen.toml": GEN_TOML.format(name=_app_name(directory, name)),
        "domain/tasks.model.py": SAMPLE_MODEL,
        ".gitignore": GITIGNORE,
    }
    for relative, text in files.items():
        path = directory / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return sorted(files)
