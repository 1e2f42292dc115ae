"""A Reframe project in an Alembic environment whose target is the generated `db/tables.py`.

`write_alembic_project` writes what a user of Alembic has once `gen generate`
has run: `alembic init`'s files, `alembic.ini` pointed at a Postgres
database, `env.py` targeting the `metadata` of `db/tables.py`, and the `db`
package itself, the very bytes the db generator writes to `generated/db/`
(generators/db/metadata.py). Nothing is translated by hand here: Alembic
diffs exactly the schema Reframe's own DDL describes, and there is nothing
it cannot express.

    python -m bench.comparators.sqlalchemy_models PROJECT_DIR OUT_DIR [--url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import io
from pathlib import Path

from bench.comparators.common import load_ir
from compiler import ir
from generators.db import PACKAGE_PATH, TABLES_PATH, DbGenerator

ENV_METADATA = "target_metadata = None"
ENV_TARGET = "from db.tables import metadata\n\ntarget_metadata = metadata"


def write_models(project: ir.Project, root: Path) -> list[str]:
    """(Re)write the generated `db` package only, as `gen generate` does after a model change.

    Returns what the metadata cannot express (nothing: it is Reframe's own schema).
    """
    for artifact in DbGenerator().generate(project):
        if artifact.path in (PACKAGE_PATH, TABLES_PATH):
            path = root / artifact.path
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(artifact.content)
    return []


def write_alembic_project(project: ir.Project, root: Path, url: str) -> list[str]:
    """`alembic init migrations`, pointed at `url` and at the metadata of db/tables.py."""
    from alembic import command
    from alembic.config import Config

    root.mkdir(parents=True, exist_ok=True)
    ini = root / "alembic.ini"
    with contextlib.redirect_stdout(io.StringIO()):  # init's progress lines are noise here
        command.init(Config(str(ini)), str(root / "migrations"))
    set_url(root, url)
    env = root / "migrations" / "env.py"
    text = env.read_text(encoding="utf-8")
    assert ENV_METADATA in text, "alembic's env.py template changed"
    env.write_text(text.replace(ENV_METADATA, ENV_TARGET), encoding="utf-8")
    return write_models(project, root)


def set_url(root: Path, url: str) -> None:
    ini = root / "alembic.ini"
    lines = ini.read_text(encoding="utf-8").splitlines()
    # configparser interpolates %: a percent-encoded password must be doubled.
    value = url.replace("%", "%%")
    lines = [f"sqlalchemy.url = {value}" if ln.startswith("sqlalchemy.url") else ln for ln in lines]
    ini.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="a Reframe project after `gen generate`")
    parser.add_argument("out", type=Path, help="folder for the Alembic project")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    write_alembic_project(load_ir(args.project), args.out, args.url)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
