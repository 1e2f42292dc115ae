"""What every pass receives besides the IR: settings, declarations, diagnostics."""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

from compiler.config import ProjectConfig
from compiler.diagnostics import Diagnostics
from compiler.dsl.declarations import EntityDecl, PolicyDecl
from compiler.ir import Project, SourceRef
from compiler.source import SourceLoc


@dataclass
class PassContext:
    config: ProjectConfig
    #: Entity declarations by name (built-ins included), first declaration wins.
    entities: dict[str, EntityDecl]
    policy_files: list[PolicyDecl]
    diagnostics: Diagnostics = field(default_factory=Diagnostics)
    #: Entities ("Invoice") and fields ("Invoice.total") that were declared but
    #: could not be lowered. Their error is already reported, so later passes
    #: stay silent about uses of them instead of repeating it as "unknown".
    broken: set[str] = field(default_factory=set)

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
