"""Type checking of expressions: `F("quantity") * F("unit_price")` is money.

One checker serves computed fields, action guards, index predicates and
policy conditions; each use says what it allows (aggregates, relation
paths, the clock). Errors are reported once, at the declaration, and an
unknown operand type (already reported) silences errors about its parents.
"""

from __future__ import annotations

import datetime as dt
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from compiler import ir
from compiler.diagnostics import did_you_mean
from compiler.passes.context import PassContext

NUMERIC = ("integer", "decimal", "money")
ORDERABLE = (*NUMERIC, "text", "date", "datetime")
_TEXT_SCALARS = ("text", "slug", "email", "url")


@dataclass(frozen=True)
class VType:
    """A value type. `values` are an enum's values or the texts a literal can be."""

    name: str
    values: tuple[str, ...] | None = None
    currency: str | None = None
    target: str | None = None
    literal: bool = False

    def __str__(self) -> str:
        if self.name == "money" and self.currency:
            return f"money ({self.currency})"
        return self.name


def field_vtype(field: ir.FieldNode) -> VType:
    t = field.type
    if isinstance(t, ir.ScalarType):
        name = "text" if t.name in _TEXT_SCALARS else t.name
        return VType(name, currency=t.currency)
    if isinstance(t, ir.EnumType | ir.StateType):
        return VType("enum", values=t.values)
    if isinstance(t, ir.ArrayType):
        return VType("array")
    if isinstance(t, ir.RefType):
        return VType("ref", target=t.target)
    if isinstance(t, ir.PolyRefType):
        return VType("ref")
    return VType("many", target=t.target)


@dataclass(frozen=True)
class Purpose:
    """What a use of expressions allows, and how to name it in messages."""

    what: str
    aggregates: bool = True
    relations: bool = True
    clock: bool = True


@dataclass
class Checked:
    expr: ir.Expr
    vtype: VType | None
    depends_on: set[str] = field(default_factory=set)
    crosses_rows: bool = False
    uses_clock: bool = False


