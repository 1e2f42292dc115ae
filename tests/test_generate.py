"""`gen generate`: one atomic snapshot, byte-identical reruns, user files untouched."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from pathlib import Path

import pytest

from compiler import ir
from compiler.compile import compile_project
from generators.base import PROJECT_ORIGIN, Artifact, PiecedArtifact, lines_piece, pieced
from generators.pipeline import generate
from generators.registry import GeneratorError, load_generators, run_generators
from generators.trace import declared_at, element_artifacts, trace_json
from generators.ui import RUNTIME_FILES
from hookfs.graph import Graph, Memo, building
from hookfs.store import HookStore
from hookfs.writer import write_snapshot
from tests.conftest import EXAMPLE


def tree_digest(folder: Path) -> dict[str, str]:
    return {
        p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def snapshot_count(root: Path) -> int:
    with sqlite3.connect(root / ".gen" / "store.db") as conn:
        return int(conn.execute("select count(*) from snapshots").fetchone()[0])


def test_generate_twice_is_byte_identical_and_reports_unchanged(example_copy: Path) -> None:
    _, first = generate(example_copy)
    files = tree_digest(example_copy / "generated")
    mtimes = {p: (example_copy / "generated" / p).stat().st_mtime_ns for p in files}
    _, second = generate(example_copy)
    assert first.created and not second.created
    assert second.snapshot.id == first.snapshot.id
    assert second.mirror.written == () and second.mirror.removed == ()
    assert set(second.mirror.unchanged) == set(files)
    entities = compile_project(example_copy).project.entities
    routes = {
        f"api/{kind}/{entity.table}.py"
        for entity in entities
        for kind in ("routes", "rows", "shapes")
    }
    ui = {f"ui/entities/{entity.table}.ts" for entity in entities} | {
        f"ui/runtime/{name}" for name in RUNTIME_FILES
    }
    assert set(files) == {
        "api/__init__.py",
        "api/app.py",
        "api/routes/__init__.py",
        "api/schemas.py",
        *routes,
        "client/client.ts",
        "client/errors.ts",
        "client/hooks.ts",
        "client/index.ts",
        "client/policies.ts",
        "client/types.ts",
        "db/__init__.py",
        "db/schema.postgres.sql",
        "db/tables.py",
        "ir.json",
        "trace.json",
        "ui/app.ts",
        "ui/entities/all.bundle.ts",
        "ui/index.html",
        "ui/main.ts",
        "ui/prefetch.ts",
        "ui/theme.css",
        *ui,
    }
    assert tree_digest(example_copy / "generated") == files
    assert {p: (example_copy / "generated" / p).stat().st_mtime_ns for p in files} == mtimes
    assert snapshot_count(example_copy) == 1


def test_a_model_change_makes_a_new_snapshot_with_its_parent(example_copy: Path) -> None:
    _, first = generate(example_copy)
    model = example_copy / "domain" / "catalog.model.py"
    model.write_text(
        model.read_text().replace(
            '"name": text().required().max_length(200),',
            '"name": text().required().max_length(250),',
            1,
        )
    )
    _, second = generate(example_copy, "widen product name")
    assert second.created and second.snapshot.parent == first.snapshot.id
    assert second.snapshot.message == "widen product name"
    # The IR, the DDL, the tables, the API's Create/Update shapes and the UI's checks of
    # Product change; no line moved, so the trace stays byte-identical.
    assert second.mirror.written == (
        "api/shapes/product.py",
        "db/schema.postgres.sql",
        "db/tables.py",
        "ir.json",
        "ui/entities/product.ts",
    )
    ddl = (example_copy / "generated" / "db" / "schema.postgres.sql").read_text()
    assert "    name varchar(250) NOT NULL," in ddl
    stored = json.loads((example_copy / "generated" / "ir.json").read_text())
    product = next(e for e in stored["entities"] if e["name"] == "Product")
    assert product["fields"][1]["max_length"] == 250


def test_user_files_in_generated_are_never_touched(example_copy: Path) -> None:
    mine = example_copy / "generated" / "notes" / "mine.md"
    mine.parent.mkdir(parents=True)
    mine.write_text("my notes")
    generate(example_copy)
    generate(example_copy)
    assert mine.read_text() == "my notes"


def test_a_deleted_generated_file_is_restored(example_copy: Path) -> None:
    generate(example_copy)
    (example_copy / "generated" / "ir.json").unlink()
    _, report = generate(example_copy)
    assert not report.created and report.mirror.written == ("ir.json",)


def test_store_holds_headers_naming_origin_rule_and_reason(example_copy: Path) -> None:
    _, report = generate(example_copy)
    with HookStore.open(example_copy) as store:
        entry = store.file(report.snapshot.id, "ir.json")
    assert entry is not None
    assert entry.headers["content-type"] == "application/json"
    assert entry.headers["x-rule"] == "ir.json"
    assert "compiled model" in entry.headers["x-reason"]


def test_ir_generator_is_registered_under_its_entry_point() -> None:
    assert "ir" in {g.name for g in load_generators()}


class _Broken:
    name = "broken"

    def generate(self, project: ir.Project) -> list[Artifact]:
        raise RuntimeError("template exploded")


class _Clashing:
    name = "clashing"

    def generate(self, project: ir.Project) -> list[Artifact]:
        return [Artifact(path="ir.json", content=b"{}", origins=("project",), rule="x", reason="y")]


@pytest.mark.parametrize(
    ("extra", "message"), [(_Broken(), "'broken' failed"), (_Clashing(), "both produce ir.json")]
)
def test_a_failing_generator_writes_nothing(
    example_copy: Path, extra: object, message: str
) -> None:
    from compiler.compile import compile_project

    project = compile_project(example_copy).project
    with pytest.raises(GeneratorError, match=message):
        artifacts = run_generators(project, [*load_generators(), extra])  # type: ignore[list-item]
        write_snapshot(example_copy, artifacts, "never")
    assert not (example_copy / ".gen").exists()
    assert not (example_copy / "generated").exists()


def test_trace_maps_fields_to_their_lines_in_ir_json(example_copy: Path) -> None:
    generate(example_copy)
    trace = json.loads((example_copy / "generated" / "trace.json").read_text())
    assert trace["trace_version"] == 2
    assert trace["declared_at"]["Invoice"].startswith("domain/invoices.model.py:")
    status = trace["elements"]["Invoice.status"]
    assert status["declared_at"].startswith("+")  # lines below its entity's declaration
    model = (example_copy / "domain" / "invoices.model.py").read_text().splitlines()
    _, line = declared_at(trace, "Invoice.status").split(":")
    assert model[int(line) - 1].strip().startswith('"status":')
    assert [a["path"] for a in status["artifacts"]] == [
        "db/schema.postgres.sql",
        "db/tables.py",
        "ir.json",
    ]
    # Lines count from Invoice's part of ir.json, which `parts` places in the file.
    ((part, start, end),) = status["artifacts"][2]["lines"]
    before = [row[0] for row in trace["files"]["ir.json"]["parts"] if "Invoice" in row[1:]]
    start, end = before[part] + start, before[part] + end
    lines = (example_copy / "generated" / "ir.json").read_text().splitlines()
    assert '"name": "status"' in "\n".join(lines[start - 1 : end])
    assert '"name": "status"' not in "\n".join(lines[: start - 1][-3:])
    assert element_artifacts(trace, "Invoice.status")[2] == {
        "path": "ir.json",
        "rule": "ir.json",
        "reason": trace["files"]["ir.json"]["reason"],
        "lines": [[start, end]],
    }


def test_trace_gives_every_elements_lines_in_every_file(example_copy: Path) -> None:
    """Read back (`element_artifacts`), trace.json's relative lines are the generated files'
    own: each element's regions, where they are in the file."""
    built, _ = generate(example_copy)
    by_path = {a.path: a for a in built.artifacts}
    trace = json.loads(by_path["trace.json"].content)
    for name in trace["elements"]:
        for entry in element_artifacts(trace, name):
            regions = by_path[entry["path"]].regions
            assert entry["lines"] == [[r.start, r.end] for r in regions if r.origin == name]
            assert entry["rule"] == by_path[entry["path"]].rule
    for entity in built.project.entities:
        assert declared_at(trace, entity.name) == str(entity.loc)
        for field in entity.fields:
            assert declared_at(trace, f"{entity.name}.{field.name}") == str(field.loc)


