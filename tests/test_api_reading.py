"""The read path of the API (runtime/api/query.py, reading.py, computed.py) on a real PostgreSQL.

The invoices example is compiled, its schema built from the `db` generator's metadata and
filled with Core inserts: two tenants, members and billing users, customers, invoices with
lines and payments. Each test reads through `list_rows` / `get_row` as one caller and checks
what comes back: operators per type, dotted paths, sorts with NULLs, keyset and offset pages,
counts, includes, tenant isolation, hidden fields, computed fields, the 400s and the number
of statements.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from compiler import ir
from compiler.compile import compile_project
from generators.db import TABLES_PATH, DbGenerator
from policy.caller import Caller
from runtime.api.model import AppModel
from runtime.api.problems import Problem
from runtime.api.query import ListQuery, encode_cursor, parse_list_query
from runtime.api.reading import get_row, list_rows, row_etag, visible_rows
from tests import pg
from tests.conftest import EXAMPLE

NOW = dt.datetime(2026, 3, 1, 12, 0, tzinfo=dt.UTC)
TODAY = NOW.date()


def uid(name: str) -> uuid.UUID:
    return uuid.uuid5(uuid.NAMESPACE_DNS, name)


TENANT_A, TENANT_B = uid("tenant-a"), uid("tenant-b")
MEMBER_A, BILLING_A, MEMBER_B = uid("member-a"), uid("billing-a"), uid("member-b")


def caller(user: uuid.UUID, tenant: uuid.UUID, *roles: str) -> Caller:
    return Caller(user, tenant, frozenset(roles), NOW)


MEMBER = caller(MEMBER_A, TENANT_A, "member")
BILLING = caller(BILLING_A, TENANT_A, "billing")
OTHER = caller(MEMBER_B, TENANT_B, "member")


# The database ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model() -> AppModel:
    project = compile_project(EXAMPLE).project
    artifact = next(a for a in DbGenerator().generate(project) if a.path == TABLES_PATH)
    namespace: dict[str, Any] = {}
    exec(compile(artifact.content, TABLES_PATH, "exec"), namespace)
    return AppModel(project, namespace["metadata"])


@pytest.fixture(scope="module")
def engine(model: AppModel, pg_admin_url: str) -> Iterator[sa.Engine]:
    url = pg.create_database(pg_admin_url)
    engine = sa.create_engine(url)
    try:
        model.metadata.create_all(engine)
        with engine.begin() as conn:
            seed(conn, model)
        yield engine
    finally:
        engine.dispose()
        pg.drop_database(pg_admin_url, url)


@pytest.fixture
def conn(engine: sa.Engine) -> Iterator[sa.Connection]:
    """A connection whose changes are rolled back after the test."""
    with engine.connect() as connection:
        transaction = connection.begin()
        yield connection
        transaction.rollback()


def insert(conn: sa.Connection, model: AppModel, table: str, *rows: dict[str, Any]) -> None:
    """Insert rows one statement each, so that each row's keys count (executemany would take the
    first row's keys for all)."""
    for row in rows:
        conn.execute(sa.insert(model.tables[table]).values(row))