class _Checker:
    def __init__(
        self,
        project: ir.Project,
        entity: ir.Entity,
        loc: ir.SourceRef,
        purpose: Purpose,
        ctx: PassContext,
    ) -> None:
        self.project, self.entity, self.loc, self.purpose, self.ctx = (
            project,
            entity,
            loc,
            purpose,
            ctx,
        )
        self.depends_on: set[str] = set()
        self.crosses_rows = False
        self.uses_clock = False
        self.failed = False

    def error(self, code: str, message: str, hint: str) -> None:
        self.failed = True
        self.ctx.error(self.loc, code, f"{self.purpose.what}: {message}", hint)

    # Dispatch ----------------------------------------------------------------------
    def check(self, node: ir.Expr) -> tuple[ir.Expr, VType | None]:
        handler: Callable[[Any], tuple[ir.Expr, VType | None]] = getattr(self, f"_{node.kind}")
        typed, vtype = handler(node)
        if vtype is not None:
            typed = typed.replace(type=vtype.name)
        return typed, vtype

    # Leaves -------------------------------------------------------------------------
    def _field(self, node: ir.FieldExpr) -> tuple[ir.Expr, VType | None]:
        vtype, _ = self.resolve_path(node.path, allow_many=False)
        if vtype is not None and vtype.name == "many":
            self.error(
                "expr-many-without-aggregate",
                f'F("{node.path}") is a list of {vtype.target} rows, not one value.',
                f'aggregate it: count_("{node.path}") or sum_("{node.path}.<field>").',
            )
            return node, None
        return node, vtype

    def _literal(self, node: ir.LiteralExpr) -> tuple[ir.Expr, VType | None]:
        if node.literal_type == "text":
            return node, VType("text", values=(str(node.value),), literal=True)
        return node, VType(node.literal_type, literal=True)

    def _call(self, node: ir.CallExpr) -> tuple[ir.Expr, VType | None]:
        if not self.purpose.clock:
            self.error(
                "expr-clock",
                f"{node.fn}() changes over time and cannot be used here.",
                "compare against a fixed value, or move the condition into a computed field.",
            )
            return node, None
        self.uses_clock = True
        return node, VType("date" if node.fn == "today" else "datetime")

    def _aggregate(self, node: ir.AggregateExpr) -> tuple[ir.Expr, VType | None]:
        call = f'{node.fn}_("{node.path}")'
        if not self.purpose.aggregates:
            self.error(
                "expr-aggregate-not-allowed",
                f"{call}: aggregates are not allowed here.",
                "use a computed field holding the aggregate and refer to it with F(...).",
            )
            return node, None
        vtype, crossed_many = self.resolve_path(node.path, allow_many=True)
        if vtype is None:
            return node, None
        if crossed_many == 0 and vtype.name != "many":
            self.error(
                "expr-aggregate-path",
                f"{call} does not go through a one-to-many or many-to-many relation.",
                'aggregate over a list of rows, e.g. sum_("lines.total") where lines = array(ref("InvoiceLine")).',
            )
            return node, None
        self.crosses_rows = True
        return node, self._aggregate_type(node, call, vtype)

    def _aggregate_type(self, node: ir.AggregateExpr, call: str, vtype: VType) -> VType | None:
        if node.fn == "count":
            return VType("integer")
        if vtype.name == "many":
            self.error(
                "expr-aggregate-path",
                f"{call} names rows, not a value to {node.fn}.",
                f'name a field of {vtype.target}: {node.fn}_("{node.path}.<field>").',
            )
            return None
        allowed = NUMERIC if node.fn in ("sum", "avg") else ORDERABLE
        if vtype.name not in allowed:
            self.error(
                "expr-aggregate-type",
                f"{call} cannot {node.fn} {vtype} values.",
                f"{node.fn}_ works on {', '.join(allowed)} fields.",
            )
            return None
        if node.fn == "avg" and vtype.name == "integer":
            return VType("decimal")
        return replace(vtype, literal=False)

    # Operators --------------------------------------------------------------------
    def _binary(self, node: ir.BinaryExpr) -> tuple[ir.Expr, VType | None]:
        left, lt = self.check(node.left)
        right, rt = self.check(node.right)
        typed = node.replace(left=left, right=right)
        if lt is None or rt is None:
            return typed, None
        result = _arithmetic(node.op, lt, rt)
        if isinstance(result, str):
            self.error("expr-operator-types", result, _arithmetic_hint(node.op, lt, rt))
            return typed, None
        return typed, result

    def _compare(self, node: ir.CompareExpr) -> tuple[ir.Expr, VType | None]:
        left, lt = self.check(node.left)
        right, rt = self.check(node.right)
        typed = node.replace(left=left, right=right)
        if lt is None or rt is None:
            return typed, None
        if "null" in (lt.name, rt.name):
            self.error(
                "expr-compare-null",
                f"comparing with None using {node.op} is never true in SQL.",
                "use F('field').is_null() or .is_not_null().",
            )
            return typed, None
        problem = _comparison_problem(node.op, lt, rt)
        if problem:
            self.error("expr-compare-types", problem[0], problem[1])
            return typed, None
        return typed, VType("boolean")

    def _logical(self, node: ir.LogicalExpr) -> tuple[ir.Expr, VType | None]:
        checked = [self.check(operand) for operand in node.operands]
        typed = node.replace(operands=tuple(e for e, _ in checked))
        if any(t is None for _, t in checked):
            return typed, None
        for _, vtype in checked:
            if vtype is not None and vtype.name != "boolean":
                self.error(
                    "expr-logic-types",
                    f"'{'&' if node.op == 'and' else '|'}' combines conditions, but one side is {vtype}.",
                    "compare the value first, e.g. (F('total') > 0) & (F('status') == 'sent').",
                )
                return typed, None
        return typed, VType("boolean")

    def _not(self, node: ir.NotExpr) -> tuple[ir.Expr, VType | None]:
        operand, vtype = self.check(node.operand)
        typed = node.replace(operand=operand)
        if vtype is not None and vtype.name != "boolean":
            self.error(
                "expr-logic-types",
                f"'~' negates a condition, not {vtype}.",
                "negate a comparison: ~(F('a') == 1).",
            )
            return typed, None
        return typed, VType("boolean") if vtype else None

    def _is_null(self, node: ir.IsNullExpr) -> tuple[ir.Expr, VType | None]:
        operand, vtype = self.check(node.operand)
        return node.replace(operand=operand), VType("boolean") if vtype else None

    def _in(self, node: ir.InExpr) -> tuple[ir.Expr, VType | None]:
        operand, vtype = self.check(node.operand)
        values = [self.check(v) for v in node.values]
        typed = node.replace(operand=operand, values=tuple(v for v, _ in values))
        if vtype is None or any(t is None for _, t in values):
            return typed, None
        for _, value_type in values:
            problem = _comparison_problem("==", vtype, value_type)  # type: ignore[arg-type]
            if problem:
                self.error("expr-compare-types", problem[0], problem[1])
                return typed, None
        return typed, VType("boolean")

    def _contains(self, node: ir.ContainsExpr) -> tuple[ir.Expr, VType | None]:
        operand, vtype = self.check(node.operand)
        needle, needle_type = self.check(node.needle)
        typed = node.replace(operand=operand, needle=needle)
        if vtype is None or needle_type is None:
            return typed, None
        if vtype.name != "text" or needle_type.name != "text":
            self.error(
                "expr-contains-types",
                f".contains() searches text, but got {vtype} and {needle_type}.",
                "use .contains('text') on a text field.",
            )
            return typed, None
        return typed, VType("boolean")

    def _when(self, node: ir.WhenExpr) -> tuple[ir.Expr, VType | None]:
        cond, ct = self.check(node.cond)
        then, tt = self.check(node.then)
        otherwise, ot = self.check(node.otherwise)
        typed = node.replace(cond=cond, then=then, otherwise=otherwise)
        if ct is None or tt is None or ot is None:
            return typed, None
        if ct.name != "boolean":
            self.error(
                "expr-when-condition",
                f"when() needs a condition first, got {ct}.",
                "write when(F('status') == 'sent', ...).",
            )
            return typed, None
        unified = _unify(tt, ot)
        if unified is None:
            self.error(
                "expr-when-branches",
                f"when() branches have different types: {tt} and {ot}.",
                "make both branches the same type, e.g. when(cond, F('a'), 0) for numbers.",
            )
        return typed, unified

    # Paths --------------------------------------------------------------------------
    def resolve_path(self, path: str, allow_many: bool) -> tuple[VType | None, int]:
        """Walk `a.b.c` through refs (and to-many when allowed); count to-many hops."""
        entity, crossed_many = self.entity, 0
        segments = path.split(".")
        for position, segment in enumerate(segments):
            found = entity.field(segment)
            if found is None and self.ctx.is_broken(entity.name, segment):
                self.failed = True  # its declaration is wrong and already reported
                return None, crossed_many
            if found is None:
                self.error(
                    "expr-unknown-field",
                    f'"{path}": {entity.name} has no field {segment!r}.',
                    did_you_mean(segment, [f.name for f in entity.fields]),
                )
                return None, crossed_many
            self.depends_on.add(f"{entity.name}.{segment}")
            vtype = field_vtype(found)
            if position == len(segments) - 1:
                return vtype, crossed_many
            if vtype.name == "many":
                if not allow_many or crossed_many:
                    self.error(
                        "expr-path-many",
                        f'"{path}" goes through {entity.name}.{segment}, a list of rows.',
                        f'aggregate over it: count_("{".".join(segments[: position + 1])}") or sum_(...).',
                    )
                    return None, crossed_many
                crossed_many += 1
            elif vtype.name != "ref" or vtype.target is None:
                self.error(
                    "expr-path-not-ref",
                    f'"{path}": {entity.name}.{segment} is {vtype}, which has no fields to follow.',
                    "only refs (and one-to-many inside aggregates) can be followed with dots.",
                )
                return None, crossed_many
            if not self.purpose.relations:
                self.error(
                    "expr-path-relation",
                    f'"{path}" follows a relation, which is not allowed here.',
                    "use only fields of this row.",
                )
                return None, crossed_many
            self.crosses_rows = True
            target = self.project.entity(vtype.target or "")
            if target is None:
                return None, crossed_many  # reported by resolve_refs
            entity = target
        return None, crossed_many


