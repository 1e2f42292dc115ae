"""Every dispatch table covers every node kind (a missing handler is a loud error)."""

from __future__ import annotations

import typing

import pytest

from compiler import expr as dsl
from compiler import ir
from compiler.ir.render import render_expr
from compiler.passes.exprs import lower_expr, lower_policy
from compiler.typecheck import _Checker
from generators.db.schema import ColumnRef
from generators.db.sql_expr import NotSameRow, to_sql
from policy import tree
from policy.render import render_policy

X = ir.FieldExpr(path="x")
ONE = ir.LiteralExpr(value=1, literal_type="integer")
SAMPLE_EXPRS: dict[type, ir.Node] = {
    ir.FieldExpr: X,
    ir.LiteralExpr: ONE,
    ir.BinaryExpr: ir.BinaryExpr(op="+", left=X, right=ONE),
    ir.CompareExpr: ir.CompareExpr(op="==", left=X, right=ONE),
    ir.LogicalExpr: ir.LogicalExpr(op="and", operands=(X, X)),
    ir.NotExpr: ir.NotExpr(operand=X),
    ir.IsNullExpr: ir.IsNullExpr(operand=X, negated=False),
    ir.InExpr: ir.InExpr(operand=X, values=(ONE,)),
    ir.ContainsExpr: ir.ContainsExpr(
        operand=X, needle=ir.LiteralExpr(value="a", literal_type="text")
    ),
    ir.AggregateExpr: ir.AggregateExpr(fn="sum", path="lines.total"),
    ir.WhenExpr: ir.WhenExpr(cond=X, then=ONE, otherwise=ONE),
    ir.CallExpr: ir.CallExpr(fn="today"),
}
SAMPLE_POLICIES: dict[type, ir.Node] = {
    ir.AnyonePolicy: ir.AnyonePolicy(),
    ir.AuthenticatedPolicy: ir.AuthenticatedPolicy(),
    ir.RolePolicy: ir.RolePolicy(name="admin"),
    ir.OwnerPolicy: ir.OwnerPolicy(field="created_by"),
    ir.TenantMemberPolicy: ir.TenantMemberPolicy(),
    ir.SameTenantPolicy: ir.SameTenantPolicy(),
    ir.RelPolicy: ir.RelPolicy(path="customer.manager"),
    ir.ConditionPolicy: ir.ConditionPolicy(expr=ir.CompareExpr(op="==", left=X, right=ONE)),
    ir.AllOfPolicy: ir.AllOfPolicy(items=(ir.AnyonePolicy(), ir.RolePolicy(name="a"))),
    ir.AnyOfPolicy: ir.AnyOfPolicy(items=(ir.AnyonePolicy(), ir.RolePolicy(name="a"))),
    ir.NotPolicy: ir.NotPolicy(item=ir.AnyonePolicy()),
}


def test_samples_cover_every_ir_kind() -> None:
    assert set(SAMPLE_EXPRS) == set(ir.EXPR_KINDS)
    assert set(SAMPLE_POLICIES) == set(ir.POLICY_KINDS)


@pytest.mark.parametrize("kind", ir.EXPR_KINDS, ids=lambda k: k.__name__)
def test_expressions_render_and_typecheck_every_kind(kind: type) -> None:
    assert render_expr(SAMPLE_EXPRS[kind])  # type: ignore[arg-type]
    tag = kind.model_fields["kind"].default
    assert callable(getattr(_Checker, f"_{tag}", None)), f"typecheck has no handler for {tag}"


@pytest.mark.parametrize("kind", ir.POLICY_KINDS, ids=lambda k: k.__name__)
def test_policies_render_every_kind(kind: type) -> None:
    assert render_policy(SAMPLE_POLICIES[kind])  # type: ignore[arg-type]


def _subclasses(base: type) -> set[type]:
    """The language's own node classes (not ones a test defines)."""
    found = set()
    for sub in base.__subclasses__():
        if sub.__module__.startswith(("compiler.", "policy.")):
            found |= {sub, *_subclasses(sub)}
    return found


def test_every_dsl_node_has_a_lowering() -> None:
    assert _subclasses(dsl.Expr) <= set(lower_expr.registry)
    assert _subclasses(tree.PolicyNode) <= set(lower_policy.registry)


def test_an_unknown_node_is_a_loud_error() -> None:
    class Strange(dsl.Expr):
        pass

    with pytest.raises(TypeError, match="no lowering for expression node Strange"):
        lower_expr(Strange())


def test_field_type_kinds_are_a_closed_set() -> None:
    union = typing.get_args(typing.get_args(ir.FieldType)[0])
    assert set(union) == set(ir.FIELD_TYPE_KINDS)


@pytest.mark.parametrize("kind", ir.EXPR_KINDS, ids=lambda k: k.__name__)
def test_sql_rendering_handles_every_kind(kind: type) -> None:
    """Same-row kinds become SQL; the others are refused by name, never by AttributeError."""
    column_of = lambda name: ColumnRef(uid=f"u_{name}")  # noqa: E731
    node = SAMPLE_EXPRS[kind]
    if kind in (ir.AggregateExpr, ir.CallExpr):
        with pytest.raises(NotSameRow):
            to_sql(node, column_of)  # type: ignore[arg-type]
        return
    rendered = to_sql(node, column_of).render({"u_x": "x"})  # type: ignore[arg-type]
    assert rendered
