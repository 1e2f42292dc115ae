"""The incremental compile (compiler/incremental.py): what `gen dev` compiles on a save
is what a compile from nothing gives, model, errors and all, and it redoes little."""

from __future__ import annotations

import re
from decimal import Decimal
from pathlib import Path
from types import SimpleNamespace

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bench.synthetic import write_synthetic_project
from compiler.compile import Compiled, compile_project
from compiler.diagnostics import CompileError
from compiler.dsl.same import lines_moved, printed, same_declaration
from compiler.expr import F
from compiler.incremental import Recompiler
from compiler.source import SourceLoc
from tests.conftest import MakeProject
from tests.test_build_graph import edit

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoices"
#: Edits that break a model, each in a way a later pass finds (a pass runs every entity then).
BREAKING = {
    "unknown ref": '        "broken": ref("NoSuchEntity"),\n',
    "bad computed": '        "broken": integer().computed(F("no_such_field") + 1),\n',
    "bad modifier": '        "broken": boolean().max_length(3),\n',
}


def outcome(compile_: object) -> str:
    """The IR a compile gave as JSON (`==` of IR nodes takes 0 for 0.0), or its errors."""
    try:
        compiled = compile_()  # type: ignore[operator]
    except CompileError as exc:
        return exc.render()
    assert isinstance(compiled, Compiled)
    return compiled.project.model_dump_json()


def break_entity(project: Path, name: str, how: str) -> None:
    for path in sorted((project / "domain").glob("*.model.py")):
        text = path.read_text(encoding="utf-8")
        start = text.find(f'entity(\n    "{name}",')
        if start >= 0:
            at = text.index("    fields={\n", start) + len("    fields={\n")
            path.write_text(text[:at] + BREAKING[how] + text[at:], encoding="utf-8")
            return
    raise AssertionError(f"no entity {name}")


def mend(project: Path) -> None:
    for path in (project / "domain").glob("*.model.py"):
        text = path.read_text(encoding="utf-8")
        for line in BREAKING.values():
            text = text.replace(line, "")
        path.write_text(text, encoding="utf-8")


@pytest.fixture(scope="module")
def small(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Recompiler]:
    project = write_synthetic_project(tmp_path_factory.mktemp("incremental") / "small", 24, seed=5)
    recompiler = Recompiler(project)
    recompiler.compile()
    return project, recompiler


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(min_value=0, max_value=23),
            st.sampled_from(["add", "length", "doc", "label", "name", *BREAKING, "mend"]),
            st.integers(min_value=0, max_value=999),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_an_incremental_compile_gives_what_a_compile_from_nothing_gives(
    small: tuple[Path, Recompiler], edits: list[tuple[int, str, int]]
) -> None:
    project, recompiler = small
    names = re.findall(r'entity\(\n    "(\w+)",', _model_text(project))
    for index, change, argument in edits:
        if change in BREAKING:
            break_entity(project, names[index], change)
        elif change == "mend":
            mend(project)
        else:
            edit(project, names[index], change, argument)
        assert outcome(recompiler.compile) == outcome(lambda: compile_project(project))
    mend(project)


def test_one_field_reruns_the_steps_of_its_file_and_reuses_the_rest(
    small: tuple[Path, Recompiler],
) -> None:
    project, recompiler = small
    mend(project)
    recompiler.compile()
    unchanged = recompiler.compile()
    assert unchanged.reuse is not None and unchanged.reuse.computed == 0

    edit(project, re.findall(r'entity\(\n    "(\w+)",', _model_text(project))[-1], "add", 1)
    compiled = recompiler.compile()
    assert compiled.project.model_dump_json() == compile_project(project).project.model_dump_json()
    steps = unchanged.reuse.reused // len(unchanged.project.entities)
    # The last entity's file (its own entities run again, the others' results are kept).
    assert compiled.reuse is not None
    assert 0 < compiled.reuse.computed <= steps * 10
    assert compiled.reuse.reused > 3 * compiled.reuse.computed


