"""The `ir` generator: `ir.json`, the compiled model every other tool can read."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence

from pydantic_core import to_json

from compiler import ir
from compiler.relocate import relocation_between
from generators.base import PROJECT_ORIGIN, KeptByBuild, Piece, PiecedArtifact, Region, pieced
from hookfs.graph import incremental, same_objects

# pydantic's indent=2 layout puts each entity object at 4 spaces inside
# "entities", and each field object at 8 spaces inside that entity's "fields",
# the first array of an entity. A newline-anchored token pins the indentation
# exactly, so the structure is found by str.find (in C), scanning forwards once.
_ENTITIES_OPEN = '\n  "entities": [\n'
_ENTITY_OPEN = "\n    {\n"
_ENTITY_CLOSE = "\n    }"
_FIELDS_OPEN = '\n      "fields": [\n'
_FIELD_OPEN = "\n        {\n"
_FIELD_CLOSE = "\n        }"


class _LineCursor:
    """Moves forwards through `text`, knowing the line number it is on."""

    def __init__(self, text: str) -> None:
        self.text, self.offset, self.line = text, 0, 1

    def seek(self, token: str) -> int:
        """Move to the line after the newline that starts `token`; return its number."""
        at = self.text.find(token, self.offset)
        if at < 0:
            raise ValueError(f"ir.json layout changed: {token!r} not found")
        self.line += self.text.count("\n", self.offset, at + 1)
        self.offset = at + 1
        return self.line


class IrGenerator:
    name = "ir"

    def generate(self, project: ir.Project) -> list[PiecedArtifact]:
        return [
            pieced(
                "ir.json",
                ir_pieces(project),
                origins=(PROJECT_ORIGIN,),
                rule="ir.json",
                reason=f"the compiled model (IR schema version {project.schema_version}) of "
                f"{len(project.entities)} entities, for tools and diffs",
            )
        ]


def ir_json(project: ir.Project) -> tuple[str, tuple[Region, ...]]:
    """`project.model_dump_json(indent=2, exclude_none=True)` and a newline, with the lines of
    each entity and field.

    pydantic's Rust serializer: about 20x faster than json.dumps(indent=2). Nulls are left
    out (a quarter of the bytes); loading fills them back in.
    """
    (artifact,) = IrGenerator().generate(project)
    return artifact.content.decode(), tuple(artifact.regions)


def ir_pieces(project: ir.Project) -> list[Piece]:
    """ir.json in pieces: the project around its entities, and one piece per entity.

    The entities are dumped one by one and spliced in, so that `gen dev` dumps only those
    its incremental compile made anew (`_Dumped`); the rest are the same pieces.
    """
    head, tail, alone = _frame(project)
    if not project.entities:
        return [alone]
    dumped: _Dumped = same_objects("ir.dumped", (), _Dumped)
    pieces = [head]
    try:
        for at, entity in enumerate(project.entities):
            pieces.append(dumped.piece(b"\n" if at == 0 else b",\n", entity))
    finally:
        dumped.end_build()
    return [*pieces, tail]


class _Dumped(KeptByBuild):
    """The entities the last build dumped, by name, for the next (`gen dev`): an entity that
    is the same object is the same piece; one the compile only moved (lines added above it,
    compiler/relocate.py) is the last piece with its line numbers moved, not dumped again."""

    def piece(self, separator: bytes, entity: ir.Entity) -> Piece:
        found: tuple[ir.Entity, bytes, Piece] | None = self.get(entity.name)
        if found is None or found[1] != separator:
            made = _entity_piece(separator, entity)
        elif found[0] is entity:
            made = found[2]
        else:
            shift = relocation_between(found[0], entity)
            made = _entity_piece(separator, entity) if shift is None else _moved(found[2], *shift)
        self.put(entity.name, (entity, separator, made))
        return made


def _moved(piece: Piece, file: str, lines: int) -> Piece:
    """`piece` with the line of every location in `file` moved by `lines`: the same lines
    of ir.json (its regions, and what trace.json read of them, hold)."""

    def move(found: re.Match[bytes]) -> bytes:
        return found[1] + b"%d" % (int(found[2]) + lines)

    return piece.with_content(_locations_in(file).sub(move, piece.content))


@functools.lru_cache(maxsize=64)
def _locations_in(file: str) -> re.Pattern[bytes]:
    """A location in `file` as ir.json lays it out: `"file": "domain/x.model.py",` and on
    the next line its `"line": N` (the file name as pydantic writes a string)."""
    return re.compile(rb'(\n *"file": ' + re.escape(to_json(file)) + rb',\n *"line": )(\d+)')


@incremental("ir.frame")
def _frame(project: ir.Project) -> tuple[Piece, Piece, Piece]:
    """The project without its entities: the piece up to the entities' `[`, the one from
    their `]` on, and the whole of it when there are no entities."""
    # Every attribute but the entities, read one by one: what the node is remembered by.
    others = [name for name in ir.Project.model_fields if name != "entities"]
    empty = ir.Project(entities=(), **{name: getattr(project, name) for name in others})
    dumped = empty.model_dump_json(indent=2, exclude_none=True).encode()
    head, found, tail = dumped.partition(b'\n  "entities": [],')
    assert found, "ir.json layout changed: no entities list"
    head, tail = head + b'\n  "entities": [', b"\n  ]," + tail + b"\n"
    return Piece(head), Piece(tail), Piece(head + b"\n" + tail)


def _entity_piece(separator: bytes, entity: ir.Entity) -> Piece:
    """The entity's object as it sits in ir.json (4 spaces in), after `separator`; with the
    lines of the entity and of each field (its `{` on line 2: after the separator's newline).
    """
    text = "    " + entity.model_dump_json(indent=2, exclude_none=True).replace("\n", "\n    ")
    regions = entity_and_field_regions("\n" + text, [entity], entities_open="")
    return Piece(separator + text.encode(), regions)


# Regions -----------------------------------------------------------------------------------


def entity_and_field_regions(
    text: str, entities: Sequence[ir.Entity], entities_open: str = _ENTITIES_OPEN
) -> tuple[Region, ...]:
    """Line ranges of every entity and field object in `text`, found by indentation."""
    cursor = _LineCursor(text)
    regions: list[Region] = []
    if entities_open:
        cursor.seek(entities_open)
    for entity in entities:
        entity_start = cursor.seek(_ENTITY_OPEN)
        cursor.seek(_FIELDS_OPEN)
        for field in entity.fields:
            field_start = cursor.seek(_FIELD_OPEN)
            regions.append(
                Region(field_start, cursor.seek(_FIELD_CLOSE), f"{entity.name}.{field.name}")
            )
        regions.append(Region(entity_start, cursor.seek(_ENTITY_CLOSE), entity.name))
    return tuple(sorted(regions, key=lambda r: (r.start, -r.end)))