def seed(conn: sa.Connection, model: AppModel) -> None:
    insert(
        conn,
        model,
        "tenant",
        {"id": TENANT_A, "name": "A", "slug": "a"},
        {"id": TENANT_B, "name": "B", "slug": "b"},
    )
    insert(
        conn,
        model,
        "user",
        *({"id": u, "email": f"{u}@x.test"} for u in (MEMBER_A, BILLING_A, MEMBER_B)),
    )
    customer = {
        "email": "c@x.test",
        "tenant_id": TENANT_A,
        "notes": None,
        "website": None,
        "aliases": [],
    }
    insert(
        conn,
        model,
        "customer",
        {**customer, "id": uid("acme"), "name": "Acme Corp", "notes": "pays late"},
        {**customer, "id": uid("beta"), "name": "Beta Ltd", "website": "https://beta.test"},
        {**customer, "id": uid("gamma"), "name": "gamma", "aliases": ["g", "gam"]},
        {**customer, "id": uid("acme-b"), "name": "Acme B", "tenant_id": TENANT_B},
    )
    invoice = {"tenant_id": TENANT_A, "notes": None, "sent_at": None, "created_by_id": MEMBER_A}
    insert(
        conn,
        model,
        "invoice",
        {
            **invoice,
            "id": uid("inv-1"),
            "number": "INV-1",
            "customer_id": uid("acme"),
            "issue_date": dt.date(2026, 1, 1),
            "due_date": dt.date(2026, 2, 1),
            "status": "sent",
            "notes": "first",
            "sent_at": dt.datetime(2026, 1, 2, 9, 30, tzinfo=dt.UTC),
            "created_at": NOW - dt.timedelta(days=3),
        },
        {
            **invoice,
            "id": uid("inv-2"),
            "number": "INV-2",
            "customer_id": uid("beta"),
            "issue_date": dt.date(2026, 2, 1),
            "due_date": dt.date(2026, 4, 1),
            "status": "draft",
            "created_at": NOW - dt.timedelta(days=2),
        },
        {
            **invoice,
            "id": uid("inv-3"),
            "number": "INV-3",
            "customer_id": uid("acme"),
            "issue_date": dt.date(2026, 2, 15),
            "due_date": dt.date(2026, 3, 15),
            "status": "paid",
            "notes": "third",
            "created_at": NOW - dt.timedelta(days=1),
        },
        # Tenant A's invoice pointing at tenant B's customer, with a line of tenant B:
        {
            **invoice,
            "id": uid("inv-x"),
            "number": "INV-X",
            "customer_id": uid("acme-b"),
            "issue_date": dt.date(2026, 2, 20),
            "due_date": dt.date(2026, 5, 1),
            "status": "draft",
            "created_at": NOW,
        },
        {
            **invoice,
            "id": uid("inv-b"),
            "number": "INV-B",
            "customer_id": uid("acme-b"),
            "issue_date": dt.date(2026, 1, 5),
            "due_date": dt.date(2026, 2, 5),
            "status": "sent",
            "tenant_id": TENANT_B,
            "created_by_id": MEMBER_B,
            "created_at": NOW,
        },
    )
    line = {"tenant_id": TENANT_A, "tax_rate": Decimal("0.2")}
    insert(
        conn,
        model,
        "invoice_line",
        {**line, "id": uid("l1"), "invoice_id": uid("inv-1"), "description": "a", "quantity": 2, "unit_price": Decimal("10.00"), "position": 1},
        {**line, "id": uid("l2"), "invoice_id": uid("inv-1"), "description": "b", "quantity": 1, "unit_price": Decimal("5.50"), "position": 2},
        {**line, "id": uid("l3"), "invoice_id": uid("inv-3"), "description": "c", "quantity": 3, "unit_price": Decimal("100"), "position": 1, "tax_rate": Decimal("0")},
        {**line, "id": uid("lx"), "invoice_id": uid("inv-x"), "description": "mine", "quantity": 1, "unit_price": Decimal("1"), "position": 1},
        {**line, "id": uid("lx-b"), "invoice_id": uid("inv-x"), "description": "theirs", "quantity": 1, "unit_price": Decimal("7"), "position": 2, "tenant_id": TENANT_B},
        {**line, "id": uid("lb"), "invoice_id": uid("inv-b"), "description": "b's", "quantity": 9, "unit_price": Decimal("9"), "position": 1, "tenant_id": TENANT_B},
    )  # fmt: skip
    insert(
        conn,
        model,
        "payment",
        {"id": uid("p1"), "invoice_id": uid("inv-3"), "amount": Decimal("300"), "received_on": dt.date(2026, 2, 20), "method": "card", "processor_id": uid("proc-1"), "tenant_id": TENANT_A},
        {"id": uid("p2"), "invoice_id": uid("inv-1"), "amount": Decimal("5"), "received_on": dt.date(2026, 2, 2), "method": "cash", "processor_id": None, "tenant_id": TENANT_A},
    )  # fmt: skip
    insert(
        conn,
        model,
        "product",
        {"id": uid("pr1"), "name": "Widget", "sku": "widget", "unit_price": Decimal("3"), "active": True, "images": ["https://i.test/w.png"], "attributes": {"size": "L"}, "tenant_id": TENANT_A},
        {"id": uid("pr2"), "name": "Gadget", "sku": "gadget", "unit_price": Decimal("4"), "active": False, "images": [], "attributes": sa.null(), "tenant_id": TENANT_A},
    )  # fmt: skip
    insert(conn, model, "tag", {"id": uid("t1"), "name": "vip", "tenant_id": TENANT_A})
    insert(conn, model, "invoice_tag", {"invoice_id": uid("inv-1"), "tag_id": uid("t1")})


# Helpers --------------------------------------------------------------------------------------


def entity(model: AppModel, name: str) -> ir.Entity:
    return model.entity(name)


def query(model: AppModel, name: str, *params: tuple[str, str]) -> ListQuery:
    return parse_list_query(model, entity(model, name), params)


