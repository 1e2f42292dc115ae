"""Same-row IR expressions as SQL, for generated columns and partial indexes.

DDL cannot take bound parameters, so values are rendered as SQL literals
here; columns stay `ColumnRef`s so that renames do not change the
expression. Expressions that read other rows or the clock never reach this
module: the compiler marks them, and they are derived on read instead.

Semantics shared with the Python and TypeScript evaluators: dividing by
zero gives NULL (not an error), text `+` concatenates, comparisons with
NULL are unknown.
"""

from __future__ import annotations

from collections.abc import Callable

from compiler import ir
from generators.db.schema import ColumnRef, SqlExpr, literal

Parts = list[str | ColumnRef]
#: Resolves a field name of the row to the column it is stored in.
ColumnOf = Callable[[str], ColumnRef]


class NotSameRow(ValueError):
    """The expression reads another row or the clock: it has no place in DDL."""


def to_sql(expr: ir.Expr, column_of: ColumnOf) -> SqlExpr:
    return SqlExpr(parts=tuple(_merge(_Renderer(column_of).render(expr))))


def _merge(parts: Parts) -> Parts:
    """Join neighbouring strings, so equal expressions have equal parts."""
    merged: Parts = []
    for part in parts:
        if isinstance(part, str) and merged and isinstance(merged[-1], str):
            merged[-1] += part
        else:
            merged.append(part)
    return merged


_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


class _Renderer:
    def __init__(self, column_of: ColumnOf) -> None:
        self.column_of = column_of

    def render(self, node: ir.Expr) -> Parts:
        handler: Callable[[ir.Expr], Parts] = getattr(self, f"_{node.kind}")
        return handler(node)

    def _field(self, node: ir.FieldExpr) -> Parts:
        if "." in node.path:
            raise NotSameRow(f"F({node.path!r}) reads another row")
        return [self.column_of(node.path)]

    def _literal(self, node: ir.LiteralExpr) -> Parts:
        value = node.value
        if node.literal_type == "null" or value is None:
            return ["NULL"]
        if node.literal_type == "boolean":
            return ["TRUE" if value else "FALSE"]
        if node.literal_type in ("integer", "decimal"):
            return [str(value)]
        if node.literal_type == "date":
            return [f"DATE {literal(str(value))}"]
        if node.literal_type == "datetime":
            return [f"TIMESTAMPTZ {literal(str(value))}"]
        return [literal(str(value))]

    def _binary(self, node: ir.BinaryExpr) -> Parts:
        left, right = self.render(node.left), self.render(node.right)
        if node.op == "+" and node.type == "text":
            return ["(", *left, " || ", *right, ")"]
        if node.op == "/":
            # Integer / integer is a decimal in the model, integer division in SQL.
            if node.left.type == "integer" and node.right.type == "integer":
                left = ["CAST(", *left, " AS numeric)"]
            return ["(", *left, " / NULLIF(", *right, ", 0))"]
        return ["(", *left, f" {node.op} ", *right, ")"]

    def _compare(self, node: ir.CompareExpr) -> Parts:
        left, right = self.render(node.left), self.render(node.right)
        return ["(", *left, f" {_COMPARE[node.op]} ", *right, ")"]

    def _logical(self, node: ir.LogicalExpr) -> Parts:
        joined: Parts = ["("]
        for position, operand in enumerate(node.operands):
            if position:
                joined.append(f" {node.op.upper()} ")
            joined += self.render(operand)
        return [*joined, ")"]

    def _not(self, node: ir.NotExpr) -> Parts:
        return ["(NOT ", *self.render(node.operand), ")"]

    def _is_null(self, node: ir.IsNullExpr) -> Parts:
        return ["(", *self.render(node.operand), " IS NOT NULL)" if node.negated else " IS NULL)"]

    def _in(self, node: ir.InExpr) -> Parts:
        listed: Parts = ["(", *self.render(node.operand), " IN ("]
        for position, value in enumerate(node.values):
            if position:
                listed.append(", ")
            listed += self.render(value)
        return [*listed, "))"]

    def _contains(self, node: ir.ContainsExpr) -> Parts:
        return ["(strpos(", *self.render(node.operand), ", ", *self.render(node.needle), ") > 0)"]

    def _when(self, node: ir.WhenExpr) -> Parts:
        return [
            "CASE WHEN ",
            *self.render(node.cond),
            " THEN ",
            *self.render(node.then),
            " ELSE ",
            *self.render(node.otherwise),
            " END",
        ]

    def _aggregate(self, node: ir.AggregateExpr) -> Parts:
        raise NotSameRow(f"{node.fn}_({node.path!r}) reads other rows")

    def _call(self, node: ir.CallExpr) -> Parts:
        raise NotSameRow(f"{node.fn}() reads the clock")
