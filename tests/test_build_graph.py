"""The incremental build graph (hookfs/graph.py): what a change recomputes and rewrites,
and that a build reusing earlier results writes exactly what a build from nothing writes."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.synthetic import write_synthetic_project
from compiler import ir
from compiler.incremental import Recompiler
from compiler.relocate import moved_from
from generators.pipeline import Session, build, generate
from hookfs.graph import Graph, Memo, Stats, building, incremental
from hookfs.store import HookStore

#: What the edits below insert: a field of each kind a model commonly gains.
NEW_FIELDS = (
    "text()",
    "text().required().default('x')",
    "integer().min(0)",
    "money()",
    "boolean().default(False)",
    "date()",
    'enum(["a", "b"])',
    'ref("User").on_delete("set_null")',
)


def entity_block(text: str, name: str) -> tuple[int, int]:
    """Where `entity("<name>", ...)` starts and ends in a synthetic model file."""
    start = text.index(f'entity(\n    "{name}",')
    return start, text.index("\n)\n", start)


def edit(project: Path, name: str, change: str, argument: int) -> str:
    """Change entity `name` in its file; return the file's relative path."""
    for path in sorted((project / "domain").glob("*.model.py")):
        text = path.read_text(encoding="utf-8")
        if f'"{name}",' not in text:
            continue
        start, end = entity_block(text, name)
        block = text[start:end]
        if change == "add":
            line = f'        "added_{argument}": {NEW_FIELDS[argument % len(NEW_FIELDS)]},\n'
            block = block.replace("    fields={\n", "    fields={\n" + line, 1)
        elif change == "name":  # its rows are named by it, where others show them too
            line = '        "name": text().required().default("n"),\n'
            if line not in block:
                block = block.replace("    fields={\n", "    fields={\n" + line, 1)
        elif change == "label":  # what a reference to it is called, elsewhere too
            block = re.sub(
                r'(doc="[^"]*",\n)', rf'\1    label="Thing {argument}",\n', block, count=1
            )
            block = re.sub(r'    label="Thing \d+",\n(    label=)', r"\1", block)
        elif change == "length":
            block = re.sub(r"max_length\(\d+\)", f"max_length({20 + argument})", block, count=1)
        else:
            block = re.sub(r'doc="[^"]*"', f'doc="Changed {argument}."', block, count=1)
        path.write_text(text[:start] + block + text[end:], encoding="utf-8")
        return path.relative_to(project).as_posix()
    raise AssertionError(f"no entity {name}")


def files_of(project: Path) -> dict[str, bytes]:
    root = project / "generated"
    return {p.relative_to(root).as_posix(): p.read_bytes() for p in root.rglob("*") if p.is_file()}


#: Up to three edits (entity index, kind, argument) of a 24-entity synthetic model.
EDITS = st.lists(
    st.tuples(
        st.integers(min_value=0, max_value=23),
        st.sampled_from(["add", "length", "doc", "label", "name"]),
        st.integers(min_value=0, max_value=999),
    ),
    min_size=1,
    max_size=3,
)


def edits_of_24_entities(test: Callable[..., None]) -> Callable[..., None]:
    """Run `test(fixture, edits)` on a dozen lists of edits."""
    return settings(
        max_examples=12,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture],
    )(given(edits=EDITS)(test))


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = write_synthetic_project(tmp_path_factory.mktemp("graph") / "small", 24, seed=3)
    generate(project)
    return project


@edits_of_24_entities
def test_a_build_reusing_results_writes_what_a_build_from_nothing_writes(
    small: Path, edits: list[tuple[int, str, int]]
) -> None:
    names = re.findall(r'entity\(\n    "(\w+)",', _model_text(small))
    for index, change, argument in edits:
        edit(small, names[index], change, argument)
        generate(small)  # reuses what the store remembers
    incremental = files_of(small)
    from_nothing = build(small, Memo())  # nothing remembered: every node runs
    assert {a.path: a.content for a in from_nothing.artifacts} == incremental
    assert from_nothing.stats.reused == 0


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    project = write_synthetic_project(tmp_path_factory.mktemp("graph") / "session", 24, seed=4)
    session = Session(project)
    session.generate()
    return session


@edits_of_24_entities
def test_gen_devs_builds_write_what_a_build_from_nothing_writes(
    session: Session, edits: list[tuple[int, str, int]]
) -> None:
    """What a `gen dev` session keeps between saves (compile, graph results, same-object
    pieces of whole-project files, the mirror's stats) changes nothing it writes."""
    project = session.project_dir
    names = re.findall(r'entity\(\n    "(\w+)",', _model_text(project))
    for index, change, argument in edits:
        edit(project, names[index], change, argument)
        built, _ = session.generate()
    assert {a.path: a.content for a in built.artifacts} == files_of(project)
    from_nothing = build(project, Memo())
    assert {a.path: a.content for a in from_nothing.artifacts} == files_of(project)


def _json(entity: object) -> str:
    dump = getattr(entity, "model_dump_json", None)
    return dump() if dump else ""


def _without_lines(text: str) -> str:
    return re.sub(r'"line":\d+', "", text)


def _model_text(project: Path) -> str:
    return "".join(p.read_text() for p in sorted((project / "domain").glob("*.model.py")))


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    project = write_synthetic_project(tmp_path_factory.mktemp("graph") / "large", 200)
    generate(project)
    return project