def read(
    conn: sa.Connection, model: AppModel, name: str, *params: tuple[str, str], who: Caller = MEMBER
) -> dict[str, Any]:
    return list_rows(conn, model, entity(model, name), who, query(model, name, *params))


def ids(page: dict[str, Any]) -> list[str]:
    return [item["id"] for item in page["items"]]


def names(*keys: str) -> list[str]:
    return [str(uid(key)) for key in keys]


def numbers(page: dict[str, Any]) -> list[str]:
    return [item["number"] for item in page["items"]]


def bad(model: AppModel, name: str, *params: tuple[str, str]) -> Problem:
    with pytest.raises(Problem) as raised:
        query(model, name, *params)
    assert raised.value.status == 400
    return raised.value


# Operators ------------------------------------------------------------------------------------

CASES = [
    # text
    ("Invoice", "filter[number]", "INV-2", ["inv-2"]),
    ("Invoice", "filter[number][ne]", "INV-2", ["inv-1", "inv-3", "inv-x"]),
    ("Invoice", "filter[number][lt]", "INV-2", ["inv-1"]),
    ("Invoice", "filter[number][lte]", "INV-2", ["inv-1", "inv-2"]),
    ("Invoice", "filter[number][gt]", "INV-3", ["inv-x"]),
    ("Invoice", "filter[number][gte]", "INV-3", ["inv-3", "inv-x"]),
    ("Invoice", "filter[number][in]", "INV-1,INV-3,INV-B", ["inv-1", "inv-3"]),
    ("Invoice", "filter[number][contains]", "inv-", ["inv-1", "inv-2", "inv-3", "inv-x"]),
    ("Invoice", "filter[notes][is_null]", "true", ["inv-2", "inv-x"]),
    ("Invoice", "filter[notes][is_null]", "false", ["inv-1", "inv-3"]),
    ("Invoice", "filter[notes][ne]", "first", ["inv-3"]),  # NULL is not "not first"
    # date
    ("Invoice", "filter[due_date]", "2026-02-01", ["inv-1"]),
    ("Invoice", "filter[due_date][lt]", "2026-03-15", ["inv-1"]),
    ("Invoice", "filter[due_date][lte]", "2026-03-15", ["inv-1", "inv-3"]),
    ("Invoice", "filter[due_date][gt]", "2026-03-15", ["inv-2", "inv-x"]),
    ("Invoice", "filter[due_date][gte]", "2026-04-01", ["inv-2", "inv-x"]),
    ("Invoice", "filter[due_date][in]", "2026-02-01,2026-05-01", ["inv-1", "inv-x"]),
    ("Invoice", "filter[due_date][ne]", "2026-02-01", ["inv-2", "inv-3", "inv-x"]),
    # datetime (without an offset: UTC)
    ("Invoice", "filter[sent_at]", "2026-01-02T09:30:00Z", ["inv-1"]),
    ("Invoice", "filter[sent_at][gte]", "2026-01-02T10:30:00+01:00", ["inv-1"]),
    ("Invoice", "filter[sent_at][gt]", "2026-01-02T09:30:00", []),
    ("Invoice", "filter[sent_at][lt]", "2026-01-03", ["inv-1"]),
    ("Invoice", "filter[sent_at][is_null]", "true", ["inv-2", "inv-3", "inv-x"]),
    # state
    ("Invoice", "filter[status]", "draft", ["inv-2", "inv-x"]),
    ("Invoice", "filter[status][ne]", "draft", ["inv-1", "inv-3"]),
    ("Invoice", "filter[status][in]", "sent,paid", ["inv-1", "inv-3"]),
    # ref and uuid
    ("Invoice", "filter[customer]", str(uid("acme")), ["inv-1", "inv-3"]),
    ("Invoice", "filter[customer][ne]", str(uid("acme")), ["inv-2", "inv-x"]),
    ("Invoice", "filter[customer][in]", f"{uid('beta')},{uid('acme-b')}", ["inv-2", "inv-x"]),
    ("Invoice", "filter[id]", str(uid("inv-b")), []),  # tenant B's
    ("Payment", "filter[processor_id]", str(uid("proc-1")), ["p1"]),
    ("Payment", "filter[processor_id][is_null]", "true", ["p2"]),
    # enum
    ("Payment", "filter[method]", "card", ["p1"]),
    ("Payment", "filter[method][in]", "cash,transfer", ["p2"]),
    # money, integer, decimal (same-row computed columns too)
    ("Payment", "filter[amount][gt]", "5", ["p1"]),
    ("Payment", "filter[amount]", "5.0", ["p2"]),
    ("InvoiceLine", "filter[quantity][gte]", "2", ["l1", "l3"]),
    ("InvoiceLine", "filter[quantity][in]", "1,3", ["l2", "l3", "lx"]),
    ("InvoiceLine", "filter[quantity][lt]", "2", ["l2", "lx"]),
    ("InvoiceLine", "filter[tax_rate]", "0", ["l3"]),
    ("InvoiceLine", "filter[tax_rate][ne]", "0", ["l1", "l2", "lx"]),
    ("InvoiceLine", "filter[total][lte]", "20", ["l1", "l2", "lx"]),
    ("InvoiceLine", "filter[unit_price][lte]", "5.5", ["l2", "lx"]),
    # computed on read
    ("Invoice", "filter[subtotal][gt]", "25.5", ["inv-3"]),
    ("Invoice", "filter[subtotal]", "25.5", ["inv-1"]),
    ("Invoice", "filter[subtotal]", "0", ["inv-2"]),  # a sum of no lines is 0
    ("Invoice", "filter[overdue]", "true", ["inv-1"]),
    ("Invoice", "filter[paid][gte]", "5", ["inv-1", "inv-3"]),
    ("Invoice", "filter[largest_line][is_null]", "true", ["inv-2"]),
    ("Customer", "filter[first_invoice_on]", "2026-01-01", ["acme"]),
    # boolean, array, json
    ("Product", "filter[active]", "true", ["pr1"]),
    ("Product", "filter[active][ne]", "true", ["pr2"]),
    ("Product", "filter[images][contains]", "https://i.test/w.png", ["pr1"]),
    ("Product", "filter[attributes][is_null]", "true", ["pr2"]),
    ("Customer", "filter[aliases][contains]", "gam", ["gamma"]),
    # dotted paths through refs: only readable related rows
    ("Invoice", "filter[customer.name][contains]", "acme", ["inv-1", "inv-3"]),
    ("Invoice", "filter[customer.name]", "Acme B", []),
    ("Invoice", "filter[customer.website][is_null]", "false", ["inv-2"]),
    ("InvoiceLine", "filter[invoice.customer.name][contains]", "ACME", ["l1", "l2", "l3"]),
    ("InvoiceLine", "filter[invoice.status]", "draft", ["lx"]),
    ("Payment", "filter[invoice.subtotal][gt]", "100", ["p1"]),
]


