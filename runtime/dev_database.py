"""`gen dev`: the development database follows the model, when that is safe.

After each successful rebuild, the schema the dev database was last brought
to (kept in it, table `reframe_dev_schema`; else the schema of the model
being served) is diffed against the new model's with the migration planner
(generators/db/diff.py, what `gen migrate make` uses), and the operations
run on the dev database straight away, as Prisma's `db push` does: no
revision file is written. The new schema is recorded in the same
transaction, so a restarted `gen dev` knows where the database is.
Nothing is run when the plan would destroy data or has a question only the
user can answer (a rename, a backfill); the note says so and what to run.

A project with a `migrations/` folder manages its schema through revisions
instead: pending ones are applied (`gen migrate make` refused any destructive
step it was not allowed), and a model ahead of them is pointed out.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import JSONB, insert
from sqlalchemy.engine import Connection

from compiler import ir
from generators.db.diff import Plan, PlanError, plan_migration
from generators.db.lower import lower_schema
from generators.db.operations import Operation
from generators.db.schema import Schema
from runtime.database import normalize_url
from runtime.fills import with_fills
from runtime.layout import MIGRATIONS_DIR

SCHEMA_TABLE = "reframe_dev_schema"
#: One row: the schema the dev database was last brought to.
_KEPT = sa.Table(
    SCHEMA_TABLE,
    sa.MetaData(),
    sa.Column("id", sa.Integer, primary_key=True),
    sa.Column("schema", JSONB, nullable=False),
)


class DevDatabaseError(Exception):
    """Postgres refused an operation; the message names it."""


def follow_model(project_root: Path, url: str, served: ir.Project, new: ir.Project) -> str:
    """Bring the dev database from `served`'s schema to `new`'s when safe; say what happened."""
    if (project_root / MIGRATIONS_DIR / "versions").is_dir():
        return _apply_revisions(project_root, url, served, new)
    target = lower_schema(new)
    engine = sa.create_engine(normalize_url(url), poolclass=sa.pool.NullPool)
    try:
        current = _kept_schema(engine, url) or lower_schema(served)
        try:
            plan = with_fills(plan_migration(current, target), current, target, new)
        except PlanError as exc:
            return f"the database was not changed: {exc}"
        refusal = _refusal(plan)
        if refusal:
            return refusal
        _run(engine, url, plan.operations, target)
    finally:
        engine.dispose()
    if not plan.operations:
        return "the database schema did not change"
    return "the database now has it: " + "; ".join(op.description for op in plan.operations)


#: The schema this process last kept in a database, by URL, with the digest Postgres gives
#: of it: reading it back took 0.2 s a save at 200 entities.
_LAST_KEPT: dict[str, tuple[str, Schema]] = {}


def _kept_digest(connection: Connection) -> str | None:
    return connection.execute(sa.select(sa.func.md5(sa.cast(_KEPT.c.schema, sa.Text)))).scalar()


def _kept_schema(engine: sa.Engine, url: str) -> Schema | None:
    with engine.begin() as connection:
        _KEPT.create(connection, checkfirst=True)
        digest = _kept_digest(connection)
        if digest is None:
            return None
        last = _LAST_KEPT.get(url)
        if last is not None and last[0] == digest:  # what this process stored: unchanged
            return last[1]
        kept = connection.execute(sa.select(_KEPT.c.schema)).scalar()
    schema = Schema.model_validate(kept)
    _LAST_KEPT[url] = (digest, schema)
    return schema


def _refusal(plan: Plan) -> str | None:
    if plan.destructive:
        steps = "; ".join(op.description for op in plan.destructive)
        return (
            f"the database was NOT changed: it would destroy data ({steps}). To go ahead, "
            "make it a migration: `gen migrate make --allow-destructive`, then `gen migrate apply`."
        )
    if plan.questions:
        asked = "; ".join(q.prompt for q in plan.questions)
        return (
            f"the database was NOT changed: only you can decide ({asked}). Run "
            "`gen migrate make` on a terminal to answer, then `gen migrate apply`."
        )
    return None


def _run(engine: sa.Engine, url: str, operations: Sequence[Operation], target: Schema) -> None:
    """`before` and `concurrent` steps outside a transaction (Postgres requires it), the rest
    in one, with the schema they lead to."""
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        _each(autocommit, [op for op in operations if op.phase == "before"])
    with engine.begin() as connection:
        _each(connection, [op for op in operations if op.phase == "transaction"])
        row = {"id": 1, "schema": target.model_dump(mode="json", exclude_none=True)}
        keep = insert(_KEPT).values(row)
        connection.execute(keep.on_conflict_do_update(index_elements=["id"], set_=row))
        _LAST_KEPT[url] = (_kept_digest(connection) or "", target)
    with engine.connect() as connection:
        autocommit = connection.execution_options(isolation_level="AUTOCOMMIT")
        _each(autocommit, [op for op in operations if op.phase == "concurrent"])


def _each(connection: Connection, operations: Sequence[Operation]) -> None:
    for operation in operations:
        for statement in operation.forwards:
            try:
                connection.exec_driver_sql(statement, execution_options={"no_parameters": True})
            except sa.exc.DBAPIError as exc:
                said = str(exc.orig).strip().splitlines()[0] if exc.orig else str(exc)
                raise DevDatabaseError(
                    f"the database change stopped at: {operation.description}. Postgres said: "
                    f"{said}. The steps of its transaction were rolled back."
                ) from exc


def _apply_revisions(project_root: Path, url: str, served: ir.Project, new: ir.Project) -> str:
    from runtime.migrations import apply
    from runtime.revisions import latest_revision, stored_schema

    done = apply(project_root, url)
    note = f"applied migration(s) {', '.join(done)}" if done else "no migration to apply"
    if stored_schema(latest_revision(project_root)) != lower_schema(new):
        note += "; the model is ahead of the migrations: run `gen migrate make`, it is applied here"
    return note
