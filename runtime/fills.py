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
    from runtime.api.materialized import fill_statement

    fills = [
        ops.fill_column(table, column, fill_statement(project, new, entity, field))
        for table, column, entity, field in added
    ]
    operations = sorted((*plan.operations, *fills), key=lambda op: op.stage)  # stable
    return Plan(tuple(operations), plan.questions)


def _materialized_field(project: ir.Project, origin: str) -> tuple[ir.Entity, ir.FieldNode] | None:
    entity_name, _, field_name = origin.partition(".")
    entity = project.entity(entity_name)
    if entity is None:
        return None
    field = entity.field(field_name)
    if field is None or not field.materialized or field.computed is None or not field.column:
        return None
    return entity, field
