"""Per-entity pass results of the last good compile, reused while what they read holds.

Most of a pass is one function per entity: `(project, entity, ctx) -> entity`.
`PassContext.each_entity` runs those through `EntityReuse` when a compile
has one (compiler/incremental.py, what `gen dev` keeps between saves). Each
call is remembered with the entity it was given and everything it looked up:
other entities (`project.entity("Customer")`, fields, elements), project
attributes (`project.entities`, `project.app`) and other entities'
declarations (`ctx.entities[...]`) and the policy files (`ctx.policy_files`). The next compile reuses the result when
the given entity and every lookup are the same (identical or equal), and
runs the function again otherwise.

A result computed again that equals the earlier one is replaced by the earlier
object, so the entities that read it see "the same" and stay reused: an edit
of one field does not ripple through the model.

Results are only kept from compiles without errors: a reused result reported
nothing, and once this compile has reported an error every entity runs, so
the errors are the ones a compile from nothing reports.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from compiler import ir
from compiler.relocate import relocated

if TYPE_CHECKING:
    from compiler.dsl.declarations import EntityDecl, PolicyDecl
    from compiler.passes.context import PassContext

G = TypeVar("G")
R = TypeVar("R")

#: A lookup made by a step: (kind, name) and the object it found.
Read = tuple[str, str]


@dataclasses.dataclass(frozen=True, eq=False)
class _Result:
    given: object
    reads: tuple[tuple[Read, object], ...]
    value: object


@dataclasses.dataclass(frozen=True, eq=False)
class _Relocated:
    entity: ir.Entity
    where: tuple[str, int]
    moved: ir.Entity


def _same(a: object, b: object) -> bool:
    """The same object, or one a compile could not tell apart: of one type, equal, and for
    IR nodes equal in JSON too (`Decimal("0") == Decimal("0.0")`, `1 == 1.0 == True`)."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple) and isinstance(b, tuple):
        return len(a) == len(b) and all(map(_same, a, b))
    if isinstance(a, BaseModel) and isinstance(b, BaseModel):
        return a == b and a.model_dump_json() == b.model_dump_json()
    return a == b


class EntityReuse:
    """The results of one compile's per-entity steps, and those of the last good one."""

    def __init__(self, earlier: EntityReuse | None = None) -> None:
        self._earlier: dict[tuple[str, str], _Result] = earlier._now if earlier else {}
        self._now: dict[tuple[str, str], _Result] = {}
        self._kept_earlier: dict[str, Any] = earlier._kept if earlier else {}
        self._kept: dict[str, Any] = {}
        self._relocated_earlier: dict[int, _Relocated] = earlier._relocated_now if earlier else {}
        self._relocated_now: dict[int, _Relocated] = {}
        self.reused = 0
        self.computed = 0

    def kept(self, name: str, make: Callable[[], R]) -> R:
        """The earlier compile's value of `name` (made once): the built-in declarations."""
        value = self._kept[name] = (
            self._kept_earlier[name] if name in self._kept_earlier else make()
        )
        return value

    def relocated(self, entity: ir.Entity, file: str, lines: int) -> ir.Entity:
        """`relocated(entity, file, lines)` (compiler/relocate.py); the earlier compile's
        object when it moved the same entity as far: readers of it stay reused."""
        before = self._relocated_earlier.get(id(entity))
        if before is not None and before.entity is entity and before.where == (file, lines):
            moved = before.moved
        else:
            moved = relocated(entity, file, lines)
        self._relocated_now[id(entity)] = _Relocated(entity, (file, lines), moved)
        return moved

    def run(
        self,
        step: str,
        name: str,
        given: G,
        project: ir.Project | None,
        ctx: PassContext,
        work: Callable[[Any, G, PassContext], R],
    ) -> R:
        """`work(project, given, ctx)`, or its earlier result when nothing it read changed."""
        key = (step, name)
        before = self._earlier.get(key)
        if (
            before is not None
            and _same(before.given, given)
            and all(_same(_look_up(read, project, ctx), seen) for read, seen in before.reads)
        ):
            self._now[key] = before
            self.reused += 1
            return before.value  # type: ignore[return-value]
        reads: dict[Read, object] = {}
        recording = dataclasses.replace(
            ctx,
            entities=_RecordingDeclarations(ctx.entities, reads),
            policy_files=_RecordingPolicies(ctx.policy_files, reads),
            reuse=None,
        )
        seen = None if project is None else _RecordingProject(project, reads)
        value = work(seen, given, recording)
        if before is not None and _same(before.value, value):
            value = before.value  # type: ignore[assignment]  # same object: readers stay reused
        self._now[key] = _Result(given, tuple(reads.items()), value)
        self.computed += 1
        return value


def _look_up(read: Read, project: ir.Project | None, ctx: PassContext) -> object:
    kind, name = read
    if kind == "policies":
        return tuple(ctx.policy_files)
    if project is None:  # a step given a declaration reads declarations only
        return ctx.entities.get(name) if kind == "decl" else tuple(ctx.entities.values())
    if kind == "entity":
        return project.entity(name)
    if kind == "decl":
        return ctx.entities.get(name)
    if kind == "decls":
        return tuple(ctx.entities.values())
    return getattr(project, name)


class _RecordingProject:
    """The project as a step sees it: each lookup is noted with what it found."""

    def __init__(self, project: ir.Project, reads: dict[Read, object]) -> None:
        self._project = project
        self._reads = reads

    def entity(self, name: str) -> ir.Entity | None:
        found = self._project.entity(name)
        self._reads[("entity", name)] = found
        return found

    def field(self, qualified: str) -> ir.FieldNode | None:
        self.entity(qualified.partition(".")[0])
        return self._project.field(qualified)

    def element(self, ref: str) -> ir.Entity | ir.FieldNode | None:
        self.entity(ref.partition(".")[0])
        return self._project.element(ref)

    def __getattr__(self, name: str) -> Any:
        found = getattr(self._project, name)
        self._reads[("project", name)] = found
        return found


class _RecordingDeclarations(Mapping[str, "EntityDecl"]):
    """`ctx.entities` as a step sees it: each declaration looked up is noted."""

    def __init__(self, declarations: Mapping[str, EntityDecl], reads: dict[Read, object]) -> None:
        self._declarations = declarations
        self._reads = reads

    def __getitem__(self, name: str) -> EntityDecl:
        found = self._declarations.get(name)
        self._reads[("decl", name)] = found
        if found is None:
            raise KeyError(name)
        return found

    def __iter__(self) -> Iterator[str]:
        self._reads[("decls", "")] = tuple(self._declarations.values())
        return iter(self._declarations)

    def __len__(self) -> int:
        return len(self._declarations)


class _RecordingPolicies(list["PolicyDecl"]):
    """`ctx.policy_files` as a step sees it: reading them is noted (all of them)."""

    def __init__(self, policies: list[PolicyDecl], reads: dict[Read, object]) -> None:
        super().__init__(policies)
        self._reads = reads

    def __iter__(self) -> Iterator[PolicyDecl]:
        self._reads[("policies", "")] = tuple(list.__iter__(self))
        return list.__iter__(self)
