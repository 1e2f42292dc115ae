"""The incremental build graph (hookfs/graph.py): what a change recomputes and rewrites,
and that a build reusing earlier results writes exactly what a build from nothing writes."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.synthetic import write_synthetic_project
from compiler import ir
from compiler.incremental import Recompiler
from compiler.relocate import moved_from
from generators.pipeline import Session, build, generate
from hookfs.graph import Graph, Memo, Stats, building, incremental, same_objects
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


# What a build may skip: a node the last build found valid is reused without hashing what
# it read when none of its reads may have changed since ("red-green"). The builds below
# are of projects made by hand, so that which entities are the same objects is known:
# an entity changed is a new object, the others are kept, as the incremental compile does.

R = TypeVar("R")
#: An entity, and another one that its node below reads.
OWN, OTHER = "Payment0000", "Supplier0001"


@incremental("test.other_doc")
def _other_doc(project: Any, entity: ir.Entity, other: str) -> str:
    """A node of `entity` that reads another entity than its own."""
    found = project.entity(other)
    return f"{entity.name} reads {found.doc if found is not None else 'nothing'}"


class Builds:
    """Builds over one memo, as `gen dev` makes them, of a project changed by hand."""

    def __init__(self, project: ir.Project) -> None:
        self.project = project
        self.memo = Memo()

    def change(self, name: str, entity: ir.Entity | None) -> ir.Entity | None:
        """Make entity `name` this one (None: remove it); return the one it was."""
        was = self.project.entity(name)
        entities = [entity if e.name == name else e for e in self.project.entities]
        self.project = self.project.replace(entities=tuple(e for e in entities if e))
        return was

    def build(self, work: Callable[[ir.Project], R], finish: bool = True) -> tuple[R, Stats]:
        """`work` in one build; `finish=False`: as `Session.model_now` does."""
        graph = Graph(self.project, self.memo)
        with building(graph):
            result = work(self.project)
        if finish:
            graph.finish()
        return result, graph.stats


def _read_other(project: ir.Project) -> str:
    own = project.entity(OWN)
    assert own is not None
    return _other_doc(project, own, OTHER)


def _other_own_node(project: ir.Project) -> tuple[str, ...]:
    """The other entity's own node: it hashes that entity in each build that calls it."""
    other = project.entity(OTHER)
    return _field_names(project, other) if other is not None else ()


def _reader_through_same_objects(project: ir.Project) -> str:
    """The reading node as work on its own entity only: kept while that entity is the same
    object (work that wrongly depends on more than `of`, to keep the node uncalled)."""
    own = project.entity(OWN)
    return same_objects("test.wrapped", (own,), lambda: _read_other(project))


@pytest.fixture
def builds(tmp_path: Path) -> Builds:
    project_dir = write_synthetic_project(tmp_path / "p", 3, seed=5)
    return Builds(Recompiler(project_dir).compile().project)


def _with_doc(builds: Builds, name: str, doc: str | None) -> ir.Entity:
    entity = builds.project.entity(name)
    assert entity is not None
    return entity.replace(doc=doc)


def test_a_node_kept_by_same_objects_is_checked_when_called_after_its_read_changed(
    builds: Builds,
) -> None:
    """A `same_objects` hit keeps its nodes without checking them: the build after it, one
    checked two builds ago must compare its hashes, though nothing changed since the last."""
    first, _ = builds.build(lambda p: (_reader_through_same_objects(p), _other_own_node(p)))
    builds.change(OTHER, _with_doc(builds, OTHER, "Changed."))
    kept, stats = builds.build(lambda p: (_reader_through_same_objects(p), _other_own_node(p)))
    assert kept == first and stats.computed_nodes == [f"test.field_names {OTHER}"]
    called, stats = builds.build(lambda p: (_read_other(p), _other_own_node(p)))
    assert called[0] == f"{OWN} reads Changed." and stats.computed == 1


def test_a_node_not_called_by_a_build_is_checked_when_called_after_its_read_changed(
    builds: Builds,
) -> None:
    """A build that calls some nodes only (`Session.model_now`) sees a change; the next
    build calls the node that read what changed, and must not trust its last check."""
    builds.build(lambda p: (_read_other(p), _other_own_node(p)))
    builds.change(OTHER, _with_doc(builds, OTHER, "Changed."))
    builds.build(_other_own_node, finish=False)
    found, stats = builds.build(_read_other)
    assert found == f"{OWN} reads Changed." and stats.computed == 1


