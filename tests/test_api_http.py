"""The generated API of the invoices example, over HTTP against a real PostgreSQL.

The app is the generated `api/app.py`, imported from a generated tree, with
the database made from the generated `schema.postgres.sql`.
"""

from __future__ import annotations

import contextlib
import importlib
import os
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from compiler.compile import compile_project
from generators.registry import load_generators, run_generators
from runtime.database import normalize_url
from tests import pg

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoices"


@contextlib.contextmanager
def served_api(project_dir: Path, pg_admin_url: str, root: Path) -> Iterator[Any]:
    """The generated API of `project_dir`, imported from a tree under `root`, on a new
    database made from its `schema.postgres.sql`."""
    project = compile_project(project_dir).project
    package = f"generated_{uuid.uuid4().hex[:8]}"
    for artifact in run_generators(project, load_generators()):
        path = root / package / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(artifact.content)
    url = pg.create_database(pg_admin_url)
    engine = sa.create_engine(normalize_url(url), poolclass=sa.pool.NullPool)
    schema = (root / package / "db" / "schema.postgres.sql").read_text()
    with engine.begin() as connection:
        connection.exec_driver_sql(schema, execution_options={"no_parameters": True})
    engine.dispose()
    os.environ["DATABASE_URL"] = url
    os.environ["REFRAME_PROJECT"] = str(project_dir)
    sys.path.insert(0, str(root))
    try:
        module = importlib.import_module(f"{package}.api.app")
        yield module.app
    finally:
        sys.path.remove(str(root))
        os.environ.pop("DATABASE_URL", None)
        module.app.state.engine.dispose()
        pg.drop_database(pg_admin_url, url)


