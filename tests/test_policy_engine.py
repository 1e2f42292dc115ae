"""One policy, two compilers: the SQL filter selects exactly the rows Python allows.

Property tests on a real PostgreSQL: random policies (building blocks,
relation paths, conditions with NULLs, text order, arithmetic, the clock)
and random callers, over a seeded world of rows, and over rows drawn by
hypothesis too.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import ir
from policy.caller import Caller
from policy.python import NeedsRelated, allows
from policy.sql import row_filter
from runtime.database import normalize_url
from tests import pg
from tests.policy_strategies import callers, policies, rule
from tests.policy_world import (
    NOW,
    World,
    compile_world,
    insert,
    python_rows,
    random_world,
    schema_sql,
)

ROOT = Path(__file__).resolve().parent.parent
PROPERTY = settings(
    max_examples=2500,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    database=None,
)


class Scene:
    def __init__(self, project: ir.Project, connection: sa.Connection, tables: dict[str, sa.Table]):
        self.project, self.connection, self.tables = project, connection, tables
        invoice = project.entity("Invoice")
        assert invoice is not None
        self.invoice = invoice

    def sql_ids(self, policy: ir.PolicyExpr, caller: Caller) -> set[Any]:
        table = self.tables[self.invoice.table]
        where = row_filter(self.project, self.invoice, rule(policy), self.tables, caller)
        return set(self.connection.scalars(sa.select(table.c.id).where(where)))

    def python_ids(self, policy: ir.PolicyExpr, caller: Caller, world: World) -> set[Any]:
        chosen = rule(policy)
        return {
            row["id"]
            for row in python_rows(world, "Invoice")
            if allows(self.project, self.invoice, chosen, row, caller)
        }


@pytest.fixture(scope="module")
def scene(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Scene]:
    project = compile_world(tmp_path_factory.mktemp("policyworld"))
    url = pg.create_database(pg_admin_url)
    engine = sa.create_engine(normalize_url(url), poolclass=sa.pool.NullPool)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(schema_sql(project))
        metadata = sa.MetaData()
        metadata.reflect(engine)
        with engine.connect() as connection:
            yield Scene(project, connection, dict(metadata.tables))
    finally:
        engine.dispose()
        pg.drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def seeded(scene: Scene) -> World:
    world = random_world(seed=20261121)
    with scene.connection.begin():
        insert(scene.connection, scene.project, scene.tables, world)
    return world


def test_the_seeded_world_has_the_cases_that_matter(scene: Scene, seeded: World) -> None:
    """NULLs on every path, and text whose code-point order differs from the locale's."""
    rows = python_rows(seeded, "Invoice")
    assert any(r["customer"] is None for r in rows)
    assert any(r["customer"] and r["customer"]["account"] is None for r in rows)
    assert any(r["amount"] is None for r in rows) and any(r["stage"] is None for r in rows)
    titles = {r["title"] for r in rows}
    assert {"Beta", "alpha", "éclair"} <= titles


@settings(PROPERTY)
@given(data=st.data())
def test_sql_selects_exactly_the_rows_python_allows(scene: Scene, seeded: World, data: Any) -> None:
    policy = data.draw(policies(), label="policy")
    caller = data.draw(callers(seeded), label="caller")
    try:
        assert scene.sql_ids(policy, caller) == scene.python_ids(policy, caller, seeded)
    finally:
        scene.connection.rollback()  # ends the read, or a failed statement's transaction


@settings(PROPERTY, max_examples=300)
@given(seed=st.integers(0, 2**32), data=st.data())
def test_sql_and_python_agree_on_drawn_rows_too(scene: Scene, seed: int, data: Any) -> None:
    world = random_world(seed, invoices=12)
    policy = data.draw(policies(), label="policy")
    caller = data.draw(callers(world), label="caller")
    transaction = scene.connection.begin()
    try:
        for table in ("invoice", "customer", "account", "membership", "tenant", "user"):
            scene.connection.execute(sa.delete(scene.tables[table]))
        insert(scene.connection, scene.project, scene.tables, world)
        assert scene.sql_ids(policy, caller) == scene.python_ids(policy, caller, world)
    finally:
        transaction.rollback()


def test_relation_paths_are_exists_semi_joins_with_the_caller_bound(scene: Scene) -> None:
    policy = ir.AnyOfPolicy(
        items=(
            ir.RelPolicy(path="customer.account.manager"),
            ir.RolePolicy(name="billing"),
        )
    )
    caller = Caller(user_id=None, roles=frozenset({"member"}), now=NOW)
    where = row_filter(scene.project, scene.invoice, rule(policy), scene.tables, caller)
    query = sa.select(scene.tables["invoice"].c.id).where(where)
    compiled = query.compile(dialect=scene.connection.dialect)
    sql = str(compiled)
    # Correlated to the outer row: the EXISTS reads customer and account only.
    assert re.search(r"EXISTS \(SELECT \* \nFROM customer AS \w+, account AS \w+ \nWHERE", sql)
    assert "'billing'" not in sql  # the caller's roles are parameters, not text
    # One boolean per role the rule names: the same statement text for every caller.
    assert compiled.params["reframe_role_billing"] is False


