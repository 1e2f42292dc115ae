"""Computed fields in SQL: IR expressions compiled to SQLAlchemy for the SELECT of a read.

A computed field with a column (a same-row generated column, or a
materialized one) is read from it. Any other is derived in the statement
itself: `F("subtotal") + F("tax")` inlines the expressions of the fields it
names, `F("customer.name")` is a scalar subquery through the refs and
`sum_("lines.total")` a correlated aggregate subquery over the one-to-many
(or many-to-many) rows, so a page of any size is still one statement.

The operators are policy/sql.py's (same NULL handling, division by zero is
NULL, text compared by code point, `today()`/`now()` the caller's clock);
this module only adds what rules never need: fields without a column and
aggregates. A computed value is a property of the row, as a stored one
would be: it does not depend on which related rows the caller may read.
`sum_` of no rows is 0 and `count_` 0; `min_`, `max_` and `avg_` of no rows
are NULL. A money (or sized decimal) field computed on read is cast to the
column type it would have if stored: `numeric(19, 4)`, so `"0.0000"`, not `"0"`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from compiler import ir
from policy.sql import CallerParams, PolicyCompileError, _Compiler, _Condition

Value = ColumnElement[Any]


class ExprCompiler(_Compiler):
    """policy/sql.py's compiler, where a field without a column is its computed expression."""

    def __init__(
        self, project: ir.Project, tables: Mapping[str, sa.Table], params: CallerParams
    ) -> None:
        super().__init__(project, tables, params)

    def column(self, entity: ir.Entity, row: sa.FromClause, name: str) -> Value:
        field = entity.field(name)
        if field is not None and field.column is None and field.computed is not None:
            value = self.expr(field.computed.expr, entity, row)
            stored = _stored_type(field.type)
            # Read as a stored column would hold it: money with its 4 decimals, even when 0.
            return sa.cast(value, stored) if stored is not None else value
        return super().column(entity, row, name)

    def expr(self, expr: ir.Expr, entity: ir.Entity, row: sa.FromClause) -> Value:
        """The value of `expr` for the row `row` of `entity` (a table or an alias of it)."""
        return _Values(self, entity, row).value(expr)

    def key(self, entity: ir.Entity, row: sa.FromClause) -> Value:
        return self.column(entity, row, entity.primary_key)

    def target(self, name: str) -> ir.Entity:
        found = self.project.entity(name)
        if found is None:
            raise PolicyCompileError(f"no entity {name!r}")
        return found

    def many(
        self, entity: ir.Entity, row: sa.FromClause, field: ir.FieldNode
    ) -> tuple[ir.Entity, sa.FromClause, list[ColumnElement[bool]]]:
        """The rows a one-to-many or many-to-many field of `row` lists: an alias of the
        target's table and the conditions joining it (through the join table if any)."""
        kind = field.type
        if isinstance(kind, ir.OneToManyType):
            target = self.target(kind.target)
            alias = self.tables[target.table].alias()
            return target, alias, [self.column(target, alias, kind.via) == self.key(entity, row)]
        assert isinstance(kind, ir.ManyToManyType), f"{entity.name}.{field.name} is not a list"
        target = self.target(kind.target)
        alias = self.tables[target.table].alias()
        link = self.tables[kind.join_table].alias()
        return (
            target,
            alias,
            [
                link.c[kind.source_column] == self.key(entity, row),
                self.key(target, alias) == link.c[kind.target_column],
            ],
        )


def _stored_type(kind: object) -> sa.Numeric[Any] | None:
    """The numeric type a money or sized decimal column has (generators/db/lower.py)."""
    if not isinstance(kind, ir.ScalarType):
        return None
    if kind.name == "money":
        return sa.Numeric(19, 4)
    if kind.name == "decimal" and kind.precision is not None:
        return sa.Numeric(kind.precision, kind.scale or 0)
    return None


class _Values(_Condition):
    compiler: ExprCompiler

    def _aggregate(self, node: ir.AggregateExpr) -> Value:
        compiler = self.compiler
        entity, row = self.entity, self.row
        conditions: list[ColumnElement[bool]] = []
        segments = node.path.split(".")
        rest: list[str] = []
        for position, name in enumerate(segments):
            field = entity.field(name)
            if field is None:
                raise PolicyCompileError(f"{entity.name} has no field {name!r}")
            if isinstance(field.type, ir.RefType):
                joined = compiler.join_path(entity, row, [name])
                conditions += joined.conditions
                entity, row = joined.entity, joined.row
                continue
            entity, row, joining = compiler.many(entity, row, field)
            conditions += joining
            rest = segments[position + 1 :]
            break
        if node.fn == "count" and not rest:
            aggregated: Value = sa.func.count()
        else:
            value = _Values(compiler, entity, row).field(".".join(rest))
            aggregated = getattr(sa.func, node.fn)(value)
            if node.fn == "sum":
                aggregated = sa.func.coalesce(aggregated, 0)
        return sa.select(aggregated).where(*conditions).scalar_subquery()
