"""`db/schema.postgres.sql`: pinned for the example, deterministic, and what users expect."""

from __future__ import annotations

import pytest
from syrupy.assertion import SnapshotAssertion

from compiler.compile import compile_project
from generators.db import SCHEMA_PATH, DbGenerator
from generators.db.diff import is_widening
from tests.conftest import EXAMPLE


@pytest.fixture(scope="module")
def example_ddl() -> str:
    artifacts = DbGenerator().generate(compile_project(EXAMPLE).project)
    return next(a for a in artifacts if a.path == SCHEMA_PATH).content.decode()


def test_example_schema_is_pinned(example_ddl: str, snapshot: SnapshotAssertion) -> None:
    assert example_ddl == snapshot


def test_generating_twice_gives_the_same_bytes(example_ddl: str) -> None:
    again = DbGenerator().generate(compile_project(EXAMPLE).project)
    assert next(a for a in again if a.path == SCHEMA_PATH).content.decode() == example_ddl


@pytest.mark.parametrize(
    ("expected", "fragment"),
    [
        (
            "state field: an enum type defaulting to its initial state",
            "status invoice_status DEFAULT 'draft'::invoice_status NOT NULL",
        ),
        (
            "same-row computed field: a generated column",
            "total numeric(19, 4) GENERATED ALWAYS AS ((quantity * unit_price)) STORED",
        ),
        ("max_length: varchar", "number varchar(30) NOT NULL"),
        ("min/max: checks", "CONSTRAINT ck_invoice_line_quantity_max CHECK (quantity <= 100000)"),
        (
            "pattern: a regex check",
            "CONSTRAINT ck_tag_color_pattern CHECK (color ~ '^#[0-9a-f]{6}$')",
        ),
        ("ref to a slug key: the key's type", "tax_rate_id varchar(20)"),
        ("on_delete kept", "FOREIGN KEY (customer_id) REFERENCES customer (id) ON DELETE RESTRICT"),
        (
            "many-to-many: composite key",
            "CONSTRAINT pk_invoice_tag PRIMARY KEY (invoice_id, tag_id)",
        ),
        ("polymorphic: type column checked", "CHECK (subject_type IN ('Invoice', 'Customer'))"),
        (
            "partial index",
            "CREATE INDEX ix_invoice_due_date_partial ON invoice (due_date) WHERE (status <> 'void')",
        ),
        ("gin on text: its words", "USING gin (to_tsvector('simple'::regconfig, notes))"),
        ("gin on jsonb", "USING gin (attributes)"),
        ("doc: table comment", "COMMENT ON TABLE invoice IS 'An invoice sent to a customer.'"),
        ("reserved table name quoted", 'CREATE TABLE "user" ('),
    ],
)
def test_the_ddl_says_what_the_model_says(example_ddl: str, expected: str, fragment: str) -> None:
    assert fragment in example_ddl, expected


def test_text_search_needs_no_extension(example_ddl: str) -> None:
    # The embedded PostgreSQL (pgserver) ships no contrib extension such as pg_trgm.
    assert "EXTENSION" not in example_ddl


@pytest.mark.parametrize(
    ("old", "new", "widening"),
    [
        ("varchar(50)", "varchar(200)", True),
        ("varchar(200)", "varchar(50)", False),
        ("varchar(50)", "text", True),
        ("text", "varchar(50)", False),
        ("integer", "bigint", True),
        ("bigint", "integer", False),
        ("integer", "numeric(12, 2)", True),
        ("integer", "numeric(5, 2)", False),
        ("numeric(5, 2)", "numeric(7, 3)", True),
        ("numeric(5, 2)", "numeric(5, 3)", False),
        ("numeric(5, 2)", "numeric", True),
        ("numeric", "numeric(30, 10)", False),
        ("date", "timestamptz", True),
        ("timestamptz", "date", False),
        ("uuid", "text", True),
        ("boolean", "integer", False),
    ],
)
def test_only_lossless_type_changes_count_as_widening(old: str, new: str, widening: bool) -> None:
    assert is_widening(old, new) is widening
