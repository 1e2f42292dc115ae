"""Policies evaluated in Python against one row and a caller.

Used where there is no query to filter: create (the row does not exist
yet), action guards, and explanations. It must agree with the SQL compiler
on every row; the property tests in tests/test_policy_engine.py hold them to
that.

A row is a mapping of field names to values. A ref field holds the target's
key, or the target row itself as a mapping when a rule follows the
relation (`rel("customer.account_manager")`, `F("customer.status")`); a
path that needs a row it was not given raises `NeedsRelated` naming it, so
the caller knows what to load.

Values follow SQL: a comparison with NULL (None) is unknown, dividing by
zero gives NULL, and text compares by code point (SQL uses `COLLATE "C"`).
A text literal compared with a date, datetime or uuid is read as one
(`F("due") < "2026-01-01"`; a datetime without an offset is UTC), and dates
count in days: date +/- integer is a date, date - date an integer.
"""

from __future__ import annotations

import datetime as dt
import operator
import uuid
from collections.abc import Callable, Mapping
from decimal import Decimal
from typing import Any

from compiler import ir
from policy.caller import Caller
from policy.normal import All, Atom, Formula, normal_form

Row = Mapping[str, Any]
#: SQL's three values: True, False, None (unknown).
Truth = bool | None


class NeedsRelated(LookupError):
    """A rule follows a relation whose row was not given with the row."""

    def __init__(self, entity: str, path: str) -> None:
        super().__init__(
            f"{entity}: the rule reads {path!r}; pass the related row (a mapping) instead of "
            "its key"
        )
        self.entity = entity
        self.path = path


def allows(
    project: ir.Project, entity: ir.Entity, rule: ir.Rule | None, row: Row, caller: Caller
) -> bool:
    """Whether `rule` lets `caller` at `row`. No rule: deny."""
    if rule is None:
        return False
    return holds(normal_form(rule.expr), Context(project, entity, row, caller))


class Context:
    """One row and one caller, with the model to follow relations by."""

    def __init__(self, project: ir.Project, entity: ir.Entity, row: Row, caller: Caller) -> None:
        self.project, self.entity, self.row, self.caller = project, entity, row, caller

    def value(self, path: str) -> Any:
        """The value at a dotted path of fields; None when any ref on the way is None."""
        entity, row = self.entity, self.row
        names = path.split(".")
        for position, name in enumerate(names):
            field = _field(entity, name)
            value = row.get(name)
            last = position == len(names) - 1
            if value is None:
                return None
            if isinstance(field.type, ir.RefType):
                target = _entity(self.project, field.type.target)
                if last:
                    return value.get(target.primary_key) if isinstance(value, Mapping) else value
                if not isinstance(value, Mapping):
                    raise NeedsRelated(self.entity.name, ".".join(names[: position + 1]))
                entity, row = target, value
                continue
            if not last:
                raise ValueError(f"{entity.name}.{name} is not a ref; {path!r} cannot go on")
            return value
        raise AssertionError("unreachable: a path has at least one name")


def holds(formula: Formula, ctx: Context) -> bool:
    if isinstance(formula, Atom):
        truth = atom_truth(formula, ctx)
        return truth is not True if formula.negated else truth is True
    if isinstance(formula, All):
        return all(holds(item, ctx) for item in formula.items)
    return any(holds(item, ctx) for item in formula.items)


def atom_truth(atom: Atom, ctx: Context) -> Truth:
    """The atom's own value, before its negation."""
    node = atom.node
    caller = ctx.caller
    if isinstance(node, ir.AnyonePolicy):
        return True
    if isinstance(node, ir.AuthenticatedPolicy):
        return caller.authenticated
    if isinstance(node, ir.RolePolicy):
        return node.name in caller.roles
    if isinstance(node, ir.OwnerPolicy):
        return _equal(ctx.value(node.field), caller.user_id)
    if isinstance(node, ir.SameTenantPolicy | ir.TenantMemberPolicy):
        return _member(node, ctx)
    if isinstance(node, ir.RelPolicy):
        return _equal(ctx.value(node.path), caller.user_id) is True
    return _truth(evaluate(node, ctx))


def _member(node: ir.SameTenantPolicy | ir.TenantMemberPolicy, ctx: Context) -> Truth:
    """The row's tenant is the caller's (for Tenant rows: the row is); members must be signed in."""
    tenant = ctx.value(ctx.entity.primary_key if ctx.entity.name == "Tenant" else "tenant")
    same = _equal(tenant, ctx.caller.tenant_id)
    if isinstance(node, ir.TenantMemberPolicy) and not ctx.caller.authenticated:
        return False
    return same


def _equal(left: Any, right: Any) -> Truth:
    if left is None or right is None:
        return None
    return bool(_comparable(left) == _comparable(right))


def _comparable(value: Any) -> Any:
    # Keys arrive as UUID objects from a database and as strings from JSON.
    return str(value) if not isinstance(value, int | float | Decimal | bool | dt.date) else value


def _truth(value: Any) -> Truth:
    if value is None or isinstance(value, bool):
        return value
    raise TypeError(f"a condition gave {value!r}, not a boolean")


# Expressions ----------------------------------------------------------------------------


