"""The `ir` generator: `ir.json`, the compiled model every other tool can read."""

from __future__ import annotations

from compiler import ir
from generators.base import PROJECT_ORIGIN, Artifact
from generators.jsontext import dumps_with_regions


class IrGenerator:
    name = "ir"

    def generate(self, project: ir.Project) -> list[Artifact]:
        data = project.model_dump(mode="json")
        text, regions = dumps_with_regions(data, _tagger(project))
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


def _tagger(project: ir.Project):
    """Tag entity and field objects in the dumped JSON with their qualified names."""
    entities = project.entities

    def tag(path: tuple[str | int, ...]) -> str | None:
        if len(path) == 2 and path[0] == "entities":
            return entities[path[1]].name  # type: ignore[index]
        if len(path) == 4 and path[0] == "entities" and path[2] == "fields":
            entity = entities[path[1]]  # type: ignore[index]
            return f"{entity.name}.{entity.fields[path[3]].name}"  # type: ignore[index]
        return None

    return tag
