"""Field builders: `text().required().max_length(80)`.

Builders only record what the user declared and where; every check that
needs the whole model (does the ref target exist? does `.min()` make sense
for this type?) happens in the compiler passes, so that all errors of a run
are reported together.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from compiler.expr import DslUsageError, Expr, lift
from compiler.source import SourceLoc, caller_location
from policy.tree import PolicyNode, as_policy

SCALAR_KINDS = (
    "uuid",
    "text",
    "slug",
    "email",
    "url",
    "integer",
    "decimal",
    "money",
    "boolean",
    "date",
    "datetime",
    "json",
)
ON_DELETE = ("cascade", "restrict", "set_null")


class _Unset:
    """Marks a modifier the user did not call (None is a legal default)."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


def text_arg(call: str, value: Any, example: str) -> Any:
    """Refuse a non-string where a name or a text is expected (None passes)."""
    if value is not None and not isinstance(value, str):
        raise DslUsageError(f"{call} takes a string, got {value!r}.", f"write {example}.")
    return value


@dataclass(frozen=True, eq=False)
class FieldDecl:
    """One declared field. Modifiers return a new declaration."""

    kind: str
    loc: SourceLoc
    params: Mapping[str, Any] = field(default_factory=dict)
    is_required: bool | None = None
    is_primary: bool = False
    is_unique: bool = False
    is_indexed: bool = False
    default_value: Any = UNSET
    min_value: Any = None
    max_value: Any = None
    min_len: Any = None
    max_len: Any = None
    regex: Any = None
    label_text: str | None = None
    help_text: str | None = None
    is_read_only: bool = False
    is_private: bool = False
    visible_rule: PolicyNode | None = None
    editable_rule: PolicyNode | None = None
    old_name: str | None = None
    computed_expr: Expr | None = None
    is_materialized: bool = False
    on_delete_rule: str | None = None
    #: Where each modifier was called, for errors about that modifier.
    modifier_locs: Mapping[str, SourceLoc] = field(default_factory=dict)

    def _with(self, modifier: str, **changes: Any) -> FieldDecl:
        # A dict copy instead of dataclasses.replace(): models call this thousands of
        # times and the class has no __post_init__ to run (3x faster, see BENCHMARKS.md).
        copy = object.__new__(FieldDecl)
        copy.__dict__.update(self.__dict__, **changes)
        copy.__dict__["modifier_locs"] = {**self.modifier_locs, modifier: caller_location()}
        return copy

    def where(self, modifier: str) -> SourceLoc:
        """The location of a modifier call, else of the field itself."""
        return self.modifier_locs.get(modifier, self.loc)

    # Nullability and keys ---------------------------------------------------
    def required(self) -> FieldDecl:
        return self._with("required", is_required=True)

    def optional(self) -> FieldDecl:
        return self._with("optional", is_required=False)

    def primary(self) -> FieldDecl:
        return self._with("primary", is_primary=True)

    def unique(self) -> FieldDecl:
        return self._with("unique", is_unique=True)

    def index(self) -> FieldDecl:
        return self._with("index", is_indexed=True)

    def default(self, value: Any) -> FieldDecl:
        return self._with("default", default_value=value)

    # Validation -------------------------------------------------------------
    def min(self, n: Any) -> FieldDecl:
        return self._with("min", min_value=n)

    def max(self, n: Any) -> FieldDecl:
        return self._with("max", max_value=n)

    def min_length(self, n: Any) -> FieldDecl:
        return self._with("min_length", min_len=n)

    def max_length(self, n: Any) -> FieldDecl:
        return self._with("max_length", max_len=n)

    def pattern(self, regex: Any) -> FieldDecl:
        return self._with("pattern", regex=regex)

    # Presentation -----------------------------------------------------------
    def label(self, text: str) -> FieldDecl:
        return self._with("label", label_text=text_arg(".label()", text, ".label('Due date')"))

    def help(self, text: str) -> FieldDecl:
        return self._with("help", help_text=text_arg(".help()", text, ".help('Shown below')"))

    # Access -----------------------------------------------------------------
    def read_only(self) -> FieldDecl:
        return self._with("read_only", is_read_only=True)

    def private(self) -> FieldDecl:
        return self._with("private", is_private=True)

    def visible_to(self, policy: object) -> FieldDecl:
        return self._with("visible_to", visible_rule=as_policy(policy))

    def editable_by(self, policy: object) -> FieldDecl:
        return self._with("editable_by", editable_rule=as_policy(policy))

    # Evolution and derivation -------------------------------------------------
    def renamed_from(self, old_name: str) -> FieldDecl:
        old_name = text_arg(".renamed_from()", old_name, ".renamed_from('old_name')")
        return self._with("renamed_from", old_name=old_name)

    def computed(self, expr: object) -> FieldDecl:
        return self._with("computed", computed_expr=lift(expr))

    def materialized(self) -> FieldDecl:
        return self._with("materialized", is_materialized=True)

    # Relations ----------------------------------------------------------------
    def on_delete(self, behaviour: str) -> FieldDecl:
        return self._with("on_delete", on_delete_rule=behaviour)


