"""What a save under `gen dev` hands the store: the changed entity's parts, not whole files.

The whole-project files (`ir.json`, `trace.json`, `client/types.ts`, `db/tables.py`...)
are made of per-entity parts (`Artifact.joined`). A part that did not change is the very
bytes object of the last build, so the writer hashes only the new ones and the store
keeps each once (hookfs/store.py): the store grows by the change, not by the model.
"""

from __future__ import annotations

import gc
import re
import shutil
from pathlib import Path

import pytest

from bench.synthetic import write_synthetic_project
from generators.base import Artifact, Piece, PiecedArtifact
from generators.pipeline import MOST_UNCOLLECTED, Built, Session, build
from hookfs.graph import Memo
from tests.test_build_graph import edit
from tests.test_hookfs import stored_bytes

WHOLE_PROJECT_FILES = (
    "ir.json",
    "trace.json",
    "client/types.ts",
    "client/hooks.ts",
    "client/client.ts",
    "client/policies.ts",
    "db/tables.py",
    "db/schema.postgres.sql",
    "ui/prefetch.ts",
)


def pieces(artifacts: list[Artifact]) -> dict[str, tuple[bytes, ...]]:
    return {a.path: a.parts or (a.content,) for a in artifacts}


def new_bytes(before: list[Artifact], after: list[Artifact]) -> dict[str, int]:
    """Bytes of each artifact held in objects the earlier build did not have."""
    known = {id(part) for parts in pieces(before).values() for part in parts}
    found = {
        path: sum(len(part) for part in parts if id(part) not in known)
        for path, parts in pieces(after).items()
    }
    return {path: size for path, size in found.items() if size}


@pytest.fixture(scope="module")
def session(tmp_path_factory: pytest.TempPathFactory) -> Session:
    project = write_synthetic_project(tmp_path_factory.mktemp("dev-build") / "p", 60, seed=7)
    session = Session(project)
    session.generate()
    return session


def test_whole_project_files_are_made_of_parts(session: Session) -> None:
    built, _ = session.generate()
    by_path = {a.path: a for a in built.artifacts}
    for path in WHOLE_PROJECT_FILES:
        assert len(by_path[path].parts) > 60, f"{path} is not in per-entity parts"


def first_entities(project: Path) -> list[str]:
    """The first entity of each model file: a field added there moves all the others."""
    return sorted(
        re.findall(r'entity\(\n    "(\w+)",', path.read_text(encoding="utf-8"))[0]
        for path in (project / "domain").glob("*.model.py")
    )


@pytest.mark.parametrize("serial", range(2))
def test_a_save_that_moves_no_line_hands_over_its_parts_only(session: Session, serial: int) -> None:
    project = session.project_dir
    before, _ = session.generate()
    total = sum(len(a.content) for a in before.artifacts)
    stored_before = stored_bytes(project)

    edit(project, first_entities(project)[serial], "length", 40 + serial)
    after, report = session.generate()

    fresh = new_bytes(before.artifacts, after.artifacts)
    # The changed entity's parts and its readers' (trace.json's rows of their files), not
    # the files again: those were 90 % of the bytes.
    assert 0 < sum(fresh.values()) < total / 5, fresh
    assert all(size < 400_000 for size in fresh.values()), fresh
    assert "db/tables.py" in report.mirror.written  # a changed file is written whole
    assert 0 < stored_bytes(project) - stored_before < total / 5


@pytest.mark.parametrize("serial", range(2, 4))
def test_a_field_added_hands_over_parts_of_the_files_without_line_numbers(
    session: Session, serial: int
) -> None:
    """`trace.json` and `ir.json` give source lines (and trace.json the lines of every
    file): lines that moved are new bytes there. The other files get the change only."""
    project = session.project_dir
    before, _ = session.generate()

    firsts = first_entities(project)
    edit(project, firsts[serial % len(firsts)], "add", serial)
    after, _ = session.generate()

    fresh = new_bytes(before.artifacts, after.artifacts)
    assert fresh.keys() & {"client/types.ts", "db/tables.py"}
    lineless = {path: size for path, size in fresh.items() if path not in LINES_GIVEN}
    assert all(size < 32_000 for size in lineless.values()), lineless


#: The files that give source or generated lines.
LINES_GIVEN = ("trace.json", "ir.json")


@pytest.mark.parametrize("serial", range(4, 6))
def test_a_field_added_renews_a_small_part_of_trace_json(session: Session, serial: int) -> None:
    """A field added to the first entity of a model file moves the model lines of every
    entity below it, and the lines of every entity after it in each whole-project file.
    trace.json gives them relative to their entity (docs/trace.md): what is new is the
    changed entity's rows and the small tables of where the others are."""
    project = session.project_dir
    before, _ = session.generate()

    firsts = first_entities(project)
    changed = firsts[serial % len(firsts)]
    edit(project, changed, "add", serial)
    after, _ = session.generate()

    trace = next(a for a in after.artifacts if a.path == "trace.json")
    fresh = new_bytes(before.artifacts, after.artifacts)["trace.json"]
    assert fresh < 24_000 < len(trace.content) / 10, (fresh, len(trace.content))
    # Moved, not changed: the rows of the entities below the changed one are the same parts.
    kept = {id(part) for part in pieces(before.artifacts)["trace.json"]}
    model_file = after.project.entity(changed).loc.file
    moved = [e.name for e in after.project.entities if e.loc.file == model_file]
    rows = {name: _row_of(trace, name) for name in moved if name != changed}
    assert len(rows) > 2 and all(id(row) in kept for row in rows.values())