def test_a_changed_policy_file_helper_module_or_gen_toml_is_seen(example_copy: Path) -> None:
    project = example_copy
    recompiler = Recompiler(project)
    recompiler.compile()

    policies = project / "policies" / "payments.policy.py"
    policies.write_text(
        policies.read_text().replace('delete=role("admin")', 'delete=role("billing")')
    )
    compiled = recompiler.compile()
    assert outcome(lambda: compiled) == outcome(lambda: compile_project(project))
    payment = compiled.project.entity("Payment")
    assert payment is not None and "billing" in next(
        r.text for r in payment.rules if r.operation == "delete"
    )

    # A model file reads a helper module of the project: its change is a change of the model.
    (project / "customer_limits.py").write_text("NAME_LENGTH = 200\n")
    customers = project / "domain" / "customers.model.py"
    text = customers.read_text()
    declared = '"name": text().required().max_length(200)'
    assert declared in text
    customers.write_text(
        "from customer_limits import NAME_LENGTH\n"
        + text.replace(declared, declared.replace("200", "NAME_LENGTH"), 1)
    )
    recompiler.compile()
    (project / "customer_limits.py").write_text("NAME_LENGTH = 80\n")
    compiled = recompiler.compile()
    assert outcome(lambda: compiled) == outcome(lambda: compile_project(project))
    name = compiled.project.field("Customer.name")
    assert name is not None and name.max_length == 80

    toml = project / "gen.toml"
    toml.write_text(
        toml.read_text().replace(
            '"admin", "billing", "member"', '"admin", "billing", "member", "auditor"'
        )
    )
    compiled = recompiler.compile()
    assert outcome(lambda: compiled) == outcome(lambda: compile_project(project))
    assert "auditor" in compiled.project.app.roles


def _model_text(project: Path) -> str:
    return "".join(p.read_text() for p in sorted((project / "domain").glob("*.model.py")))


def test_values_equal_in_python_but_written_differently_are_compiled_again(
    example_copy: Path,
) -> None:
    """`Decimal("0") == Decimal("0.0")`: a reused result must also be the same in JSON."""
    project = example_copy
    recompiler = Recompiler(project)
    recompiler.compile()
    catalog = project / "domain" / "catalog.model.py"
    assert ".min(0).max(1)" in catalog.read_text()
    catalog.write_text(catalog.read_text().replace(".min(0).max(1)", ".min(0.0).max(1.0)", 1))
    incremental = outcome(recompiler.compile)
    assert incremental == outcome(lambda: compile_project(project))
    assert '"min":"0.0","max":"1.0"' in incremental


def test_a_helper_module_two_model_files_import_is_declared_once(example_copy: Path) -> None:
    """A helper runs in the first model file that imports it; an edit of another one
    must not declare the helper's entities a second time."""
    project = example_copy
    (project / "shared_notes.py").write_text(
        'from compiler.dsl import entity, text\nNote = entity("Note", fields={"body": text()})\n'
    )
    for name in ("catalog", "customers"):
        model = project / "domain" / f"{name}.model.py"
        model.write_text("import shared_notes  # noqa: F401\n" + model.read_text())
    recompiler = Recompiler(project)
    assert recompiler.compile().project.entity("Note") is not None
    customers = project / "domain" / "customers.model.py"
    customers.write_text(customers.read_text().replace("max_length(200)", "max_length(210)", 1))
    assert outcome(recompiler.compile) == outcome(lambda: compile_project(project))


def test_a_file_run_again_keeps_what_it_declares_the_same(example_copy: Path) -> None:
    """A save that leaves a file's declarations as they were (a comment) recompiles none of
    them; one that changes an expression in place (same lines) recompiles that entity."""
    project = example_copy
    recompiler = Recompiler(project)
    recompiler.compile()
    invoices = project / "domain" / "invoices.model.py"
    invoices.write_text(invoices.read_text() + "\n# a note\n")
    compiled = recompiler.compile()
    assert compiled.reuse is not None and compiled.reuse.computed == 0

    total = '"total": money().computed(F("subtotal") + F("tax")),'
    invoices.write_text(invoices.read_text().replace(total, total.replace('"tax"', '"paid"')))
    compiled = recompiler.compile()
    assert compiled.reuse is not None and compiled.reuse.computed > 0
    assert outcome(lambda: compiled) == outcome(lambda: compile_project(project))
    total_field = compiled.project.field("Invoice.total")
    assert total_field is not None and '"paid"' in total_field.model_dump_json()


