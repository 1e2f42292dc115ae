"""The `ir` generator: `ir.json`, the compiled model every other tool can read."""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial

from compiler import ir
from generators.base import PROJECT_ORIGIN, Artifact, Region
from hookfs.graph import same_objects

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

    def generate(self, project: ir.Project) -> list[Artifact]:
        text, regions = ir_json(project)
        return [
            Artifact(
                path="ir.json",
                content=text.encode(),
                origins=(PROJECT_ORIGIN,),
                rule="ir.json",
                reason=f"the compiled model (IR schema version {project.schema_version}) of "
                f"{len(project.entities)} entities, for tools and diffs",
                regions=regions,
            )
        ]


def ir_json(project: ir.Project) -> tuple[str, tuple[Region, ...]]:
    """`project.model_dump_json(indent=2, exclude_none=True)` and a newline, with the lines of
    each entity and field: the entities are dumped one by one and spliced in, so that
    `gen dev` dumps only those its incremental compile made anew (`same_objects`).

    pydantic's Rust serializer: about 20x faster than json.dumps(indent=2). Nulls are left
    out (a quarter of the bytes); loading fills them back in.
    """
    empty = project.model_copy(update={"entities": ()})
    head, found, tail = empty.model_dump_json(indent=2, exclude_none=True).partition(
        '\n  "entities": [],'
    )
    assert found, "ir.json layout changed: no entities list"
    parts = [same_objects("ir.entity", (e,), partial(_entity_json, e)) for e in project.entities]
    line = head.count("\n") + 3  # the first entity's `{`: after the head and `"entities": [`
    regions: list[Region] = []
    for text, its in parts:
        regions += [Region(line + r.start, line + r.end, r.origin) for r in its]
        line += text.count("\n") + 1
    body = ",\n".join(text for text, _ in parts)
    text = f'{head}\n  "entities": [\n{body}\n  ],{tail}\n'
    return text, tuple(sorted(regions, key=lambda r: (r.start, -r.end)))


def _entity_json(entity: ir.Entity) -> tuple[str, tuple[Region, ...]]:
    """The entity's object as it sits in ir.json (4 spaces in), and its lines from 0."""
    dumped = entity.model_dump_json(indent=2, exclude_none=True)
    text = "    " + dumped.replace("\n", "\n    ")
    # The cursor counts from 1, on a line before the object: its `{` is line 2, i.e. 0 here.
    regions = entity_and_field_regions("\n" + text, [entity], entities_open="")
    return text, tuple(Region(r.start - 2, r.end - 2, r.origin) for r in regions)


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
