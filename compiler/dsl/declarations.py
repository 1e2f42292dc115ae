"""Entity, action, view, index and policy builders, and the declaration registry."""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field, replace
from typing import Any

from compiler.dsl.fields import FieldDecl, text_arg
from compiler.expr import DslUsageError, Expr, lift
from compiler.source import SourceLoc, caller_location
from policy.tree import PolicyNode, as_policy

# Registry ---------------------------------------------------------------------


@dataclass
class Declarations:
    """Everything the model files of one project declared, in order."""

    entities: list[EntityDecl] = field(default_factory=list)
    policies: list[PolicyDecl] = field(default_factory=list)
    themes: list[ThemeDecl] = field(default_factory=list)


_collecting: ContextVar[Declarations | None] = ContextVar("reframe_declarations", default=None)


@contextmanager
def collecting(into: Declarations) -> Iterator[Declarations]:
    """Record every `entity()` and `policy()` call made inside the block."""
    token = _collecting.set(into)
    try:
        yield into
    finally:
        _collecting.reset(token)


# Actions ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class ActionDecl:
    loc: SourceLoc
    custom: bool = False
    label_text: str | None = None
    guard_expr: Expr | None = None
    effect_path: str | None = None
    inputs: Mapping[str, FieldDecl] = field(default_factory=dict)
    policy: PolicyNode | None = None

    def guard(self, expr: object) -> ActionDecl:
        """A condition on the row that must hold for the action to run."""
        return replace(self, guard_expr=lift(expr))

    def effect(self, dotted: str) -> ActionDecl:
        """`"module:function"` run after commit with an idempotency key."""
        return replace(self, effect_path=dotted)

    def input(self, **fields: FieldDecl) -> ActionDecl:
        """Fields the caller sends as the action's body."""
        return replace(self, inputs={**self.inputs, **fields})

    def allow(self, policy: object) -> ActionDecl:
        """Who may run it; same as naming the action in `allow(...)`."""
        return replace(self, policy=as_policy(policy))

    def label(self, text: str) -> ActionDecl:
        return replace(self, label_text=text_arg(".label()", text, ".label('Mark paid')"))


def action(*, custom: bool = False, label: str | None = None) -> ActionDecl:
    """An action; named after a transition it performs it, `custom=True` otherwise."""
    label = text_arg("action(label=...)", label, "action(label='Mark paid')")
    return ActionDecl(loc=caller_location(), custom=custom, label_text=label)


# Views ------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class TabDecl:
    title: str
    fields: tuple[str, ...]
    loc: SourceLoc


@dataclass(frozen=True, eq=False)
class LayoutDecl:
    tabs: tuple[TabDecl, ...]
    loc: SourceLoc


def _name_list(call: str, names: Sequence[str]) -> tuple[str, ...]:
    """A list of field names; a bare string would be read one letter at a time."""
    if isinstance(names, str):
        raise DslUsageError(
            f"{call} takes a list of field names, got the string {names!r}.",
            f"put the name in a list: [{names!r}].",
        )
    return tuple(names)


def tab(title: str, fields: Sequence[str] = ()) -> TabDecl:
    """A tab of a detail view; a tab without fields is left to the UI (e.g. Timeline)."""
    text_arg("tab()", title, "tab('Details', ['number'])")
    return TabDecl(title=title, fields=_name_list("tab()", fields), loc=caller_location())


def tabs(*items: TabDecl) -> LayoutDecl:
    for item in items:
        if not isinstance(item, TabDecl):
            raise DslUsageError(
                f"tabs() takes tab(...) items, got {item!r}.",
                "write tabs(tab('Details', ['number']), tab('Timeline')).",
            )
    return LayoutDecl(tabs=tuple(items), loc=caller_location())


