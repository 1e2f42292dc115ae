"""Field-level rules: `visible_to` hides a field, `editable_by` refuses writes to it.

A field the caller cannot read is left out of responses and cannot be
filtered on, sorted by or included; a field the caller cannot edit is
refused on write with a 403 naming it. Both rules may read the row
(`.visible_to(owner())`), so they are decided per row: in Python for one
row, and in SQL (`visible_value`, `visible_where`) for a query.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from compiler import ir
from policy.caller import Caller
from policy.explain import Decision, explain
from policy.python import Row, allows
from policy.sql import CallerParams, row_filter


@dataclass(frozen=True)
class FieldDenied:
    """A write to a field the caller may not edit: the API answers 403 with this."""

    field: str
    decision: Decision

    @property
    def message(self) -> str:
        return f"you may not edit {self.field}. {self.decision.sentence()}"


def readable_fields(project: ir.Project, entity: ir.Entity, row: Row, caller: Caller) -> set[str]:
    """Names of the fields of `row` the caller may see."""
    return {
        field.name
        for field in entity.fields
        if field.visible_to is None or allows(project, entity, field.visible_to, row, caller)
    }


def without_hidden(
    project: ir.Project, entity: ir.Entity, row: Row, caller: Caller
) -> dict[str, Any]:
    """`row` with the fields the caller may not see removed (not nulled: absent)."""
    visible = readable_fields(project, entity, row, caller)
    return {name: value for name, value in row.items() if name in visible}


def refused_edits(
    project: ir.Project,
    entity: ir.Entity,
    row: Row,
    caller: Caller,
    changed: Iterable[str],
) -> list[FieldDenied]:
    """The fields among `changed` the caller may not edit on `row`, with the reason."""
    refused = []
    for name in changed:
        field = entity.field(name)
        if field is None or field.editable_by is None:
            continue
        decision = explain(project, entity, "update", row, caller, rule=field.editable_by)
        if not decision.allowed:
            refused.append(FieldDenied(name, decision))
    return refused


def visible_where(
    project: ir.Project,
    entity: ir.Entity,
    field: ir.FieldNode,
    tables: Mapping[str, sa.Table],
    caller: Caller | CallerParams,
    row: sa.FromClause | None = None,
) -> ColumnElement[bool]:
    """Where `field` is visible to the caller; AND it into any filter or sort on the field."""
    if field.visible_to is None:
        return sa.true()
    return row_filter(project, entity, field.visible_to, tables, caller, row)


def visible_value(
    project: ir.Project,
    entity: ir.Entity,
    field: ir.FieldNode,
    tables: Mapping[str, sa.Table],
    caller: Caller | CallerParams,
    row: sa.FromClause | None = None,
) -> ColumnElement[Any]:
    """The field's column, NULL on rows where the caller may not see it (for SELECT lists)."""
    source = row if row is not None else tables[entity.table]
    assert field.column is not None, f"{entity.name}.{field.name} has no column"
    column = source.c[field.column]
    if field.visible_to is None:
        return column
    visible = visible_where(project, entity, field, tables, caller, row)
    return sa.case((visible, column), else_=sa.null()).label(field.column)
