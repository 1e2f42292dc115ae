"""The generator contract: IR in, artifacts out, nothing else.

A generator is a class with a `name` and a pure `generate(project)` that
returns artifacts. It is registered under the `reframe.generators` entry
point group. Generators never touch the disk: the one writer does.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol, runtime_checkable

if TYPE_CHECKING:
    from compiler.ir import Project

#: Origin naming the whole project rather than one entity or field.
PROJECT_ORIGIN = "project"


@dataclass(frozen=True)
class Region:
    """Lines `start`..`end` (1-based, inclusive) of an artifact came from `origin`."""

    start: int
    end: int
    origin: str


#: Generated source files, by suffix, whatever the platform's mimetypes table says.
_SOURCE_TYPES = {
    "ts": "text/typescript; charset=utf-8",
    "tsx": "text/typescript; charset=utf-8",
    "py": "text/x-python; charset=utf-8",
    "sql": "application/sql; charset=utf-8",
}


@dataclass(frozen=True)
class Artifact:
    """One generated file and why it exists.

    `origins` are IR element references: `"Invoice"`, `"Invoice.status"`, or
    `"project"`. `rule` names the generator rule that produced the file and
    `reason` says in one line why. `regions` optionally narrows origins down
    to line ranges so `gen inspect path:LINE` can answer precisely.
    """

    path: str
    content: bytes
    origins: tuple[str, ...]
    rule: str
    reason: str
    regions: tuple[Region, ...] = field(default=())
    #: The content in pieces, for a file made of per-entity pieces (`ir.json`, `trace.json`,
    #: `db/tables.py`...): `content` is their concatenation. A piece that did not change
    #: is the same bytes object build after build (`@incremental`, `same_objects`): the
    #: writer hashes it once, and the store keeps each piece once, so a save that changed
    #: one entity stores that entity's pieces, not the whole file again. See `joined`.
    parts: tuple[bytes, ...] = field(default=(), compare=False, repr=False)

    @classmethod
    def joined(
        cls,
        path: str,
        parts: Sequence[bytes],
        origins: tuple[str, ...],
        rule: str,
        reason: str,
        regions: tuple[Region, ...] = (),
    ) -> Artifact:
        """An artifact whose content is `parts` joined, kept in those pieces (see `parts`)."""
        pieces = tuple(parts)
        return cls(path, b"".join(pieces), origins, rule, reason, regions, pieces)

    def __post_init__(self) -> None:
        if self.path.startswith("/") or ".." in self.path.split("/") or "\\" in self.path:
            raise ValueError(f"artifact path must be relative and POSIX-style: {self.path!r}")
        if not self.origins:
            raise ValueError(f"artifact {self.path} names no origin")
        if "\n" in self.reason:
            raise ValueError(f"artifact {self.path}: reason must be one line")
        if self.parts and sum(map(len, self.parts)) != len(self.content):
            raise ValueError(f"artifact {self.path}: its parts do not add up to its content")

    @property
    def content_type(self) -> str:
        suffix = self.path.rsplit(".", 1)[-1]
        if suffix in _SOURCE_TYPES:  # the mimetypes table says .ts is an MPEG stream
            return _SOURCE_TYPES[suffix]
        guessed, _ = mimetypes.guess_type(self.path)
        return guessed or "application/octet-stream"

    def headers(self) -> dict[str, str]:
        """Headers stored beside the bytes in the hook store."""
        return {
            "content-type": self.content_type,
            "x-origins": " ".join(self.origins),
            "x-rule": self.rule,
            "x-reason": self.reason,
        }

    def origin_at(self, line: int) -> tuple[str, ...]:
        """The narrowest origins of a line: its innermost region, else all."""
        inside = [r for r in self.regions if r.start <= line <= r.end]
        if not inside:
            return self.origins
        innermost = min(inside, key=lambda r: r.end - r.start)
        return (innermost.origin,)


@runtime_checkable
class Generator(Protocol):
    """What the pipeline calls. Implementations must be pure and deterministic."""

    name: str

    def generate(self, project: Project) -> Sequence[Artifact]: ...