@dataclass(frozen=True, eq=False)
class ViewDecl:
    """A list, detail or form view; which one follows from its name or its settings."""

    loc: SourceLoc
    settings: Mapping[str, Any] = field(default_factory=dict)
    setting_locs: Mapping[str, SourceLoc] = field(default_factory=dict)

    def _set(self, key: str, value: Any) -> ViewDecl:
        return replace(
            self,
            settings={**self.settings, key: value},
            setting_locs={**self.setting_locs, key: caller_location()},
        )

    def columns(self, names: Sequence[str]) -> ViewDecl:
        return self._set("columns", _name_list(".columns()", names))

    def filters(self, names: Sequence[str]) -> ViewDecl:
        return self._set("filters", _name_list(".filters()", names))

    def sort(self, *keys: str) -> ViewDecl:
        """`sort("-created_at", "number")`: a leading minus sorts descending."""
        return self._set("sort", tuple(keys))

    def page_size(self, n: int) -> ViewDecl:
        return self._set("page_size", n)

    def layout(self, layout: LayoutDecl) -> ViewDecl:
        return self._set("layout", layout)

    def fields(self, names: Sequence[str]) -> ViewDecl:
        return self._set("fields", _name_list(".fields()", names))

    def widget(self, field_name: str, widget_name: str) -> ViewDecl:
        widgets = {**self.settings.get("widgets", {}), field_name: widget_name}
        return self._set("widgets", widgets)

    def title(self, text: str) -> ViewDecl:
        return self._set("title", text)

    def where(self, setting: str) -> SourceLoc:
        return self.setting_locs.get(setting, self.loc)


def view() -> ViewDecl:
    return ViewDecl(loc=caller_location())


# Indexes ----------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class IndexDecl:
    fields: tuple[str, ...]
    loc: SourceLoc
    using: str = "btree"
    is_unique: bool = False
    predicate: Expr | None = None
    name: str | None = None

    def unique(self) -> IndexDecl:
        return replace(self, is_unique=True)

    def where(self, condition: object) -> IndexDecl:
        """A partial index: only rows where `condition` holds."""
        return replace(self, predicate=lift(condition))


def index(*fields: str, using: str = "btree", name: str | None = None) -> IndexDecl:
    text_arg("index(name=...)", name, "index('number', name='ix_invoice_number')")
    return IndexDecl(fields=tuple(fields), loc=caller_location(), using=using, name=name)


# Policies ---------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class AllowDecl:
    """`allow(read=..., update=...)`: one rule per operation or action."""

    rules: Mapping[str, PolicyNode]
    loc: SourceLoc


def allow(**rules: object) -> AllowDecl:
    return AllowDecl(
        rules={op: as_policy(rule) for op, rule in rules.items()}, loc=caller_location()
    )


@dataclass(frozen=True, eq=False)
class PolicyDecl:
    """`policy("Invoice", read=...)` in a `policies/*.policy.py` file."""

    entity: str
    allow: AllowDecl
    loc: SourceLoc


def policy(entity: object, **rules: object) -> PolicyDecl:
    loc = caller_location()
    name = getattr(entity, "name", entity)
    decl = PolicyDecl(
        entity=name if isinstance(name, str) else repr(name),
        allow=AllowDecl(rules={op: as_policy(r) for op, r in rules.items()}, loc=loc),
        loc=loc,
    )
    registry = _collecting.get()
    if registry is not None:
        registry.policies.append(decl)
    return decl


# Theme ------------------------------------------------------------------------

_TOKEN = re.compile(r"^[a-z][a-z0-9-]*$")
_BAD_VALUE = re.compile(r"[;{}<>]|\*/")


@dataclass(frozen=True, eq=False)
class ThemeDecl:
    """`theme(light={...}, dark={...})` in `ui/theme.py`: design tokens per scheme."""

    light: Mapping[str, str]
    dark: Mapping[str, str]
    loc: SourceLoc


def theme(
    *, light: Mapping[str, str] | None = None, dark: Mapping[str, str] | None = None
) -> ThemeDecl:
    """Declare design tokens: `theme(light={"accent": "#0f766e"}, dark={"accent": "#5eead4"})`.

    A token `accent` becomes the CSS variable `--rf-accent`; tokens left out keep
    the defaults. A token given only in `light` applies to both schemes.
    """
    schemes = {"light": _tokens("light", light), "dark": _tokens("dark", dark)}
    decl = ThemeDecl(light=schemes["light"], dark={**schemes["light"], **schemes["dark"]},
                     loc=caller_location())  # fmt: skip
    registry = _collecting.get()
    if registry is not None:
        registry.themes.append(decl)
    return decl


