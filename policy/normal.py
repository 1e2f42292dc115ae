"""Policies in negation normal form: the one shape every compiler walks.

A rule of the IR mixes policy combinators (`& | ~` over building blocks)
with boolean field expressions (`(F("a") > 1) & ~F("b").is_null()`). Here
both are flattened into one tree of `All` / `Any` over `Atom`s, with every
negation pushed down onto an atom.

Why: SQL's NULL. An atom such as `F("due") < today()` is unknown when `due`
is NULL. The meaning Reframe gives a rule is that an atom holds only when it
is TRUE, and a negated atom holds when it is not TRUE; unknown never grants
access, and `~cond` is the exact complement of `cond`. Without negations a
formula of AND/OR over SQL's three values is TRUE exactly when it is TRUE
with unknown read as false, so each compiler only has to treat the
negated atoms specially (SQL: `IS NOT TRUE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler import ir

#: The caller-side building blocks and conditions an atom can be.
Block = (
    ir.AnyonePolicy
    | ir.AuthenticatedPolicy
    | ir.RolePolicy
    | ir.OwnerPolicy
    | ir.TenantMemberPolicy
    | ir.SameTenantPolicy
    | ir.RelPolicy
)


@dataclass(frozen=True)
class Atom:
    """A building block, or a boolean expression that is not itself AND/OR/NOT."""

    node: Block | ir.Expr
    negated: bool = False


@dataclass(frozen=True)
class All:
    items: tuple[Formula, ...]


@dataclass(frozen=True)
class Any:
    items: tuple[Formula, ...]


Formula = Atom | All | Any


def normal_form(policy: ir.PolicyExpr) -> Formula:
    return _policy(policy, negated=False)


def _policy(node: ir.PolicyExpr, negated: bool) -> Formula:
    if isinstance(node, ir.NotPolicy):
        return _policy(node.item, not negated)
    if isinstance(node, ir.AllOfPolicy | ir.AnyOfPolicy):
        items = tuple(_policy(item, negated) for item in node.items)
        # De Morgan: ~(a & b) is ~a | ~b.
        return All(items) if (node.kind == "all") != negated else Any(items)
    if isinstance(node, ir.ConditionPolicy):
        return _condition(node.expr, negated)
    return Atom(node, negated)


def _condition(expr: ir.Expr, negated: bool) -> Formula:
    if isinstance(expr, ir.NotExpr):
        return _condition(expr.operand, not negated)
    if isinstance(expr, ir.LogicalExpr):
        items = tuple(_condition(operand, negated) for operand in expr.operands)
        return All(items) if (expr.op == "and") != negated else Any(items)
    return Atom(expr, negated)


def atoms(formula: Formula) -> list[Atom]:
    if isinstance(formula, Atom):
        return [formula]
    return [atom for item in formula.items for atom in atoms(item)]
