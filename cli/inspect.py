"""`gen inspect`: from a model element to its artifacts, and from a generated line back."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

from rich.console import Console

from compiler import ir
from compiler.diagnostics import did_you_mean
from generators.base import PROJECT_ORIGIN, Artifact
from generators.pipeline import Built
from generators.trace import TRACE_PATH, element_artifacts

_ELEMENT = re.compile(r"^[A-Z][A-Za-z0-9]*(\.[a-z][a-z0-9_]*)?$")
_GENERATED_PREFIX = "generated/"


class InspectError(Exception):
    pass


def inspect_target(built: Built, root: Path, target: str | None) -> dict[str, Any]:
    """What `gen inspect TARGET` reports, as plain data (also the --json output)."""
    project = built.project
    by_path = {a.path: a for a in built.artifacts}
    trace = json.loads(by_path[TRACE_PATH].content)
    if target is None:
        return _overview(project)
    if _ELEMENT.match(target):
        return _element(project, trace, root, target)
    return _artifact(project, trace, root, by_path, target)


def _overview(project: ir.Project) -> dict[str, Any]:
    return {
        "kind": "overview",
        "entities": [
            {
                "name": e.name,
                "declared_at": str(e.loc),
                "fields": len(e.fields),
                "builtin": e.builtin,
            }
            for e in project.entities
        ],
    }


def _source_line(root: Path, loc: ir.SourceRef) -> str | None:
    path = root / loc.file
    if not path.is_file() or loc.line < 1:
        return None
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines[loc.line - 1].strip() if loc.line <= len(lines) else None


def _element(project: ir.Project, trace: dict[str, Any], root: Path, target: str) -> dict[str, Any]:
    node = project.element(target)
    if node is None:
        entity_name, _, field_name = target.partition(".")
        entity = project.entity(entity_name)
        if entity is None:
            hint = did_you_mean(entity_name, [e.name for e in project.entities])
            raise InspectError(f"there is no entity {entity_name!r}; {hint}")
        hint = did_you_mean(field_name, [f.name for f in entity.fields])
        raise InspectError(f"{entity_name} has no field {field_name!r}; {hint}")
    return {
        "kind": "entity" if isinstance(node, ir.Entity) else "field",
        "target": target,
        "uid": node.uid,
        "declared_at": {
            "file": node.loc.file,
            "line": node.loc.line,
            "source": _source_line(root, node.loc),
        },
        "origin": getattr(node, "origin", "declared"),
        "ir": node.model_dump(mode="json", exclude_none=True),
        "artifacts": element_artifacts(trace, target),
    }


def _artifact(
    project: ir.Project,
    trace: dict[str, Any],
    root: Path,
    by_path: dict[str, Artifact],
    target: str,
) -> dict[str, Any]:
    path, _, line_text = target.removeprefix(_GENERATED_PREFIX).partition(":")
    artifact = by_path.get(path)
    if artifact is None:
        raise InspectError(
            f"{target!r} is neither an entity, a field (Entity.field) nor a generated file; "
            f"{did_you_mean(path, by_path)}"
        )
    result: dict[str, Any] = {
        "kind": "artifact",
        "target": target,
        "path": path,
        "rule": artifact.rule,
        "reason": artifact.reason,
        "origins": list(artifact.origins),
    }
    if line_text:
        if not line_text.isdigit():
            raise InspectError(f"{line_text!r} is not a line number; write {path}:120.")
        line = int(line_text)
        lines = artifact.content.decode("utf-8", errors="replace").splitlines()
        if not 1 <= line <= len(lines):
            raise InspectError(f"{path} has {len(lines)} lines; line {line} does not exist.")
        result["line"] = line
        result["text"] = lines[line - 1]
        result["elements"] = [
            _element(project, trace, root, origin)
            for origin in artifact.origin_at(line)
            if origin != PROJECT_ORIGIN
        ]
    return result


# Rendering -------------------------------------------------------------------------


def render_inspection(console: Console, data: dict[str, Any]) -> None:
    kind = data["kind"]
    if kind == "overview":
        for entity in data["entities"]:
            marker = " (built in)" if entity["builtin"] else ""
            console.print(f"{entity['name']:<24} {entity['declared_at']}{marker}")
        return
    if kind == "artifact":
        _render_artifact(console, data)
        return
    _render_element(console, data)


def _render_element(console: Console, data: dict[str, Any], indent: str = "") -> None:
    where = data["declared_at"]
    console.print(f"{indent}[bold]{data['target']}[/] ({data['kind']}, uid {data['uid']})")
    console.print(f"{indent}  declared at {where['file']}:{where['line']}")
    if where["source"]:
        console.print(f"{indent}    {where['source']}", markup=False)
    if data["origin"] != "declared":
        console.print(f"{indent}  added by the compiler: {data['origin'].replace('_', ' ')}")
    console.print(f"{indent}  IR node:")
    for line in _ir_summary(data).splitlines():
        console.print(f"{indent}    {line}", markup=False)
    console.print(f"{indent}  derived artifacts:")
    for artifact in data["artifacts"]:
        spans = ", ".join(f"{a}-{b}" for a, b in artifact["lines"])
        at = f" lines {spans}" if spans else ""
        console.print(f"{indent}    {artifact['path']}{at}", markup=False)
        console.print(f"{indent}      rule {artifact['rule']}: {artifact['reason']}", markup=False)


def _ir_summary(data: dict[str, Any]) -> str:
    node = data["ir"]
    if data["kind"] == "field":
        return json.dumps(node, indent=2, ensure_ascii=False)
    summary = {
        key: node[key] for key in ("name", "table", "api_path", "route", "tenant", "primary_key")
    }
    summary["fields"] = [f["name"] for f in node["fields"]]
    summary["actions"] = [a["name"] for a in node["actions"]]
    summary["rules"] = {r["id"]: r["text"] for r in node["rules"]}
    summary["views"] = [v["name"] for v in node["views"]]
    summary["indexes"] = [i["name"] for i in node["indexes"]]
    return (
        json.dumps(summary, indent=2, ensure_ascii=False) + "\n(the full node: gen inspect --json)"
    )


def _render_artifact(console: Console, data: dict[str, Any]) -> None:
    console.print(f"[bold]{data['path']}[/]")
    console.print(f"  rule {data['rule']}: {data['reason']}", markup=False)
    console.print(f"  made from: {', '.join(data['origins'])}")
    if "line" in data:
        console.print(f"  line {data['line']}: {data['text'].strip()}", markup=False)
        if not data["elements"]:
            console.print("  this line belongs to the file as a whole (no narrower origin).")
        for element in data["elements"]:
            _render_element(console, element, indent="  ")