def _tokens(scheme: str, tokens: object) -> dict[str, str]:
    if tokens is None:
        return {}
    if not isinstance(tokens, Mapping):
        raise DslUsageError(
            f"theme({scheme}=...) takes a dict of token -> CSS value, got {tokens!r}.",
            f'write theme({scheme}={{"accent": "#4f46e5"}}).',
        )
    found: dict[str, str] = {}
    for name, value in tokens.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            raise DslUsageError(
                f"theme({scheme}=...): {name!r} is not a token name.",
                "use lowercase letters, digits and '-', like 'accent' or 'accent-fg'.",
            )
        if not isinstance(value, str) or not value.strip() or _BAD_VALUE.search(value):
            raise DslUsageError(
                f"theme({scheme}=...): the value of {name!r} is not a CSS value: {value!r}.",
                'give one CSS value without ";", braces or angle brackets, like "#4f46e5".',
            )
        found[name] = value.strip()
    return found


# Entities ---------------------------------------------------------------------


@dataclass(eq=False)
class EntityDecl:
    """The handle `entity()` returns; `ref(Customer)` accepts it."""

    name: str
    fields: Mapping[str, FieldDecl]
    loc: SourceLoc
    policies: AllowDecl | None = None
    actions: Mapping[str, ActionDecl] = field(default_factory=dict)
    views: Mapping[str, ViewDecl] = field(default_factory=dict)
    indexes: Sequence[IndexDecl] = ()
    tenant: bool = False
    doc: str | None = None
    timestamps: bool = True
    renamed_from: str | None = None
    label: str | None = None
    builtin: bool = False

    def __repr__(self) -> str:
        return f"<entity {self.name} at {self.loc}>"


def _check_entity_arguments(
    name: object, policies: object, actions: object, views: object, indexes: object
) -> None:
    """The containers entity() takes; anything else is refused where it was written."""
    if policies is not None and not isinstance(policies, AllowDecl):
        raise DslUsageError(
            f"entity {name!r}: policies= takes allow(...), got {policies!r}.",
            "write policies=allow(read=role('member'), update=role('admin')).",
        )
    for keyword, value, example in (
        ("actions", actions, 'actions={"send": action()}'),
        ("views", views, 'views={"list": view().columns(["number"])}'),
    ):
        if value is not None and not isinstance(value, Mapping):
            raise DslUsageError(
                f"entity {name!r}: {keyword}= must be a dict of name -> {keyword[:-1]}.",
                f"write {example}.",
            )
    if indexes is not None and (isinstance(indexes, str) or not isinstance(indexes, Sequence)):
        raise DslUsageError(
            f"entity {name!r}: indexes= must be a list of index(...).",
            'write indexes=[index("customer", "status")].',
        )


def entity(
    name: str,
    *,
    fields: Mapping[str, FieldDecl],
    policies: AllowDecl | None = None,
    actions: Mapping[str, ActionDecl] | None = None,
    views: Mapping[str, ViewDecl] | None = None,
    indexes: Sequence[IndexDecl] | None = None,
    tenant: bool = False,
    doc: str | None = None,
    timestamps: bool = True,
    renamed_from: str | None = None,
    label: str | None = None,
) -> EntityDecl:
    """Declare an entity; its fields keep their order everywhere."""
    if not isinstance(fields, Mapping):
        raise DslUsageError(
            f"entity {name!r}: fields= must be a dict of name -> field.",
            'write fields={"title": text().required()}.',
        )
    _check_entity_arguments(name, policies, actions, views, indexes)
    for keyword, value in (("doc", doc), ("renamed_from", renamed_from), ("label", label)):
        text_arg(f"entity({keyword}=...)", value, f"entity({name!r}, {keyword}='...', ...)")
    decl = EntityDecl(
        name=name,
        fields=dict(fields),
        loc=caller_location(),
        policies=policies,
        actions=dict(actions or {}),
        views=dict(views or {}),
        indexes=tuple(indexes or ()),
        tenant=tenant,
        doc=doc,
        timestamps=timestamps,
        renamed_from=renamed_from,
        label=label,
    )
    registry = _collecting.get()
    if registry is not None:
        registry.entities.append(decl)
    return decl
