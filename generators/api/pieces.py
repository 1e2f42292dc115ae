"""Whole-project files in per-entity pieces, kept between the builds of `gen dev`.

A file such as `client/types.ts` is a few constant parts and one part per
entity (`Artifact.joined`). A save changes one entity: the other parts must be
the very bytes objects of the last build, so that the writer hashes and stores
only the new ones. Each generator makes an entity's pieces in one
`@incremental` node, called for every entity: a reused result is the same
object as in the last build (a node left uncalled for a build is forgotten
from memory, and read back from the store as new objects).

What depends on the whole model (the entities' names, the relation graph) is
kept by `same_value`, and what does not depend on it at all by `constant`.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from typing import NamedTuple, TypeVar

from generators.base import Artifact, Region
from hookfs.graph import same_objects

R = TypeVar("R")


def same_value(rule: str, key: Hashable, compute: Callable[[], R]) -> R:
    """`compute()`, or what it gave in the last build of this process for an equal `key`:
    all that `compute` reads, as a value.

    `same_objects` compares identities; this compares values, for inputs built anew each
    build (a tuple of names) that are equal when the model's change did not touch them.
    """
    kept, result = same_objects(f"{rule} {hash(key)}", (), lambda: (key, compute()))
    return result if kept == key else compute()  # a hash shared by two keys


def constant(rule: str, make: Callable[[], R]) -> R:
    """`make()`, made once per `gen dev` process: for pieces the model does not change."""
    return same_objects(rule, (), make)


class Piece(NamedTuple):
    """A part of a file, whole lines, and how many: counted once, where it is made."""

    data: bytes
    lines: int


def piece(text: str) -> Piece:
    return Piece(text.encode(), text.count("\n"))


class Parts:
    """A file in parts (`Artifact.joined`), with the lines each model element's parts hold."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []
        self.regions: list[Region] = []
        self._lines = 0

    def add(self, part: bytes) -> None:
        """Add `part`, whole lines that no model element made alone."""
        self.parts.append(part)
        self._lines += part.count(b"\n")

    def add_each(self, pieces: Iterable[Piece], origins: Iterable[str], blank: int = 0) -> None:
        """Add each piece, made by its origin but for its first `blank` lines."""
        parts, regions, lines = self.parts, self.regions, self._lines
        for (data, count), origin in zip(pieces, origins, strict=True):
            parts.append(data)
            regions.append(Region(lines + 1 + blank, lines + count, origin))
            lines += count
        self._lines = lines

    def add_lines(self, part: bytes, origins: tuple[str, ...]) -> None:
        """Add `part`, one line per origin."""
        lines = self._lines
        self.regions += [Region(lines + i, lines + i, o) for i, o in enumerate(origins, 1)]
        self.parts.append(part)
        self._lines += len(origins)

    def artifact(self, path: str, origins: tuple[str, ...], rule: str, reason: str) -> Artifact:
        return Artifact.joined(path, self.parts, origins, rule, reason, tuple(self.regions))