def test_ir_json_is_the_models_dump_and_each_entity_and_field_has_its_lines(
    example_copy: Path,
) -> None:
    from generators.ir import entity_and_field_regions, ir_json

    project = compile_project(example_copy).project
    text, regions = ir_json(project)  # spliced from the entities' own dumps
    whole = project.model_dump_json(indent=2, exclude_none=True) + "\n"
    assert text == whole
    assert ir.Project.model_validate_json(text) == project
    assert regions == entity_and_field_regions(whole, project.entities)
    lines = text.splitlines()
    for region in regions:
        entity, _, field = region.origin.partition(".")
        first = lines[region.start - 1 : region.start + 2]
        wanted = f'"name": "{field or entity}"'
        assert lines[region.start - 1].strip() == "{" and lines[region.end - 1].strip() in (
            "}",
            "},",
        )
        assert any(wanted in line for line in lines[region.start - 1 : region.end]), first


def test_trace_json_reads_again_a_file_whose_new_piece_names_other_elements() -> None:
    """Under `gen dev` trace.json reads only a file's new pieces; a new piece that names
    other elements than the one it replaces makes it read the file again."""
    project = compile_project(EXAMPLE).project

    def file_naming(second: str) -> PiecedArtifact:
        pieces = [lines_piece(f"{name}\n", [name]) for name in ("Invoice", second, "Payment")]
        return pieced("notes.txt", pieces, (PROJECT_ORIGIN,), "notes", "for the test")

    memo = Memo()
    for second in ("Customer", "Product", "Product.sku"):
        graph = Graph(project, memo)
        with building(graph):
            kept_between_builds = trace_json(project, [file_naming(second)])
        graph.finish()
        assert kept_between_builds == trace_json(project, [file_naming(second)])  # from nothing
    assert b'"Product.sku": {' in kept_between_builds