@pytest.mark.parametrize(("name", "param", "value", "expected"), CASES)
def test_every_operator_per_type(
    conn: sa.Connection, model: AppModel, name: str, param: str, value: str, expected: list[str]
) -> None:
    page = read(conn, model, name, (param, value), ("page[size]", "100"))
    assert sorted(ids(page)) == sorted(names(*expected))


def test_filters_combine_with_and(conn: sa.Connection, model: AppModel) -> None:
    page = read(
        conn,
        model,
        "Invoice",
        ("filter[status][ne]", "draft"),
        ("filter[due_date][gt]", "2026-02-01"),
    )
    assert ids(page) == names("inv-3")


# Sorts and pages ------------------------------------------------------------------------------


def test_sort_asc_and_desc_with_nulls(conn: sa.Connection, model: AppModel) -> None:
    assert numbers(read(conn, model, "Invoice", ("sort", "notes,number"))) == [
        "INV-1",
        "INV-3",
        "INV-2",
        "INV-X",
    ]
    assert numbers(read(conn, model, "Invoice", ("sort", "-notes,number"))) == [
        "INV-2",
        "INV-X",
        "INV-3",
        "INV-1",
    ]
    assert numbers(read(conn, model, "Invoice", ("sort", "-subtotal"))) == [
        "INV-3",
        "INV-1",
        "INV-X",
        "INV-2",
    ]
    # The list view's sort (-created_at) by default; a sort through a ref reads NULL where
    # the related row is not readable (tenant B's customer sorts as NULL, last).
    assert numbers(read(conn, model, "Invoice")) == ["INV-X", "INV-3", "INV-2", "INV-1"]
    by_customer = numbers(read(conn, model, "Invoice", ("sort", "customer.name,number")))
    assert by_customer == ["INV-1", "INV-3", "INV-2", "INV-X"]


def test_text_sorts_by_code_point(conn: sa.Connection, model: AppModel) -> None:
    page = read(conn, model, "Customer", ("sort", "name"))
    assert [item["name"] for item in page["items"]] == ["Acme Corp", "Beta Ltd", "gamma"]


