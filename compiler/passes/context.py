"""What every pass receives besides the IR: settings, declarations, diagnostics."""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from compiler.config import ProjectConfig
from compiler.diagnostics import Diagnostics
from compiler.dsl.declarations import EntityDecl, PolicyDecl
from compiler.ir import Entity, Project, SourceRef
from compiler.passes.reuse import EntityReuse
from compiler.source import SourceLoc


@dataclass
class PassContext:
    config: ProjectConfig
    #: Entity declarations by name (built-ins included), first declaration wins.
    entities: Mapping[str, EntityDecl]
    policy_files: list[PolicyDecl]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    #: Entities ("Invoice") and fields ("Invoice.total") that were declared but
    #: could not be lowered. Their error is already reported, so later passes
    #: stay silent about uses of them instead of repeating it as "unknown".
    broken: set[str] = field(default_factory=set)
    #: Per-entity results of the last good compile to reuse (compiler/passes/reuse.py).
    reuse: EntityReuse | None = None

    def each_entity(
        self, step: str, project: Project, work: Callable[[Project, Entity, PassContext], Entity]
    ) -> tuple[Entity, ...]:
        """`work(project, entity, ctx)` for every entity, in order; earlier results reused."""
        if self.reuse is None or self.diagnostics:  # after an error: every entity, every time
            return tuple(work(project, entity, self) for entity in project.entities)
        return self.reuse.run_each(step, project, self, work)

    def each_declaration(
        self, step: str, work: Callable[[Project | None, EntityDecl, PassContext], Entity | None]
    ) -> tuple[Entity, ...]:
        """`work(None, declaration, ctx)` for every entity declaration, the Nones dropped."""
        if self.reuse is None or self.diagnostics:
            found = [work(None, decl, self) for decl in self.entities.values()]
        else:
            found = self.reuse.run_each_declaration(step, self, work)
        return tuple(entity for entity in found if entity is not None)

    def is_broken(self, entity: str, field: object = None) -> bool:
        """Whether this entity (or its field) failed to lower and is already reported."""
        return (entity if field is None else f"{entity}.{field}") in self.broken

    def error(self, loc: SourceLoc | SourceRef, code: str, message: str, hint: str = "") -> None:
        if isinstance(loc, SourceRef):
            loc = SourceLoc(loc.file, loc.line)
        self.diagnostics.error(loc, code, message, hint)


@functools.lru_cache(maxsize=65536)
def source_ref(loc: SourceLoc) -> SourceRef:
    """The IR form of a location; frozen, so nodes declared on one line share it."""
    return SourceRef(file=loc.file, line=loc.line)


#: A pass takes the IR so far and returns the next IR.
Pass = Callable[[Project, PassContext], Project]