@pytest.mark.parametrize("op", ["<", "==", ">="])
def test_a_decimal_literal_is_not_rounded_to_an_integer_column(
    scene: Scene, seeded: World, op: str
) -> None:
    """`F("quantity") < 2.5` keeps 2.5: binding it as an integer would make it 2 or 3."""
    condition = ir.CompareExpr(
        op=op,  # type: ignore[arg-type]
        left=ir.FieldExpr(path="quantity", type="integer"),
        right=ir.LiteralExpr(value="2.5", literal_type="decimal", type="decimal"),
        type="boolean",
    )
    policy = ir.ConditionPolicy(expr=condition)
    caller = Caller(now=NOW)
    try:
        expected = scene.python_ids(policy, caller, seeded)
        assert (expected == set()) == (op == "==")  # no integer is 2.5; some are below, above
        assert scene.sql_ids(policy, caller) == expected
    finally:
        scene.connection.rollback()


def test_no_rule_denies_everything(scene: Scene, seeded: World) -> None:
    table = scene.tables[scene.invoice.table]
    caller = Caller(
        user_id=seeded.users[0], tenant_id=seeded.tenants[0], roles=frozenset(ROLES_ALL)
    )
    where = row_filter(scene.project, scene.invoice, None, scene.tables, caller)
    assert list(scene.connection.scalars(sa.select(table.c.id).where(where))) == []
    row = python_rows(seeded, "Invoice")[0]
    assert not allows(scene.project, scene.invoice, None, row, caller)


ROLES_ALL = ("admin", "billing", "member")


def test_tenant_isolation_cannot_be_switched_off_by_a_rule(scene: Scene, seeded: World) -> None:
    """The compiled project ANDs same_tenant() into `anyone()`: other tenants' rows stay hidden."""
    compiled = scene.project.entity("Invoice")
    assert compiled is not None
    isolated = ir.AllOfPolicy(items=(ir.SameTenantPolicy(), ir.AnyonePolicy()))
    caller = Caller(user_id=seeded.users[0], tenant_id=seeded.tenants[1], now=NOW)
    ids = scene.sql_ids(isolated, caller)
    tenants = {r["id"]: r["tenant"] for r in seeded.rows["Invoice"]}
    assert ids and {tenants[i] for i in ids} == {seeded.tenants[1]}


def test_python_asks_for_the_related_row_a_path_needs(scene: Scene, seeded: World) -> None:
    row = dict(seeded.rows["Invoice"][0])  # refs as keys, not rows
    row["customer"] = next(c["id"] for c in seeded.rows["Customer"])
    policy = ir.RelPolicy(path="customer.account_manager")
    with pytest.raises(NeedsRelated, match="customer"):
        allows(scene.project, scene.invoice, rule(policy), row, Caller(user_id=seeded.users[0]))


def test_no_sql_is_built_from_strings_in_policy_or_runtime() -> None:
    """f-strings, %, + or .format() on text that starts like SQL: none in policy/ or runtime/."""
    sql_start = r"(SELECT|INSERT|UPDATE|DELETE|WITH|ALTER|CREATE|DROP|WHERE|AND|OR)\b"
    patterns = [
        re.compile(rf"""\bf["']{{1,3}}\s*{sql_start}""", re.IGNORECASE),
        re.compile(
            rf"""["']{{1,3}}\s*{sql_start}[^"']*["']{{1,3}}\s*(%|\+|\.format\()""", re.IGNORECASE
        ),
    ]
    offenders = []
    for folder in ("policy", "runtime"):
        for path in sorted((ROOT / folder).rglob("*.py")):
            for number, line in enumerate(path.read_text().splitlines(), 1):
                if line.lstrip().startswith("#"):
                    continue
                if any(p.search(line) for p in patterns):
                    offenders.append(f"{path.relative_to(ROOT)}:{number}: {line.strip()}")
    assert offenders == []


def test_the_scan_finds_string_built_sql(tmp_path: Path) -> None:
    """The scan above can fail: it catches each way of building SQL from strings."""
    sql_start = r"(SELECT|INSERT|UPDATE|DELETE|WITH|ALTER|CREATE|DROP|WHERE|AND|OR)\b"
    fstring = re.compile(rf"""\bf["']{{1,3}}\s*{sql_start}""", re.IGNORECASE)
    concat = re.compile(
        rf"""["']{{1,3}}\s*{sql_start}[^"']*["']{{1,3}}\s*(%|\+|\.format\()""", re.IGNORECASE
    )
    assert fstring.search('text(f"SELECT * FROM {table}")')
    assert concat.search('"DELETE FROM " + table')
    assert concat.search('"WHERE id = %s" % value')
    assert concat.search('"UPDATE {} SET".format(t)')
    assert not fstring.search('f"select a rule for {entity}"'[:0] + 'message = f"{n} rows"')