def pages(
    conn: sa.Connection, model: AppModel, name: str, size: int, *params: tuple[str, str]
) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    after: list[tuple[str, str]] = []
    for _ in range(1000):
        page = read(conn, model, name, *params, ("page[size]", str(size)), *after)
        assert len(page["items"]) <= size
        items += page["items"]
        if page["next"] is None:
            return items
        after = [("page[after]", page["next"])]
    raise AssertionError("the pages never end")


def test_keyset_and_offset_pages_cover_the_list(conn: sa.Connection, model: AppModel) -> None:
    whole = read(conn, model, "Invoice", ("sort", "-notes"), ("page[size]", "100"))["items"]
    assert pages(conn, model, "Invoice", 1, ("sort", "-notes")) == whole
    by_number = [
        read(
            conn,
            model,
            "Invoice",
            ("sort", "-notes"),
            ("page[size]", "3"),
            ("page[number]", str(n)),
        )["items"]
        for n in (1, 2, 3)
    ]
    assert by_number[0] + by_number[1] == whole and by_number[2] == []


SORTS = [
    "due_date",
    "-due_date",
    "notes",
    "-notes",
    "-subtotal",
    "customer.name",
    "-status",
    "number",
    "-overdue,notes",
]


@settings(
    max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    rows=st.lists(
        st.tuples(st.integers(0, 3), st.sampled_from([None, "a", "b", "B"]), st.integers(0, 2)),
        min_size=0,
        max_size=14,
    ),
    size=st.integers(1, 5),
    sort=st.sampled_from(SORTS),
)
def test_keyset_pages_concatenated_are_the_whole_list(
    engine: sa.Engine,
    model: AppModel,
    rows: list[tuple[int, str | None, int]],
    size: int,
    sort: str,
) -> None:
    with engine.connect() as conn:
        transaction = conn.begin()
        try:
            tenant = uid("random-tenant")
            insert(conn, model, "tenant", {"id": tenant, "name": "R", "slug": "r"})
            insert(
                conn,
                model,
                "customer",
                {"id": uid("rc"), "name": "R", "email": "r@x", "tenant_id": tenant},
            )
            for position, (day, notes, lines) in enumerate(rows):
                key = uuid.uuid4()
                insert(
                    conn,
                    model,
                    "invoice",
                    {
                        "id": key,
                        "number": f"R{position % 3}-{position}",
                        "customer_id": uid("rc"),
                        "due_date": dt.date(2026, 1, 1 + day),
                        "status": ("draft", "sent")[day % 2],
                        "notes": notes,
                        "tenant_id": tenant,
                    },
                )
                for n in range(lines):
                    insert(
                        conn,
                        model,
                        "invoice_line",
                        {
                            "invoice_id": key,
                            "description": "x",
                            "unit_price": Decimal(day + n),
                            "tenant_id": tenant,
                        },
                    )
            who = caller(MEMBER_A, tenant, "member")
            whole = read(conn, model, "Invoice", ("sort", sort), ("page[size]", "100"), who=who)
            assert len(whole["items"]) == len(rows) and whole["next"] is None
            collected: list[dict[str, Any]] = []
            after: list[tuple[str, str]] = []
            while True:
                page = read(
                    conn,
                    model,
                    "Invoice",
                    ("sort", sort),
                    ("page[size]", str(size)),
                    *after,
                    who=who,
                )
                collected += page["items"]
                if page["next"] is None:
                    break
                after = [("page[after]", page["next"])]
            assert collected == whole["items"]
        finally:
            transaction.rollback()


def test_count(conn: sa.Connection, model: AppModel) -> None:
    page = read(
        conn, model, "Invoice", ("count", "true"), ("page[size]", "1"), ("filter[status]", "draft")
    )
    assert page["total"] == 2 and len(page["items"]) == 1 and page["next"] is not None
    assert "total" not in read(conn, model, "Invoice")
    assert read(conn, model, "Invoice", ("count", "true"), who=OTHER)["total"] == 1


def test_default_page_size_comes_from_the_list_view(model: AppModel) -> None:
    assert query(model, "Invoice").size == 25
    assert query(model, "Invoice", ("page[size]", "100")).size == 100


# Includes, tenants, hidden fields, computed fields ------------------------------------------------


