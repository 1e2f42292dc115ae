"""Move the source locations of compiled IR down (or up) a number of lines.

A save that adds a line to a model file moves every declaration below it.
Such a declaration says the same as before, so the incremental compile
(compiler/incremental.py) reuses what it computed from the earlier one and
moves the result's locations instead of compiling it again.
"""

from __future__ import annotations

import functools
import operator
import typing
from typing import Any, TypeVar

from compiler.ir import Entity, Node, SourceRef
from compiler.source import SourceLoc

N = TypeVar("N", bound=Node)

#: Where an entity made by `relocated` keeps the entity it was moved from (see `moved_from`)
#: and how far (`relocation`).
_MOVED_FROM = "_moved_from"
_MOVED_BY = "_moved_by"


def relocated(node: N, file: str, lines: int) -> N:
    """`node` with every location in `file` `lines` further down; the same object if none is."""
    moved = _Mover(file, lines).node(node)
    if isinstance(node, Entity) and moved is not node:
        # Kept beside the fields like a cached property (`Node.replace` drops it in copies).
        origin = moved_from(node)
        moved.__dict__[_MOVED_FROM] = origin or node
        by = (file, lines) if origin is None else _added(relocation(node), file, lines)
        if by is not None:
            moved.__dict__[_MOVED_BY] = by
    return moved


def moved_from(entity: Entity) -> Entity | None:
    """The entity `entity` was relocated from: equal to it but for source lines."""
    return entity.__dict__.get(_MOVED_FROM)


def relocation(entity: Entity) -> tuple[str, int] | None:
    """(file, lines): every location of `entity` in `file` is `lines` below where it is in
    `moved_from(entity)`, the rest where they are; None when it was not moved, or was moved
    in several files."""
    found: tuple[str, int] | None = entity.__dict__.get(_MOVED_BY)
    return found


def relocation_between(before: Entity, after: Entity) -> tuple[str, int] | None:
    """(file, lines) when `after` is `before` with its locations in `file` `lines` further
    down (both relocations of one entity, or one of the other); else None."""
    origin = moved_from(before) or before
    if (moved_from(after) or after) is not origin:
        return None
    was, now = _moved_by(before, origin), _moved_by(after, origin)
    if was is None or now is None or (was[0] and now[0] and was[0] != now[0]):
        return None
    return now[0] or was[0], now[1] - was[1]


def _moved_by(entity: Entity, origin: Entity) -> tuple[str, int] | None:
    """How far `entity` is from `origin`: ("", 0) when it is `origin`; None when the
    relocation does not tell (moved in several files)."""
    return ("", 0) if entity is origin else relocation(entity)


def _added(before: tuple[str, int] | None, file: str, lines: int) -> tuple[str, int] | None:
    """A relocation by `before`, then by `lines` in `file`, as one (if it is one)."""
    if before is None or before[0] != file:
        return None
    return file, before[1] + lines


class _Mover:
    """One relocation: each location of `file` moved by `lines` (200 entities' worth of
    nodes are moved on a save that adds a line at the top of a file, so this is lean)."""

    def __init__(self, file: str, lines: int) -> None:
        self.file = file
        self.lines = lines
        #: Moved locations by the identity of the original (nodes of one line share one).
        self.refs: dict[int, SourceRef] = {}

    def node(self, node: N) -> N:
        state = node.__dict__
        changes: dict[str, Any] = {}
        for name in _located_fields(type(node)):
            before = state[name]
            after = self.value(before)
            if after is not before:
                changes[name] = after
        return _copy_with(node, changes) if changes else node

    def value(self, value: Any) -> Any:
        kind = type(value)
        if kind is SourceRef:
            return self.ref(value)
        if kind is tuple:
            items = tuple(map(self.value, value))
            return value if all(map(operator.is_, items, value)) else items
        if value is None:
            return None
        return self.node(value)

    def ref(self, ref: SourceRef) -> SourceRef:
        if ref.file != self.file:
            return ref
        moved = self.refs.get(id(ref))
        if moved is None:
            moved = self.refs[id(ref)] = _source_ref(self.file, ref.line + self.lines)
        return moved


def _copy_with(node: N, changes: dict[str, Any]) -> N:
    """`node.replace(**changes)` for a relocation, five times faster: a copy of the state."""
    fields = _field_count(type(node))
    copy = object.__new__(type(node))
    state = node.__dict__.copy()
    if len(state) != fields:  # cached properties describe `node`
        state = {key: state[key] for key in type(node).__pydantic_fields__}
    state.update(changes)
    object.__setattr__(copy, "__dict__", state)
    object.__setattr__(copy, "__pydantic_fields_set__", set(node.__pydantic_fields_set__))
    object.__setattr__(copy, "__pydantic_extra__", None)
    object.__setattr__(copy, "__pydantic_private__", None)
    return copy


@functools.cache
def _field_count(cls: type[Node]) -> int:
    return len(cls.__pydantic_fields__)


def _source_ref(file: str, line: int) -> SourceRef:
    # Shared like compiler/passes/context.py's `source_ref`: nodes of one line share one.
    from compiler.passes.context import source_ref

    return source_ref(SourceLoc(file, line))


@functools.cache
def _located_fields(cls: type[Node]) -> tuple[str, ...]:
    """The fields of `cls` that can hold a location, at any depth."""
    located = _classes_holding_locations()
    return tuple(
        name
        for name, info in cls.model_fields.items()
        if any(c in located for c in _classes_in(info.annotation))
    )


@functools.cache
def _classes_holding_locations() -> frozenset[type]:
    """SourceRef and every IR class that can hold one, at any depth."""
    classes = _reachable(Node)
    holding: set[type] = {SourceRef}
    grown = True
    while grown:  # until no class is added: reference cycles (expressions) settle
        before = len(holding)
        holding |= {
            cls
            for cls in classes
            if any(
                c in holding
                for info in cls.model_fields.values()
                for c in _classes_in(info.annotation)
            )
        }
        grown = len(holding) > before
    return frozenset(holding)


def _reachable(base: type[Node]) -> set[type[Node]]:
    found: set[type[Node]] = set()
    todo = [base]
    while todo:
        cls = todo.pop()
        if cls not in found:
            found.add(cls)
            todo += cls.__subclasses__()
    return found


def _classes_in(annotation: Any) -> list[type]:
    """The classes an annotation names: `tuple[Rule, ...] | None` -> [Rule, NoneType]."""
    if isinstance(annotation, type) and not typing.get_args(annotation):
        return [annotation]
    if typing.get_origin(annotation) is typing.Literal:
        return []
    return [c for arg in typing.get_args(annotation) for c in _classes_in(arg)]
