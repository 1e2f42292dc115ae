"""The generator contract: IR in, artifacts out, nothing else.

A generator is a class with a `name` and a pure `generate(project)` that
returns artifacts. It is registered under the `reframe.generators` entry
point group. Generators never touch the disk: the one writer does.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Hashable, Iterator, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import accumulate
from operator import attrgetter
from typing import TYPE_CHECKING, Any, Protocol, overload, runtime_checkable

from hookfs.graph import same_objects

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
    regions: Sequence[Region] = field(default=())
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
        regions: Sequence[Region] = (),
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


# What whole-project generators keep from build to build (`gen dev`) ----------------------


class KeptByBuild:
    """Results by key, kept for the next build while this build used them (`get`, `put`),
    the rest forgotten at `end_build`: the state a whole-project generator keeps in an
    object `same_objects` hands it again every build (`trace.json`, `ir.json`)."""

    def __init__(self) -> None:
        self.last: dict[Hashable, Any] = {}
        self.now: dict[Hashable, Any] = {}

    def get(self, key: Hashable) -> Any:
        found = self.last.get(key)
        if found is not None:
            self.now[key] = found
        return found

    def put(self, key: Hashable, value: Any) -> Any:
        self.now[key] = value
        return value

    def end_build(self) -> None:
        self.last, self.now = self.now, {}


# Files in pieces ---------------------------------------------------------------------------


@dataclass(frozen=True, eq=False)
class Piece:
    """A part of a file, whole lines or the end of one, and the regions of its lines counted
    from the piece (line 1: the line it starts on).

    Compared by identity: under `gen dev`, a piece of what did not change is the same object
    build after build (made by an `@incremental` node or kept by `same_objects`), and what
    is made of it (trace.json's reading of it) is kept with it.
    """

    content: bytes
    regions: tuple[Region, ...] = ()
    #: Newlines in `content`.
    lines: int = field(init=False)
    #: What readers of whole files made of it, by reader (trace.json's reading of its
    #: regions): kept with the piece, made again only for a new piece.
    notes: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "lines", self.content.count(b"\n"))

    def with_content(self, content: bytes) -> Piece:
        """A piece of `content`, which has the lines of this one: its regions and what
        readers made of them (`notes`) are this one's."""
        made = Piece(content, self.regions)
        if made.lines != self.lines:
            raise ValueError("with_content: the new content has other lines")
        made.notes.update(self.notes)
        return made


def piece(text: str, origin: str | None = None, blank: int = 0) -> Piece:
    """`text` as a piece; with `origin`, all its lines but the first `blank` come from it."""
    data = text.encode()
    if origin is None:
        return Piece(data)
    lines = text.count("\n")
    return Piece(data, (Region(1 + blank, lines, origin),))


def lines_piece(text: str, origins: Sequence[str]) -> Piece:
    """`text` as a piece whose lines come from `origins`, one each."""
    return Piece(text.encode(), tuple(Region(i, i, o) for i, o in enumerate(origins, 1)))


class PlacedRegions(Sequence[Region]):
    """The regions of pieces where they landed, counted from the file's first line: made
    when first read (`gen inspect path:LINE`, tests), not on every build of `gen dev`."""

    def __init__(self, pieces: Sequence[Piece], befores: Sequence[int]) -> None:
        self._pieces = pieces
        self._befores = befores
        self._made: tuple[Region, ...] | None = None

    def _regions(self) -> tuple[Region, ...]:
        if self._made is None:
            self._made = tuple(
                Region(r.start + before, r.end + before, r.origin)
                for piece, before in zip(self._pieces, self._befores, strict=True)
                for r in piece.regions
            )
        return self._made

    @overload
    def __getitem__(self, index: int) -> Region: ...
    @overload
    def __getitem__(self, index: slice) -> tuple[Region, ...]: ...
    def __getitem__(self, index: int | slice) -> Region | tuple[Region, ...]:
        return self._regions()[index]

    def __len__(self) -> int:
        return len(self._regions())

    def __iter__(self) -> Iterator[Region]:
        return iter(self._regions())

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Sequence) and self._regions() == tuple(other)

    def __hash__(self) -> int:
        return hash(self._regions())

    def __repr__(self) -> str:
        return repr(self._regions())


@dataclass(frozen=True)
class PiecedArtifact(Artifact):
    """An artifact made of pieces, each placed after the ones before it (`pieced`)."""

    pieces: tuple[Piece, ...] = field(default=(), compare=False, repr=False)
    #: The lines of the file before each piece.
    befores: tuple[int, ...] = field(default=(), compare=False, repr=False)


def pieced(
    path: str,
    pieces: Sequence[Piece],
    origins: tuple[str, ...],
    rule: str,
    reason: str,
    per_part: int = 1,
) -> PiecedArtifact:
    """The artifact of `pieces` joined, each placed after the ones before it.

    Its parts (`Artifact.parts`) are runs of `per_part` pieces: about one per entity
    where an entity has several small pieces (schema.postgres.sql has four).
    """
    pieces = tuple(pieces)
    befores = tuple(accumulate(map(_LINES, pieces[:-1]), initial=0)) if pieces else ()
    parts = joined_runs(list(map(_CONTENT, pieces)), per_part)
    return PiecedArtifact(
        path,
        b"".join(parts),
        origins,
        rule,
        reason,
        PlacedRegions(pieces, befores),
        parts,
        pieces=pieces,
        befores=befores,
    )


_LINES = attrgetter("lines")
_CONTENT = attrgetter("content")


def joined_runs(parts: Sequence[bytes], per_run: int) -> tuple[bytes, ...]:
    """`parts` joined `per_run` at a time: a run of the same objects as last build is the
    same object (`gen dev`)."""
    if per_run == 1:
        return tuple(parts)
    runs = [tuple(parts[at : at + per_run]) for at in range(0, len(parts), per_run)]
    return tuple(same_objects("joined", run, partial(b"".join, run)) for run in runs)


@runtime_checkable
class Generator(Protocol):
    """What the pipeline calls. Implementations must be pure and deterministic."""

    name: str

    def generate(self, project: Project) -> Sequence[Artifact]: ...
