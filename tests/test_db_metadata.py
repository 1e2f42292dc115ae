"""`db/tables.py`: SQLAlchemy metadata that builds exactly the database of `schema.postgres.sql`.

The proof runs on a real PostgreSQL, for the invoices example, a synthetic model with every
feature (bench/synthetic.py), a model of awkward cases (reserved words, colons, percent
signs, backslashes, long texts, an integer key, a cycle of foreign keys) and models of
tests/test_migrations.py: the generated module is imported, `metadata.create_all()` on one
fresh database and the DDL file on another give the same catalog, and Alembic's autogenerate
finds nothing to change between the metadata and the database the DDL built. The example's
module is pinned, laid out as `ruff format` lays it out, and traced back to the model.
"""

from __future__ import annotations

import ast
import importlib.util
import itertools
import subprocess
import sys
import warnings
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.dialects import postgresql
from syrupy.assertion import SnapshotAssertion

from bench.synthetic import write_synthetic_project
from compiler.compile import compile_project
from generators.base import Artifact
from generators.db import PACKAGE_PATH, SCHEMA_PATH, TABLES_PATH, DbGenerator
from generators.db.lower import lower_schema
from generators.db.metadata import sql_clause, sql_string
from generators.db.pysource import layout_module, python_string
from tests import pg
from tests.catalog import catalog, diff_catalogs
from tests.conftest import EXAMPLE, MakeProject
from tests.test_migrations import HEADER, MODEL, PAIRS

AWKWARD = r"""
Order = entity(
    "Order",
    doc="An order: 50% paid, \"quoted\", it's a back\\slash and a :colon. " + "Long. " * 12,
    fields={
        "number": integer().primary(),
        "select": text().required().pattern(r"^ab:cd$").default("a:b"),
        "limit": text().pattern(r"^a\:b$").help("Ünïcode 日本語, a tab\there, 100%"),
        "check": text().pattern(r"^100%$").min_length(2).max_length(20),
        "code": text().pattern(r"^(:[a-z]+)$").default("x" * 90),
        "label": text().computed(F("select") + ":x"),
        "parent": ref("Order").on_delete("set_null"),
        "tags": array(enum(["red", "green", "blue"])).default(["red"]),
        "ratio": decimal().default(0.5),
        "price": decimal(12, 2).required().default(10).min(0).max(99999),
        "when": date(),
        "attrs": json().default(["x", "y"]),
        "stamp": datetime().default(now()),
        "token": uuid(),
        "flag": boolean().required().default(False),
    },
    indexes=[
        index("select", "attrs", using="gin"),
        index("stamp", using="brin"),
        index("select", using="hash"),
        index("limit").where(F("select") != ":y"),
        index("check", "number").unique().where(F("flag") == True),
    ],
)

Shelf = entity(
    "Shelf",
    fields={
        "name": text().required(),
        "best": one(ref("Item")),
        "orders": many_to_many("Order"),
    },
)

Item = entity(
    "Item",
    tenant=True,
    fields={
        "shelf": ref("Shelf").required().on_delete("cascade"),
        "about": ref(["Order", "Shelf"]),
        "total": money().computed(F("qty") * F("unit")),
        "qty": integer().required().default(1),
        "unit": money().required(),
        "share": decimal(6, 3).computed(F("qty") / F("qty")),
    },
)
"""

#: Models of tests/test_migrations.py beyond what the others show.
PAIR_IDS = ("polymorphic ref added", "gin index on text", "enum value removed with mapping")

#: Generated columns whose expression PostgreSQL prints in other words than the model's SQL
#: (`CAST(qty AS numeric)` comes back as `(qty)::numeric`, a text literal gains `::text`).
#: Alembic compares such expressions as text, so for these it cannot tell equal from changed:
#: it warns "Computed default on <table>.<column> cannot be modified" and reports no
#: difference. That they are equal is what the catalogs of the first test show.
UNCOMPARABLE_COMPUTED = {"awkward": {"item.share", "order.label"}}


