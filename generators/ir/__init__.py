"""The `ir` generator: `ir.json`, the compiled model every other tool can read."""

from __future__ import annotations

from compiler import ir
from generators.base import PROJECT_ORIGIN, Artifact, Region

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
        # pydantic's Rust serializer: about 20x faster than json.dumps(indent=2).
        # Nulls are left out (a quarter of the bytes); loading fills them back in.
        text = project.model_dump_json(indent=2, exclude_none=True) + "\n"
        return [
            Artifact(
                path="ir.json",
                content=text.encode(),
                origins=(PROJECT_ORIGIN,),
                rule="ir.json",
                reason=f"the compiled model (IR schema version {project.schema_version}) of "
                f"{len(project.entities)} entities, for tools and diffs",
                regions=entity_and_field_regions(text, project),
            )
        ]


def entity_and_field_regions(text: str, project: ir.Project) -> tuple[Region, ...]:
    """Line ranges of every entity and field object in `text`, found by indentation."""
    cursor = _LineCursor(text)
    regions: list[Region] = []
    cursor.seek(_ENTITIES_OPEN)
    for entity in project.entities:
        entity_start = cursor.seek(_ENTITY_OPEN)
        cursor.seek(_FIELDS_OPEN)
        for field in entity.fields:
            field_start = cursor.seek(_FIELD_OPEN)
            regions.append(
                Region(field_start, cursor.seek(_FIELD_CLOSE), f"{entity.name}.{field.name}")
            )
        regions.append(Region(entity_start, cursor.seek(_ENTITY_CLOSE), entity.name))
    return tuple(sorted(regions, key=lambda r: (r.start, -r.end)))
