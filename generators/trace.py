"""`trace.json`: every model element -> the artifacts derived from it, and back.

Read by `gen inspect` and, later, by the in-app inspector.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import partial
from typing import Any

from pydantic_core import to_json

from compiler import ir
from generators.base import PROJECT_ORIGIN, Artifact
from hookfs.graph import same_objects

TRACE_PATH = "trace.json"
TRACE_VERSION = 1


def _elements(project: ir.Project) -> dict[str, tuple[bytes, list[bytes]]]:
    """Each element's JSON object up to its `artifacts` list (the last key), and that list."""
    project_head = _head({"kind": "project", "declared_at": "gen.toml:1"})
    elements: dict[str, tuple[bytes, list[bytes]]] = {PROJECT_ORIGIN: (project_head, [])}
    for entity in project.entities:
        heads = same_objects("trace.elements", (entity,), partial(_entity_heads, entity))
        elements.update((name, (head, [])) for name, head in heads)
    return elements


def _entity_heads(entity: ir.Entity) -> list[tuple[str, bytes]]:
    heads = [
        (entity.name, _head({"kind": "entity", "uid": entity.uid, "declared_at": str(entity.loc)}))
    ]
    for field in entity.fields:
        element = {
            "kind": "field",
            "uid": field.uid,
            "declared_at": str(field.loc),
            "origin": field.origin,
        }
        heads.append((f"{entity.name}.{field.name}", _head(element)))
    return heads


def _head(element: dict[str, Any]) -> bytes:
    # `{"kind":...,"declared_at":...}` -> `{"kind":...,"declared_at":...,"artifacts":[`
    return to_json(element)[:-1] + b',"artifacts":['


def trace_json(project: ir.Project, artifacts: Sequence[Artifact]) -> bytes:
    """UTF-8 JSON with one element or file per line: diffable, and fast to write.

    {"trace_version": 1, "elements": {name: {kind, uid, declared_at, origin,
    artifacts: [{path, rule, reason, lines}]}}, "files": {path: {rule, reason,
    origins, regions: [[start, end, origin]]}}}. Each row is compact JSON from
    pydantic-core's Rust encoder; an element's artifact entries are spliced
    from pieces encoded once per artifact (about 30,000 entries for 500 entities),
    and kept between builds of one process for the same artifact (`gen dev`).
    """
    elements = _elements(project)
    files: list[bytes] = []
    # Artifacts come in order, so each element lists them in that order.
    for artifact in artifacts:
        row, entries = same_objects("trace.file", (artifact,), partial(_rows_of, artifact))
        files.append(row)
        for origin, entry in entries:
            element = elements.get(origin)
            if element is not None:
                element[1].append(entry)
    rows = [
        b"    %b: %b%b]}" % (to_json(name), head, b",".join(entries))
        for name, (head, entries) in elements.items()
    ]
    return b'{\n  "trace_version": %d,\n  "elements": %b,\n  "files": %b\n}\n' % (
        TRACE_VERSION,
        _block(rows),
        _block(files),
    )


def _rows_of(artifact: Artifact) -> tuple[bytes, list[tuple[str, bytes]]]:
    """The artifact's row of `files`, and its entry in each element it comes from."""
    regions = artifact.regions
    path, rule, reason = to_json(artifact.path), to_json(artifact.rule), to_json(artifact.reason)
    row = b'    %b: {"rule":%b,"reason":%b,"origins":%b,"regions":%b}' % (
        path,
        rule,
        reason,
        to_json(artifact.origins),
        to_json([(r.start, r.end, r.origin) for r in regions]),
    )
    spans: dict[str, list[tuple[int, int]]] = {}
    for region in regions:
        spans.setdefault(region.origin, []).append((region.start, region.end))
    entry = b'{"path":%b,"rule":%b,"reason":%b,"lines":' % (path, rule, reason)
    entries = [
        (origin, entry + (to_json(spans[origin]) if origin in spans else b"[]") + b"}")
        for origin in dict.fromkeys([*artifact.origins, *spans])
    ]
    return row, entries


def _block(rows: list[bytes]) -> bytes:
    return b"{\n" + b",\n".join(rows) + b"\n  }" if rows else b"{}"


def trace_artifact(project: ir.Project, artifacts: Sequence[Artifact]) -> Artifact:
    return Artifact(
        path=TRACE_PATH,
        content=trace_json(project, artifacts),
        origins=(PROJECT_ORIGIN,),
        rule="trace",
        reason="maps every model element to the artifacts and lines derived from it",
    )
