"""Migrations fill the stored computed fields they add (`.materialized()`) for existing rows.

A column added for such a field starts empty, and the API fills a row's value
only when the row (or what it is computed from) is written: without this, a
new `invoice_count` reads NULL on every existing customer until then. The
statement is the one the API uses to keep the field fresh
(runtime/api/materialized.py), rendered as SQL text when the migration is made
(`gen migrate make`) or run (`gen dev`'s dev database).

Not filled: a field that was stored before and becomes computed (its column
is not new), and a computed field whose expression changes; their rows get
the new value as they are written.
"""

from __future__ import annotations

from compiler import ir
from generators.db import operations as ops
from generators.db.diff import Plan
from generators.db.schema import Column, Schema, Table


def with_fills(plan: Plan, old: Schema, new: Schema, project: ir.Project) -> Plan:
    """`plan` (from `old` to `new`, the schema of `project`), with the existing rows' values
    of each materialized field whose column it adds to a table that exists (a new table has
    no rows)."""
    existing_tables = {t.uid for t in old.tables}
    existing_columns = {c.uid for t in old.tables for c in t.columns}
    added: list[tuple[Table, Column, ir.Entity, ir.FieldNode]] = []
    for table in new.tables:
        if table.uid not in existing_tables:
            continue
        for column in table.columns:
            found = _materialized_field(project, column.origin)
            if found is not None and column.uid not in existing_columns:
                added.append((table, column, *found))
    if not added:
        return plan
    # SQLAlchemy and the API's compiler: imported by a migration that fills, not by every one.
    from generators.db.metadata import render_tables
    from runtime.api.materialized import fill_statements

    added = _read_first(added)
    statements = fill_statements(
        project, render_tables(new, "")[0], [(entity, field) for _, _, entity, field in added]
    )
    fills = [
        ops.fill_column(table, column, statement)
        for (table, column, _, _), statement in zip(added, statements, strict=True)
    ]
    operations = sorted((*plan.operations, *fills), key=lambda op: op.stage)  # stable
    return Plan(tuple(operations), plan.questions)


_Added = tuple[Table, Column, ir.Entity, ir.FieldNode]


def _read_first(added: list[_Added]) -> list[_Added]:
    """`added`, each field after the added fields it is computed from (a sum over a new
    stored field of the rows it counts is filled once they are)."""
    by_origin = {
        column.origin: (table, column, entity, field) for table, column, entity, field in added
    }
    ordered: list[_Added] = []
    placed: set[str] = set()

    def place(origin: str, path: tuple[str, ...]) -> None:
        if origin in placed or origin in path:  # a cycle is the compiler's error, not ours
            return
        _, _, _, field = by_origin[origin]
        assert field.computed is not None
        for read in field.computed.depends_on:
            if read in by_origin:
                place(read, (*path, origin))
        placed.add(origin)
        ordered.append(by_origin[origin])

    for origin in by_origin:
        place(origin, ())
    return ordered


def _materialized_field(project: ir.Project, origin: str) -> tuple[ir.Entity, ir.FieldNode] | None:
    entity_name, _, field_name = origin.partition(".")
    entity = project.entity(entity_name)
    if entity is None:
        return None
    field = entity.field(field_name)
    if field is None or not field.materialized or field.computed is None or not field.column:
        return None
    return entity, field
