"""`trace.json`: every model element -> the artifacts derived from it, and back.

Read by `gen inspect` and, later, by the in-app inspector.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from compiler import ir
from generators.base import PROJECT_ORIGIN, Artifact

TRACE_PATH = "trace.json"
TRACE_VERSION = 1


def _elements(project: ir.Project) -> dict[str, dict[str, Any]]:
    elements: dict[str, dict[str, Any]] = {
        PROJECT_ORIGIN: {"kind": "project", "declared_at": "gen.toml:1", "artifacts": []}
    }
    for entity in project.entities:
        elements[entity.name] = {
            "kind": "entity",
            "uid": entity.uid,
            "declared_at": str(entity.loc),
            "artifacts": [],
        }
        for field in entity.fields:
            elements[f"{entity.name}.{field.name}"] = {
                "kind": "field",
                "uid": field.uid,
                "declared_at": str(field.loc),
                "origin": field.origin,
                "artifacts": [],
            }
    return elements


def build_trace(project: ir.Project, artifacts: Sequence[Artifact]) -> dict[str, Any]:
    elements = _elements(project)
    files: dict[str, Any] = {}
    for artifact in artifacts:
        files[artifact.path] = {
            "rule": artifact.rule,
            "reason": artifact.reason,
            "origins": list(artifact.origins),
            "regions": [[r.start, r.end, r.origin] for r in artifact.regions],
        }
        spans: dict[str, list[list[int]]] = {}
        for region in artifact.regions:
            spans.setdefault(region.origin, []).append([region.start, region.end])
        for origin in sorted({*artifact.origins, *spans}):
            if origin in elements:
                elements[origin]["artifacts"].append(
                    {
                        "path": artifact.path,
                        "rule": artifact.rule,
                        "reason": artifact.reason,
                        "lines": spans.get(origin, []),
                    }
                )
    return {"trace_version": TRACE_VERSION, "elements": elements, "files": files}


def _dumps_one_per_line(trace: dict[str, Any]) -> str:
    """JSON with one element or file per line: diffable, and written by the C encoder."""

    def block(mapping: dict[str, Any]) -> str:
        rows = ",\n".join(
            f"    {json.dumps(key, ensure_ascii=False)}: {json.dumps(value, ensure_ascii=False)}"
            for key, value in mapping.items()
        )
        return "{\n" + rows + "\n  }" if rows else "{}"

    return (
        f'{{\n  "trace_version": {trace["trace_version"]},\n'
        f'  "elements": {block(trace["elements"])},\n'
        f'  "files": {block(trace["files"])}\n}}\n'
    )


def trace_artifact(project: ir.Project, artifacts: Sequence[Artifact]) -> Artifact:
    text = _dumps_one_per_line(build_trace(project, artifacts))
    return Artifact(
        path=TRACE_PATH,
        content=text.encode(),
        origins=(PROJECT_ORIGIN,),
        rule="trace",
        reason="maps every model element to the artifacts and lines derived from it",
    )
