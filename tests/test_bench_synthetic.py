"""The synthetic benchmark project compiles and is reproducible."""

from __future__ import annotations

from pathlib import Path

from bench.synthetic import write_synthetic_project
from compiler import ir
from compiler.compile import compile_project


def _declared(project: ir.Project) -> list[ir.Entity]:
    return [e for e in project.entities if not e.builtin]


def _files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_one_entity_compiles(tmp_path: Path) -> None:
    project = compile_project(write_synthetic_project(tmp_path, 1)).project
    assert len(_declared(project)) == 1


def test_sixty_entities_compile_with_every_feature(tmp_path: Path) -> None:
    project = compile_project(write_synthetic_project(tmp_path, 60)).project
    entities = _declared(project)
    fields = [f for e in entities for f in e.fields]
    assert len(entities) == 60
    assert len(list((tmp_path / "domain").glob("part_*.model.py"))) == 3
    assert any(isinstance(f.type, ir.RefType) and f.type.target != "User" for f in fields)
    assert any(isinstance(f.type, ir.OneToManyType) and f.type.via for f in fields)
    assert any(f.computed is not None and f.computed.type == "money" for f in fields)
    assert any(
        f.computed is not None
        and any(".total" in d for d in f.computed.depends_on)
        and not f.computed.same_row
        for f in fields
    )
    assert any(e.state_fields and any(a.kind == "transition" for a in e.actions) for e in entities)
    assert any(e.tenant for e in entities) and any(not e.tenant for e in entities)
    assert all(e.rule("read") is not None for e in entities)


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    first = _files(write_synthetic_project(tmp_path / "a", 45, seed=7))
    second = _files(write_synthetic_project(tmp_path / "b", 45, seed=7))
    other = _files(write_synthetic_project(tmp_path / "c", 45, seed=8))
    assert first == second
    assert first != other


def test_rewriting_smaller_drops_stale_files(tmp_path: Path) -> None:
    write_synthetic_project(tmp_path, 45)
    write_synthetic_project(tmp_path, 5)
    assert [p.name for p in (tmp_path / "domain").iterdir()] == ["part_000.model.py"]
