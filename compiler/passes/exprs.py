"""Lower the DSL's operator-built expressions and policies into IR nodes."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from functools import singledispatch

from compiler import expr as dsl
from compiler import ir
from policy import tree


@singledispatch
def lower_expr(node: dsl.Expr) -> ir.Expr:
    raise TypeError(f"no lowering for expression node {type(node).__name__}")


@lower_expr.register
def _(node: dsl.FieldRef) -> ir.Expr:
    return ir.FieldExpr(path=node.path)


@lower_expr.register
def _(node: dsl.Literal) -> ir.Expr:
    value = node.value
    if value is None:
        return ir.LiteralExpr(value=None, literal_type="null")
    if isinstance(value, bool):
        return ir.LiteralExpr(value=value, literal_type="boolean")
    if isinstance(value, int):
        return ir.LiteralExpr(value=value, literal_type="integer")
    if isinstance(value, Decimal):
        return ir.LiteralExpr(value=str(value), literal_type="decimal")
    if isinstance(value, dt.datetime):
        return ir.LiteralExpr(value=value.isoformat(), literal_type="datetime")
    if isinstance(value, dt.date):
        return ir.LiteralExpr(value=value.isoformat(), literal_type="date")
    return ir.LiteralExpr(value=value, literal_type="text")


@lower_expr.register
def _(node: dsl.BinOp) -> ir.Expr:
    return ir.BinaryExpr(op=node.op, left=lower_expr(node.left), right=lower_expr(node.right))


@lower_expr.register
def _(node: dsl.Compare) -> ir.Expr:
    return ir.CompareExpr(op=node.op, left=lower_expr(node.left), right=lower_expr(node.right))


@lower_expr.register
def _(node: dsl.Logical) -> ir.Expr:
    # Flatten nested and/or so `a & b & c` is one node with three operands.
    operands: list[ir.Expr] = []
    for operand in node.operands:
        lowered = lower_expr(operand)
        if isinstance(lowered, ir.LogicalExpr) and lowered.op == node.op:
            operands.extend(lowered.operands)
        else:
            operands.append(lowered)
    return ir.LogicalExpr(op=node.op, operands=tuple(operands))


@lower_expr.register
def _(node: dsl.Not) -> ir.Expr:
    return ir.NotExpr(operand=lower_expr(node.operand))


@lower_expr.register
def _(node: dsl.IsNull) -> ir.Expr:
    return ir.IsNullExpr(operand=lower_expr(node.operand), negated=node.negated)


@lower_expr.register
def _(node: dsl.In) -> ir.Expr:
    return ir.InExpr(operand=lower_expr(node.operand), values=tuple(map(lower_expr, node.values)))


@lower_expr.register
def _(node: dsl.Contains) -> ir.Expr:
    return ir.ContainsExpr(operand=lower_expr(node.operand), needle=lower_expr(node.needle))


@lower_expr.register
def _(node: dsl.Aggregate) -> ir.Expr:
    return ir.AggregateExpr(fn=node.fn, path=node.path)


@lower_expr.register
def _(node: dsl.When) -> ir.Expr:
    return ir.WhenExpr(
        cond=lower_expr(node.cond), then=lower_expr(node.then), otherwise=lower_expr(node.otherwise)
    )


@lower_expr.register
def _(node: dsl.Call) -> ir.Expr:
    return ir.CallExpr(fn=node.fn)


@singledispatch
def lower_policy(node: tree.PolicyNode) -> ir.PolicyExpr:
    raise TypeError(f"no lowering for policy node {type(node).__name__}")


@lower_policy.register
def _(node: tree.Anyone) -> ir.PolicyExpr:
    return ir.AnyonePolicy()


@lower_policy.register
def _(node: tree.Authenticated) -> ir.PolicyExpr:
    return ir.AuthenticatedPolicy()


@lower_policy.register
def _(node: tree.Role) -> ir.PolicyExpr:
    return ir.RolePolicy(name=node.name)


@lower_policy.register
def _(node: tree.Owner) -> ir.PolicyExpr:
    return ir.OwnerPolicy(field=str(node.field))  # a non-string is reported by the policy pass


@lower_policy.register
def _(node: tree.TenantMember) -> ir.PolicyExpr:
    return ir.TenantMemberPolicy()


@lower_policy.register
def _(node: tree.Rel) -> ir.PolicyExpr:
    return ir.RelPolicy(path=node.path)


@lower_policy.register
def _(node: tree.Condition) -> ir.PolicyExpr:
    return ir.ConditionPolicy(expr=lower_expr(node.expr))


def _flatten(
    kind: type[ir.AllOfPolicy | ir.AnyOfPolicy], items: tuple[tree.PolicyNode, ...]
) -> tuple[ir.PolicyExpr, ...]:
    """Lower `items`, splicing in nested nodes of the same kind: (a & b) & c -> a & b & c."""
    out: list[ir.PolicyExpr] = []
    for item in items:
        lowered = lower_policy(item)
        if isinstance(lowered, kind):
            out.extend(lowered.items)
        else:
            out.append(lowered)
    return tuple(out)


@lower_policy.register
def _(node: tree.AllOf) -> ir.PolicyExpr:
    return ir.AllOfPolicy(items=_flatten(ir.AllOfPolicy, node.items))


@lower_policy.register
def _(node: tree.AnyOf) -> ir.PolicyExpr:
    return ir.AnyOfPolicy(items=_flatten(ir.AnyOfPolicy, node.items))


@lower_policy.register
def _(node: tree.Negation) -> ir.PolicyExpr:
    return ir.NotPolicy(item=lower_policy(node.item))
