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
import operator
from collections.abc import Callable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, NamedTuple, TypeVar

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
#: The kinds of lookup of one entity or declaration, by its name.
_BY_NAME = ("entity", "decl")
#: The lookup of the policy files (all of them).
_POLICIES: Read = ("policies", "")


@dataclasses.dataclass(frozen=True, eq=False)
class _Result:
    given: object
    reads: tuple[tuple[Read, object], ...]
    value: object
    #: The entities and declarations of `reads`, by name, and what each lookup found: most
    #: are the very same objects next time, told by identity (`_found_again`).
    entity_names: tuple[str, ...]
    entities_found: tuple[object, ...]
    decl_names: tuple[str, ...]
    decls_found: tuple[object, ...]
    #: Whether `reads` holds the policy files (compared once a step, `_Changed`); and any
    #: other lookup (project attributes, all declarations), looked up again each time.
    reads_policies: bool
    reads_more: bool
    #: `entity_names` and `decl_names` as sets, for `EntityReuse._reused`.
    entities_read: frozenset[str]
    decls_read: frozenset[str]

    @classmethod
    def of(cls, given: object, reads: dict[Read, object], value: object) -> _Result:
        entity_names, entities, decl_names, decls = [], [], [], []
        policies = _POLICIES in reads
        for (kind, name), found in reads.items():
            if kind == "entity":
                entity_names.append(name)
                entities.append(found)
            elif kind == "decl":
                decl_names.append(name)
                decls.append(found)
        return cls(
            given,
            tuple(reads.items()),
            value,
            tuple(entity_names),
            tuple(entities),
            tuple(decl_names),
            tuple(decls),
            policies,
            len(entity_names) + len(decl_names) + policies < len(reads),
            frozenset(entity_names),
            frozenset(decl_names),
        )


#: What `EntityReuse._reused` returns for a result it cannot reuse (a step may give None).
_NOT_REUSED = object()