def test_one_field_of_one_entity_rewrites_only_what_derives_from_it(large: Path) -> None:
    with HookStore.open(large) as store:
        unchanged = build(large, Memo(store))
    assert unchanged.stats.computed == 0  # nothing changed: every node is reused
    before = files_of(large)

    edit(large, "Customer0060", "add", 0)
    built, report = generate(large)

    # The files that changed: those of Customer0060 and the ones of every entity.
    assert sorted(report.mirror.written) == [
        "api/rows/customer0060.py",
        "api/shapes/customer0060.py",
        "client/types.ts",
        "db/schema.postgres.sql",
        "db/tables.py",
        "ir.json",
        "trace.json",
        "ui/entities/customer0060.ts",
        "ui/prefetch.ts",  # the new field is a column of its default list
    ]
    after = files_of(large)
    assert {p for p in after if after[p] != before.get(p)} == set(report.mirror.written)
    with HookStore.open(large) as store:
        head = store.head()
        assert head is not None
        origins = {e.path: e.headers.get("x-origins", "") for e in store.files(head.id)}
    for path in report.mirror.written:
        assert "Customer0060" in origins[path].split() or path in ("ir.json", "trace.json")

    # What was computed again: nodes of Customer0060 and of the entities that read it. The
    # entities below it in its file have new source lines, and nothing else new: no node
    # reads lines, so theirs are reused.
    readers = {node.split()[1] for node in built.stats.computed_nodes if len(node.split()) == 2}
    assert "Customer0060" in readers
    model = built.project
    old = unchanged.project
    moved = {e.name for e in model.entities if e.model_dump_json() != _json(old.entity(e.name))}
    only_lines = {
        name
        for name in moved
        if _without_lines(_json(model.entity(name))) == _without_lines(_json(old.entity(name)))
    }
    assert "Customer0060" in moved and len(only_lines) > 5
    for name in readers - {"Customer0060"}:
        assert '"Customer0060"' in _json(model.entity(name)), f"{name} does not read Customer0060"
    assert built.stats.reused > 20 * built.stats.computed


def test_a_copy_of_a_project_reuses_nothing_it_did_not_compute(tmp_path: Path, large: Path) -> None:
    copy = tmp_path / "copy"
    shutil.copytree(large / "domain", copy / "domain")
    shutil.copy(large / "gen.toml", copy / "gen.toml")
    built, _ = generate(copy)  # its own store: empty
    assert built.stats.reused == 0 and built.stats.computed > 0


def test_a_node_computed_again_replaces_its_result_in_the_store(small: Path) -> None:
    def memo_size() -> tuple[int, int]:
        with HookStore.open(small) as store:
            conn = store._conn
            rows = conn.execute("SELECT COUNT(*) FROM memo").fetchone()[0]
            orphans = conn.execute(
                "SELECT COUNT(*) FROM blobs b WHERE NOT EXISTS (SELECT 1 FROM memo WHERE blob = b.hash)"
                " AND NOT EXISTS (SELECT 1 FROM files WHERE blob = b.hash)"
                " AND b.kind = 0"  # not a part of a file stored in parts
            ).fetchone()[0]
        return rows, orphans

    generate(small)
    rows, _ = memo_size()
    for serial in range(3):
        edit(small, "Order0000", "doc", 5000 + serial)
        built, _ = generate(small)
        assert built.stats.computed > 0
    # The same nodes, new results: no more entries, and none of the old results left over.
    assert memo_size() == (rows, 0)


def test_lines_added_above_entities_rewrite_only_the_files_that_say_where_they_are(
    tmp_path: Path,
) -> None:
    """The compile moves what it made of the entities below the new lines; the graph hashes
    each of them as the entity it was moved from (no lines in a hash), so nothing runs again."""
    project = write_synthetic_project(tmp_path / "moved", 24, seed=6)
    session = Session(project)
    session.generate()
    model = sorted((project / "domain").glob("*.model.py"))[0]
    model.write_text("# a note\n\n" + model.read_text())
    built, report = session.generate()
    assert built.stats.computed == 0
    assert sorted(report.mirror.written) == ["ir.json", "trace.json"]
    from_nothing = build(project, Memo())
    assert {a.path: a.content for a in from_nothing.artifacts} == files_of(project)

    moved = [e for e in built.project.entities if moved_from(e) is not None]
    assert len(moved) == 20  # the first file's entities
    hashes = session.memo.entity_hashes
    for entity in moved:
        twin = moved_from(entity)
        assert twin is not None and twin.loc.line + 2 == entity.loc.line
        assert hashes[id(entity)] == (entity, hashes[id(twin)][1])


@incremental("test.field_names")
def _field_names(project: Any, entity: ir.Entity) -> tuple[str, ...]:
    return tuple(field.name for field in entity.fields)


def test_work_computed_again_that_comes_out_the_same_hands_on_the_earlier_object(
    tmp_path: Path,
) -> None:
    project_dir = write_synthetic_project(tmp_path / "p", 3, seed=5)
    recompiler = Recompiler(project_dir)
    memo = Memo()

    def names_of(entity_name: str) -> tuple[tuple[str, ...], Stats]:
        project = recompiler.compile().project
        graph = Graph(project, memo)
        with building(graph):
            found = _field_names(project, project.entity(entity_name))
        graph.finish()
        return found, graph.stats

    name = recompiler.compile().project.entities[-1].name  # one of the synthetic ones
    first, _ = names_of(name)
    edit(project_dir, name, "doc", 1)  # read by the node, not in what it gives
    same, stats = names_of(name)
    assert stats.computed == 1  # it ran again...
    assert same is first  # ...and gave the earlier object: what is made of it is kept
    edit(project_dir, name, "add", 2)
    grown, stats = names_of(name)
    assert stats.computed == 1 and grown is not first
    assert grown == ("added_2", *first) or set(grown) == {"added_2", *first}