def _field(kind: str, **params: Any) -> FieldDecl:
    return FieldDecl(kind=kind, loc=caller_location(), params=params)


def uuid() -> FieldDecl:
    return _field("uuid")


def text() -> FieldDecl:
    return _field("text")


def slug() -> FieldDecl:
    return _field("slug")


def email() -> FieldDecl:
    return _field("email")


def url() -> FieldDecl:
    return _field("url")


def integer() -> FieldDecl:
    return _field("integer")


def decimal(precision: int | None = None, scale: int | None = None) -> FieldDecl:
    """A fixed-point number; `decimal(10, 2)` has 10 digits, 2 after the point."""
    return _field("decimal", precision=precision, scale=scale)


def money(currency: str = "USD") -> FieldDecl:
    return _field("money", currency=currency)


def boolean() -> FieldDecl:
    return _field("boolean")


def date() -> FieldDecl:
    return _field("date")


def datetime() -> FieldDecl:
    return _field("datetime")


def json() -> FieldDecl:
    return _field("json")


def enum(values: Sequence[str]) -> FieldDecl:
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise DslUsageError(
            f"enum() takes a list of values, got {values!r}.", "write enum(['low', 'high'])."
        )
    return _field("enum", values=tuple(values))


def state(
    values: Sequence[str],
    *,
    initial: str | None = None,
    transitions: Mapping[str, tuple[Any, str]] | None = None,
) -> FieldDecl:
    """A state machine field; transitions map an action name to (from, to)."""
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise DslUsageError(
            f"state() takes a list of states, got {values!r}.",
            "write state(['draft', 'sent'], initial='draft', transitions={...}).",
        )
    return _field(
        "state", values=tuple(values), initial=initial, transitions=dict(transitions or {})
    )


def _target_name(target: object) -> object:
    """An entity handle stands for its name; anything else is checked later."""
    name = getattr(target, "name", None)
    return name if isinstance(name, str) and hasattr(target, "fields") else target


def ref(target: object) -> FieldDecl:
    """Many-to-one: `ref("Customer")`; polymorphic: `ref(["Invoice", "Customer"])`."""
    if isinstance(target, list | tuple):
        return _field("poly_ref", targets=tuple(_target_name(t) for t in target))
    return _field("ref", target=_target_name(target))


def one(target: FieldDecl) -> FieldDecl:
    """One-to-one: a unique foreign key, `one(ref("Profile"))`."""
    if not isinstance(target, FieldDecl) or target.kind != "ref":
        raise DslUsageError(f"one() wraps a ref, got {target!r}.", "write one(ref('Profile')).")
    return _field("one", target=target.params["target"])


def array(of: FieldDecl, *, via: str | None = None) -> FieldDecl:
    """`array(text())` is a Postgres array; `array(ref("Line"))` is one-to-many."""
    text_arg("array(via=...)", via, "array(ref('Line'), via='invoice')")
    if not isinstance(of, FieldDecl):
        raise DslUsageError(
            f"array() wraps a field type, got {of!r}.", "write array(text()) or array(ref('Line'))."
        )
    if of.kind == "ref":
        return _field("one_to_many", target=of.params["target"], via=via)
    return _field("array", of=of, via=via)


def many_to_many(target: object, *, through: object = None) -> FieldDecl:
    """Many-to-many through a join table (or an explicit `through` entity)."""
    return _field(
        "many_to_many",
        target=_target_name(target),
        through=_target_name(through) if through is not None else None,
    )
