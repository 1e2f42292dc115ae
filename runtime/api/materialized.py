"""Materialized computed fields, kept fresh in the transaction of the write that changes them.

After a row of entity E is created, changed or deleted, every materialized
field whose value can depend on it is recomputed with the same SQL the read
path uses (runtime/api/computed.py), for the rows it affects only:

- a field of E itself (`"line_total": ...materialized()`): the written row;
- an aggregate over a one-to-many into E (`Customer.invoice_count =
  count_("invoices")`): the parents the row points at, before and after (a
  moved invoice changes two customers);
- a value read through a ref to E (`F("customer.name")`): the rows pointing
  at the written one.

A migration that adds such a field to a table with rows fills it for them
with the same SQL (`fill_statements`, runtime/fills.py): the column would
start empty.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql

from compiler import ir
from policy.caller import Caller
from policy.sql import CallerParams
from runtime.api.computed import ExprCompiler
from runtime.api.model import AppModel


def refresh(
    connection: sa.Connection,
    model: AppModel,
    written: ir.Entity,
    key: object,
    before: Mapping[str, Any] | None,
    caller: Caller,
) -> None:
    """Recompute what depends on the row `key` of `written` (`before`: its old values)."""
    after = _stored(connection, model, written, key)
    for target, field in _materialized(model.project):
        keys = _affected(connection, model, written, key, before, after, target, field)
        if keys:
            _recompute(connection, model, target, field, keys, caller)


def _materialized(project: ir.Project) -> Iterable[tuple[ir.Entity, ir.FieldNode]]:
    for entity in project.entities:
        for field in entity.fields:
            if field.materialized and field.computed is not None and field.column is not None:
                yield entity, field


def _stored(
    connection: sa.Connection, model: AppModel, entity: ir.Entity, key: object
) -> dict[str, Any] | None:
    table = model.table(entity)
    found = (
        connection.execute(sa.select(table).where(model.column(entity, entity.primary_key) == key))
        .mappings()
        .first()
    )
    return None if found is None else model.by_field(entity, found)


def _affected(
    connection: sa.Connection,
    model: AppModel,
    written: ir.Entity,
    key: object,
    before: Mapping[str, Any] | None,
    after: Mapping[str, Any] | None,
    target: ir.Entity,
    field: ir.FieldNode,
) -> set[object]:
    assert field.computed is not None
    keys: set[object] = set()
    for dependency in field.computed.depends_on:
        owner_name, _, name = dependency.partition(".")
        if owner_name != target.name:
            if owner_name == written.name and target.name == written.name and after is not None:
                keys.add(key)
            continue
        used = target.field(name)
        if used is None:
            continue
        if target.name == written.name and after is not None:
            keys.add(key)
        kind = used.type
        if isinstance(kind, ir.OneToManyType) and kind.target == written.name:
            # The parents the row points at, before and after the write.
            keys.update(
                row[kind.via] for row in (before, after) if row and row.get(kind.via) is not None
            )
        elif isinstance(kind, ir.RefType) and kind.target == written.name:
            pointing = sa.select(model.column(target, target.primary_key)).where(
                model.column(target, name) == key
            )
            keys.update(connection.scalars(pointing))
    return keys


def recompute_all(connection: sa.Connection, model: AppModel, caller: Caller) -> None:
    """Every materialized field of every row (after a bulk load such as `gen seed`)."""
    for target, field in _materialized(model.project):
        _recompute(connection, model, target, field, None, caller)


def _recompute(
    connection: sa.Connection,
    model: AppModel,
    target: ir.Entity,
    field: ir.FieldNode,
    keys: set[object] | None,
    caller: Caller,
) -> None:
    """Recompute `field` for the rows `keys` of `target` (None: all of them)."""
    update = _update(model.project, model.tables, target, field, CallerParams.of(caller))
    if keys is not None:
        key = model.column(target, target.primary_key)
        update = update.where(key.in_(sorted(keys, key=str)))
    connection.execute(update)


def _update(
    project: ir.Project,
    tables: Mapping[str, sa.Table],
    target: ir.Entity,
    field: ir.FieldNode,
    params: CallerParams,
) -> sa.Update:
    """`UPDATE <target's table> SET <field's column> = <its value>`, for every row."""
    assert field.computed is not None and field.column is not None
    table = tables[target.table]
    value = ExprCompiler(project, tables, params).expr(field.computed.expr, target, table)
    # As the column holds it: an enum's value is computed as text, and text is no enum.
    stored = sa.cast(value, table.c[field.column].type)
    return sa.update(table).values({field.column: stored})


def fill_statements(
    project: ir.Project, tables_source: str, fields: Iterable[tuple[ir.Entity, ir.FieldNode]]
) -> list[str]:
    """`_update` of each of `fields` as Postgres SQL text, for a migration to run
    (`tables_source`: the `db/tables.py` of `project`, whose column types the API has)."""
    namespace: dict[str, Any] = {}
    exec(compile(tables_source, "db/tables.py", "exec"), namespace)  # the generated module
    tables = dict(namespace["metadata"].tables)
    # "named": a `%` in a text literal stays one (the statement runs without parameters).
    dialect = postgresql.dialect(paramstyle="named")
    params = CallerParams.of(Caller())  # a stored field reads no caller, nor the clock
    return [
        str(
            _update(project, tables, entity, field, params).compile(
                dialect=dialect, compile_kwargs={"literal_binds": True}
            )
        )
        for entity, field in fields
    ]
