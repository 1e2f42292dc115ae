"""`gen serve`: the generated app, imported from a hook-store snapshot, under uvicorn.

Nothing is built or copied: the snapshot's Python is mounted as a package
(runtime/hook_import.py) and its `api/app.py` served, with the UI's routes
beside it (hookfs/web.py: TypeScript is transpiled on request and remembered
in the store). The database is the one given, else gen.toml's, else the
project's embedded PostgreSQL. Its schema is brought up to date first: the
project's migrations are applied when it has some; a database with no tables
at all gets the snapshot's `schema.postgres.sql` (a first run needs no step);
anything else is left alone, with a warning when it may not match the model.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from hookfs.store import HookStore, Snapshot, StoreError
from hookfs.transpile import Transpiler
from hookfs.web import ui_routes
from runtime import hook_import
from runtime.database import normalize_url
from runtime.layout import MIGRATIONS_DIR

EMPTY_DATABASE_NOTE = "empty database: created the schema of this snapshot"


class ServeError(Exception):
    """The app cannot be served; the message says what to run."""


@dataclass(frozen=True)
class Prepared:
    snapshot: Snapshot
    app: Any
    #: What was done to the database schema, in words.
    schema_note: str
    #: The snapshot's files, by path.
    files: dict[str, bytes]


def snapshot_files(project_root: Path, version: int | None) -> tuple[Snapshot, dict[str, bytes]]:
    if not (project_root / ".gen").is_dir():
        raise ServeError("nothing generated yet: run `gen generate` first.")
    with HookStore.open(project_root) as store:
        try:
            chosen = store.snapshot(version) if version is not None else store.head()
        except StoreError as exc:
            raise ServeError(f"{exc} (snapshots are numbered from 1 by `gen generate`).") from exc
        if chosen is None:
            raise ServeError("nothing generated yet: run `gen generate` first.")
        files = {entry.path: store.read_blob(entry.blob) for entry in store.files(chosen.id)}
    if "api/app.py" not in files:
        raise ServeError(
            f"snapshot {chosen.id} has no api/app.py: regenerate with `gen generate` "
            "(the api generator must be installed)."
        )
    return chosen, files


def prepare(
    project_root: Path,
    url: str,
    version: int | None = None,
    dev_events: str | None = None,
) -> Prepared:
    """Bring the schema up to date, mount the snapshot, import the app with the UI beside it.

    `dev_events`: `gen dev`'s event stream, for the page to follow (hookfs/web.py).
    """
    snapshot, files = snapshot_files(project_root, version)
    note = bring_schema_up_to_date(project_root, url, files)
    app = load_api(project_root, url, snapshot, files)
    # The UI (/app, /_hook, /_overrides, /_vendor) beside the API (/api): none shadows it.
    ui = ui_routes(files, project_root, Transpiler(project_root), dev_events)
    app.router.routes.extend(ui)
    return Prepared(snapshot, app, note, files)


def load_api(
    project_root: Path,
    url: str,
    snapshot: Snapshot,
    files: dict[str, bytes],
    previous: Snapshot | None = None,
) -> Any:
    """Mount the snapshot's Python as a package and import its API app.

    `previous`: the snapshot served so far (`gen dev`): its modules that did not change
    are reused, not imported again (runtime/hook_import.py).
    """
    package = _package(snapshot)
    hook_import.unmount(package)
    reuse = _package(previous) if previous is not None else None
    hook_import.mount(package, files, reuse_from=reuse)
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("REFRAME_PROJECT", str(project_root))
    return __import__(f"{package}.api.app", fromlist=["app"]).app


def unload_api(snapshot: Snapshot) -> None:
    """Forget the modules of `snapshot`'s package (an API no longer served). The modules a
    later snapshot took over from it live on under that snapshot's package."""
    hook_import.unmount(_package(snapshot))


def _package(snapshot: Snapshot) -> str:
    return f"reframe_hook_{snapshot.id}"


def bring_schema_up_to_date(project_root: Path, url: str, files: dict[str, bytes]) -> str:
    """Apply pending migrations, or create the schema in an empty database; say what was done."""
    if (project_root / MIGRATIONS_DIR / "versions").is_dir():
        from runtime.migrations import apply

        done = apply(project_root, url)
        return f"applied {len(done)} migration(s)" if done else "migrations up to date"
    engine = sa.create_engine(normalize_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            if sa.inspect(connection).get_table_names():
                return (
                    "the database has tables but the project no migrations: it is used as it "
                    "is (run `gen migrate make` and `gen migrate apply` to manage it)"
                )
            ddl = files["db/schema.postgres.sql"].decode()
            connection.exec_driver_sql(ddl, execution_options={"no_parameters": True})
            return EMPTY_DATABASE_NOTE
    finally:
        engine.dispose()