def test_declarations_the_same_in_python_but_not_in_json_are_not_the_same() -> None:
    assert same_declaration({"a": 1}, {"a": 1})
    assert not same_declaration({1: "a"}, {True: "a"})  # "1" and "true" in JSON
    assert not same_declaration((Decimal("0"),), (Decimal("0.0"),))
    assert not same_declaration(F("a") + 1, F("a") + 2)
    assert same_declaration(F("a") + 1, F("a") + 1)


def test_declarations_moved_down_are_the_same_moved_by_the_lines_added() -> None:
    path = "domain/a.model.py"

    def field_at(line: int, above: int) -> tuple[object, bytes | None]:
        decl = text(
            loc=SourceLoc(path, line),
            modifier_locs={"max_length": SourceLoc(path, line + 1)},
            shared=SourceLoc(path, above),
        )
        return decl, printed(decl, decl.loc)  # type: ignore[attr-defined]

    assert lines_moved(*field_at(10, 2), *field_at(10, 2)) == 0
    assert lines_moved(*field_at(13, 5), *field_at(10, 2)) == 3
    # Something it uses was declared above it and did not move with it: not the same.
    assert lines_moved(*field_at(13, 2), *field_at(10, 2)) is None
    assert not same_declaration((0.0,), (-0.0,))
    assert not same_declaration([1], [1.0])
    assert not same_declaration(lambda: 1, lambda: 1)  # cannot be pickled: compiled again


def text(**attributes: object) -> object:
    """A stand-in declaration: an object holding locations (compiler/dsl's are dataclasses)."""
    return SimpleNamespace(**attributes)


#: Lines added at the top of a model file: every declaration of the file moves down.
HEADER = "# a note\n# another\n\n"


def _locations(compiled: Compiled) -> set[tuple[str, str]]:
    return set(re.findall(r'"loc":\{"file":"([^"]+)","line":(\d+)\}', outcome(lambda: compiled)))


def test_lines_added_above_declarations_move_what_was_compiled_of_them(
    example_copy: Path,
) -> None:
    """Entities below added lines are not compiled again: what was made of them moves down,
    every kind of location (fields, rules, actions, views, indexes, join tables) with it."""
    project = example_copy
    recompiler = Recompiler(project)
    before = recompiler.compile()
    for model in sorted((project / "domain").glob("*.model.py")):
        model.write_text(HEADER + model.read_text())
    moved = recompiler.compile()
    assert outcome(lambda: moved) == outcome(lambda: compile_project(project))
    assert moved.reuse is not None and moved.reuse.computed == 0  # none compiled again

    shifted = {
        (file, str(int(line) + 3) if file.startswith("domain/") else line)
        for file, line in _locations(before)
    }
    assert _locations(moved) == shifted
    invoice = moved.project.entity("Invoice")
    assert invoice is not None and invoice.loc.line == before.project.entity("Invoice").loc.line + 3  # type: ignore[union-attr]
    # The policy file's rule did not move: its file has no new lines (`shifted` says so too).
    payment = moved.project.entity("Payment")
    assert payment is not None
    assert {r.loc.file for r in payment.rules} >= {"policies/payments.policy.py"}
    assert moved.project.join_tables
    assert all(t.loc.line > 3 for t in moved.project.join_tables)


def test_lines_added_between_entities_move_the_ones_below_and_errors_name_where_they_are(
    example_copy: Path,
) -> None:
    project = example_copy
    recompiler = Recompiler(project)
    recompiler.compile()
    invoices = project / "domain" / "invoices.model.py"
    source = invoices.read_text()
    first, rest = source.split("\nInvoiceLine = entity(", 1)
    invoices.write_text(first + "\n# between\n\nInvoiceLine = entity(" + rest)
    compiled = recompiler.compile()
    assert outcome(lambda: compiled) == outcome(lambda: compile_project(project))
    assert compiled.reuse is not None and compiled.reuse.computed == 0

    # A moved entity that refers to one now missing: its error names its line as it is now.
    customers = project / "domain" / "customers.model.py"
    customers.write_text(HEADER + customers.read_text())
    catalog = project / "domain" / "catalog.model.py"
    catalog.write_text(catalog.read_text().replace('"Tag",', '"Label",', 1))
    errors = outcome(recompiler.compile)
    assert "error[" in errors and errors == outcome(lambda: compile_project(project))
    catalog.write_text(catalog.read_text().replace('"Label",', '"Tag",', 1))
    assert outcome(recompiler.compile) == outcome(lambda: compile_project(project))


