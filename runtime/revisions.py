"""The revisions under `migrations/versions/`: which one is the latest, and the schema it made.

Each revision `NNNN_<slug>.py` has a `NNNN_<slug>.schema.json` beside it: the
relational schema the database has once it is applied. `gen migrate make`
diffs the model against the latest one; `gen dev` compares it with the model
to say when the migrations are behind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from generators.db.schema import Schema
from runtime.layout import MIGRATIONS_DIR

VERSIONS = "versions"
_NUMBERED = re.compile(r"^(\d{4})_.*\.schema\.json$")


class MigrateError(Exception):
    """The migration cannot be made; the message says why and what to do."""


@dataclass(frozen=True)
class Revision:
    number: int
    path: Path

    @property
    def id(self) -> str:
        return f"{self.number:04d}"

    @property
    def schema_path(self) -> Path:
        return self.path.with_suffix("").with_suffix(".schema.json")


def latest_revision(project_root: Path) -> Revision | None:
    """The newest revision with its stored schema; two with one number is an error."""
    folder = project_root / MIGRATIONS_DIR / VERSIONS
    if not folder.is_dir():
        return None
    found: dict[int, Path] = {}
    for path in sorted(folder.iterdir()):
        match = _NUMBERED.match(path.name)
        if match is None:
            continue
        number = int(match.group(1))
        if number in found:
            raise MigrateError(
                f"two revisions are numbered {number:04d} in {folder} (made on two branches?). "
                "Delete the newer one, merge the model changes, and run `gen migrate make` again."
            )
        found[number] = path.with_name(path.name.removesuffix(".schema.json") + ".py")
    if not found:
        return None
    number = max(found)
    revision = Revision(number, found[number])
    if not revision.path.is_file():
        raise MigrateError(
            f"{revision.schema_path} has no revision file {revision.path.name} beside it; "
            "restore it from version control, or delete the schema file."
        )
    return revision


def stored_schema(revision: Revision | None) -> Schema:
    if revision is None:
        return Schema()
    try:
        return Schema.model_validate_json(revision.schema_path.read_bytes())
    except ValueError as exc:
        raise MigrateError(
            f"{revision.schema_path} cannot be read ({str(exc).splitlines()[0]}). Restore it "
            "from version control: it records what revision "
            f"{revision.id} made, and every later migration is computed from it."
        ) from exc


class StoredSchemas:
    """Revisions' schemas read before, kept while their files are unchanged: `gen dev`
    answering `gen migrate make` again and again (reading 500 tables took 40 ms)."""

    def __init__(self) -> None:
        self._known: dict[Path, tuple[tuple[int, int, int], Schema]] = {}

    def read(self, revision: Revision | None) -> Schema:
        if revision is None:
            return Schema()
        stamp = _stamp(revision.schema_path)
        known = self._known.get(revision.schema_path)
        if known is not None and stamp is not None and known[0] == stamp:
            return known[1]
        schema = stored_schema(revision)
        if stamp is not None:  # read after the stamp: a later change gets another stamp
            self._known[revision.schema_path] = (stamp, schema)
        return schema

    def wrote(self, revision: Revision, schema: Schema) -> None:
        """`schema` was just written as `revision`'s."""
        stamp = _stamp(revision.schema_path)
        if stamp is not None:
            self._known[revision.schema_path] = (stamp, schema)


def _stamp(path: Path) -> tuple[int, int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return (stat.st_ino, stat.st_size, stat.st_mtime_ns)
