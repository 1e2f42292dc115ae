"""The dev database follows the model under `gen dev` (runtime/dev_database.py), on a real
PostgreSQL: safe changes run, data-losing or ambiguous ones do not, and where it got to is
kept in the database."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from compiler.compile import compile_project
from generators.pipeline import generate
from runtime.database import normalize_url
from runtime.dev_database import SCHEMA_TABLE, DevDatabaseError, follow_model
from tests.conftest import EXAMPLE

INVOICES = "domain/invoices.model.py"
NOTES = '        "notes": text().max_length(2000),\n'


@pytest.fixture
def project(tmp_path: Path, fresh_db: str) -> Path:
    """A copy of the example whose database holds its schema."""
    copy = tmp_path / "invoices"
    shutil.copytree(EXAMPLE, copy, ignore=shutil.ignore_patterns(".gen", "generated", "migrations"))
    generate(copy)
    ddl = (copy / "generated" / "db" / "schema.postgres.sql").read_text()
    with _engine(fresh_db).begin() as connection:
        connection.exec_driver_sql(ddl, execution_options={"no_parameters": True})
    return copy


def _engine(url: str) -> sa.Engine:
    return sa.create_engine(normalize_url(url), poolclass=sa.pool.NullPool)


def _columns(url: str, table: str) -> set[str]:
    engine = _engine(url)
    try:
        with engine.connect() as connection:
            return {c["name"] for c in sa.inspect(connection).get_columns(table)}
    finally:
        engine.dispose()


def _edit(project: Path, old: str, new: str) -> None:
    path = project / INVOICES
    path.write_text(path.read_text().replace(old, new, 1))


def test_a_new_field_becomes_a_column_and_the_schema_is_kept(project: Path, fresh_db: str) -> None:
    served = compile_project(project).project
    _edit(project, NOTES, NOTES + '        "po_number": text().max_length(40),\n')
    new = compile_project(project).project
    note = follow_model(project, fresh_db, served, new)
    assert note == "the database now has it: Add column invoice.po_number (varchar(40))"
    assert "po_number" in _columns(fresh_db, "invoice")
    assert SCHEMA_TABLE in sa.inspect(_engine(fresh_db)).get_table_names()
    # Restarted with the old model as the one served: the database says where it is.
    again = follow_model(project, fresh_db, served, new)
    assert again == "the database schema did not change"


def test_a_kept_schema_another_process_changed_is_read_again(project: Path, fresh_db: str) -> None:
    """This process remembers what it kept; a database whose kept schema is not that any
    more (another `gen dev`, another branch) is read again, not taken from memory."""
    from generators.db.lower import lower_schema

    served = compile_project(project).project
    _edit(project, NOTES, NOTES + '        "po_number": text().max_length(40),\n')
    new = compile_project(project).project
    assert follow_model(project, fresh_db, served, new).startswith("the database now has it")
    assert follow_model(project, fresh_db, new, new) == "the database schema did not change"
    # Another process says the database is at the old model (its table has the column).
    old = lower_schema(served).model_dump(mode="json", exclude_none=True)
    table = sa.Table(SCHEMA_TABLE, sa.MetaData(), autoload_with=_engine(fresh_db))
    with _engine(fresh_db).begin() as connection:
        connection.execute(table.update().values(schema=old))
    # Planned from what it says: the column is added again, which Postgres refuses.
    with pytest.raises(DevDatabaseError, match=r"Add column invoice\.po_number"):
        follow_model(project, fresh_db, new, new)


def test_a_dropped_field_is_not_dropped_and_the_terminal_says_how(
    project: Path, fresh_db: str
) -> None:
    served = compile_project(project).project
    extra = '        "legacy_code": text(),\n'
    _edit(project, NOTES, NOTES + extra)
    with_extra = compile_project(project).project
    follow_model(project, fresh_db, served, with_extra)
    assert "legacy_code" in _columns(fresh_db, "invoice")
    _edit(project, extra, "")
    note = follow_model(project, fresh_db, with_extra, compile_project(project).project)
    assert note.startswith("the database was NOT changed: it would destroy data (")
    assert "Drop column invoice.legacy_code" in note and "--allow-destructive" in note
    assert "legacy_code" in _columns(fresh_db, "invoice")


def test_a_required_field_without_a_default_on_rows_is_a_question_not_a_guess(
    project: Path, fresh_db: str
) -> None:
    served = compile_project(project).project
    users = project / "domain" / "customers.model.py"
    before = users.read_text()
    anchor = '        "name": text().required().max_length(200),\n'
    users.write_text(before.replace(anchor, anchor + '        "code": text().required(),\n', 1))
    note = follow_model(project, fresh_db, served, compile_project(project).project)
    assert note.startswith("the database was NOT changed"), note
    assert "code" not in _columns(fresh_db, "customer")


def test_a_stored_computed_field_added_is_filled_for_the_rows_there(
    project: Path, fresh_db: str
) -> None:
    served = compile_project(project).project
    with _engine(fresh_db).begin() as connection:
        tenant = connection.exec_driver_sql(
            "INSERT INTO tenant (name, slug) VALUES ('Shop', 'shop') RETURNING id"
        ).scalar()
        connection.exec_driver_sql(
            "INSERT INTO customer (tenant_id, name, email) VALUES (%s, 'Ada', 'ada@x.test')",
            (tenant,),
        )
    customers = project / "domain" / "customers.model.py"
    anchor = '        "invoice_count": integer().computed(count_("invoices")).materialized(),\n'
    stored = '        "invoices_seen": integer().computed(count_("invoices")).materialized(),\n'
    customers.write_text(customers.read_text().replace(anchor, anchor + stored, 1))
    note = follow_model(project, fresh_db, served, compile_project(project).project)
    assert "Fill customer.invoices_seen of the existing rows" in note, note
    with _engine(fresh_db).connect() as connection:
        assert connection.exec_driver_sql("SELECT invoices_seen FROM customer").scalar() == 0
