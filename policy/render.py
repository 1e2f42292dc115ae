"""Readable renderings of IR policy trees: `same_tenant() & (owner() | role("billing"))`."""

from __future__ import annotations

from compiler import ir
from compiler.ir.render import render_expr

_LEVEL = {"any": 1, "all": 2, "not": 3}


def render_policy(node: ir.PolicyExpr, outer: int = 0) -> str:
    if isinstance(node, ir.AnyonePolicy):
        return "anyone()"
    if isinstance(node, ir.AuthenticatedPolicy):
        return "authenticated()"
    if isinstance(node, ir.RolePolicy):
        return f'role("{node.name}")'
    if isinstance(node, ir.OwnerPolicy):
        return "owner()" if node.field == "created_by" else f'owner("{node.field}")'
    if isinstance(node, ir.TenantMemberPolicy):
        return "tenant_member()"
    if isinstance(node, ir.SameTenantPolicy):
        return "same_tenant()"
    if isinstance(node, ir.RelPolicy):
        return f'rel("{node.path}")'
    if isinstance(node, ir.ConditionPolicy):
        # Comparisons get brackets (Python's & and | bind tighter than ==).
        return render_expr(node.expr, outer=1)
    if isinstance(node, ir.NotPolicy):
        return f"~{render_policy(node.item, _LEVEL['not'])}"
    level = _LEVEL[node.kind]
    sep = " & " if node.kind == "all" else " | "
    text = sep.join(render_policy(item, level) for item in node.items)
    # Bracket any nested combination, even where precedence would not need it:
    # `a | (b & c)` reads better than `a | b & c`.
    return f"({text})" if outer else text