def test_a_join_table_moves_with_the_entity_that_made_it(make_project: MakeProject) -> None:
    """Two entities listing each other share a join table, declared where the first is."""
    model = (
        "from compiler.dsl import entity, many_to_many, text\n\n"
        'entity("Author", fields={"name": text(), "books": many_to_many("Book")})\n\n'
        'entity("Book", fields={"title": text(), "authors": many_to_many("Author")})\n'
    )
    project = make_project({"domain/library.model.py": model})
    recompiler = Recompiler(project)
    recompiler.compile()
    path = project / "domain" / "library.model.py"
    for edit_ in (
        lambda s: s.replace('\nentity("Book"', '\n# the books\nentity("Book"'),  # Book only
        lambda s: HEADER + s,  # both
        lambda s: s.replace('entity("Author"', '# authors\nentity("Author"'),  # both again
    ):
        path.write_text(edit_(path.read_text()))
        compiled = recompiler.compile()
        from_nothing = compile_project(project).project
        assert compiled.project.model_dump_json() == from_nothing.model_dump_json()
        assert compiled.reuse is not None and compiled.reuse.computed == 0
        (table,) = compiled.project.join_tables
        author = compiled.project.entity("Author")
        assert author is not None and table.loc == author.field("books").loc  # type: ignore[union-attr]


def test_a_policy_in_a_model_file_keeps_its_lines_when_an_entity_moves(
    make_project: MakeProject,
) -> None:
    model = (
        "from compiler.dsl import entity, policy, role, text\n\n"
        'policy("Note", read=role("admin"))\n\n'
        'entity("Note", fields={"body": text()})\n'
    )
    project = make_project({"domain/notes.model.py": model})
    recompiler = Recompiler(project)
    recompiler.compile()
    path = project / "domain" / "notes.model.py"
    path.write_text(path.read_text().replace('\nentity("Note"', '\n# notes\nentity("Note"'))
    compiled = recompiler.compile()
    assert outcome(lambda: compiled) == outcome(lambda: compile_project(project))
    note = compiled.project.entity("Note")
    assert note is not None and note.loc.line == 6 and note.rule("read").loc.line == 3  # type: ignore[union-attr]


def test_what_only_later_steps_read_of_a_declaration_is_seen(example_copy: Path) -> None:
    """An index or a view is read from the entity's declaration by a late step, while what
    the steps before made of it stays the same object: the declaration's change alone must
    make that step run again."""
    project = example_copy
    recompiler = Recompiler(project)
    before = recompiler.compile().project.entity("Product")
    catalog = project / "domain" / "catalog.model.py"
    text = catalog.read_text()
    gin = 'indexes=[index("attributes", using="gin")]'
    assert gin in text
    catalog.write_text(
        text.replace(gin, 'indexes=[index("attributes", using="gin"), index("name")]')
    )

    compiled = recompiler.compile()

    assert outcome(lambda: compiled) == outcome(lambda: compile_project(project))
    product = compiled.project.entity("Product")
    assert before is not None and product is not None
    assert len(product.indexes) == len(before.indexes) + 1


def test_a_cycle_of_computed_fields_made_by_a_save_is_reported(example_copy: Path) -> None:
    """The check for cycles is skipped while the computed fields depend on each other as
    in the last good compile: a save that makes a cycle is checked, and refused."""
    project = example_copy
    recompiler = Recompiler(project)
    recompiler.compile()
    invoices = project / "domain" / "invoices.model.py"
    text = invoices.read_text()
    tax = '"tax": money().computed(sum_("lines.tax")),'
    assert tax in text
    invoices.write_text(text.replace(tax, '"tax": money().computed(F("total") - F("subtotal")),'))

    with pytest.raises(CompileError) as refused:
        recompiler.compile()

    assert "computed-cycle" in refused.value.render()
    assert outcome(recompiler.compile) == outcome(lambda: compile_project(project))
