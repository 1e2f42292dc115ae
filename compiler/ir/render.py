"""Render IR expressions back into the model language, for messages and `gen inspect`."""

from __future__ import annotations

import json

from compiler.ir.expr import (
    AggregateExpr,
    BinaryExpr,
    CallExpr,
    CompareExpr,
    ContainsExpr,
    Expr,
    FieldExpr,
    InExpr,
    IsNullExpr,
    LiteralExpr,
    LogicalExpr,
    NotExpr,
    WhenExpr,
)

_PRECEDENCE = {"or": 1, "and": 2, "not": 3, "compare": 4, "+": 5, "-": 5, "*": 6, "/": 6}


def _literal(node: LiteralExpr) -> str:
    if node.literal_type == "null":
        return "None"
    if node.literal_type == "boolean":
        return "True" if node.value else "False"
    if node.literal_type in ("integer",):
        return str(node.value)
    if node.literal_type == "decimal":
        return f'Decimal("{node.value}")'
    if node.literal_type == "date":
        return f'date.fromisoformat("{node.value}")'
    if node.literal_type == "datetime":
        return f'datetime.fromisoformat("{node.value}")'
    return json.dumps(node.value)


def _wrap(text: str, inner: int, outer: int) -> str:
    return f"({text})" if inner < outer else text


def render_expr(node: Expr, outer: int = 0) -> str:
    """Text a user could paste back into a model file."""
    if isinstance(node, FieldExpr):
        return f'F("{node.path}")'
    if isinstance(node, LiteralExpr):
        return _literal(node)
    if isinstance(node, CallExpr):
        return f"{node.fn}()"
    if isinstance(node, AggregateExpr):
        return f'{node.fn}_("{node.path}")'
    if isinstance(node, BinaryExpr):
        level = _PRECEDENCE[node.op]
        text = f"{render_expr(node.left, level)} {node.op} {render_expr(node.right, level + 1)}"
        return _wrap(text, level, outer)
    if isinstance(node, CompareExpr):
        level = _PRECEDENCE["compare"]
        text = f"{render_expr(node.left, level + 1)} {node.op} {render_expr(node.right, level + 1)}"
        # `&`, `|` and `~` bind tighter than `==` in Python: bracket any nested comparison.
        return f"({text})" if outer > 0 else text
    if isinstance(node, LogicalExpr):
        level = _PRECEDENCE[node.op]
        sep = " & " if node.op == "and" else " | "
        return _wrap(sep.join(render_expr(o, level) for o in node.operands), level, outer)
    if isinstance(node, NotExpr):
        return f"~{render_expr(node.operand, _PRECEDENCE['not'])}"
    if isinstance(node, IsNullExpr):
        method = "is_not_null" if node.negated else "is_null"
        return f"{render_expr(node.operand, 9)}.{method}()"
    if isinstance(node, InExpr):
        values = ", ".join(render_expr(v) for v in node.values)
        return f"{render_expr(node.operand, 9)}.in_([{values}])"
    if isinstance(node, ContainsExpr):
        return f"{render_expr(node.operand, 9)}.contains({render_expr(node.needle)})"
    if isinstance(node, WhenExpr):
        return (
            f"when({render_expr(node.cond)}, {render_expr(node.then)}, "
            f"{render_expr(node.otherwise)})"
        )
    raise TypeError(f"no rendering for {type(node).__name__}")