def _numeric_result(op: str, a: VType, b: VType) -> VType | str:
    if a.name == "money" and b.name == "money":
        if a.currency != b.currency and not (a.literal or b.literal):
            return f"'{op}' mixes currencies {a.currency} and {b.currency}."
        if op in "+-":
            return replace(a if not a.literal else b, literal=False)
        if op == "/":
            return VType("decimal")
        return "money times money is not an amount."
    if "money" in (a.name, b.name):
        money, other = (a, b) if a.name == "money" else (b, a)
        if op == "*" or (op == "/" and a.name == "money"):
            return replace(money, literal=False)
        if op in "+-" and other.literal:
            return replace(money, literal=False)
        if op == "/":
            return "dividing a number by money has no meaning."
        return f"'{op}' adds a plain {other} to money."
    if a.name == b.name == "integer" and op != "/":
        return VType("integer", literal=a.literal and b.literal)
    return VType("decimal", literal=a.literal and b.literal)


def _arithmetic(op: str, a: VType, b: VType) -> VType | str:
    """The result type, or a sentence saying why the operation is wrong."""
    if a.name in NUMERIC and b.name in NUMERIC:
        return _numeric_result(op, a, b)
    if a.name == "date" and b.name == "integer" and op in "+-":
        return VType("date")
    if a.name == b.name == "date" and op == "-":
        return VType("integer")
    if a.name == b.name == "text" and op == "+":
        return VType("text")
    return f"cannot apply '{op}' to {a} and {b}."


