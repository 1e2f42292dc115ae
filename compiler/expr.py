"""Symbolic expressions users write: `F("quantity") * F("unit_price")`.

They are never evaluated in Python. Operators build a tree that the
compiler type-checks and later generators render as SQL, Python and
TypeScript. Each node remembers where it was written.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from compiler.source import SourceLoc, caller_location

LiteralValue = str | int | Decimal | bool | dt.date | dt.datetime | None

ARITHMETIC = ("+", "-", "*", "/")
COMPARISONS = ("==", "!=", "<", "<=", ">", ">=")
AGGREGATES = ("sum", "count", "min", "max", "avg")


class DslUsageError(TypeError):
    """A builder was called in a way the language does not allow."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message + (f" Fix: {hint}" if hint else ""))
        self.message = message
        self.hint = hint


def _loc() -> SourceLoc:
    return caller_location()


@dataclass(frozen=True, eq=False)
class Expr:
    """Base of every expression node; operators build larger trees."""

    loc: SourceLoc = field(default_factory=_loc, kw_only=True, repr=False)

    # Arithmetic -----------------------------------------------------------
    def __add__(self, other: object) -> Expr:
        return BinOp("+", self, lift(other))

    def __radd__(self, other: object) -> Expr:
        return BinOp("+", lift(other), self)

    def __sub__(self, other: object) -> Expr:
        return BinOp("-", self, lift(other))

    def __rsub__(self, other: object) -> Expr:
        return BinOp("-", lift(other), self)

    def __mul__(self, other: object) -> Expr:
        return BinOp("*", self, lift(other))

    def __rmul__(self, other: object) -> Expr:
        return BinOp("*", lift(other), self)

    def __truediv__(self, other: object) -> Expr:
        return BinOp("/", self, lift(other))

    def __rtruediv__(self, other: object) -> Expr:
        return BinOp("/", lift(other), self)

    def __neg__(self) -> Expr:
        return BinOp("-", Literal(0), self)

    # Comparison -------------------------------------------------------------
    def __eq__(self, other: object) -> Expr:  # type: ignore[override]
        return Compare("==", self, lift(other))

    def __ne__(self, other: object) -> Expr:  # type: ignore[override]
        return Compare("!=", self, lift(other))

    def __lt__(self, other: object) -> Expr:
        return Compare("<", self, lift(other))

    def __le__(self, other: object) -> Expr:
        return Compare("<=", self, lift(other))

    def __gt__(self, other: object) -> Expr:
        return Compare(">", self, lift(other))

    def __ge__(self, other: object) -> Expr:
        return Compare(">=", self, lift(other))

    __hash__ = object.__hash__

    # Boolean logic: defers to policy nodes so `F(...) & role(...)` is a policy.
    def __and__(self, other: object) -> Any:
        if not isinstance(other, Expr):
            return NotImplemented
        return Logical("and", (self, other))

    def __or__(self, other: object) -> Any:
        if not isinstance(other, Expr):
            return NotImplemented
        return Logical("or", (self, other))

    def __invert__(self) -> Expr:
        return Not(self)

    def __bool__(self) -> bool:
        raise DslUsageError(
            "a model expression has no truth value in Python.",
            "combine conditions with & | ~ instead of and / or / not, and write "
            "each comparison separately: (F('a') > 1) & (F('a') < 9).",
        )

    # Named predicates -------------------------------------------------------
    def is_null(self) -> Expr:
        return IsNull(self, negated=False)

    def is_not_null(self) -> Expr:
        return IsNull(self, negated=True)

    def in_(self, values: list[LiteralValue] | tuple[LiteralValue, ...]) -> Expr:
        return In(self, tuple(lift(v) for v in values))

    def contains(self, text: str) -> Expr:
        return Contains(self, lift(text))


@dataclass(frozen=True, eq=False)
class FieldRef(Expr):
    """`F("invoice.status")`: a field of this row, following refs by dots."""

    path: str


@dataclass(frozen=True, eq=False)
class Literal(Expr):
    value: LiteralValue


@dataclass(frozen=True, eq=False)
class BinOp(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False)
class Compare(Expr):
    op: str
    left: Expr
    right: Expr


@dataclass(frozen=True, eq=False)
class Logical(Expr):
    op: str  # "and" | "or"
    operands: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class Not(Expr):
    operand: Expr


@dataclass(frozen=True, eq=False)
class IsNull(Expr):
    operand: Expr
    negated: bool


@dataclass(frozen=True, eq=False)
class In(Expr):
    operand: Expr
    values: tuple[Expr, ...]


@dataclass(frozen=True, eq=False)
class Contains(Expr):
    operand: Expr
    needle: Expr


@dataclass(frozen=True, eq=False)
class Aggregate(Expr):
    """`sum_("lines.total")`: an aggregate over a one-to-many path."""

    fn: str
    path: str


@dataclass(frozen=True, eq=False)
class When(Expr):
    """`when(cond, then, otherwise)`: CASE WHEN; `otherwise` defaults to null."""

    cond: Expr
    then: Expr
    otherwise: Expr


@dataclass(frozen=True, eq=False)
class Call(Expr):
    """A zero-argument function of the evaluation moment: `today()`, `now()`."""

    fn: str


_LITERAL_TYPES = (str, int, Decimal, bool, dt.date, dt.datetime, type(None))


def lift(value: object) -> Expr:
    """Turn a Python value into an expression node (floats become decimals)."""
    if isinstance(value, Expr):
        return value
    if isinstance(value, float):
        return Literal(Decimal(str(value)))
    if isinstance(value, _LITERAL_TYPES):
        return Literal(value)
    raise DslUsageError(
        f"{value!r} ({type(value).__name__}) cannot be used in a model expression.",
        "use F('field'), a number, a string, a boolean, a date or None.",
    )


def _path(name: str, what: str) -> str:
    if not isinstance(name, str) or not name:
        raise DslUsageError(f"{what} takes a field path such as 'lines.total', got {name!r}.")
    return name


def F(path: str) -> FieldRef:
    """A field of the current row; dots follow refs: `F("customer.name")`."""
    return FieldRef(_path(path, "F()"))


def sum_(path: str) -> Aggregate:
    return Aggregate("sum", _path(path, "sum_()"))


def count_(path: str) -> Aggregate:
    return Aggregate("count", _path(path, "count_()"))


def min_(path: str) -> Aggregate:
    return Aggregate("min", _path(path, "min_()"))


def max_(path: str) -> Aggregate:
    return Aggregate("max", _path(path, "max_()"))


def avg_(path: str) -> Aggregate:
    return Aggregate("avg", _path(path, "avg_()"))


def when(cond: object, then: object, otherwise: object = None) -> When:
    return When(lift(cond), lift(then), lift(otherwise))


def today() -> Call:
    return Call("today")


def now() -> Call:
    return Call("now")
