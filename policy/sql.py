"""Policies compiled to SQLAlchemy boolean expressions, for the WHERE of any query.

`row_filter(...)` gives an expression over the entity's table that selects
exactly the rows the Python evaluator (policy/python.py) allows. The caller
enters as bound parameters (`reframe_user`, `reframe_tenant`,
`reframe_role_<name>`, `reframe_now`), evaluated once per statement; no SQL text
is ever built from strings.

Relations: `rel("customer.account_manager")` is a correlated `EXISTS`
semi-join through the refs, which Postgres plans as a join. A condition that
reads through refs (`F("customer.status") == "active"`) is an `EXISTS` over
the same joins when it can only hold with every row on the path present,
and otherwise reads each value with a scalar subquery (NULL when a ref on
the way is NULL), as the Python evaluator does.

NULL: atoms hold only when TRUE (see policy/normal.py), so a negated atom
that may be NULL compiles to `IS NOT TRUE`, and to plain `NOT` when it
cannot be NULL.
"""

from __future__ import annotations

import dataclasses
import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.sql.elements import ColumnElement

from compiler import ir
from policy.caller import Caller
from policy.normal import All, Atom, Formula, normal_form
from policy.python import TEXT_AS, compared_literal, literal_value

Bool = ColumnElement[bool]
Value = ColumnElement[Any]
_LITERAL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "text": sa.Text(),
    "integer": sa.Integer(),
    "decimal": sa.Numeric(),
    "boolean": sa.Boolean(),
    "date": sa.Date(),
    "datetime": sa.DateTime(timezone=True),
    "uuid": sa.Uuid(),
}
_ARITHMETIC: dict[str, Callable[[Value, Value], Value]] = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
}
_COMPARE: dict[str, Callable[[Value, Value], Bool]] = {
    "==": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


class PolicyCompileError(ValueError):
    """A rule reads something that has no column (a field computed on read)."""


@dataclass(frozen=True)
class CallerParams:
    """The caller as bound parameters: one object each, shared by every use in a statement."""

    user: sa.BindParameter[Any]
    tenant: sa.BindParameter[Any]
    now: sa.BindParameter[Any]
    today: sa.BindParameter[Any]
    caller: Caller
    _roles: dict[str, sa.BindParameter[Any]] = dataclasses.field(default_factory=dict)

    def role(self, name: str) -> sa.BindParameter[Any]:
        """Whether the caller has the role: one boolean each, so the statement text stays the
        same for every caller (an array parameter cost ~20 us per execution, bench/policy_speed)."""
        if name not in self._roles:
            key = "reframe_role_" + re.sub(r"\W", "_", name)
            self._roles[name] = sa.bindparam(key, name in self.caller.roles, type_=sa.Boolean())
        return self._roles[name]

    def role_keys(self) -> tuple[tuple[str, str], ...]:
        """(parameter name, role) of each role bound so far. A statement built once with
        placeholder params is executed with `{name: role in caller.roles}` for each."""
        return tuple((bind.key, name) for name, bind in self._roles.items())

    @classmethod
    def of(cls, caller: Caller) -> CallerParams:
        return cls(
            user=sa.bindparam("reframe_user", caller.user_id, type_=sa.Uuid()),
            tenant=sa.bindparam("reframe_tenant", caller.tenant_id, type_=sa.Uuid()),
            now=sa.bindparam("reframe_now", caller.now, type_=sa.DateTime(timezone=True)),
            today=sa.bindparam("reframe_today", caller.today, type_=sa.Date()),
            caller=caller,
        )


def row_filter(
    project: ir.Project,
    entity: ir.Entity,
    rule: ir.Rule | None,
    tables: Mapping[str, sa.Table],
    caller: Caller | CallerParams,
    row: sa.FromClause | None = None,
) -> Bool:
    """The WHERE condition of the rows `rule` lets the caller at; no rule: `false`.

    `tables` maps table names to tables (a `MetaData.tables`); `row` is the
    entity's table or an alias of it in the query (default: the table).
    """
    if rule is None:
        return sa.false()
    params = caller if isinstance(caller, CallerParams) else CallerParams.of(caller)
    compiler = _Compiler(project, tables, params)
    source = row if row is not None else tables[entity.table]
    return compiler.formula(normal_form(rule.expr), entity, source)


class _Compiler:
    def __init__(
        self, project: ir.Project, tables: Mapping[str, sa.Table], params: CallerParams
    ) -> None:
        self.project, self.tables, self.params = project, tables, params

    def formula(self, formula: Formula, entity: ir.Entity, row: sa.FromClause) -> Bool:
        if isinstance(formula, Atom):
            return self.atom(formula, entity, row)
        items = [self.formula(item, entity, row) for item in formula.items]
        return sa.and_(*items) if isinstance(formula, All) else sa.or_(*items)

    # Atoms --------------------------------------------------------------------------------

    def atom(self, atom: Atom, entity: ir.Entity, row: sa.FromClause) -> Bool:
        node = atom.node
        if isinstance(node, ir.AnyonePolicy):
            return sa.false() if atom.negated else sa.true()
        if isinstance(node, ir.AuthenticatedPolicy | ir.RolePolicy):
            # Neither reads the row: decided by the parameters alone, never NULL.
            decided = self.caller_only(node)
            return sa.not_(decided) if atom.negated else decided
        if isinstance(node, ir.OwnerPolicy):
            owned = self.column(entity, row, node.field) == self.params.user
            return _negated(owned) if atom.negated else owned
        if isinstance(node, ir.SameTenantPolicy | ir.TenantMemberPolicy):
            member = self.member(node, entity, row)
            return _negated(member) if atom.negated else member
        if isinstance(node, ir.RelPolicy):
            reached = self.reaches_caller(entity, row, node.path)
            if not atom.negated:
                return reached
            return sa.not_(reached) if "." in node.path else _negated(reached)
        return _Condition(self, entity, row).atom(node, atom.negated)

    def caller_only(self, node: ir.AuthenticatedPolicy | ir.RolePolicy) -> Bool:
        if isinstance(node, ir.AuthenticatedPolicy):
            return self.params.user.is_not(None)
        return self.params.role(node.name)

    def member(
        self,
        node: ir.SameTenantPolicy | ir.TenantMemberPolicy,
        entity: ir.Entity,
        row: sa.FromClause,
    ) -> Bool:
        field = entity.primary_key if entity.name == "Tenant" else "tenant"
        same = self.column(entity, row, field) == self.params.tenant
        if isinstance(node, ir.TenantMemberPolicy):
            return sa.and_(self.params.user.is_not(None), same)
        return same

    def reaches_caller(self, entity: ir.Entity, row: sa.FromClause, path: str) -> Bool:
        """`rel(path)`: the last ref of the path is the caller; EXISTS through the hops."""
        *hops, last = path.split(".")
        if not hops:
            return self.column(entity, row, last) == self.params.user
        joined = self.join_path(entity, row, hops)
        reached = self.column(joined.entity, joined.row, last) == self.params.user
        return sa.exists().where(*joined.conditions, reached)

    # Paths --------------------------------------------------------------------------------

    def join_path(self, entity: ir.Entity, row: sa.FromClause, hops: list[str]) -> Joined:
        """Aliases of the rows the refs `hops` lead to, with the conditions joining them."""
        conditions: list[Bool] = []
        for hop in hops:
            field = _field(entity, hop)
            assert isinstance(field.type, ir.RefType), f"{entity.name}.{hop} is not a ref"
            target = _entity(self.project, field.type.target)
            alias = self.tables[target.table].alias()
            conditions.append(
                self.column(target, alias, target.primary_key) == self.column(entity, row, hop)
            )
            entity, row = target, alias
        return Joined(entity, row, conditions)

    def column(self, entity: ir.Entity, row: sa.FromClause, name: str) -> Value:
        field = _field(entity, name)
        if field.column is None:
            raise PolicyCompileError(
                f"{entity.name}.{name} has no column (it is computed on read); a rule cannot "
                "filter on it. Mark it .materialized() or write the rule over stored fields."
            )
        return row.c[field.column]


@dataclass(frozen=True)
class Joined:
    entity: ir.Entity
    row: sa.FromClause
    conditions: list[Bool]


def _negated(condition: Bool) -> Bool:
    """NOT that also holds where `condition` is NULL (an atom holds only when TRUE)."""
    return condition.is_not(sa.true())


class _Condition:
    """A boolean field expression: the values it reads, and how to negate it."""

    def __init__(self, compiler: _Compiler, entity: ir.Entity, row: sa.FromClause) -> None:
        self.compiler, self.entity, self.row = compiler, entity, row
        #: Path prefix ("customer", "customer.account") -> the joined row; set inside EXISTS.
        self.joined: dict[str, tuple[ir.Entity, sa.FromClause]] | None = None
        self.conditions: list[Bool] = []

    def atom(self, expr: ir.Expr, negated: bool) -> Bool:
        prefixes = sorted({p.rsplit(".", 1)[0] for p in _paths(expr) if "." in p})
        if prefixes and _strict(expr):
            # Cannot hold without every row on its paths: test it inside one EXISTS.
            self.joined = {}
            for prefix in prefixes:
                self.join(prefix)
            found = sa.exists().where(*self.conditions, self.value(expr))
            return sa.not_(found) if negated else found
        condition = self.value(expr)
        if negated:
            return sa.not_(condition) if self.never_null(expr) else _negated(condition)
        return condition

    def join(self, prefix: str) -> tuple[ir.Entity, sa.FromClause]:
        assert self.joined is not None
        if prefix in self.joined:
            return self.joined[prefix]
        parent, hop = prefix.rsplit(".", 1) if "." in prefix else ("", prefix)
        entity, row = self.join(parent) if parent else (self.entity, self.row)
        joined = self.compiler.join_path(entity, row, [hop])
        self.conditions += joined.conditions
        self.joined[prefix] = (joined.entity, joined.row)
        return self.joined[prefix]

    def field(self, path: str) -> Value:
        if "." not in path:
            return self.compiler.column(self.entity, self.row, path)
        prefix, name = path.rsplit(".", 1)
        if self.joined is not None:
            entity, row = self.join(prefix)
            return self.compiler.column(entity, row, name)
        # Outside an EXISTS: the value, or NULL when a ref on the way is NULL.
        joined = self.compiler.join_path(self.entity, self.row, prefix.split("."))
        column = self.compiler.column(joined.entity, joined.row, name)
        return sa.select(column).where(*joined.conditions).scalar_subquery()

    def never_null(self, expr: ir.Expr) -> bool:
        if isinstance(expr, ir.IsNullExpr):
            return True
        if isinstance(expr, ir.CompareExpr):
            return all(self.never_null(side) for side in (expr.left, expr.right))
        if isinstance(expr, ir.FieldExpr):
            return "." not in expr.path and not _field(self.entity, expr.path).nullable
        if isinstance(expr, ir.LiteralExpr):
            return expr.value is not None
        return False

    def value(self, expr: ir.Expr) -> Value:
        handler: Callable[[Any], Value] = getattr(self, f"_{expr.kind}")
        return handler(expr)

    def _field(self, node: ir.FieldExpr) -> Value:
        return self.field(node.path)

    def _literal(self, node: ir.LiteralExpr) -> Value:
        value = literal_value(node)
        if value is None:
            return sa.null()
        return sa.literal(value, _LITERAL_TYPES.get(node.literal_type))

    def _binary(self, node: ir.BinaryExpr) -> Value:
        left, right = self.value(node.left), self.value(node.right)
        if node.op == "+" and node.type == "text":
            return left.concat(right)
        if node.op == "/":
            numerator = sa.cast(left, sa.Numeric()) if node.left.type == "integer" else left
            return numerator / sa.func.nullif(right, 0)
        # Date +/- integer is a date, date - date an integer: SQLAlchemy's Date types them.
        return _ARITHMETIC[node.op](left, right)

    def typed(self, expr: ir.Expr, like: ir.Expr) -> Value:
        """A literal takes the type of what it is compared with (an enum, a uuid); text
        compared with a date, datetime or uuid is read in Python, as policy/python.py reads it
        (a datetime without an offset is UTC whatever the session's time zone)."""
        value = compared_literal(expr, like)
        if value is NotImplemented:
            return self.value(expr)
        if value is None:
            return sa.null()
        if like.type in TEXT_AS:
            return sa.literal(value, _LITERAL_TYPES[like.type])
        if isinstance(like, ir.LiteralExpr) or _is_number(expr):
            # A number keeps its own type: 10.5 against an integer column stays 10.5.
            return self.value(expr)
        return sa.literal(value, self.value(like).type)

    def _compare(self, node: ir.CompareExpr) -> Value:
        left, right = self.typed(node.left, node.right), self.typed(node.right, node.left)
        if node.op not in ("==", "!=") and node.left.type == node.right.type == "text":
            # Code-point order, as Python and JavaScript compare strings.
            left, right = left.collate("C"), right.collate("C")
        return _COMPARE[node.op](left, right)

    def _logical(self, node: ir.LogicalExpr) -> Value:
        operands = [self.value(operand) for operand in node.operands]
        return sa.and_(*operands) if node.op == "and" else sa.or_(*operands)

    def _not(self, node: ir.NotExpr) -> Value:
        return sa.not_(self.value(node.operand))

    def _is_null(self, node: ir.IsNullExpr) -> Value:
        operand = self.value(node.operand)
        return operand.is_not(None) if node.negated else operand.is_(None)

    def _in(self, node: ir.InExpr) -> Value:
        values = [self.typed(value, node.operand) for value in node.values]
        return self.value(node.operand).in_(values)

    def _contains(self, node: ir.ContainsExpr) -> Value:
        return sa.func.strpos(self.value(node.operand), self.value(node.needle)) > 0

    def _when(self, node: ir.WhenExpr) -> Value:
        return sa.case(
            (self.value(node.cond), self.value(node.then)), else_=self.value(node.otherwise)
        )

    def _call(self, node: ir.CallExpr) -> Value:
        params = self.compiler.params
        return params.now if node.fn == "now" else params.today

    def _aggregate(self, node: ir.AggregateExpr) -> Value:
        raise PolicyCompileError(f"{node.fn}_({node.path!r}): rules cannot use aggregates")


def _is_number(expr: ir.Expr) -> bool:
    return isinstance(expr, ir.LiteralExpr) and expr.literal_type in ("integer", "decimal")


def _paths(expr: ir.Expr) -> list[str]:
    if isinstance(expr, ir.FieldExpr):
        return [expr.path]
    children = [value for value in vars(expr).values() if isinstance(value, ir.EXPR_KINDS)]
    for value in vars(expr).values():
        if isinstance(value, tuple):
            children += [item for item in value if isinstance(item, ir.EXPR_KINDS)]
    return [path for child in children for path in _paths(child)]


def _strict(expr: ir.Expr) -> bool:
    """False whenever a value it reads is NULL: safe to test only where the path exists."""
    if isinstance(expr, ir.IsNullExpr):
        return expr.negated and _strict_value(expr.operand)
    if isinstance(expr, ir.CompareExpr):
        return _strict_value(expr.left) and _strict_value(expr.right)
    if isinstance(expr, ir.InExpr | ir.ContainsExpr | ir.FieldExpr):
        return all(_strict_value(child) for child in _children(expr))
    return False


def _strict_value(expr: ir.Expr) -> bool:
    """NULL whenever a field it reads is NULL."""
    if isinstance(expr, ir.FieldExpr | ir.LiteralExpr | ir.CallExpr):
        return True
    if isinstance(expr, ir.BinaryExpr):
        return _strict_value(expr.left) and _strict_value(expr.right)
    return False


def _children(expr: ir.Expr) -> list[ir.Expr]:
    if isinstance(expr, ir.InExpr):
        return [expr.operand, *expr.values]
    if isinstance(expr, ir.ContainsExpr):
        return [expr.operand, expr.needle]
    return [expr]


def _field(entity: ir.Entity, name: str) -> ir.FieldNode:
    found = entity.field(name)
    if found is None:
        raise PolicyCompileError(f"{entity.name} has no field {name!r}")
    return found


def _entity(project: ir.Project, name: str) -> ir.Entity:
    found = project.entity(name)
    if found is None:
        raise PolicyCompileError(f"no entity {name!r}")
    return found
