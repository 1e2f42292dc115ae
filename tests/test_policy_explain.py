"""Explanations and field-level rules on the invoices example: what a denied user reads."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from compiler import ir
from compiler.compile import compile_project
from generators.db import DbGenerator
from policy.caller import Caller
from policy.explain import explain
from policy.fields import readable_fields, refused_edits, visible_value, visible_where
from runtime.database import normalize_url
from tests import pg

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoices"
ME, SOMEONE = uuid.uuid4(), uuid.uuid4()
TENANT, OTHER_TENANT = uuid.uuid4(), uuid.uuid4()


@pytest.fixture(scope="module")
def project() -> ir.Project:
    return compile_project(EXAMPLE).project


def entity(project: ir.Project, name: str) -> ir.Entity:
    found = project.entity(name)
    assert found is not None
    return found


def invoice(**changes: object) -> dict[str, object]:
    return {"tenant": TENANT, "created_by": SOMEONE, "status": "draft", **changes}


def test_a_denial_names_the_rule_and_every_fact_that_failed(project: ir.Project) -> None:
    caller = Caller(user_id=ME, tenant_id=TENANT, roles=frozenset({"member"}))
    decision = explain(project, entity(project, "Invoice"), "update", invoice(), caller)
    assert not decision.allowed
    assert decision.sentence() == (
        'Denied by rule Invoice.update: same_tenant() & (owner() | role("billing")) & '
        '(F("status") == "draft"). The invoice\'s created_by is not you, and you do not have '
        'the role "billing".'
    )


def test_a_failed_condition_shows_the_values_it_read(project: ir.Project) -> None:
    caller = Caller(user_id=ME, tenant_id=TENANT, roles=frozenset({"billing"}))
    decision = explain(
        project, entity(project, "Invoice"), "update", invoice(status="sent"), caller
    )
    assert decision.reasons == ('F("status") == "draft" does not hold (status is "sent")',)


def test_another_tenant_is_the_reason_whatever_the_roles(project: ir.Project) -> None:
    caller = Caller(user_id=ME, tenant_id=OTHER_TENANT, roles=frozenset({"admin", "billing"}))
    decision = explain(project, entity(project, "Invoice"), "pay", invoice(), caller)
    assert not decision.allowed
    assert decision.reasons == ("the invoice belongs to another tenant",)


def test_an_allowed_request_says_which_part_allowed_it(project: ir.Project) -> None:
    caller = Caller(user_id=SOMEONE, tenant_id=TENANT, roles=frozenset({"member"}))
    decision = explain(project, entity(project, "Invoice"), "update", invoice(), caller)
    assert decision.allowed
    assert decision.reasons == (
        "the invoice belongs to your tenant",
        "you are the invoice's created_by",
        'F("status") == "draft" holds (status is "draft")',
    )


def test_no_rule_is_denied_by_default_with_the_fix(project: ir.Project) -> None:
    caller = Caller(user_id=ME, tenant_id=TENANT, roles=frozenset({"admin"}))
    decision = explain(project, entity(project, "TaxRate"), "delete", {}, caller)
    assert not decision.allowed and decision.rule_id is None
    assert "denied by default" in decision.sentence()
    assert "Add delete=... to allow(...) of TaxRate" in decision.sentence()


def test_a_hidden_field_is_left_out_for_callers_without_the_role(project: ir.Project) -> None:
    customer = entity(project, "Customer")
    row = {"tenant": TENANT, "name": "Acme", "notes": "pays late"}
    member = Caller(user_id=ME, tenant_id=TENANT, roles=frozenset({"member"}))
    billing = Caller(user_id=ME, tenant_id=TENANT, roles=frozenset({"billing"}))
    assert "notes" not in readable_fields(project, customer, row, member)
    assert {"notes", "name"} <= readable_fields(project, customer, row, billing)


def test_an_edit_of_a_protected_field_is_refused_naming_it(project: ir.Project) -> None:
    customer = entity(project, "Customer")
    row = {"tenant": TENANT, "created_by": ME, "credit_limit": "5000.00"}
    owner = Caller(user_id=ME, tenant_id=TENANT, roles=frozenset({"billing"}))
    (refused,) = refused_edits(project, customer, row, owner, ["name", "credit_limit"])
    assert refused.field == "credit_limit"
    assert refused.message.startswith("you may not edit credit_limit. Denied by rule ")
    assert refused.message.endswith('You do not have the role "admin".')
    admin = Caller(user_id=ME, tenant_id=TENANT, roles=frozenset({"admin"}))
    assert refused_edits(project, customer, row, admin, ["credit_limit"]) == []


@pytest.fixture(scope="module")
def example_db(project: ir.Project, pg_admin_url: str) -> Iterator[tuple[sa.Engine, sa.MetaData]]:
    url = pg.create_database(pg_admin_url)
    engine = sa.create_engine(normalize_url(url), poolclass=sa.pool.NullPool)
    try:
        (ddl,) = [a for a in DbGenerator().generate(project) if a.path.endswith(".sql")]
        with engine.begin() as connection:
            connection.exec_driver_sql(
                ddl.content.decode(), execution_options={"no_parameters": True}
            )
        metadata = sa.MetaData()
        metadata.reflect(engine)
        yield engine, metadata
    finally:
        engine.dispose()
        pg.drop_database(pg_admin_url, url)


def test_sql_nulls_a_hidden_field_and_cannot_filter_on_it(
    project: ir.Project, example_db: tuple[sa.Engine, sa.MetaData]
) -> None:
    engine, metadata = example_db
    customer = entity(project, "Customer")
    notes = customer.field("notes")
    assert notes is not None
    tables = dict(metadata.tables)
    table = tables[customer.table]
    with engine.begin() as connection:
        connection.execute(tables["tenant"].insert().values(id=TENANT, name="T", slug="t"))
        connection.execute(
            table.insert().values(
                tenant_id=TENANT, name="Acme", email="a@example.test", notes="pays late"
            )
        )
        for roles, expected in (({"member"}, [None]), ({"billing"}, ["pays late"])):
            caller = Caller(user_id=ME, tenant_id=TENANT, roles=frozenset(roles))
            shown = visible_value(project, customer, notes, tables, caller)
            assert list(connection.scalars(sa.select(shown))) == expected
            # A filter on the field matches nothing where the field is hidden.
            where = sa.and_(
                visible_where(project, customer, notes, tables, caller),
                table.c.notes == "pays late",
            )
            found = list(connection.scalars(sa.select(table.c.name).where(where)))
            assert found == ([] if roles == {"member"} else ["Acme"])
        connection.rollback()