def test_includes_refs_and_lists_under_their_own_read_rules(
    conn: sa.Connection, model: AppModel
) -> None:
    page = read(conn, model, "Invoice", ("include", "customer,lines,tags"), ("sort", "number"))
    by_number = {item["number"]: item for item in page["items"]}
    first = by_number["INV-1"]
    assert first["customer"]["name"] == "Acme Corp"
    assert [line["description"] for line in first["lines"]] == ["a", "b"]
    assert [tag["name"] for tag in first["tags"]] == ["vip"]
    assert by_number["INV-2"]["lines"] == [] and by_number["INV-2"]["tags"] == []
    # Tenant B's customer is not readable: the ref stays the key it was (nothing more is
    # revealed, and the value is still of the Read schema's type); tenant B's line is left out.
    assert by_number["INV-X"]["customer"] == str(uid("acme-b"))
    assert [line["description"] for line in by_number["INV-X"]["lines"]] == ["mine"]
    plain = read(conn, model, "Invoice", ("sort", "number"))["items"][0]
    assert plain["customer"] == str(uid("acme")) and "lines" not in plain and "tags" not in plain


def test_get_row(conn: sa.Connection, model: AppModel) -> None:
    invoice = entity(model, "Invoice")
    row = get_row(
        conn, model, invoice, MEMBER, str(uid("inv-1")), include=["customer", "lines", "payments"]
    )
    assert row is not None
    assert row["customer"]["id"] == str(uid("acme")) and len(row["lines"]) == 2
    assert row["payments"][0]["amount"] == "5.0000"
    assert get_row(conn, model, invoice, MEMBER, uid("inv-b")) is None  # tenant B's
    assert get_row(conn, model, invoice, MEMBER, uuid.uuid4()) is None
    assert get_row(conn, model, invoice, MEMBER, "not-a-uuid") is None
    assert get_row(conn, model, invoice, OTHER, uid("inv-b")) is not None
    with pytest.raises(Problem) as raised:
        get_row(conn, model, invoice, MEMBER, uid("inv-1"), include=["lnes"])
    assert raised.value.errors[0].field == "include" and '"lines"' in raised.value.detail


def test_nothing_of_tenant_b_reaches_a_caller_of_tenant_a(
    conn: sa.Connection, model: AppModel
) -> None:
    tenant_b = {str(uid(k)) for k in ("acme-b", "inv-b", "lb", "lx-b", "")} | {
        str(TENANT_B),
        "Acme B",
        "INV-B",
        "theirs",
        "b's",
    }
    seen: list[Any] = []
    for name in ("Invoice", "InvoiceLine", "Customer", "Payment"):
        seen.append(read(conn, model, name, ("page[size]", "100"))["items"])
    seen.append(
        read(conn, model, "Invoice", ("include", "customer,lines,payments"), ("page[size]", "100"))
    )
    seen.append(read(conn, model, "InvoiceLine", ("include", "invoice"), ("page[size]", "100")))
    seen.append(read(conn, model, "Invoice", ("filter[customer.name][contains]", "b")))
    seen.append(
        get_row(
            conn,
            model,
            entity(model, "Invoice"),
            MEMBER,
            uid("inv-x"),
            include=["customer", "lines"],
        )
    )
    leaked = set(_strings(seen)) & tenant_b
    # inv-x's own customer id is tenant A's row pointing at B: its key is all that is shown.
    assert leaked <= {str(uid("acme-b"))}
    # Included, the unreadable customer stays that key: no more of it is shown.
    assert read(
        conn,
        model,
        "Invoice",
        ("filter[customer]", str(uid("acme-b"))),
        ("include", "customer"),
    )["items"][0]["customer"] == str(uid("acme-b"))
    assert numbers(read(conn, model, "Invoice", who=OTHER)) == ["INV-B"]


def _strings(value: Any) -> Iterator[str]:
    if isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, str):
        yield value


def test_a_hidden_field_is_absent_and_cannot_be_probed(
    conn: sa.Connection, model: AppModel
) -> None:
    member = read(conn, model, "Customer", ("sort", "name"))["items"]
    billing = read(conn, model, "Customer", ("sort", "name"), who=BILLING)["items"]
    assert all("notes" not in item for item in member)
    assert billing[0]["notes"] == "pays late" and "notes" in billing[1]
    assert member[0]["email"] == "c@x.test"  # private: masked in logs, returned to readers
    probe = ("filter[notes][contains]", "late")
    assert read(conn, model, "Customer", probe)["items"] == []
    assert ids(read(conn, model, "Customer", probe, who=BILLING)) == names("acme")
    assert read(conn, model, "Invoice", ("filter[customer.notes][is_null]", "false"))["items"] == []
    # Sorted as NULL where hidden: the order says nothing about the value.
    assert [c["name"] for c in read(conn, model, "Customer", ("sort", "-notes,name"))["items"]] == [
        "Acme Corp",
        "Beta Ltd",
        "gamma",
    ]
    first = read(conn, model, "Customer", ("sort", "notes,name"), who=BILLING)["items"][0]
    assert first["name"] == "Acme Corp"
    included = read(conn, model, "Invoice", ("include", "customer"), ("filter[number]", "INV-1"))[
        "items"
    ][0]
    assert "notes" not in included["customer"]


