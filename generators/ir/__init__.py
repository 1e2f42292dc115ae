"""The `ir` generator: `ir.json`, the compiled model every other tool can read."""

from __future__ import annotations

from collections.abc import Iterator

from compiler import ir
from generators.base import PROJECT_ORIGIN, Artifact, Region

# pydantic's indent=2 layout puts each entity object at 4 spaces inside
# "entities", and each field object at 8 spaces inside that entity's "fields".
# A newline-anchored token pins the indentation exactly, so str.find (in C)
# locates the few thousand structural lines without a Python step per line.
_TOKENS = {
    "entity_open": "\n    {\n",
    "entity_close": "\n    }",
    "fields_open": '\n      "fields": [\n',
    "fields_close": "\n      ]",
    "field_open": "\n        {\n",
    "field_close": "\n        }",
    "end": "\n  ]",
}


def _find_all(text: str, token: str, start: int, stop: int) -> list[int]:
    found, at = [], text.find(token, start, stop)
    while at >= 0:
        found.append(at)
        at = text.find(token, at + 1, stop)
    return found


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
    begin = text.find('\n  "entities": [\n')
    if begin < 0:
        return ()
    stop = text.find(_TOKENS["end"], begin + 1)
    marks = sorted(
        (at, kind)
        for kind, token in _TOKENS.items()
        if kind != "end"
        for at in _find_all(text, token, begin, stop)
    )
    regions: list[Region] = []
    entities = iter(project.entities)
    entity: ir.Entity | None = None
    fields: Iterator[ir.FieldNode] = iter(())
    line, offset = text.count("\n", 0, begin) + 1, begin
    entity_start = field_start = 0
    in_fields = False  # actions, rules and views hold 8-space objects too
    for at, kind in marks:
        line += text.count("\n", offset, at + 1)  # tokens start at the newline before their line
        offset = at + 1
        if kind == "entity_open":
            entity, entity_start = next(entities), line
            fields = iter(entity.fields)
        elif kind == "entity_close" and entity is not None:
            regions.append(Region(entity_start, line, entity.name))
        elif kind in ("fields_open", "fields_close"):
            in_fields = kind == "fields_open"
        elif in_fields and kind == "field_open":
            field_start = line
        elif in_fields and kind == "field_close" and entity is not None:
            regions.append(Region(field_start, line, f"{entity.name}.{next(fields).name}"))
    return tuple(sorted(regions, key=lambda r: (r.start, -r.end)))