def test_an_entity_changed_then_changed_back(builds: Builds) -> None:
    both = lambda p: (_read_other(p), _other_own_node(p))  # noqa: E731
    (first, _), _ = builds.build(both)
    original = builds.change(OTHER, _with_doc(builds, OTHER, "Changed."))
    (changed, _), stats = builds.build(both)
    assert changed == f"{OWN} reads Changed." and f"test.other_doc {OWN}" in stats.computed_nodes
    builds.change(OTHER, original)  # the very object of the first build
    (back, _), stats = builds.build(both)
    assert back == first and f"test.other_doc {OWN}" in stats.computed_nodes
    builds.change(OTHER, _with_doc(builds, OTHER, original.doc if original else None))
    (again, _), stats = builds.build(both)  # a new object equal to it: nothing runs
    assert again == first and stats.computed == 0


def test_an_entity_changed_and_back_while_a_node_reading_it_was_kept_uncalled(
    builds: Builds,
) -> None:
    """Its hashes compared, the node is reused: what it read is as when it was computed."""
    first, _ = builds.build(lambda p: (_reader_through_same_objects(p), _other_own_node(p)))
    original = builds.change(OTHER, _with_doc(builds, OTHER, "Changed."))
    builds.build(lambda p: (_reader_through_same_objects(p), _other_own_node(p)))
    builds.change(OTHER, _with_doc(builds, OTHER, original.doc if original else None))
    found, stats = builds.build(lambda p: (_read_other(p), _other_own_node(p)))
    assert found == first and stats.computed_nodes == [f"test.field_names {OTHER}"]


def test_a_node_that_read_an_entity_removed_since_is_computed_again(builds: Builds) -> None:
    builds.build(lambda p: (_read_other(p), _other_own_node(p)))
    builds.change(OTHER, None)
    found, stats = builds.build(_read_other)
    assert found == f"{OWN} reads nothing" and stats.computed == 1


def _copies(serial: int, project: ir.Project) -> list[bytes]:
    """Copies of objects made for this build, by `same_objects`."""
    made = [bytearray(b"%d.%d" % (serial, n)) for n in range(50)]
    return [same_objects("test.copy", (m,), partial(bytes, m)) for m in made]


def test_same_objects_does_not_take_a_new_object_for_a_dead_one_of_the_same_identity(
    builds: Builds,
) -> None:
    """`same_objects` keys its results by the identities of its objects, and keeps the
    objects alive: a new object cannot have the identity of one it remembers."""
    for serial in range(10):
        # Each build's objects are freed after it but for what remembers them: their
        # addresses, and identities, would be the next build's objects'.
        found, _ = builds.build(partial(_copies, serial))
        assert found == [b"%d.%d" % (serial, n) for n in range(50)]


@incremental("test.app_name")
def _app_name(project: Any) -> str:
    return str(project.app.name)


def _rename_app(builds: Builds) -> str:
    app = builds.project.app
    builds.project = builds.project.replace(app=app.replace(name=f"{app.name}_renamed"))
    return builds.project.app.name


def test_a_node_that_read_a_project_wide_part_is_checked_in_every_build(builds: Builds) -> None:
    """The project's parts other than entities are not known unchanged by identity."""
    builds.build(_app_name)
    renamed = _rename_app(builds)
    found, stats = builds.build(_app_name)
    assert found == renamed and stats.computed == 1
    found, stats = builds.build(_app_name)
    assert found == renamed and stats.reused == 1


def test_a_node_read_back_from_the_store_is_checked_in_the_first_build(builds: Builds) -> None:
    """A node no build of this process checked (`gen generate`, the first save of `gen
    dev`) compares its hashes, those of project-wide parts too."""
    builds.build(_app_name)
    renamed = _rename_app(builds)
    stored = builds.memo.kept
    builds.memo = Memo()
    builds.memo.kept = dict(stored)  # as the store gives them: bytes, unpickled on use
    found, stats = builds.build(_app_name)
    assert found == renamed and stats.computed == 1


@incremental("test.key_help")
def _key_help(project: ir.Project, entity: ir.Entity, other: str) -> str:
    """A node that reads only what a reference needs of `other` (`Project.ref_target`)."""
    target = project.ref_target(other)
    return f"{entity.name} refers to a key helped by {target.key.help if target else None}"


def test_a_reference_is_read_again_when_its_entity_comes_back_as_it_was(builds: Builds) -> None:
    """A build that hashes the reference but not the entity (as `model_now`'s may) leaves
    no hash of the entity behind: the entity back as it was two builds ago is suspect."""

    def reader(project: ir.Project) -> str:
        own = project.entity(OWN)
        assert own is not None
        return _key_help(project, own, OTHER)

    first, _ = builds.build(lambda p: (reader(p), _other_own_node(p)))
    other = builds.project.entity(OTHER)
    assert other is not None
    key = other.field(other.primary_key)
    helped = tuple(f.replace(help="changed") if f is key else f for f in other.fields)
    original = builds.change(OTHER, other.replace(fields=helped))
    changed, _ = builds.build(reader, finish=False)
    assert changed != first[0]
    builds.change(OTHER, original)  # the very object of the first build

    back, stats = builds.build(reader)

    assert back == first[0] and stats.computed == 1
