"""Migrations on a real PostgreSQL: named before/after models, compared by catalog.

For each pair: the migrations applied in order give exactly the schema that
`schema.postgres.sql` of the after-model gives; down then up again ends in
the same schema; and `gen migrate make` right after says there is nothing to do.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from cli.migrate import MigrateError, make_migration
from compiler.compile import compile_project
from generators.db import ddl
from generators.db.diff import Answers
from generators.db.lower import lower_schema
from runtime.migrations import MigrationFailed, apply, down, status
from tests import pg
from tests.catalog import catalog, diff_catalogs
from tests.conftest import MakeProject

HEADER = "from compiler.dsl import *\n"
MODEL = "domain/app.model.py"

ITEM = """
Item = entity("Item", fields={{
    "name": text().required().max_length(50),
    "quantity": integer().required().default(1),
    "price": money().required().min(0),
{extra}}})
"""


def item(extra: str = "") -> str:
    return ITEM.format(extra=extra)


@dataclass(frozen=True)
class Pair:
    id: str
    before: str
    after: str
    #: Phrases that must appear in the plan's descriptions (the kind of change seen).
    expect: tuple[str, ...]
    answers: Answers = field(default_factory=Answers)
    destructive: bool = False


STATUS = 'state(["draft", "sent"], initial="draft", transitions={"send": ("draft", "sent")})'
STATUS3 = (
    'state(["draft", "sent", "paid"], initial="draft", '
    'transitions={"send": ("draft", "sent"), "pay": ("sent", "paid")})'
)
INVOICE = """
Invoice = entity("Invoice", fields={{
    "number": text().required(),
    "status": {status},
{extra}}}, actions={{{actions}}})
"""


def invoice(status: str = STATUS, extra: str = "", actions: str = '"send": action()') -> str:
    return INVOICE.format(status=status, extra=extra, actions=actions)


TAG = 'Tag = entity("Tag", fields={"name": text().required()})\n'

PAIRS = [
    Pair("add optional field", item(), item('    "note": text(),\n'), ("Add column item.note",)),
    Pair(
        "add required field with default",
        item(),
        item('    "rank": integer().required().default(5),\n'),
        ("Add column item.rank (integer, required)",),
    ),
    Pair(
        "add required field with backfill",
        item(),
        item('    "sku": text().required(),\n'),
        ("filling existing rows with",),
        Answers(backfills={"Item.sku": "unknown"}),
    ),
    Pair(
        "drop field",
        item('    "note": text(),\n'),
        item(),
        ("Drop column item.note",),
        destructive=True,
    ),
    Pair(
        "rename field with renamed_from",
        item('    "note": text().max_length(20),\n'),
        item('    "remark": text().max_length(20).renamed_from("note"),\n'),
        ("Rename column item.note to remark",),
    ),
    Pair(
        "rename field confirmed by flag",
        item('    "note": text(),\n'),
        item('    "memo": text(),\n'),
        ("Rename column item.note to memo",),
        Answers(renames={("Item.note", "Item.memo"): True}),
    ),
    Pair(
        "rename entity with renamed_from",
        item() + 'Line = entity("Line", fields={"item": ref("Item").required()})\n',
        item()
        .replace('entity("Item", fields', 'entity("Product", renamed_from="Item", fields')
        .replace("Item =", "Product =")
        + 'Line = entity("Line", fields={"item": ref("Product").required()})\n',
        ("Rename table item to product", "Rename constraint pk_item on product to pk_product"),
    ),
    Pair(
        "widen text",
        item(),
        item().replace("max_length(50)", "max_length(200)"),
        ("from varchar(50) to varchar(200)",),
    ),
    Pair(
        "drop max length",
        item(),
        item().replace(".max_length(50)", ""),
        ("from varchar(50) to text",),
    ),
    Pair(
        "integer to decimal",
        item(),
        item().replace(
            '"quantity": integer().required().default(1)',
            '"quantity": decimal(12, 2).required().default(1)',
        ),
        ("from integer to numeric(12, 2)",),
    ),
    Pair(
        "narrow text",
        item(),
        item().replace("max_length(50)", "max_length(10)"),
        ("narrowing",),
        destructive=True,
    ),
    Pair(
        "enum value added",
        item('    "kind": enum(["a", "b"]),\n'),
        item('    "kind": enum(["a", "x", "b"]),\n'),
        ("Add 'x' to enum type item_kind",),
    ),
    Pair(
        "enum value renamed",
        item('    "kind": enum(["a", "b"]),\n'),
        item('    "kind": enum(["a", "bee"]),\n'),
        ("'b' to 'bee'",),
        Answers(enum_maps={"Item.kind": {"b": "bee"}}),
    ),
    Pair(
        "enum value removed with mapping",
        item('    "kind": enum(["a", "b", "c"]).default("a"),\n'),
        item('    "kind": enum(["a", "c"]).default("a"),\n'),
        ("Replace enum type item_kind", "'b' -> 'a'"),
        Answers(enum_maps={"Item.kind": {"b": "a"}}),
        destructive=True,
    ),
    Pair(
        "state value added",
        invoice(),
        invoice(STATUS3, actions='"send": action(), "pay": action()'),
        ("Add 'paid' to enum type invoice_status",),
    ),
    Pair(
        "ref added",
        item() + TAG,
        item('    "tag": ref("Tag"),\n') + TAG,
        ("Add column item.tag_id", "Add foreign key fk_item_tag_id"),
    ),
    Pair(
        "ref on_delete changed",
        item('    "tag": ref("Tag"),\n') + TAG,
        item('    "tag": ref("Tag").on_delete("cascade"),\n') + TAG,
        ("Drop foreign key fk_item_tag_id", "(on delete CASCADE)"),
    ),
    Pair(
        "ref required to optional",
        item('    "tag": ref("Tag").required(),\n') + TAG,
        item('    "tag": ref("Tag"),\n') + TAG,
        ("Make item.tag_id optional",),
    ),
    Pair(
        "many to many added",
        item() + TAG,
        item('    "tags": many_to_many("Tag"),\n') + TAG,
        ("Create table item_tag",),
    ),
    Pair(
        "many to many removed",
        item('    "tags": many_to_many("Tag"),\n') + TAG,
        item() + TAG,
        ("Drop table item_tag",),
        destructive=True,
    ),
    Pair(
        "one to one added",
        item() + TAG,
        item('    "label": one(ref("Tag")),\n') + TAG,
        ("Create unique index uq_item_label_id on item concurrently",),
    ),
    Pair(
        "index added concurrently",
        item(),
        item().replace("})\n", '}, indexes=[index("name")])\n'),
        ("Create index ix_item_name on item concurrently",),
    ),
    Pair(
        "composite unique index added",
        item(),
        item().replace("})\n", '}, indexes=[index("name", "quantity").unique()])\n'),
        ("Create unique index uq_item_name_quantity",),
    ),
    Pair(
        "partial index added",
        item(),
        item().replace("})\n", '}, indexes=[index("name").where(F("quantity") > 0)])\n'),
        ("ix_item_name_partial",),
    ),
    Pair(
        "gin index on text",
        item(),
        item().replace("})\n", '}, indexes=[index("name", using="gin")])\n'),
        ("Create index ix_item_name on item concurrently",),
    ),
    Pair(
        "index removed",
        item().replace("})\n", '}, indexes=[index("name")])\n'),
        item(),
        ("Drop index ix_item_name",),
    ),
    Pair(
        "checks added and changed",
        item(),
        item().replace("min(0)", "min(1).max(1000)"),
        ("Drop check ck_item_price_min", "Add check ck_item_price_max"),
    ),
    Pair(
        "pattern added",
        item(),
        item('    "code": text().pattern(r"^[A-Z]+$"),\n'),
        ("Add column item.code",),
    ),
    Pair(
        "tenancy switched on",
        item(),
        item().replace('entity("Item", fields', 'entity("Item", tenant=True, fields'),
        ("Add required column item.tenant_id", "Add foreign key fk_item_tenant_id"),
        Answers(backfills={"Item.tenant": "00000000-0000-0000-0000-000000000000"}),
    ),
    Pair(
        "computed field added",
        item(),
        item('    "total": money().computed(F("quantity") * F("price")),\n'),
        ("Add column item.total (numeric(19, 4), generated)",),
    ),
    Pair(
        "computed expression changed",
        item('    "total": money().computed(F("quantity") * F("price")),\n'),
        item('    "total": money().computed(F("quantity") * F("price") * 2),\n'),
        ("Drop column item.total (generated: nothing is lost)", "Add column item.total"),
    ),
    Pair(
        "type change under a generated column",
        item('    "total": money().computed(F("quantity") * F("price")),\n'),
        item('    "total": money().computed(F("quantity") * F("price")),\n').replace(
            '"quantity": integer().required().default(1)',
            '"quantity": decimal(12, 2).required().default(1)',
        ),
        ("from integer to numeric(12, 2)", "Drop column item.total"),
    ),
    Pair("entity added", item(), item() + TAG, ("Create table tag",)),
    Pair("entity removed", item() + TAG, item(), ("Drop table tag",), destructive=True),
    Pair(
        "optional to required with default",
        item('    "note": text(),\n'),
        item('    "note": text().required().default("none"),\n'),
        ("Make item.note required, filling empty values with",),
    ),
    Pair(
        "doc and help changed",
        item('    "note": text(),\n'),
        item('    "note": text().help("Anything worth knowing"),\n').replace(
            'entity("Item", fields', 'entity("Item", doc="Things we sell.", fields'
        ),
        ("Set the comment of table item", "Set the comment of item.note"),
    ),
    Pair(
        "polymorphic ref added",
        item() + TAG,
        item('    "about": ref(["Tag", "Item"]),\n') + TAG,
        ("Add column item.about_type", "Add check ck_item_about_id_type"),
    ),
]


@pytest.fixture
def second_db(pg_admin_url: str) -> Iterator[str]:
    url = pg.create_database(pg_admin_url)
    yield url
    pg.drop_database(pg_admin_url, url)


def write_model(root: Path, source: str) -> None:
    (root / MODEL).write_text(HEADER + source, encoding="utf-8")


def ddl_catalog(root: Path, url: str) -> dict[str, object]:
    """The catalog of a database built from `schema.postgres.sql` of the current model."""
    schema = lower_schema(compile_project(root).project)
    with pg.connect(url) as conn:
        conn.execute(ddl.script([s for s, _ in ddl.schema_statements(schema)]))  # type: ignore[arg-type]
    return catalog(url)


@pytest.mark.parametrize("pair", PAIRS, ids=[p.id for p in PAIRS])
def test_migrations_reach_the_schema_of_the_model(
    pair: Pair, make_project: MakeProject, fresh_db: str, second_db: str
) -> None:
    root = make_project({MODEL: HEADER + pair.before})
    assert make_migration(root, "before", Answers()).revision is not None
    apply(root, fresh_db)
    before = catalog(fresh_db)

    write_model(root, pair.after)
    made = make_migration(root, "after", pair.answers, allow_destructive=pair.destructive)
    assert made.revision is not None
    described = "\n".join(op.description for op in made.plan.operations)
    for phrase in pair.expect:
        assert phrase in described, f"{phrase!r} not in the plan:\n{described}"
    assert (
        not [op for op in made.plan.operations if "Drop table" in op.description]
        or pair.destructive
    )

    apply(root, fresh_db)
    expected = ddl_catalog(root, second_db)
    assert diff_catalogs(catalog(fresh_db), expected) == []
    down(root, fresh_db, 1)
    assert diff_catalogs(catalog(fresh_db), before) == []
    apply(root, fresh_db)
    assert diff_catalogs(catalog(fresh_db), expected) == []
    again = make_migration(root, "again", Answers())
    assert again.revision is None and again.plan.operations == ()


def test_there_are_at_least_25_named_pairs() -> None:
    assert len({p.id for p in PAIRS}) == len(PAIRS) >= 25


# Data survives -----------------------------------------------------------------------------


def rows(url: str, query: str) -> list[tuple[object, ...]]:
    with pg.connect(url) as conn:
        return list(conn.execute(query).fetchall())  # type: ignore[arg-type]


def test_rows_survive_renames_widening_and_enum_renames(
    make_project: MakeProject, fresh_db: str
) -> None:
    before = item('    "note": text().max_length(20),\n    "kind": enum(["a", "b"]),\n')
    root = make_project({MODEL: HEADER + before})
    make_migration(root, "before", Answers())
    apply(root, fresh_db)
    with pg.connect(fresh_db) as conn:
        conn.execute(
            "INSERT INTO item (name, quantity, price, note, kind) VALUES "
            "('bolt', 3, 1.50, 'steel', 'b'), ('nut', 7, 0.25, NULL, 'a')"
        )
    after = item(
        '    "remark": text().max_length(200).renamed_from("note"),\n'
        '    "kind": enum(["a", "bee"]),\n'
    )
    after = after.replace('entity("Item", fields', 'entity("Part", renamed_from="Item", fields')
    write_model(root, after)
    made = make_migration(root, "rename", Answers(enum_maps={"Part.kind": {"b": "bee"}}))
    described = "\n".join(op.description for op in made.plan.operations)
    assert "Rename table item to part" in described and "Drop" not in described
    apply(root, fresh_db)
    assert rows(
        fresh_db, "SELECT name, quantity, price, remark, kind::text FROM part ORDER BY name"
    ) == [
        ("bolt", 3, pytest.approx(1.5), "steel", "bee"),
        ("nut", 7, pytest.approx(0.25), None, "a"),
    ]


SHELVES = """
Shelf = entity("Shelf", fields={{
    "label": text().required(),
    "kind": enum(["wood", "metal"]).required(),
    "items": array(ref("Item")),
{shelf}}})
Item = entity("Item", fields={{
    "name": text().required(),
    "price": money().required(),
    "shelf": ref("Shelf"),
{item}}})
"""


def shelves(shelf: str = "", item: str = "") -> str:
    return HEADER + SHELVES.format(shelf=shelf, item=item)


def insert_shelves(url: str) -> None:
    """top (wood) holds a 1.50 and a 2.25, bottom (metal) a 4, empty (wood) nothing."""
    with pg.connect(url) as conn:
        conn.execute(
            "INSERT INTO shelf (label, kind) VALUES ('top', 'wood'), ('bottom', 'metal'), "
            "('empty', 'wood')"
        )
        conn.execute(
            "INSERT INTO item (name, price, shelf_id) SELECT name, price, shelf.id FROM shelf, "
            "(VALUES ('a', 1.5, 'top'), ('b', 2.25, 'top'), ('c', 4, 'bottom')) AS v(name, "
            "price, label) WHERE shelf.label = v.label"
        )


STORED_COUNT = '    "item_count": integer().computed(count_("items")).materialized(),\n'
STORED_SUM = '    "stock_value": money().computed(sum_("items.price")).materialized(),\n'


def test_a_stored_computed_field_added_to_a_table_with_rows_is_filled_for_them(
    make_project: MakeProject, fresh_db: str
) -> None:
    root = make_project({MODEL: shelves()})
    make_migration(root, "before", Answers())
    apply(root, fresh_db)
    insert_shelves(fresh_db)
    write_model(root, shelves(STORED_COUNT + STORED_SUM))
    made = make_migration(root, "stored", Answers())
    described = [op.description for op in made.plan.operations]
    assert "Fill shelf.item_count of the existing rows (a stored computed field)" in described
    assert "Fill shelf.stock_value of the existing rows (a stored computed field)" in described
    apply(root, fresh_db)
    # What the API reads for these fields (runtime/api/computed.py), now stored for old rows.
    filled = "SELECT label, item_count, stock_value FROM shelf ORDER BY label"
    assert rows(fresh_db, filled) == [
        ("bottom", 1, pytest.approx(4)),
        ("empty", 0, pytest.approx(0)),
        ("top", 2, pytest.approx(3.75)),
    ]
    down(root, fresh_db, 1)
    apply(root, fresh_db)
    assert rows(fresh_db, filled)[2] == ("top", 2, pytest.approx(3.75))
    # A new table has no rows to fill; an unchanged field is not filled again.
    write_model(root, shelves(STORED_COUNT + STORED_SUM) + TAG)
    again = make_migration(root, "tags", Answers())
    assert not [op for op in again.plan.operations if op.description.startswith("Fill")]


def test_filled_values_are_those_the_api_computes_for_every_kind_of_expression(
    make_project: MakeProject, fresh_db: str
) -> None:
    """Enum and boolean comparisons, a `%` in text, an enum result, and a sum over another
    new stored field (filled first)."""
    root = make_project({MODEL: shelves()})
    make_migration(root, "before", Answers())
    apply(root, fresh_db)
    insert_shelves(fresh_db)
    shelf = (
        '    "doubled": money().computed(sum_("items.twice")).materialized(),\n'
        '    "is_wood": boolean().computed(F("kind") == "wood").materialized(),\n'
        '    "tagline": text().computed(F("label") + " 100%").materialized(),\n'
        '    "grade": enum(["hi", "lo"]).computed(when(F("label") == "top", "hi", "lo"))'
        ".materialized(),\n"
    )
    item = '    "twice": money().computed(F("price") * 2).materialized(),\n'
    write_model(root, shelves(shelf, item))
    make_migration(root, "stored", Answers())
    apply(root, fresh_db)
    query = "SELECT label, doubled, is_wood, tagline, grade::text FROM shelf ORDER BY label"
    assert rows(fresh_db, query) == [
        ("bottom", pytest.approx(8), False, "bottom 100%", "lo"),
        ("empty", pytest.approx(0), True, "empty 100%", "lo"),
        ("top", pytest.approx(7.5), True, "top 100%", "hi"),
    ]


# Refusals write nothing ----------------------------------------------------------------------


def versions(root: Path) -> list[str]:
    folder = root / "migrations" / "versions"
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.mark.parametrize(
    ("after", "message"),
    [
        (item('    "memo": text(),\n'), "--rename Item.note=memo"),
        (
            item('    "note": text(),\n    "sku": text().required(),\n'),
            "--backfill Item.sku=<value>",
        ),
        (item(), "--allow-destructive"),
    ],
    ids=["ambiguous rename", "required without default", "destructive"],
)
def test_undecided_changes_are_errors_and_write_nothing(
    make_project: MakeProject, after: str, message: str
) -> None:
    root = make_project({MODEL: HEADER + item('    "note": text(),\n')})
    make_migration(root, "before", Answers())
    written = versions(root)
    write_model(root, after)
    with pytest.raises(MigrateError, match=message.replace("<", ".").replace(">", ".")):
        make_migration(root, "after", Answers())
    assert versions(root) == written


def test_a_failing_migration_rolls_back_and_names_the_operation(
    make_project: MakeProject, fresh_db: str
) -> None:
    root = make_project({MODEL: HEADER + item()})
    make_migration(root, "before", Answers())
    apply(root, fresh_db)
    with pg.connect(fresh_db) as conn:
        conn.execute("INSERT INTO item (name, price) VALUES ('a very long name indeed', 1)")
    before = catalog(fresh_db)
    write_model(root, item('    "note": text(),\n').replace("max_length(50)", "max_length(5)"))
    make_migration(root, "narrow", Answers(), allow_destructive=True)
    with pytest.raises(MigrationFailed) as failed:
        apply(root, fresh_db)
    message = str(failed.value)
    assert "operation" in message and "from varchar(50) to varchar(5)" in message
    assert "value too long" in message
    assert diff_catalogs(catalog(fresh_db), before) == [], "the note column must not be there"
    assert [s.applied for s in status(root, fresh_db)] == [True, False]


def test_the_example_schema_applies_to_an_empty_database_and_matches_its_migration(
    example_copy: Path, fresh_db: str, second_db: str
) -> None:
    made = make_migration(example_copy, "initial", Answers())
    assert made.revision is not None
    apply(example_copy, fresh_db)
    assert diff_catalogs(catalog(fresh_db), ddl_catalog(example_copy, second_db)) == []


# The command ------------------------------------------------------------------------------------


def test_gen_migrate_on_the_command_line(example_copy: Path, fresh_db: str) -> None:
    from tests.test_cli import gen

    project = ("--project", str(example_copy))
    planned = gen(*project, "migrate", "make", "--plan")
    assert planned.exit_code == 0, planned.output
    assert "Create table invoice (" in planned.output and "lock: none (new table)" in planned.output
    assert "plan only: nothing written" in planned.output
    assert not (example_copy / "migrations").exists()

    made = gen(*project, "migrate", "make", "-m", "Initial schema")
    assert made.exit_code == 0, made.output
    assert "Wrote revision 0001" in made.output
    assert (example_copy / "migrations/versions/0001_initial_schema.py").is_file()

    unchanged = gen(*project, "migrate", "make")
    assert unchanged.exit_code == 0 and unchanged.output.startswith("No changes")
    assert versions(example_copy) == ["0001_initial_schema.py", "0001_initial_schema.schema.json"]

    database = ("--database", fresh_db)
    assert "0001  pending" in gen(*project, "migrate", "status", *database).output
    assert "applied 0001" in gen(*project, "migrate", "apply", *database).output
    assert "0001  applied" in gen(*project, "migrate", "status", *database).output
    assert "undid 0001" in gen(*project, "migrate", "down", *database).output

    model = example_copy / "domain" / "catalog.model.py"
    model.write_text(model.read_text().replace('"description": text().optional(),\n', ""))
    refused = gen(*project, "migrate", "make")
    assert refused.exit_code == 1
    assert "Drop column product.description" in refused.output
    assert "--allow-destructive" in refused.output


@pytest.mark.embedded_pg
def test_the_example_migrates_on_the_embedded_database(example_copy: Path) -> None:
    """The newcomer's path: no server, no url; `gen migrate apply` uses pgserver."""
    from runtime.database import embedded_database
    from tests.test_cli import gen

    assert gen("--project", str(example_copy), "migrate", "make", "-m", "initial").exit_code == 0
    applied = gen("--project", str(example_copy), "migrate", "apply")
    assert applied.exit_code == 0, applied.output
    assert "applied 0001" in applied.output
    url = embedded_database(example_copy)
    assert [s.applied for s in status(example_copy, url)] == [True]
    assert rows(url, "SELECT count(*) FROM invoice") == [(0,)]
