"""Hypothesis strategies: random policies over the Invoice of tests/policy_world.py, and callers."""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from compiler import ir
from policy.caller import Caller
from tests.policy_world import NOTES, NOW, ROLES, TITLES, TODAY, World

#: Paths from an Invoice, their value type, and literals to compare them with.
VALUES: dict[str, tuple[str, tuple[Any, ...]]] = {
    "amount": ("money", ("0", "10.5", "-3.25", "500", "999.99")),
    "quantity": ("integer", (-1, 0, 3, 10)),
    "due": ("date", tuple(str(TODAY + dt.timedelta(days=d)) for d in (-30, 0, 1, 45))),
    "title": ("text", (*TITLES, "b", "Z", "é")),
    "stage": ("enum", ("draft", "sent", "paid", "void")),
    "customer.status": ("enum", ("active", "paused", "closed")),
    "customer.credit": ("money", ("0", "250", "999.99")),
    "customer.since": ("date", (str(TODAY), str(TODAY - dt.timedelta(days=100)))),
    "customer.note": ("text", (*NOTES, "vi", "late")),
    "customer.name": ("text", ("customer 1", "customer 10", "customer 5")),
    "customer.account.tier": ("enum", ("free", "pro")),
}
LITERAL_TYPES = {"money": "decimal", "integer": "integer", "date": "date", "text": "text"}
ORDERED = ("money", "integer", "date", "text")
NUMERIC = ("money", "integer")
USER_PATHS = ("approver", "customer.account_manager", "customer.account.manager")
DATES = ("due", "customer.since")
#: now() is NOW (12:00 UTC): text datetimes around it, naive (UTC) and with offsets.
MOMENTS = (
    "2026-06-15T11:59:59",
    "2026-06-15T12:00:00",
    "2026-06-15 12:00:00.000001",
    "2026-06-15T13:00:00+01:00",
    "2026-06-15T12:00:00Z",
    "2026-06-15",
)


def literal(vtype: str, value: Any) -> ir.LiteralExpr:
    kind = LITERAL_TYPES.get(vtype, "text")
    return ir.LiteralExpr(value=value, literal_type=kind, type=vtype)  # type: ignore[arg-type]


def field(path: str) -> ir.FieldExpr:
    return ir.FieldExpr(path=path, type=VALUES[path][0] if path in VALUES else "boolean")


def text(value: str) -> ir.LiteralExpr:
    return ir.LiteralExpr(value=value, literal_type="text", type="text")


@st.composite
def literals(draw: st.DrawFn, vtype: str, values: tuple[Any, ...]) -> ir.LiteralExpr:
    """A literal of `vtype`; a date is sometimes text ("2026-06-15"), read as a date."""
    value = draw(st.sampled_from(values))
    if vtype == "date" and draw(st.booleans()):
        return text(value)
    return literal(vtype, value)


@st.composite
def comparisons(draw: st.DrawFn) -> ir.Expr:
    path = draw(st.sampled_from(sorted(VALUES)))
    vtype, values = VALUES[path]
    if vtype == "date" and draw(st.booleans()):
        return draw(date_arithmetic())
    ops = ["==", "!="] + (["<", "<=", ">", ">="] if vtype in ORDERED else [])
    op = draw(st.sampled_from(ops))
    left: ir.Expr = field(path)
    if vtype in NUMERIC and draw(st.booleans()):
        # Arithmetic on either side: NULL propagates through it.
        other = draw(st.sampled_from([p for p in VALUES if VALUES[p][0] in NUMERIC]))
        left = ir.BinaryExpr(
            op=draw(st.sampled_from(["+", "-", "*"])),
            left=left,
            right=field(other),
            type="money" if "money" in (vtype, VALUES[other][0]) else "integer",
        )
        right: ir.Expr = literal(VALUES[other][0], draw(st.sampled_from(VALUES[other][1])))
        if left.type == "money":
            right = literal("money", draw(st.sampled_from(VALUES["amount"][1])))
    elif draw(st.integers(0, 4)) == 0:
        # Enums of different types never compare; the type checker refuses it.
        same = [p for p in VALUES if VALUES[p][0] == vtype and p != path and vtype != "enum"]
        right = field(draw(st.sampled_from(same))) if same else literal(vtype, values[0])
    else:
        right = draw(literals(vtype, values))
    if draw(st.booleans()):
        left, right = right, left
        flipped = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}
        op = flipped.get(op, op)
    return ir.CompareExpr(op=op, left=left, right=right, type="boolean")  # type: ignore[arg-type]