class _Changed(NamedTuple):
    """What a step finds changed since the last compile (`EntityReuse.run_each`)."""

    #: The names of the entities it is not given as last time; None: it did not run then.
    entities: frozenset[str] | None
    #: The names whose declaration is not last compile's object.
    declarations: frozenset[str]
    #: Whether the policy files' declarations are not last compile's.
    policies: bool


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
        #: Each step's entities as given (`run_each`), and the declarations (`ctx.entities`).
        self._given_earlier: dict[str, tuple[ir.Entity, ...]] = earlier._given if earlier else {}
        self._given: dict[str, tuple[ir.Entity, ...]] = {}
        self._declared_earlier: Mapping[str, EntityDecl] = earlier._declared if earlier else {}
        self._declared: Mapping[str, EntityDecl] = {}
        self._changed_declarations: frozenset[str] = frozenset()
        self._policies_earlier: tuple[PolicyDecl, ...] | None = (
            earlier._policies if earlier else None
        )
        self._policies: tuple[PolicyDecl, ...] | None = None
        self.reused = 0
        self.computed = 0

    def kept(self, name: str, make: Callable[[], R]) -> R:
        """The earlier compile's value of `name` (made once): the built-in declarations."""
        value = self._kept[name] = (
            self._kept_earlier[name] if name in self._kept_earlier else make()
        )
        return value

    def as_last(self, name: str, value: object) -> bool:
        """Whether `value` equals what the last good compile gave under `name` (kept for the
        next): a whole-project check a good compile passed need not look at it again."""
        self._kept[name] = value
        return name in self._kept_earlier and self._kept_earlier[name] == value

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

    def run_each(
        self,
        step: str,
        project: ir.Project,
        ctx: PassContext,
        work: Callable[[Any, ir.Entity, PassContext], ir.Entity],
    ) -> tuple[ir.Entity, ...]:
        """`run` for each entity of `project`, in order. What changed is found once for the
        step: the entities that are not the objects the step was given last time, the
        declarations and policy files that are not last compile's. A result whose entity
        and lookups are none of those is reused without looking them up again (of 200
        entities' 13 steps a save, nearly all)."""
        entities = project.entities
        changed = _Changed(
            self._changed_given(step, entities),
            self._changed_declarations_of(ctx.entities),
            self._policies_changed(ctx.policy_files),
        )
        results = []
        for entity in entities:
            found = self._reused(step, entity.name, entity, changed)
            if found is _NOT_REUSED:
                found = self.run(step, entity.name, entity, project, ctx, work)
            results.append(found)
        return tuple(results)

    def run_each_declaration(
        self,
        step: str,
        ctx: PassContext,
        work: Callable[[Any, EntityDecl, PassContext], ir.Entity | None],
    ) -> list[ir.Entity | None]:
        """`run` for each declaration of `ctx.entities`, in order, as `run_each`."""
        changed = _Changed(
            frozenset(),
            self._changed_declarations_of(ctx.entities),
            self._policies_changed(ctx.policy_files),
        )
        results = []
        for name, decl in ctx.entities.items():
            found = self._reused(step, name, decl, changed)
            if found is _NOT_REUSED:
                found = self.run(step, name, decl, None, ctx, work)
            results.append(found)
        return results

    def _reused(self, step: str, name: str, given: object, changed: _Changed) -> Any:
        """The earlier result of the step for `given`, if it read nothing `changed` (kept for
        the next compile); else `_NOT_REUSED`."""
        key = (step, name)
        before = self._earlier.get(key)
        if (
            before is None
            or before.given is not given
            or changed.entities is None
            or before.reads_more
            or (before.reads_policies and changed.policies)
            or not changed.entities.isdisjoint(before.entities_read)
            or not changed.declarations.isdisjoint(before.decls_read)
        ):
            return _NOT_REUSED
        self._now[key] = before
        self.reused += 1
        return before.value

    def _changed_given(self, step: str, entities: tuple[ir.Entity, ...]) -> frozenset[str] | None:
        """The names of the entities not given to `step` as last time (None: not run)."""
        # Results are kept by step and entity: two passes of one step name would mix them.
        assert step not in self._given, f"step {step!r} runs twice in one compile"
        self._given[step] = entities
        last = self._given_earlier.get(step)
        if last is None:
            return None
        if len(last) == len(entities):
            return frozenset(
                name
                for before, now in zip(last, entities, strict=True)
                if before is not now
                for name in (before.name, now.name)
            )
        by_name = {entity.name: entity for entity in last}
        names = by_name.keys() | {entity.name for entity in entities}
        now = {entity.name: entity for entity in entities}
        return frozenset(name for name in names if by_name.get(name) is not now.get(name))

    def _changed_declarations_of(self, declared: Mapping[str, EntityDecl]) -> frozenset[str]:
        """The names whose declaration is not last compile's (found once a compile)."""
        if declared is not self._declared:
            self._declared = declared
            last = self._declared_earlier
            self._changed_declarations = frozenset(
                name
                for name in last.keys() | declared.keys()
                if last.get(name) is not declared.get(name)
            )
        return self._changed_declarations

    def _policies_changed(self, policies: list[PolicyDecl]) -> bool:
        """Whether the policy files' declarations are not last compile's objects."""
        if self._policies is None:
            self._policies = tuple(policies)
        last = self._policies_earlier
        return (
            last is None
            or len(last) != len(self._policies)
            or not all(map(operator.is_, last, self._policies))
        )

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
        if before is not None and (
            _found_again(before, given, project, ctx)
            or (
                _same(before.given, given)
                and all(_same(_look_up(read, project, ctx), seen) for read, seen in before.reads)
            )
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
        self._now[key] = _Result.of(given, reads, value)
        self.computed += 1
        return value


def _found_again(
    before: _Result, given: object, project: ir.Project | None, ctx: PassContext
) -> bool:
    """Whether the step is given, and finds, the very objects it did before (a declaration
    step's, or one whose entity changed and came out the same). Identity only, at C speed
    over the names; equal objects that are not the same are left to `_same`."""
    if before.given is not given:
        return False
    if before.entity_names and (
        project is None
        or not all(
            map(operator.is_, map(project.entity, before.entity_names), before.entities_found)
        )
    ):
        return False
    if before.decl_names and not all(
        map(operator.is_, map(ctx.entities.get, before.decl_names), before.decls_found)
    ):
        return False
    if not (before.reads_more or before.reads_policies):
        return True
    return all(
        _same(_look_up(read, project, ctx), seen)
        for read, seen in before.reads
        if read[0] not in _BY_NAME
    )


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