@pytest.fixture(scope="module")
def example_artifacts() -> dict[str, Artifact]:
    return artifacts_of(EXAMPLE)


@pytest.fixture
def ddl_db(pg_admin_url: str) -> Iterator[str]:
    """Another fresh database, for the DDL beside `fresh_db` for the metadata."""
    url = pg.create_database(pg_admin_url)
    yield url
    pg.drop_database(pg_admin_url, url)


def artifacts_of(root: Path) -> dict[str, Artifact]:
    return {a.path: a for a in DbGenerator().generate(compile_project(root).project)}


def project_root(name: str, make_project: MakeProject, tmp_path: Path) -> Path:
    """The project of one model this file proves the metadata on."""
    if name == "example":
        return EXAMPLE
    if name == "synthetic":
        return write_synthetic_project(tmp_path / "synthetic", 60)
    if name == "awkward":
        return make_project({MODEL: HEADER + AWKWARD})
    pair = next(p for p in PAIRS if p.id == name)
    return make_project({MODEL: HEADER + pair.after})


MODELS = ("example", "synthetic", "awkward", *PAIR_IDS)
_imported = itertools.count()


def import_tables(artifacts: dict[str, Artifact], folder: Path) -> ModuleType:
    """Write the `db` package where the API would find it and import `db/tables.py` from it."""
    for path in (PACKAGE_PATH, TABLES_PATH):
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(artifacts[path].content)
    name = f"generated_tables_{next(_imported)}"
    spec = importlib.util.spec_from_file_location(name, folder / TABLES_PATH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def build_from_ddl(artifacts: dict[str, Artifact], url: str) -> None:
    with pg.connect(url) as conn:
        conn.execute(artifacts[SCHEMA_PATH].content.decode())  # type: ignore[call-overload]


def create_all(metadata: sa.MetaData, url: str) -> None:
    engine = sa.create_engine(url)
    try:
        metadata.create_all(engine)
    finally:
        engine.dispose()


def autogenerate(metadata: sa.MetaData, url: str) -> tuple[list[object], list[str]]:
    """What Alembic's autogenerate would change in the database at `url`, and its warnings."""
    engine = sa.create_engine(url)
    try:
        with warnings.catch_warnings(record=True) as caught, engine.connect() as conn:
            warnings.simplefilter("always")
            context = MigrationContext.configure(
                conn, opts={"compare_type": True, "compare_server_default": True}
            )
            differences = compare_metadata(context, metadata)
    finally:
        engine.dispose()
    # Only Alembic's and SQLAlchemy's own warnings: a ResourceWarning of another test's
    # file, collected by the garbage collector meanwhile, says nothing about this schema.
    ours = [w for w in caught if not issubclass(w.category, ResourceWarning)]
    return list(differences), [str(w.message) for w in ours]


# The proof ------------------------------------------------------------------------------------


@pytest.mark.parametrize("model", MODELS)
def test_create_all_builds_the_database_of_the_ddl(
    model: str, make_project: MakeProject, tmp_path: Path, fresh_db: str, ddl_db: str
) -> None:
    artifacts = artifacts_of(project_root(model, make_project, tmp_path))
    create_all(import_tables(artifacts, tmp_path / "generated").metadata, fresh_db)
    build_from_ddl(artifacts, ddl_db)
    built, expected = catalog(fresh_db), catalog(ddl_db)
    assert diff_catalogs(built, expected) == []
    assert expected["tables"], "nothing was compared"


@pytest.mark.parametrize("model", MODELS)
def test_alembic_finds_nothing_to_change(
    model: str, make_project: MakeProject, tmp_path: Path, fresh_db: str
) -> None:
    artifacts = artifacts_of(project_root(model, make_project, tmp_path))
    build_from_ddl(artifacts, fresh_db)
    metadata = import_tables(artifacts, tmp_path / "generated").metadata
    differences, warned = autogenerate(metadata, fresh_db)
    assert differences == []
    expected = UNCOMPARABLE_COMPUTED.get(model, set())
    assert sorted(warned) == sorted(f"Computed default on {c} cannot be modified" for c in expected)


def test_the_models_cover_what_the_metadata_can_say(
    make_project: MakeProject, tmp_path: Path
) -> None:
    sources = "".join(
        artifacts_of(project_root(m, make_project, tmp_path))[TABLES_PATH].content.decode()
        for m in MODELS
    )
    for construct in (
        "postgresql.ENUM(",
        "postgresql.ARRAY(order_tags_enum)",
        "sa.Computed(",
        "autoincrement=False",
        "use_alter=True",
        'ondelete="RESTRICT"',
        'ondelete="SET NULL"',
        'postgresql_using="gin"',
        'postgresql_using="hash"',
        'postgresql_using="brin"',
        "postgresql_where=sa.text(",
        "sa.text(\"to_tsvector('simple'::regconfig",
        "sa.literal_column(",
        "\\\\:",
        "unique=True",
        "comment=",
    ):
        assert construct in sources, construct


# The module as a developer reads it ---------------------------------------------------------


def test_example_tables_are_pinned(
    example_artifacts: dict[str, Artifact], snapshot: SnapshotAssertion
) -> None:
    assert example_artifacts[TABLES_PATH].content.decode() == snapshot


def test_the_package_marker_is_one_header_line(example_artifacts: dict[str, Artifact]) -> None:
    marker = example_artifacts[PACKAGE_PATH].content.decode()
    assert marker.startswith("# Generated by Reframe (rule db.package).")
    assert marker.count("\n") == 1 and marker.endswith("\n")


@pytest.mark.parametrize("model", ("example", "awkward", "synthetic"))
def test_generating_twice_gives_the_same_bytes(
    model: str, make_project: MakeProject, tmp_path: Path
) -> None:
    root = project_root(model, make_project, tmp_path)
    first, again = artifacts_of(root), artifacts_of(root)
    for path in (PACKAGE_PATH, TABLES_PATH):
        assert first[path].content == again[path].content
        assert first[path].regions == again[path].regions


@pytest.mark.parametrize("model", ("example", "awkward", "synthetic"))
def test_ruff_formats_it_as_it_is(model: str, make_project: MakeProject, tmp_path: Path) -> None:
    artifacts = artifacts_of(project_root(model, make_project, tmp_path))
    folder = tmp_path / "out"
    folder.mkdir()
    for path in (PACKAGE_PATH, TABLES_PATH):
        (folder / path.replace("/", "_")).write_bytes(artifacts[path].content)
    ruff = [sys.executable, "-m", "ruff"]
    # --isolated: ruff's defaults (88 columns), as in a project of its own, not this repo's.
    formatted = subprocess.run(
        [*ruff, "format", "--isolated", "--check", "--diff", "."],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    checked = subprocess.run(
        [*ruff, "check", "--isolated", "--select", "E,F,W,I,UP", "--ignore", "E501", "."],
        cwd=folder,
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


# Tracing back to the model ----------------------------------------------------------------------


def line_of(text: str, start: str, after: int = 0) -> int:
    """The 1-based number of the first line from line `after` on that starts with `start`."""
    lines = text.splitlines()
    return next(n for n in range(after, len(lines)) if lines[n].lstrip().startswith(start)) + 1


@pytest.mark.parametrize(
    ("statement", "argument", "origin"),
    [
        ("invoice_table = sa.Table(", None, "Invoice"),
        ("invoice_table = sa.Table(", '"status",', "Invoice.status"),
        ("invoice_table = sa.Table(", 'sa.Column("due_date"', "Invoice.due_date"),
        ("invoice_table = sa.Table(", '"ix_invoice_due_date_partial",', "Invoice"),
        ("invoice_line_table = sa.Table(", '"total",', "InvoiceLine.total"),
        ("invoice_line_table = sa.Table(", '["invoice_id"],', "InvoiceLine.invoice"),
        ("address_table = sa.Table(", '"char_length(country) >= 2",', "Address.country"),
        ("invoice_tag_table = sa.Table(", None, "Invoice.tags"),
        ("invoice_status_enum = postgresql.ENUM(", None, "Invoice.status"),
    ],
)
def test_each_line_leads_back_to_the_model(
    example_artifacts: dict[str, Artifact], statement: str, argument: str | None, origin: str
) -> None:
    artifact = example_artifacts[TABLES_PATH]
    text = artifact.content.decode()
    line = line_of(text, statement)
    if argument is not None:
        line = line_of(text, argument, after=line)
    assert artifact.origin_at(line) == (origin,)


def test_every_table_statement_is_traced_to_its_entity(
    example_artifacts: dict[str, Artifact],
) -> None:
    artifact = example_artifacts[TABLES_PATH]
    module = ast.parse(artifact.content)
    tables = {
        node.targets[0].id: (node.lineno, node.end_lineno)
        for node in module.body
        if isinstance(node, ast.Assign)
        and isinstance(node.targets[0], ast.Name)
        and node.targets[0].id.endswith("_table")
    }
    traced = {(r.start, r.end): r.origin for r in artifact.regions}
    project = compile_project(EXAMPLE).project
    expected = [e.name for e in project.entities] + [j.serves[0] for j in project.join_tables]
    expected += [t.origin for t in lower_schema(project).tables if t.uid.startswith("reframe.")]
    assert [traced[span] for span in tables.values()] == expected


def test_gen_inspect_reads_a_line_of_tables_py(example_copy: Path) -> None:
    from tests.test_cli import gen

    text = artifacts_of(example_copy)[TABLES_PATH].content.decode()
    line = line_of(text, '"status",', after=line_of(text, "invoice_table = sa.Table("))
    found = gen("--project", str(example_copy), "inspect", f"generated/{TABLES_PATH}:{line}")
    assert found.exit_code == 0, found.output
    assert "Invoice.status" in found.output


# The pieces --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "value",
    [
        "plain",
        "it's",
        'say "hi"',
        "both ' and \"",
        "back\\slash",
        "tab\tnew\nline",
        "é 日本",
        "\x00",
    ],
)
def test_python_strings_mean_what_they_say(value: str) -> None:
    assert ast.literal_eval(python_string(value)) == value


@pytest.mark.parametrize(
    ("sql", "source"),
    [
        ("quantity >= 1", '"quantity >= 1"'),
        ("'draft'::invoice_status", "\"'draft'::invoice_status\""),
        ("(x || ':y')", "\"(x || '\\\\:y')\""),
        ("x ~ 'a:b'", "\"x ~ 'a:b'\""),
        ("x ~ '^a\\:b$'", "sa.literal_column(\n\"x ~ '^a\\\\:b$'\",\n)"),
    ],
    ids=["plain", "cast", "bind-like colon", "colon inside a word", "backslash colon"],
)
def test_sql_reaches_sqlalchemy_unchanged(sql: str, source: str) -> None:
    assert sql_string(sql) == source
    clause = sql_clause(sql)
    assert clause == source if source.startswith("sa.") else clause.startswith("sa.text(\n")
    check = sa.CheckConstraint(eval(source, {"sa": sa}), name="ck")
    created = sa.schema.CreateTable(sa.Table("t", sa.MetaData(), sa.Column("x", sa.Text()), check))
    assert f"CHECK ({sql})" in str(created.compile(dialect=postgresql.dialect()))


def test_layout_joins_what_fits_and_explodes_the_rest() -> None:
    short = "f(\n    a,\n    g(\n        b,\n    ),\n)\n"
    assert layout_module(short)[0] == "f(a, g(b))\n"
    long = "x = f(\n" + "".join(f"    {python_string('y' * 30)},\n" for _ in range(3)) + ")\n"
    text, (statement,) = layout_module(long)
    assert text.splitlines()[0] == "x = f("
    assert text.splitlines()[1] == f'    "{"y" * 30}",'
    assert (statement.target, statement.start, statement.end) == ("x", 1, 5)
    assert statement.items == ((2, 2), (3, 3), (4, 4))
