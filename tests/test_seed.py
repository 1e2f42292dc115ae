"""`gen seed` on the invoices example: valid rows in every entity, users who can sign in."""

from __future__ import annotations

import shutil
from pathlib import Path

import sqlalchemy as sa
from click.testing import CliRunner

from cli.main import main
from runtime.database import normalize_url

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoices"


def test_seed_fills_every_entity_with_rows_the_database_accepts(
    tmp_path: Path, fresh_db: str
) -> None:
    project = tmp_path / "invoices"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    runner = CliRunner()
    for args in (
        ["migrate", "make", "-m", "initial"],
        ["migrate", "apply", "--database", fresh_db],
    ):
        result = runner.invoke(main, ["--project", str(project), *args])
        assert result.exit_code == 0, result.output
    seeded = runner.invoke(
        main, ["--project", str(project), "seed", "--count", "15", "--database", fresh_db]
    )
    assert seeded.exit_code == 0, seeded.output
    assert "member@demo.test" in seeded.output
    engine = sa.create_engine(normalize_url(fresh_db), poolclass=sa.pool.NullPool)
    with engine.connect() as connection:
        for table in (
            "customer",
            "invoice",
            "invoice_line",
            "payment",
            "product",
            "comment",
            "tag",
        ):
            assert connection.scalar(sa.text(f"select count(*) from {table}")) == 15, table
        # Every state starts where the model says; every line points into the demo tenant.
        assert connection.scalar(sa.text("select count(distinct status) from invoice")) == 1
        assert (
            connection.scalar(
                sa.text(
                    "select count(*) from invoice_line l join invoice i on i.id = l.invoice_id "
                    "where l.tenant_id <> i.tenant_id"
                )
            )
            == 0
        )
        # The materialized count agrees with the rows.
        assert (
            connection.scalar(
                sa.text(
                    "select count(*) from customer c where c.invoice_count <> "
                    "(select count(*) from invoice i where i.customer_id = c.id)"
                )
            )
            == 0
        )
    engine.dispose()
    again = runner.invoke(
        main,
        ["--project", str(project), "seed", "--count", "5", "--seed", "7", "--database", fresh_db],
    )
    assert again.exit_code == 0, again.output  # demo users reused, a second tenant


def test_seed_before_the_migrations_says_what_to_run(tmp_path: Path, fresh_db: str) -> None:
    result = CliRunner().invoke(main, ["--project", str(EXAMPLE), "seed", "--database", fresh_db])
    assert result.exit_code != 0
    assert "gen migrate apply" in result.output
