"""`trace.json`: every model element -> the artifacts derived from it, and back.

Read by `gen inspect` and, later, by the in-app inspector.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from pydantic_core import to_json

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


def _dumps_one_per_line(trace: dict[str, Any]) -> bytes:
    """UTF-8 JSON with one element or file per line: diffable, and fast to write.

    Each row is encoded by pydantic-core's Rust encoder, three times faster
    than `json` on the trace of a large model.
    """

    def block(mapping: dict[str, Any]) -> bytes:
        rows = b",\n".join(
            b"    %b: %b" % (to_json(key), to_json(value)) for key, value in mapping.items()
        )
        return b"{\n" + rows + b"\n  }" if rows else b"{}"

    return (
        b'{\n  "trace_version": %d,\n' % trace["trace_version"]
        + b'  "elements": '
        + block(trace["elements"])
        + b',\n  "files": '
        + block(trace["files"])
        + b"\n}\n"
    )


def trace_artifact(project: ir.Project, artifacts: Sequence[Artifact]) -> Artifact:
    return Artifact(
        path=TRACE_PATH,
        content=_dumps_one_per_line(build_trace(project, artifacts)),
        origins=(PROJECT_ORIGIN,),
        rule="trace",
        reason="maps every model element to the artifacts and lines derived from it",
    )