def _arithmetic_hint(op: str, a: VType, b: VType) -> str:
    if "money" in (a.name, b.name):
        return "multiply or divide money by a number, add money to money, e.g. F('quantity') * F('unit_price')."
    return (
        "arithmetic works on numbers (integer, decimal, money), dates plus days, and text + text."
    )


def _comparison_problem(op: str, a: VType, b: VType) -> tuple[str, str] | None:
    """None when `a op b` is a valid comparison, else (problem, hint)."""
    if a.name in NUMERIC and b.name in NUMERIC:
        return None
    if "enum" in (a.name, b.name):
        return _enum_comparison(op, a, b)
    if a.name == "text" and b.name == "text":
        return None
    for kind in ("date", "datetime", "uuid"):
        if kind in (a.name, b.name):
            return _literal_comparison(kind, a, b)
    if a.name == b.name == "ref" or {a.name, b.name} == {"ref", "uuid"}:
        return (
            None
            if op in ("==", "!=")
            else ("refs can only be compared for equality.", "use == or !=.")
        )
    if a.name == b.name == "boolean":
        return None if op in ("==", "!=") else ("booleans have no order.", "use == or !=.")
    kinds = {a.name, b.name}
    if "text" in kinds and kinds & set(NUMERIC):
        return (
            f"comparing text to a number ({a} {op} {b}).",
            "compare text with text (quote the value) or numbers with numbers.",
        )
    return (f"cannot compare {a} with {b}.", "compare values of the same type.")


def _enum_comparison(op: str, a: VType, b: VType) -> tuple[str, str] | None:
    enum, other = (a, b) if a.name == "enum" else (b, a)
    allowed = ", ".join(enum.values or ())
    if op not in ("==", "!="):
        return ("enum and state values have no order.", "use ==, != or .in_([...]).")
    if other.name == "enum":
        return (
            None
            if set(other.values or ()) & set(enum.values or ())
            else ("these two enums share no value.", "compare with a listed value.")
        )
    if other.name != "text" or not other.literal:
        return (f"comparing an enum with {other}.", f"compare with one of: {allowed}.")
    unknown = [v for v in other.values or () if v not in (enum.values or ())]
    if unknown:
        return (f"{unknown[0]!r} is not one of its values ({allowed}).", f"use one of: {allowed}.")
    return None


def _literal_comparison(kind: str, a: VType, b: VType) -> tuple[str, str] | None:
    if a.name == b.name == kind:
        return None
    other = b if a.name == kind else a
    parse: dict[str, Callable[[str], object]] = {
        "date": dt.date.fromisoformat,
        "datetime": dt.datetime.fromisoformat,
        "uuid": uuidlib.UUID,
    }
    if kind == "uuid" and other.name == "ref":
        return None
    if other.name == "text" and other.literal and other.values:
        try:
            parse[kind](other.values[0])
            return None
        except ValueError:
            return (
                f"{other.values[0]!r} is not a {kind}.",
                f"write a {kind} in ISO format, or use a date object.",
            )
    return (f"cannot compare {kind} with {other}.", f"compare a {kind} with another {kind}.")


def _unify(a: VType, b: VType) -> VType | None:
    """The common type of two branches; null fits anything."""
    if a.name == "null":
        return replace(b, literal=False)
    if b.name == "null":
        return replace(a, literal=False)
    if a.name in NUMERIC and b.name in NUMERIC:
        if "money" in (a.name, b.name):
            result = _numeric_result("+", a, b)
            return result if isinstance(result, VType) else None
        return VType("integer" if a.name == b.name == "integer" else "decimal")
    if a.name == b.name == "text" and a.literal and b.literal:
        return VType("text", values=(*(a.values or ()), *(b.values or ())), literal=True)
    if a.name == b.name:
        return replace(a, literal=False)
    return None


def typecheck(
    expr: ir.Expr,
    project: ir.Project,
    entity: ir.Entity,
    loc: ir.SourceRef,
    purpose: Purpose,
    ctx: PassContext,
) -> Checked:
    """Type `expr` in the scope of one row of `entity`, reporting problems at `loc`."""
    checker = _Checker(project, entity, loc, purpose, ctx)
    typed, vtype = checker.check(expr)
    return Checked(
        expr=typed,
        vtype=None if checker.failed else vtype,
        depends_on=checker.depends_on,
        crosses_rows=checker.crosses_rows,
        uses_clock=checker.uses_clock,
    )


def assignable(value: VType, field: ir.FieldNode) -> bool:
    """Whether a computed value of type `value` fits the declared field."""
    target = field_vtype(field)
    if value.name == target.name:
        if value.name == "money":
            return value.currency == target.currency
        return True
    if value.name == "integer" and target.name == "decimal":
        return True
    if value.name == "text" and target.name == "enum" and value.literal:
        return set(value.values or ()) <= set(target.values or ())
    return False