def _row_of(trace: Artifact, entity: str) -> bytes:
    """The part of trace.json holding the entity's row (and its fields')."""
    head = b',\n    "%b": {' % entity.encode()
    return next(part for part in trace.parts if part.startswith(head))


def test_gen_devs_builds_are_frozen_out_of_the_collectors_way_until_collected(
    tmp_path: Path,
) -> None:
    session = Session(write_synthetic_project(tmp_path / "p", 6, seed=3), quiet_collector=True)
    try:
        session.generate()
        assert gc.isenabled() and gc.get_freeze_count() > 0
        session.collect_garbage()
        assert gc.get_freeze_count() == 0 and session.uncollected == 0

        for _ in range(MOST_UNCOLLECTED + 1):  # never quiet: the session collects anyway
            session.generate()
        assert session.uncollected == 1
    finally:
        session.close()
    assert gc.get_freeze_count() == 0  # closed: what it froze is the collector's again


EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "invoices"


def test_an_entity_moved_down_is_in_ir_json_where_it_is_now(tmp_path: Path) -> None:
    """A field added to InvoiceLine moves Payment and Comment down its file. ir.json moves
    the line numbers of their last pieces instead of dumping them again, in that file only:
    Payment's rules declared in policies/payments.policy.py stay where they are."""
    project = tmp_path / "invoices"
    shutil.copytree(EXAMPLE, project)
    session = Session(project)
    before, _ = session.generate()
    model = project / "domain" / "invoices.model.py"
    text = model.read_text(encoding="utf-8")
    at = text.index("    fields={\n", text.index("InvoiceLine = entity(")) + len("    fields={\n")
    model.write_text(text[:at] + '        "note": text(),\n' + text[at:], encoding="utf-8")

    after, _ = session.generate()

    payment = after.project.entity("Payment")
    assert payment is not None and payment.loc.line == before.project.entity("Payment").loc.line + 1
    assert any("policies/" in loc for loc in _locations(ir_piece(after, "Payment")))
    assert ir_piece(after, "Payment").regions is ir_piece(before, "Payment").regions  # moved
    from_nothing = build(project, Memo())
    assert _content(after, "ir.json") == _content(from_nothing, "ir.json")


def ir_piece(built: Built, entity: str) -> Piece:
    (ir_json,) = [a for a in built.artifacts if a.path == "ir.json"]
    assert isinstance(ir_json, PiecedArtifact)
    head = b'\n      "name": "%b",\n' % entity.encode()  # the entity's, 6 spaces in
    return next(piece for piece in ir_json.pieces if head in piece.content)


def _locations(piece: Piece) -> list[str]:
    found = re.findall(rb'"file": "([^"]*)",\n *"line": (\d+)', piece.content)
    return [f"{file.decode()}:{line.decode()}" for file, line in found]


def _content(built: Built, path: str) -> bytes:
    return next(a.content for a in built.artifacts if a.path == path)


def test_a_cycle_of_foreign_keys_made_by_a_save_is_marked_use_alter(tmp_path: Path) -> None:
    """db/tables.py marks a foreign key between tables that lead to each other `use_alter`;
    the cycles are found again only when the tables' keys change, and are under `gen dev`."""
    project = tmp_path / "invoices"
    shutil.copytree(EXAMPLE, project)
    session = Session(project)
    before, _ = session.generate()
    assert b"use_alter=True" not in _content(before, "db/tables.py")
    catalog = project / "domain" / "catalog.model.py"
    text = catalog.read_text(encoding="utf-8")
    declared = '"code": slug().primary().max_length(20),\n'
    assert declared in text
    added = declared + '        "favourite": ref("Product").on_delete("set_null"),\n'
    catalog.write_text(text.replace(declared, added), encoding="utf-8")

    after, _ = session.generate()

    tables = _content(after, "db/tables.py")
    assert tables.count(b"use_alter=True") == 2  # TaxRate -> Product, Product -> TaxRate
    assert tables == _content(build(project, Memo()), "db/tables.py")


def test_what_refers_to_an_entity_is_made_again_when_its_key_changes_only(tmp_path: Path) -> None:
    """Product refers to TaxRate, whose key is its `code`. A field added to TaxRate leaves
    what Product's generators made as it was (they read what a reference needs of
    TaxRate); a longer code changes Product's foreign key column, as from nothing."""
    project = tmp_path / "invoices"
    shutil.copytree(EXAMPLE, project)
    session = Session(project)
    session.generate()
    catalog = project / "domain" / "catalog.model.py"
    key = '"code": slug().primary().max_length(20),\n'

    catalog.write_text(
        catalog.read_text().replace(key, key + '        "note": text(),\n'), encoding="utf-8"
    )
    added, _ = session.generate()
    assert not [node for node in added.stats.computed_nodes if node.endswith(" Product")]

    catalog.write_text(catalog.read_text().replace(key, key.replace("20", "30")), "utf-8")
    longer, _ = session.generate()
    assert "db.table Product" in longer.stats.computed_nodes
    schema = _content(longer, "db/schema.postgres.sql")
    assert b"    tax_rate_id varchar(30),\n" in schema
    from_nothing = build(project, Memo())
    for path in (
        "db/schema.postgres.sql",
        "db/tables.py",
        "client/types.ts",
        "api/shapes/product.py",
    ):
        assert _content(longer, path) == _content(from_nothing, path), path