@pytest.fixture(scope="module")
def generated_app(pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    with served_api(EXAMPLE, pg_admin_url, tmp_path_factory.mktemp("api")) as app:
        yield app


@pytest.fixture(scope="module")
def client(generated_app: Any) -> Iterator[TestClient]:
    with TestClient(generated_app) as test_client:
        yield test_client


def signup(client: TestClient, tenant: str) -> dict[str, str]:
    email = f"{uuid.uuid4().hex[:8]}@{tenant.lower().replace(' ', '-')}.test"
    answer = client.post(
        "/api/auth/signup", json={"email": email, "password": "correct horse 1", "tenant": tenant}
    )
    assert answer.status_code == 201, answer.text
    return {"Authorization": f"Bearer {answer.json()['token']}"}


def member(client: TestClient, admin: dict[str, str], roles: list[str]) -> dict[str, str]:
    """A second user of the admin's tenant with `roles`, signed in."""
    me = client.get("/api/auth/me", headers=admin).json()
    tenant = me["tenant"]["id"] if isinstance(me.get("tenant"), dict) else me["tenant"]
    email = f"{uuid.uuid4().hex[:8]}@member.test"
    added = client.post(
        f"/api/tenants/{tenant}/members", json={"email": email, "roles": roles}, headers=admin
    )
    assert added.status_code in (200, 201), added.text
    link = client.post("/api/auth/magic-link", json={"email": email})
    assert link.status_code == 202
    outbox = client.get("/api/auth/outbox", headers=admin).json()
    messages = outbox["items"] if isinstance(outbox, dict) else outbox
    body = next(m for m in messages if m["to_address"] == email)["body"]
    token = body.split("token=")[-1].split()[0].strip()
    verified = client.post("/api/auth/magic-link/verify", json={"token": token})
    assert verified.status_code == 200, verified.text
    return {"Authorization": f"Bearer {verified.json()['token']}"}


def create(
    client: TestClient, headers: dict[str, str], path: str, body: dict[str, Any]
) -> dict[str, Any]:
    answer = client.post(f"/api/{path}", json=body, headers=headers)
    assert answer.status_code == 201, answer.text
    row: dict[str, Any] = answer.json()
    return row


def test_the_invoice_lifecycle_end_to_end(client: TestClient) -> None:
    admin = signup(client, "Acme")
    billing = member(client, admin, ["billing"])
    customer = create(client, billing, "customers", {"name": "Wile E.", "email": "w@e.test"})
    invoice = create(
        client,
        billing,
        "invoices",
        {"number": "INV-1", "customer": customer["id"], "due_date": "2026-12-31"},
    )
    assert invoice["status"] == "draft" and invoice["subtotal"] == "0.0000"
    for quantity, price in ((2, "10.50"), (1, "4.00")):
        create(
            client,
            billing,
            "invoice-lines",
            {
                "invoice": invoice["id"],
                "description": "work",
                "quantity": quantity,
                "unit_price": price,
            },
        )
    got = client.get(f"/api/invoices/{invoice['id']}", headers=billing)
    assert got.status_code == 200
    assert got.json()["subtotal"] == "25.0000"

    # Invalid transition: 409 names the current state and the allowed ones.
    paid = client.post(
        f"/api/invoices/{invoice['id']}/actions/pay", json={"amount": "25.00"}, headers=billing
    )
    assert paid.status_code == 409
    assert paid.headers["content-type"].startswith("application/problem+json")
    assert "draft" in paid.json()["detail"] and "sent" in paid.json()["detail"]

    # Send twice with one Idempotency-Key: one transition, the same answer.
    key = {"Idempotency-Key": uuid.uuid4().hex}
    first = client.post(f"/api/invoices/{invoice['id']}/actions/send", headers={**billing, **key})
    again = client.post(f"/api/invoices/{invoice['id']}/actions/send", headers={**billing, **key})
    assert first.status_code == again.status_code == 200, first.text
    assert first.json() == again.json() and first.json()["status"] == "sent"

    paid = client.post(
        f"/api/invoices/{invoice['id']}/actions/pay", json={"amount": "25.00"}, headers=billing
    )
    assert paid.status_code == 200 and paid.json()["status"] == "paid"
    voided = client.post(f"/api/invoices/{invoice['id']}/actions/void", headers=admin)
    assert voided.status_code == 409


def test_a_stale_etag_is_refused_with_412(client: TestClient) -> None:
    admin = signup(client, "Etag Co")
    customer = create(client, admin, "customers", {"name": "C", "email": "c@e.test"})
    first = client.get(f"/api/customers/{customer['id']}", headers=admin)
    etag = first.headers["ETag"]
    changed = client.patch(
        f"/api/customers/{customer['id']}", json={"name": "C2"}, headers={**admin, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    stale = client.patch(
        f"/api/customers/{customer['id']}", json={"name": "C3"}, headers={**admin, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert client.get(f"/api/customers/{customer['id']}", headers=admin).json()["name"] == "C2"
    # A row read with an include has the tag of the stored row: If-Match works with it.
    plain = client.get(f"/api/customers/{customer['id']}", headers=admin)
    included = client.get(f"/api/customers/{customer['id']}?include=tenant", headers=admin)
    assert isinstance(included.json()["tenant"], str | dict)
    assert included.headers["ETag"] == plain.headers["ETag"]


def test_another_tenant_sees_nothing_and_gets_404s(client: TestClient) -> None:
    acme = signup(client, "Tenant A")
    other = signup(client, "Tenant B")
    customer = create(client, acme, "customers", {"name": "Secret", "email": "s@a.test"})
    assert client.get(f"/api/customers/{customer['id']}", headers=other).status_code == 404
    listed = client.get("/api/customers", headers=other).json()["items"]
    assert all(row["id"] != customer["id"] for row in listed)
    assert (
        client.patch(
            f"/api/customers/{customer['id']}", json={"name": "x"}, headers=other
        ).status_code
        == 404
    )
    assert client.delete(f"/api/customers/{customer['id']}", headers=other).status_code == 404
    # Linking to another tenant's row is refused too.
    linked = client.post(
        "/api/invoices",
        json={"number": "X-1", "customer": customer["id"], "due_date": "2026-12-31"},
        headers=other,
    )
    assert linked.status_code == 422
    assert linked.json()["errors"][0]["field"] == "customer"


def test_errors_are_problem_json_with_field_paths(client: TestClient) -> None:
    admin = signup(client, "Problems Inc")
    invalid = client.post("/api/customers", json={"name": "x" * 300}, headers=admin)
    assert invalid.status_code == 422
    assert invalid.headers["content-type"].startswith("application/problem+json")
    fields = {e["field"] for e in invalid.json()["errors"]}
    assert {"name", "email"} <= fields
    unknown = client.get("/api/customers?filter[nmae]=x", headers=admin)
    assert unknown.status_code == 400
    assert unknown.json()["errors"][0]["field"] == "filter[nmae]"
    assert client.get(f"/api/customers/{uuid.uuid4()}", headers=admin).status_code == 404


def test_a_member_without_the_role_gets_403_with_the_reason(client: TestClient) -> None:
    admin = signup(client, "Roles Ltd")
    plain = member(client, admin, ["member"])
    refused = client.post("/api/customers", json={"name": "N", "email": "n@e.test"}, headers=plain)
    assert refused.status_code == 403
    assert 'role "billing"' in refused.json()["detail"]


def test_openapi_has_stable_operation_ids_and_problem_responses(client: TestClient) -> None:
    document = client.get("/api/openapi.json").json()
    ids = {op["operationId"] for path in document["paths"].values() for op in path.values()}
    assert {"listInvoices", "createInvoice", "sendInvoice", "payInvoice", "getInvoice"} <= ids
    post = document["paths"]["/api/invoices"]["post"]
    assert "application/problem+json" in post["responses"]["422"]["content"]
    schemas = document["components"]["schemas"]
    assert {"InvoiceRead", "InvoiceCreate", "InvoiceUpdate"} <= set(schemas)
    assert "status" not in schemas["InvoiceCreate"]["properties"]  # states move by actions


def test_a_materialized_count_follows_creates_moves_and_deletes(client: TestClient) -> None:
    """Customer.invoice_count is stored; each write of an invoice refreshes it in its transaction."""
    admin = signup(client, "Counts Co")
    first = create(client, admin, "customers", {"name": "One", "email": "one@e.test"})
    second = create(client, admin, "customers", {"name": "Two", "email": "two@e.test"})

    def counts() -> tuple[int, int]:
        return tuple(
            client.get(f"/api/customers/{c['id']}", headers=admin).json()["invoice_count"]
            for c in (first, second)
        )  # type: ignore[return-value]

    assert counts() == (0, 0)
    invoice = create(
        client,
        admin,
        "invoices",
        {"number": "M-1", "customer": first["id"], "due_date": "2026-12-31"},
    )
    assert counts() == (1, 0)
    moved = client.patch(
        f"/api/invoices/{invoice['id']}", json={"customer": second["id"]}, headers=admin
    )
    assert moved.status_code == 200, moved.text
    assert counts() == (0, 1)
    assert client.delete(f"/api/invoices/{invoice['id']}", headers=admin).status_code == 204
    assert counts() == (0, 0)


def test_admins_read_the_audit_log_with_private_values_masked(client: TestClient) -> None:
    admin = signup(client, "Audit Ltd")
    customer = create(client, admin, "customers", {"name": "Priv", "email": "secret@e.test"})
    changed = client.patch(
        f"/api/customers/{customer['id']}", json={"name": "Priv 2"}, headers=admin
    )
    assert changed.status_code == 200
    log = client.get(f"/api/audit?entity=Customer&row={customer['id']}", headers=admin)
    assert log.status_code == 200, log.text
    entries = log.json()["items"]
    assert [e["operation"] for e in entries] == ["update", "create"]
    assert entries[1]["changes"]["email"] == "***"  # .private(): masked
    assert entries[0]["changes"]["name"] == {"from": "Priv", "to": "Priv 2"}
    assert "secret@e.test" not in log.text
    plain = member(client, admin, ["member"])
    assert client.get("/api/audit", headers=plain).status_code == 403


# Many-to-many links: written as the linked rows' keys, replacing the links ---------------


def tag_names(client: TestClient, headers: dict[str, str], invoice: str) -> list[str]:
    got = client.get(f"/api/invoices/{invoice}?include=tags", headers=headers)
    assert got.status_code == 200, got.text
    return sorted(tag["name"] for tag in got.json()["tags"])


def test_many_to_many_links_are_set_on_create_and_replaced_on_update(client: TestClient) -> None:
    admin = signup(client, "Links Co")
    customer = create(client, admin, "customers", {"name": "L", "email": "l@e.test"})
    red, green, blue = (
        create(client, admin, "tags", {"name": n}) for n in ("red", "green", "blue")
    )
    invoice = create(
        client,
        admin,
        "invoices",
        {
            "number": "L-1",
            "customer": customer["id"],
            "due_date": "2026-12-31",
            "tags": [red["id"], green["id"], red["id"]],  # a key twice is one link
        },
    )
    assert "tags" not in invoice  # as a GET without include
    key = invoice["id"]
    assert tag_names(client, admin, key) == ["green", "red"]
    plain = client.get(f"/api/invoices/{key}", headers=admin)
    assert "tags" not in plain.json()

    # The ETag is the stored row's, with or without include; setting links touches
    # updated_at, so it changes and a stale If-Match is refused.
    etag = plain.headers["ETag"]
    included = client.get(f"/api/invoices/{key}?include=tags", headers=admin)
    assert included.headers["ETag"] == etag
    changed = client.patch(
        f"/api/invoices/{key}", json={"tags": [blue["id"]]}, headers={**admin, "If-Match": etag}
    )
    assert changed.status_code == 200, changed.text
    assert changed.headers["ETag"] != etag
    assert (
        client.get(f"/api/invoices/{key}", headers=admin).headers["ETag"]
        == (changed.headers["ETag"])
    )
    assert tag_names(client, admin, key) == ["blue"]
    stale = client.patch(
        f"/api/invoices/{key}", json={"tags": [red["id"]]}, headers={**admin, "If-Match": etag}
    )
    assert stale.status_code == 412
    assert tag_names(client, admin, key) == ["blue"]

    # Absent: unchanged; [] and null: no links.
    noted = client.patch(f"/api/invoices/{key}", json={"notes": "n"}, headers=admin)
    assert noted.status_code == 200, noted.text
    assert tag_names(client, admin, key) == ["blue"]
    assert client.patch(f"/api/invoices/{key}", json={"tags": []}, headers=admin).is_success
    assert tag_names(client, admin, key) == []
    both = [red["id"], blue["id"]]
    assert client.patch(f"/api/invoices/{key}", json={"tags": both}, headers=admin).is_success
    assert client.patch(f"/api/invoices/{key}", json={"tags": None}, headers=admin).is_success
    assert tag_names(client, admin, key) == []

    # The audit has the sorted keys before and after.
    log = client.get(f"/api/audit?entity=Invoice&row={key}", headers=admin).json()["items"]
    assert [e["operation"] for e in log] == ["update"] * 5 + ["create"]
    assert log[-1]["changes"]["tags"] == sorted([red["id"], green["id"]])
    assert log[-2]["changes"]["tags"] == {
        "from": sorted([red["id"], green["id"]]),
        "to": [blue["id"]],
    }
    assert "tags" not in log[-3]["changes"]  # the notes only
    assert log[0]["changes"]["tags"] == {"from": sorted(both), "to": []}


def tagged_invoice(client: TestClient, tenant: str) -> dict[str, Any]:
    """In a new tenant: an invoice linked to its tag "mine"; and a tag "theirs" of another
    tenant. The invoice's fields, and the admin's headers, the customer row and both tags."""
    admin = signup(client, f"{tenant} A")
    other = signup(client, f"{tenant} B")
    customer = create(client, admin, "customers", {"name": tenant, "email": "t@e.test"})
    mine = create(client, admin, "tags", {"name": "mine"})
    theirs = create(client, other, "tags", {"name": "theirs"})
    invoice = create(
        client,
        admin,
        "invoices",
        {
            "number": f"{tenant}-1",
            "customer": customer["id"],
            "due_date": "2026-12-31",
            "tags": [mine["id"]],
        },
    )
    return {**invoice, "admin": admin, "customer": customer, "mine": mine, "theirs": theirs}


def test_a_link_to_a_row_the_caller_cannot_read_is_a_422_and_nothing_is_written(
    client: TestClient,
) -> None:
    made = tagged_invoice(client, "Links")
    admin, customer, mine, theirs = made["admin"], made["customer"], made["mine"], made["theirs"]
    key = made["id"]
    unknown = str(uuid.uuid4())
    for bad in (theirs["id"], unknown):
        refused = client.patch(
            f"/api/invoices/{key}",
            json={"notes": "changed", "due_date": "2027-01-31", "tags": [mine["id"], bad]},
            headers=admin,
        )
        assert refused.status_code == 422, refused.text
        assert refused.json()["errors"] == [{"field": "tags", "message": f"no tag with id {bad}"}]
        # The whole write is refused: the row's fields and its links are as they were.
        after = client.get(f"/api/invoices/{key}?include=tags", headers=admin).json()
        assert after["notes"] is None and after["due_date"] == "2026-12-31"
        assert [t["name"] for t in after["tags"]] == ["mine"]
    created = client.post(
        "/api/invoices",
        json={"number": "Links-2", "customer": customer["id"], "due_date": "2026-12-31",
              "tags": [theirs["id"]]},
        headers=admin,
    )  # fmt: skip
    assert created.status_code == 422
    assert created.json()["errors"][0]["field"] == "tags"
    listed = client.get("/api/invoices?filter[number]=Links-2", headers=admin).json()["items"]
    assert listed == []
    # A many-to-many through an entity (Customer.contacts) is written as CustomerContact rows.
    through = client.patch(f"/api/customers/{customer['id']}", json={"contacts": []}, headers=admin)
    assert through.status_code == 422
    assert through.json()["errors"][0]["field"] == "contacts"


def test_links_to_rows_the_caller_cannot_read_are_kept(
    client: TestClient, generated_app: Any
) -> None:
    """The caller can neither see nor send them: replacing the set leaves them."""
    invoice = tagged_invoice(client, "Keeps")
    admin, theirs = invoice["admin"], invoice["theirs"]
    field = generated_app.state.model.entity("Invoice").field("tags").type
    link = generated_app.state.model.tables[field.join_table]
    with generated_app.state.engine.begin() as connection:  # as bad data or a policy change would
        connection.execute(
            sa.insert(link).values(
                {field.source_column: invoice["id"], field.target_column: theirs["id"]}
            )
        )
    assert tag_names(client, admin, invoice["id"]) == ["mine"]
    cleared = client.patch(f"/api/invoices/{invoice['id']}", json={"tags": []}, headers=admin)
    assert cleared.status_code == 200, cleared.text
    with generated_app.state.engine.connect() as connection:
        left = connection.scalars(
            sa.select(link.c[field.target_column]).where(
                link.c[field.source_column] == invoice["id"]
            )
        ).all()
    assert [str(k) for k in left] == [theirs["id"]]


def test_a_change_of_links_alone_changes_the_etag_whichever_side_made_it(
    pg_admin_url: str, example_copy: Path, tmp_path: Path
) -> None:
    """Links change without touching the row: on an entity without `updated_at`, or from
    the other side of a many-to-many declared on both. The tag covers the links, so a stale
    If-Match after such a change is refused instead of overwriting it."""
    project = example_copy
    customers = project / "domain" / "customers.model.py"
    declared = 'entity(\n    "Customer",\n'
    assert declared in customers.read_text()
    customers.write_text(
        customers.read_text().replace(declared, declared + "    timestamps=False,\n")
    )
    catalog = project / "domain" / "catalog.model.py"
    color = '        "color": text()'
    assert color in catalog.read_text()
    # Tag.invoices and Invoice.tags declare each other: one join table, two sides.
    catalog.write_text(
        "from compiler.dsl import many_to_many\n"
        + catalog.read_text().replace(
            color, '        "invoices": many_to_many("Invoice"),\n' + color, 1
        )
    )
    with served_api(project, pg_admin_url, tmp_path / "api") as app, TestClient(app) as client:
        admin = signup(client, "Untimed Co")
        red, blue = (create(client, admin, "tags", {"name": n}) for n in ("red", "blue"))
        customer = create(
            client, admin, "customers", {"name": "U", "email": "u@e.test", "tags": [red["id"]]}
        )
        assert "updated_at" not in customer
        path = f"/api/customers/{customer['id']}"
        etag = client.get(path, headers=admin).headers["ETag"]

        changed = client.patch(
            path, json={"tags": [blue["id"]]}, headers={**admin, "If-Match": etag}
        )
        assert changed.status_code == 200, changed.text
        assert changed.headers["ETag"] != etag
        assert client.get(path, headers=admin).headers["ETag"] == changed.headers["ETag"]
        stale = client.patch(path, json={"tags": [red["id"]]}, headers={**admin, "If-Match": etag})
        assert stale.status_code == 412
        fresh = client.patch(
            path, json={"name": "U2"}, headers={**admin, "If-Match": changed.headers["ETag"]}
        )
        assert fresh.status_code == 200, fresh.text

        # From the other side: tagging an invoice through the tag changes the invoice's tag.
        invoice = create(
            client,
            admin,
            "invoices",
            {"number": "T-1", "customer": customer["id"], "due_date": "2026-12-31"},
        )
        invoice_path = f"/api/invoices/{invoice['id']}"
        read = client.get(invoice_path, headers=admin).headers["ETag"]
        linked = client.patch(
            f"/api/tags/{red['id']}", json={"invoices": [invoice["id"]]}, headers=admin
        )
        assert linked.status_code == 200, linked.text
        assert client.get(invoice_path, headers=admin).headers["ETag"] != read
        late = client.patch(invoice_path, json={"notes": "n"}, headers={**admin, "If-Match": read})
        assert late.status_code == 412
