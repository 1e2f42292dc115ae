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
from typing import TypeVar

from generators.base import Artifact, Piece, pieced
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


class Parts:
    """A file in pieces (`pieced`): constant parts, and pieces whose regions say which model
    element made their lines (`piece`, `lines_piece`)."""

    def __init__(self) -> None:
        self.pieces: list[Piece] = []

    def add(self, part: Piece) -> None:
        self.pieces.append(part)

    def add_each(self, pieces: Iterable[Piece]) -> None:
        self.pieces += pieces

    def artifact(self, path: str, origins: tuple[str, ...], rule: str, reason: str) -> Artifact:
        return pieced(path, self.pieces, origins, rule, reason)
