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


def _elements(project: ir.Project) -> dict[str, tuple[bytes, list[bytes]]]:
    """Each element's JSON object up to its `artifacts` list (the last key), and that list."""
    elements: dict[str, tuple[bytes, list[bytes]]] = {}

    def add(name: str, element: dict[str, Any]) -> None:
        # `{"kind":...,"declared_at":...}` -> `{"kind":...,"declared_at":...,"artifacts":[`
        elements[name] = (to_json(element)[:-1] + b',"artifacts":[', [])

    add(PROJECT_ORIGIN, {"kind": "project", "declared_at": "gen.toml:1"})
    for entity in project.entities:
        add(entity.name, {"kind": "entity", "uid": entity.uid, "declared_at": str(entity.loc)})
        for field in entity.fields:
            add(
                f"{entity.name}.{field.name}",
                {
                    "kind": "field",
                    "uid": field.uid,
                    "declared_at": str(field.loc),
                    "origin": field.origin,
                },
            )
    return elements


def trace_json(project: ir.Project, artifacts: Sequence[Artifact]) -> bytes:
    """UTF-8 JSON with one element or file per line: diffable, and fast to write.

    {"trace_version": 1, "elements": {name: {kind, uid, declared_at, origin,
    artifacts: [{path, rule, reason, lines}]}}, "files": {path: {rule, reason,
    origins, regions: [[start, end, origin]]}}}. Each row is compact JSON from
    pydantic-core's Rust encoder; an element's artifact entries are spliced
    from pieces encoded once per artifact (about 30,000 entries for 500 entities).
    """
    elements = _elements(project)
    files: list[bytes] = []
    for artifact in artifacts:
        regions = artifact.regions
        path, rule, reason = (
            to_json(artifact.path),
            to_json(artifact.rule),
            to_json(artifact.reason),
        )
        files.append(
            b'    %b: {"rule":%b,"reason":%b,"origins":%b,"regions":%b}'
            % (
                path,
                rule,
                reason,
                to_json(artifact.origins),
                to_json([(r.start, r.end, r.origin) for r in regions]),
            )
        )
        spans: dict[str, list[tuple[int, int]]] = {}
        for region in regions:
            spans.setdefault(region.origin, []).append((region.start, region.end))
        entry = b'{"path":%b,"rule":%b,"reason":%b,"lines":' % (path, rule, reason)
        # Artifacts come in order, so each element lists them in that order.
        for origin in {*artifact.origins, *spans}:
            element = elements.get(origin)
            if element is not None:
                lines = spans.get(origin)
                element[1].append(entry + (to_json(lines) if lines else b"[]") + b"}")
    rows = [
        b"    %b: %b%b]}" % (to_json(name), head, b",".join(entries))
        for name, (head, entries) in elements.items()
    ]
    return b'{\n  "trace_version": %d,\n  "elements": %b,\n  "files": %b\n}\n' % (
        TRACE_VERSION,
        _block(rows),
        _block(files),
    )


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