@st.composite
def other_atoms(draw: st.DrawFn) -> ir.Expr:
    kind = draw(st.sampled_from(["is_null", "in", "contains", "paid", "today", "when", "days"]))
    if kind == "days":
        return draw(date_arithmetic())
    if kind == "is_null":
        path = draw(st.sampled_from([*sorted(VALUES), "paid", "customer", "approver"]))
        operand = ir.FieldExpr(path=path, type=VALUES.get(path, ("ref",))[0])
        return ir.IsNullExpr(operand=operand, negated=draw(st.booleans()), type="boolean")
    if kind == "in":
        path = draw(
            st.sampled_from(["stage", "customer.status", "quantity", "title", *["due"] * 3])
        )
        vtype, values = VALUES[path]
        chosen = draw(st.lists(literals(vtype, values), min_size=1, max_size=3))
        return ir.InExpr(operand=field(path), values=tuple(chosen), type="boolean")
    if kind == "contains":
        path = draw(st.sampled_from(["title", "customer.note"]))
        needle = draw(st.sampled_from(["a", "e", "VIP", "vip", "", "late"]))
        return ir.ContainsExpr(operand=field(path), needle=literal("text", needle), type="boolean")
    if kind == "paid":
        return ir.FieldExpr(path="paid", type="boolean")
    if kind == "today":
        op = draw(st.sampled_from(["<", ">=", "=="]))
        if draw(st.integers(0, 3)) == 0:
            # now() with a text datetime: naive is UTC, offsets count.
            now = ir.CallExpr(fn="now", type="datetime")
            moment = text(draw(st.sampled_from(MOMENTS)))
            return ir.CompareExpr(op=op, left=now, right=moment, type="boolean")
        call = ir.CallExpr(fn="today", type="date")
        path = draw(st.sampled_from(DATES))
        return ir.CompareExpr(op=op, left=field(path), right=call, type="boolean")
    # A `when` is not strict: NULL conditions pick the other branch.
    return ir.CompareExpr(
        op=">",
        left=ir.WhenExpr(
            cond=draw(comparisons()),
            then=field("quantity"),
            otherwise=literal("integer", draw(st.sampled_from([-5, 5]))),
            type="integer",
        ),
        right=literal("integer", 0),
        type="boolean",
    )


@st.composite
def date_arithmetic(draw: st.DrawFn) -> ir.Expr:
    """Days: date +/- integer compared with a date, date - date compared with an integer."""
    today = ir.CallExpr(fn="today", type="date")
    start: ir.Expr = field(draw(st.sampled_from(DATES)))
    op = draw(st.sampled_from(["==", "!=", "<", "<=", ">", ">="]))
    if draw(st.booleans()):
        days = draw(
            st.one_of(
                st.sampled_from([-45, -1, 0, 1, 30]).map(lambda d: literal("integer", d)),
                st.just(field("quantity")),
            )
        )
        sign = draw(st.sampled_from(["+", "-"]))
        left: ir.Expr = ir.BinaryExpr(op=sign, left=start, right=days, type="date")
        others = [field(path) for path in DATES] + [today]
        right = draw(st.one_of(literals("date", VALUES["due"][1]), st.sampled_from(others)))
    else:
        end = draw(
            st.one_of(
                st.sampled_from(DATES).map(field),
                st.just(today),
                st.sampled_from(VALUES["customer.since"][1]).map(lambda v: literal("date", v)),
            )
        )
        left = ir.BinaryExpr(op="-", left=start, right=end, type="integer")
        right = literal("integer", draw(st.sampled_from([-100, -1, 0, 1, 30])))
    if draw(st.booleans()):
        left, right = right, left
        op = {"<": ">", "<=": ">=", ">": "<", ">=": "<="}.get(op, op)
    return ir.CompareExpr(op=op, left=left, right=right, type="boolean")  # type: ignore[arg-type]


def expressions() -> st.SearchStrategy[ir.Expr]:
    leaves = st.one_of(comparisons(), other_atoms())
    return st.recursive(
        leaves,
        lambda inner: st.one_of(
            st.builds(
                lambda op, items: ir.LogicalExpr(op=op, operands=tuple(items), type="boolean"),
                st.sampled_from(["and", "or"]),
                st.lists(inner, min_size=2, max_size=3),
            ),
            st.builds(lambda item: ir.NotExpr(operand=item, type="boolean"), inner),
        ),
        max_leaves=4,
    )


def blocks() -> st.SearchStrategy[ir.PolicyExpr]:
    return st.one_of(
        st.just(ir.AnyonePolicy()),
        st.just(ir.AuthenticatedPolicy()),
        st.sampled_from(ROLES).map(lambda name: ir.RolePolicy(name=name)),
        st.sampled_from(["created_by", "approver"]).map(lambda f: ir.OwnerPolicy(field=f)),
        st.just(ir.TenantMemberPolicy()),
        st.just(ir.SameTenantPolicy()),
        st.sampled_from(USER_PATHS).map(lambda path: ir.RelPolicy(path=path)),
        expressions().map(lambda expr: ir.ConditionPolicy(expr=expr)),
    )


def policies() -> st.SearchStrategy[ir.PolicyExpr]:
    return st.recursive(
        blocks(),
        lambda inner: st.one_of(
            st.lists(inner, min_size=2, max_size=3).map(lambda i: ir.AllOfPolicy(items=tuple(i))),
            st.lists(inner, min_size=2, max_size=3).map(lambda i: ir.AnyOfPolicy(items=tuple(i))),
            inner.map(lambda item: ir.NotPolicy(item=item)),
        ),
        max_leaves=6,
    )


def callers(world: World) -> st.SearchStrategy[Caller]:
    return st.builds(
        Caller,
        user_id=st.one_of(st.none(), st.sampled_from(world.users)),
        tenant_id=st.one_of(st.none(), st.sampled_from(world.tenants)),
        roles=st.frozensets(st.sampled_from(ROLES)),
        now=st.just(NOW),
    )


def rule(expr: ir.PolicyExpr, operation: str = "read") -> ir.Rule:
    return ir.Rule(
        id=f"Invoice.{operation}",
        operation=operation,
        expr=expr,
        text="(generated)",
        loc=ir.SourceRef(file="test", line=1),
    )