def test_computed_fields_and_json_shape(conn: sa.Connection, model: AppModel) -> None:
    row = get_row(conn, model, entity(model, "Invoice"), MEMBER, uid("inv-1"), include=["lines"])
    assert row is not None
    line_totals = [Decimal(line["total"]) for line in row["lines"]]
    assert Decimal(row["subtotal"]) == sum(line_totals) == Decimal("25.5")
    assert Decimal(row["tax"]) == Decimal("5.1")
    assert Decimal(row["total"]) == Decimal("30.6")
    assert Decimal(row["paid"]) == 5 and Decimal(row["largest_line"]) == 20
    assert row["average_price"] == "7.7500"
    assert row["overdue"] is True
    assert row["issue_date"] == "2026-01-01" and row["sent_at"] == "2026-01-02T09:30:00+00:00"
    assert row["status"] == "sent" and row["id"] == str(uid("inv-1"))
    assert isinstance(row["lines"][0]["quantity"], int)
    empty = get_row(conn, model, entity(model, "Invoice"), MEMBER, uid("inv-2"))
    assert empty is not None and empty["subtotal"] == "0.0000" and empty["largest_line"] is None
    assert empty["overdue"] is False
    customer = get_row(conn, model, entity(model, "Customer"), MEMBER, uid("acme"))
    assert customer is not None and customer["first_invoice_on"] == "2026-01-01"
    assert customer["aliases"] == [] and customer["credit_limit"] == "5000.0000"


def test_poly_refs_read_as_type_and_id(conn: sa.Connection, model: AppModel) -> None:
    insert(
        conn,
        model,
        "comment",
        {
            "id": uid("cm"),
            "subject_type": "Invoice",
            "subject_id": uid("inv-1"),
            "body": "hi",
            "tenant_id": TENANT_A,
        },
    )
    row = get_row(conn, model, entity(model, "Comment"), MEMBER, uid("cm"))
    assert row is not None and row["subject"] == {"type": "Invoice", "id": str(uid("inv-1"))}


def test_row_etag_is_stable_and_changes_with_any_value(
    conn: sa.Connection, model: AppModel
) -> None:
    first = get_row(conn, model, entity(model, "Invoice"), MEMBER, uid("inv-1"))
    again = get_row(conn, model, entity(model, "Invoice"), BILLING, uid("inv-1"))
    assert first is not None and again is not None
    assert row_etag(first) == row_etag(again) and row_etag(first).startswith('"')
    assert row_etag({**first, "updated_at": NOW.isoformat()}) != row_etag(first)


def test_visible_rows_is_the_read_rule(conn: sa.Connection, model: AppModel) -> None:
    table = model.tables["invoice"]
    count = conn.execute(
        sa.select(sa.func.count())
        .select_from(table)
        .where(visible_rows(model, entity(model, "Invoice"), MEMBER))
    )
    assert count.scalar_one() == 4
    user = entity(model, "User")  # no read rule: denied by default
    assert read(conn, model, "User")["items"] == []
    assert (
        conn.execute(
            sa.select(sa.func.count())
            .select_from(model.tables["user"])
            .where(visible_rows(model, user, MEMBER))
        ).scalar_one()
        == 0
    )


# Statements -------------------------------------------------------------------------------------


def test_statements_do_not_grow_with_the_page(conn: sa.Connection, model: AppModel) -> None:
    tenant = uid("bulk")
    insert(conn, model, "tenant", {"id": tenant, "name": "Bulk", "slug": "bulk"})
    insert(
        conn,
        model,
        "customer",
        {"id": uid("bulk-c"), "name": "C", "email": "c@x", "tenant_id": tenant},
    )
    invoices = [
        {
            "id": uuid.uuid4(),
            "number": f"N{n}",
            "customer_id": uid("bulk-c"),
            "due_date": TODAY,
            "tenant_id": tenant,
        }
        for n in range(100)
    ]
    insert(conn, model, "invoice", *invoices)
    insert(
        conn,
        model,
        "invoice_line",
        *(
            {
                "invoice_id": i["id"],
                "description": "x",
                "unit_price": Decimal(1),
                "tenant_id": tenant,
            }
            for i in invoices
        ),
    )
    who = caller(MEMBER_A, tenant, "member")
    statements: list[str] = []

    def count(*args: Any) -> None:
        statements.append(args[2])

    counts = []
    for size in ("1", "100"):
        statements.clear()
        sa.event.listen(conn, "before_cursor_execute", count)
        try:
            page = read(
                conn,
                model,
                "Invoice",
                ("include", "customer,lines"),
                ("page[size]", size),
                ("count", "true"),
                who=who,
            )
        finally:
            sa.event.remove(conn, "before_cursor_execute", count)
        assert len(page["items"]) == int(size) and all(len(i["lines"]) == 1 for i in page["items"])
        counts.append(len(statements))
    assert counts == [4, 4]  # the page, the customers, the lines, the count


