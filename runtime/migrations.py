"""Running the revisions `gen migrate make` writes, through Alembic.

A revision is a list of `Operation`s. They run in three phases: `before`
(enum values Postgres only adds outside a transaction; repeating them is
harmless), `transaction` (everything else, all or nothing), and
`concurrent` (index builds on existing tables, outside the transaction so
that reads and writes go on). A failure names the operation, its statement
and what Postgres said, and the transaction rolls back.

If a concurrent index build fails after the transaction committed, the
revision is recorded in `reframe_migration_progress`; the next `apply`
skips the committed part and retries the indexes.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from sqlalchemy import (
    Column,
    Connection,
    Index,
    MetaData,
    String,
    Table,
    create_engine,
    delete,
    func,
    insert,
    select,
)
from sqlalchemy.exc import DBAPIError
from sqlalchemy.pool import NullPool
from sqlalchemy.schema import DropIndex

from runtime.layout import MIGRATIONS_DIR

PROGRESS_TABLE = "reframe_migration_progress"
#: Revisions whose transaction committed while an index build after it failed.
_PROGRESS = Table(PROGRESS_TABLE, MetaData(), Column("revision", String(32), primary_key=True))


@dataclass(frozen=True)
class Operation:
    number: int
    description: str
    phase: Literal["before", "transaction", "concurrent"]
    forwards: Sequence[str]
    #: None: it cannot be undone.
    backwards: Sequence[str] | None = field(default=())


class MigrationFailed(Exception):
    """An operation failed; the message names it and says what Postgres said."""


# Inside a revision -----------------------------------------------------------------------


def upgrade_operations(revision: str, operations: Sequence[Operation]) -> None:
    from alembic import op

    connection = op.get_bind()
    total = len(operations)
    before = [o for o in operations if o.phase == "before"]
    main = [o for o in operations if o.phase == "transaction"]
    concurrent = [o for o in operations if o.phase == "concurrent"]
    if before:
        with op.get_context().autocommit_block():
            for operation in before:
                _run(connection, revision, operation, operation.forwards, total)
    if not _committed_earlier(connection, revision):
        for operation in main:
            _run(connection, revision, operation, operation.forwards, total)
        if concurrent:
            _remember_committed(connection, revision)
    if concurrent:
        with op.get_context().autocommit_block():
            for operation in concurrent:
                _build_index(connection, revision, operation, total)
        _forget_committed(connection, revision)


def downgrade_operations(revision: str, operations: Sequence[Operation]) -> None:
    from alembic import op

    connection = op.get_bind()
    irreversible = [o for o in operations if o.backwards is None]
    if irreversible:
        raise MigrationFailed(
            f"revision {revision} cannot be undone: operation {irreversible[0].number} "
            f"({irreversible[0].description}) has no way back. Write a new migration instead."
        )
    for operation in reversed(operations):
        assert operation.backwards is not None
        _run(connection, revision, operation, operation.backwards, len(operations), undo=True)


def _run(
    connection: Connection,
    revision: str,
    operation: Operation,
    statements: Sequence[str],
    total: int,
    undo: bool = False,
) -> None:
    for statement in statements:
        try:
            # exec_driver_sql with no parameters: no bind parsing of ':' or '%' in the SQL.
            connection.exec_driver_sql(statement, execution_options={"no_parameters": True})
        except DBAPIError as exc:
            doing = "undoing operation" if undo else "operation"
            reason = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
            raise MigrationFailed(
                f"revision {revision}, {doing} {operation.number} of {total} failed: "
                f"{operation.description}.\n  statement: {statement.splitlines()[0]}"
                f"{' ...' if chr(10) in statement else ''}\n  Postgres said: {reason}\n"
                "Nothing of this revision's transaction was applied."
            ) from exc


def _build_index(connection: Connection, revision: str, operation: Operation, total: int) -> None:
    try:
        _run(connection, revision, operation, operation.forwards, total)
    except MigrationFailed as failed:
        # A failed CONCURRENTLY build leaves an invalid index behind: remove it so a
        # retry can build it again.
        name = operation.forwards[0].split(" IF NOT EXISTS ", 1)[1].split(" ON ", 1)[0]
        invalid = Index(name, postgresql_concurrently=True)
        connection.execute(DropIndex(invalid, if_exists=True))
        raise MigrationFailed(
            str(failed).replace(
                "Nothing of this revision's transaction was applied.",
                "The rest of the revision is committed; fix the data and run "
                "`gen migrate apply` again to build this index.",
            )
        ) from failed


def _has_progress_table(connection: Connection) -> bool:
    found = connection.execute(select(func.to_regclass(PROGRESS_TABLE)))
    return found.scalar() is not None


def _committed_earlier(connection: Connection, revision: str) -> bool:
    if not _has_progress_table(connection):
        return False
    found = connection.execute(select(_PROGRESS.c.revision).where(_PROGRESS.c.revision == revision))
    return found.first() is not None


def _remember_committed(connection: Connection, revision: str) -> None:
    _PROGRESS.create(connection, checkfirst=True)
    connection.execute(insert(_PROGRESS).values(revision=revision))


def _forget_committed(connection: Connection, revision: str) -> None:
    if _has_progress_table(connection):
        connection.execute(delete(_PROGRESS).where(_PROGRESS.c.revision == revision))


# migrations/env.py ------------------------------------------------------------------------


def run_alembic_env() -> None:
    """What `migrations/env.py` does: run the migrations on the given connection or url."""
    from alembic import context

    if context.is_offline_mode():
        raise MigrationFailed("offline (--sql) mode is not supported; use `gen migrate apply`.")
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _configure_and_run(context, connection)
        return
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url or "", poolclass=NullPool)
    with engine.connect() as connection:
        _configure_and_run(context, connection)


def _configure_and_run(context: Any, connection: Connection) -> None:
    context.configure(connection=connection, transaction_per_migration=True)
    with context.begin_transaction():
        context.run_migrations()


# Apply, status, down ------------------------------------------------------------------


@dataclass(frozen=True)
class RevisionState:
    revision: str
    message: str
    applied: bool
    #: Committed, but its concurrent index builds have not all succeeded yet.
    partial: bool = False


def _config(project_root: Path, url: str) -> Any:
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(project_root / MIGRATIONS_DIR))
    config.set_main_option("sqlalchemy.url", url.replace("%", "%%"))
    return config


@contextmanager
def _connected(project_root: Path, url: str) -> Iterator[tuple[Any, Connection]]:
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            config = _config(project_root, url)
            config.attributes["connection"] = connection
            yield config, connection
    finally:
        engine.dispose()


def apply(project_root: Path, url: str, target: str = "head") -> list[str]:
    """Apply every pending revision; return the ids applied."""
    from alembic import command

    before = {s.revision for s in status(project_root, url) if s.applied}
    with _connected(project_root, url) as (config, connection):
        command.upgrade(config, target)
        connection.commit()
    after = status(project_root, url)
    return [s.revision for s in after if s.applied and s.revision not in before]


def down(project_root: Path, url: str, steps: int) -> list[str]:
    """Undo the last `steps` applied revisions; return the ids undone."""
    from alembic import command

    before = [s.revision for s in status(project_root, url) if s.applied]
    if steps > len(before):
        raise MigrationFailed(f"only {len(before)} revision(s) are applied; cannot undo {steps}.")
    with _connected(project_root, url) as (config, connection):
        command.downgrade(config, f"-{steps}")
        connection.commit()
    return list(reversed(before))[:steps]


def status(project_root: Path, url: str) -> list[RevisionState]:
    """Every revision, oldest first, with whether the database has it."""
    from alembic.runtime.migration import MigrationContext
    from alembic.script import ScriptDirectory

    with _connected(project_root, url) as (config, connection):
        scripts = ScriptDirectory.from_config(config)
        current = set(MigrationContext.configure(connection).get_current_heads())
        applied: set[str] = set()
        for head in current:
            applied.update(s.revision for s in scripts.iterate_revisions(head, "base"))
        partial = set()
        if _has_progress_table(connection):
            partial = {r for (r,) in connection.execute(select(_PROGRESS.c.revision))}
        connection.rollback()
    ordered = list(reversed(list(scripts.walk_revisions())))
    return [
        RevisionState(
            revision=script.revision,
            message=(script.doc or "").strip().splitlines()[0] if script.doc else "",
            applied=script.revision in applied,
            partial=script.revision in partial,
        )
        for script in ordered
    ]