def evaluate(node: ir.Expr, ctx: Context) -> Any:
    handler: Callable[[Any, Context], Any] = _EVALUATORS[node.kind]
    return handler(node, ctx)


def literal_value(node: ir.LiteralExpr) -> Any:
    value = node.value
    if value is None or node.literal_type == "null":
        return None
    if node.literal_type == "decimal":
        return Decimal(str(value))
    if node.literal_type == "date":
        return dt.date.fromisoformat(str(value))
    if node.literal_type == "datetime":
        moment = dt.datetime.fromisoformat(str(value))
        return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)
    return value


#: Text read as the value it is compared with, as PostgreSQL reads an untyped literal.
TEXT_AS: dict[str, Callable[[str], Any]] = {
    "date": dt.date.fromisoformat,
    "datetime": lambda text: literal_value(
        ir.LiteralExpr(value=text, literal_type="datetime", type="datetime")
    ),
    "uuid": uuid.UUID,
}


def compared_literal(node: ir.Expr, like: ir.Expr) -> Any:
    """`node`'s value when it is a literal compared with `like`: text read as a date,
    datetime or uuid when `like` is one; `NotImplemented` when `node` is not a literal."""
    if not isinstance(node, ir.LiteralExpr):
        return NotImplemented
    value = literal_value(node)
    if isinstance(value, str) and like.type in TEXT_AS:
        return TEXT_AS[like.type](value)
    return value


def _typed(node: ir.Expr, like: ir.Expr, ctx: Context) -> Any:
    value = compared_literal(node, like)
    return evaluate(node, ctx) if value is NotImplemented else value


def _binary(node: ir.BinaryExpr, ctx: Context) -> Any:
    left, right = evaluate(node.left, ctx), evaluate(node.right, ctx)
    if left is None or right is None:
        return None
    if node.op == "/":
        if right == 0:
            return None
        return Decimal(left) / Decimal(right)
    if node.op == "+" and isinstance(left, str):
        return left + str(right)
    if node.left.type == "date":
        # Days, as PostgreSQL counts them: date +/- integer, date - date.
        if node.right.type == "date":
            return (left - right).days
        return _ARITHMETIC[node.op](left, dt.timedelta(days=right))
    return _ARITHMETIC[node.op](left, right)


_ARITHMETIC: dict[str, Callable[[Any, Any], Any]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
_COMPARE: dict[str, Callable[[Any, Any], bool]] = {
    "==": operator.eq,
    "!=": operator.ne,
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


def _compare(node: ir.CompareExpr, ctx: Context) -> Truth:
    left, right = _typed(node.left, node.right, ctx), _typed(node.right, node.left, ctx)
    if left is None or right is None:
        return None
    return bool(_COMPARE[node.op](_comparable(left), _comparable(right)))


def _logical(node: ir.LogicalExpr, ctx: Context) -> Truth:
    """Kleene's AND / OR, as SQL (only reached inside a `when`)."""
    values = [_truth(evaluate(operand, ctx)) for operand in node.operands]
    decisive = node.op == "or"
    if decisive in values:
        return decisive
    return None if None in values else not decisive


def _not(node: ir.NotExpr, ctx: Context) -> Truth:
    value = _truth(evaluate(node.operand, ctx))
    return None if value is None else not value


def _is_null(node: ir.IsNullExpr, ctx: Context) -> bool:
    return (evaluate(node.operand, ctx) is None) != node.negated


def _in(node: ir.InExpr, ctx: Context) -> Truth:
    operand = evaluate(node.operand, ctx)
    if operand is None:
        return None
    found = [_equal(operand, _typed(value, node.operand, ctx)) for value in node.values]
    if True in found:
        return True
    return None if None in found else False


def _contains(node: ir.ContainsExpr, ctx: Context) -> Truth:
    operand, needle = evaluate(node.operand, ctx), evaluate(node.needle, ctx)
    if operand is None or needle is None:
        return None
    return str(needle) in str(operand)


def _when(node: ir.WhenExpr, ctx: Context) -> Any:
    chosen = node.then if _truth(evaluate(node.cond, ctx)) is True else node.otherwise
    return evaluate(chosen, ctx)


def _call(node: ir.CallExpr, ctx: Context) -> Any:
    return ctx.caller.now if node.fn == "now" else ctx.caller.today


def _aggregate(node: ir.AggregateExpr, ctx: Context) -> Any:
    raise ValueError(f"{node.fn}_({node.path!r}) reads other rows; rules cannot use aggregates")


_EVALUATORS: dict[str, Callable[[Any, Context], Any]] = {
    "field": lambda node, ctx: ctx.value(node.path),
    "literal": lambda node, ctx: literal_value(node),
    "binary": _binary,
    "compare": _compare,
    "logical": _logical,
    "not": _not,
    "is_null": _is_null,
    "in": _in,
    "contains": _contains,
    "when": _when,
    "call": _call,
    "aggregate": _aggregate,
}


def _field(entity: ir.Entity, name: str) -> ir.FieldNode:
    found = entity.field(name)
    if found is None:
        raise ValueError(f"{entity.name} has no field {name!r}")
    return found


def _entity(project: ir.Project, name: str) -> ir.Entity:
    found = project.entity(name)
    if found is None:
        raise ValueError(f"no entity {name!r}")
    return found