# 400s -------------------------------------------------------------------------------------------

BAD = [
    (("filter[statuss]", "draft"), "filter[statuss]", '"status"'),
    (("filter[status][eqq]", "draft"), "filter[status][eqq]", '"eq"'),
    (("filter[status]", "drafty"), "filter[status]", '"draft"'),
    (("filter[status][contains]", "dr"), "filter[status][contains]", "does not apply"),
    (("filter[due_date]", "yesterday"), "filter[due_date]", "a date"),
    (("filter[sent_at][gt]", "2026-13-01"), "filter[sent_at][gt]", "date and time"),
    (("filter[customer]", "acme"), "filter[customer]", "UUID"),
    (("filter[id][in]", f"{uid('x')},nope"), "filter[id][in]", "UUID"),
    (("filter[subtotal][gt]", "1e"), "filter[subtotal][gt]", "amount"),
    (("filter[subtotal][gt]", "NaN"), "filter[subtotal][gt]", "amount"),
    (("filter[overdue]", "yes"), "filter[overdue]", "true or false"),
    (("filter[notes][is_null]", "1"), "filter[notes][is_null]", "true or false"),
    (("filter[lines]", "x"), "filter[lines]", "list of rows"),
    (("filter[customer.nme]", "x"), "filter[customer.nme]", '"name"'),
    (("filter[number.x]", "x"), "filter[number.x]", "not a ref"),
    (("filter", "x"), "filter", "filter[field]"),
    (("filter[a][b][c]", "x"), "filter[a][b][c]", "filter[field]"),
    (("sort", "-statuss"), "sort", '"status"'),
    (("sort", "lines"), "sort", "list of rows"),
    (("sort", "number,,status"), "sort", "empty"),
    (("sort", "number,-number"), "sort", "twice"),
    (("page[size]", "0"), "page[size]", "out of range"),
    (("page[size]", "101"), "page[size]", "out of range"),
    (("page[size]", "ten"), "page[size]", "integer"),
    (("page[number]", "0"), "page[number]", "out of range"),
    (("page[after]", "%%%"), "page[after]", "cursor"),
    (("page[after]", "eyJhIjoxfQ"), "page[after]", "cursor"),
    (("count", "yes"), "count", "true or false"),
    (("include", "custmer"), "include", '"customer"'),
    (("include", "number"), "include", "not a relation"),
    (("sortt", "number"), "sortt", '"sort"'),
    (("page[sise]", "3"), "page[sise]", '"page[size]"'),
]


@pytest.mark.parametrize(("param", "field", "words"), BAD)
def test_every_bad_parameter_is_a_400_naming_it(
    model: AppModel, param: tuple[str, str], field: str, words: str
) -> None:
    problem = bad(model, "Invoice", param)
    assert [e.field for e in problem.errors] == [field]
    assert words in problem.errors[0].message


def test_bad_combinations_and_cursors(model: AppModel) -> None:
    invoice = entity(model, "Invoice")
    good = encode_cursor(query(model, "Invoice").sort, [NOW.isoformat(), str(uid("inv-1"))])
    assert query(model, "Invoice", ("page[after]", good)).after == (NOW, uid("inv-1"))
    problem = bad(model, "Invoice", ("page[after]", good), ("page[number]", "2"))
    assert problem.errors[0].field == "page[after]"
    problem = bad(model, "Invoice", ("page[after]", good), ("sort", "number"))
    assert "another sort" in problem.detail
    tampered = encode_cursor(query(model, "Invoice").sort, ["not a time", str(uid("inv-1"))])
    assert bad(model, "Invoice", ("page[after]", tampered)).errors[0].field == "page[after]"
    short = encode_cursor(query(model, "Invoice").sort, [str(uid("inv-1"))])
    assert bad(model, "Invoice", ("page[after]", short)).errors[0].field == "page[after]"
    assert bad(model, "Invoice", ("sort", "number"), ("sort", "status")).errors[0].field == "sort"
    assert invoice.name == "Invoice"
