"""Why a request was allowed or denied, in words: for the API's 403 detail and `gen inspect`.

The decision is the Python evaluator's (policy/python.py); this module only
says which rule decided and which of its parts made it so:

    Denied by rule Invoice.update: same_tenant() & (owner() | role("billing")).
    The invoice's created_by is not you, and you do not have the role "billing".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from compiler import ir
from compiler.ir.render import render_expr
from policy.caller import Caller
from policy.normal import All, Atom, Formula, normal_form
from policy.python import Context, Row, atom_truth, holds


@dataclass(frozen=True)
class Decision:
    allowed: bool
    #: The rule that decided; None when the operation has no rule (denied by default).
    rule_id: str | None
    rule_text: str | None
    #: The facts that made the rule hold or fail, each a short sentence.
    reasons: tuple[str, ...]

    def sentence(self) -> str:
        if self.rule_id is None:
            return self.reasons[0]
        verdict = "Allowed" if self.allowed else "Denied"
        facts = _joined(self.reasons)
        return f"{verdict} by rule {self.rule_id}: {self.rule_text}. {facts[0].upper()}{facts[1:]}."


def explain(
    project: ir.Project,
    entity: ir.Entity,
    operation: str,
    row: Row,
    caller: Caller,
    rule: ir.Rule | None = None,
) -> Decision:
    """Decide `operation` on `row` for `caller` and say why.

    `rule` defaults to the entity's rule for the operation; pass a field's
    `visible_to` / `editable_by` rule to explain a field-level decision.
    """
    chosen = rule if rule is not None else entity.rule(operation)
    if chosen is None:
        return Decision(
            allowed=False,
            rule_id=None,
            rule_text=None,
            reasons=(
                f"No rule allows {operation} on {entity.name}: access is denied by default. "
                f"Add {operation}=... to allow(...) of {entity.name} to grant it.",
            ),
        )
    ctx = Context(project, entity, row, caller)
    formula = normal_form(chosen.expr)
    allowed = holds(formula, ctx)
    return Decision(allowed, chosen.id, chosen.text, tuple(_why(formula, ctx, allowed)))


def _why(formula: Formula, ctx: Context, outcome: bool) -> list[str]:
    """The facts behind `formula` having `outcome`: all failing parts of a failed AND, etc."""
    if isinstance(formula, Atom):
        return [_fact(formula, ctx)]
    decisive = [item for item in formula.items if holds(item, ctx) == outcome]
    if isinstance(formula, All) != outcome:
        # A true OR or a false AND: one decisive part is enough.
        decisive = decisive[:1]
    return [fact for item in decisive for fact in _why(item, ctx, outcome)]


def _fact(atom: Atom, ctx: Context) -> str:
    """What is true about the atom's positive form (its negation flips only the verdict)."""
    node, caller = atom.node, ctx.caller
    truth = atom_truth(atom, ctx) is True
    thing = f"the {ctx.entity.label.lower()}"
    if isinstance(node, ir.AnyonePolicy):
        return "anyone may" if not atom.negated else "~anyone() allows no one"
    if isinstance(node, ir.AuthenticatedPolicy):
        return "you are signed in" if truth else "you are not signed in"
    if isinstance(node, ir.RolePolicy):
        if caller.tenant_id is None and not truth:
            return f'you act in no tenant, so you have no role (role("{node.name}"))'
        have = "have" if truth else "do not have"
        return f'you {have} the role "{node.name}"'
    if isinstance(node, ir.OwnerPolicy | ir.RelPolicy):
        path = node.field if isinstance(node, ir.OwnerPolicy) else node.path
        if caller.user_id is None:
            return f"you are not signed in, so you are not {thing}'s {path}"
        return f"you are {thing}'s {path}" if truth else f"{thing}'s {path} is not you"
    if isinstance(node, ir.SameTenantPolicy | ir.TenantMemberPolicy):
        if caller.tenant_id is None:
            return "you act in no tenant"
        return f"{thing} belongs to your tenant" if truth else f"{thing} belongs to another tenant"
    return _condition_fact(node, ctx, truth)


def _condition_fact(expr: ir.Expr, ctx: Context, truth: bool) -> str:
    values = ", ".join(f"{path} is {_shown(ctx.value(path))}" for path in _read_paths(expr))
    holds_text = "holds" if truth else "does not hold"
    return f"{render_expr(expr)} {holds_text}" + (f" ({values})" if values else "")


def _read_paths(expr: ir.Expr) -> list[str]:
    found: list[str] = []

    def walk(node: Any) -> None:
        if isinstance(node, ir.FieldExpr):
            if node.path not in found:
                found.append(node.path)
            return
        for value in vars(node).values():
            for item in value if isinstance(value, tuple) else (value,):
                if isinstance(item, ir.EXPR_KINDS):
                    walk(item)

    walk(expr)
    return found


def _shown(value: Any) -> str:
    if value is None:
        return "empty"
    if isinstance(value, str):
        return f'"{value}"'
    return str(value)


def _joined(facts: tuple[str, ...]) -> str:
    unique = list(dict.fromkeys(facts))
    if len(unique) <= 1:
        return "".join(unique)
    return ", ".join(unique[:-1]) + ", and " + unique[-1]


__all__ = ["Decision", "explain"]
