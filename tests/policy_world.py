"""A small multi-tenant model with rows and callers, for testing compiled policies.

Invoice -> Customer -> Account, each with refs to users, nullable values of
every kind a rule can compare, and text that sorts differently by code
point and by a locale. `random_world(seed)` builds the rows; `insert` puts
them into a database made from the model's `schema.postgres.sql`;
`python_rows` gives the same rows as the Python evaluator reads them
(refs as nested mappings).
"""

from __future__ import annotations

import datetime as dt
import random
import uuid
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from compiler import ir
from compiler.compile import compile_project
from generators.db import DbGenerator

GEN_TOML = """[app]
name = "policyworld"
roles = ["admin", "billing", "member"]
tenancy = "org"
"""

MODEL = """
from compiler.dsl import boolean, date, entity, enum, integer, money, ref, text

Account = entity("Account", tenant=True, fields={
    "name": text().required(),
    "manager": ref("User"),
    "tier": enum(["free", "pro"]),
})
Customer = entity("Customer", tenant=True, fields={
    "name": text().required(),
    "account": ref("Account"),
    "account_manager": ref("User"),
    "status": enum(["active", "paused", "closed"]),
    "credit": money(),
    "since": date(),
    "note": text(),
})
Invoice = entity("Invoice", tenant=True, fields={
    "customer": ref("Customer"),
    "approver": ref("User"),
    "title": text(),
    "amount": money(),
    "quantity": integer(),
    "due": date(),
    "paid": boolean(),
    "stage": enum(["draft", "sent", "paid", "void"]),
})
"""

ROLES = ("admin", "billing", "member")
TITLES = ("alpha", "Beta", "beta", "Zed", "éclair", "", "a b", "10", "9")
NOTES = ("vip", "late payer", "VIP", "", "call first")
TODAY = dt.date(2026, 6, 15)
NOW = dt.datetime(2026, 6, 15, 12, 0, tzinfo=dt.UTC)


def write_project(root: Path) -> Path:
    (root / "domain").mkdir(parents=True, exist_ok=True)
    (root / "gen.toml").write_text(GEN_TOML, encoding="utf-8")
    (root / "domain" / "world.model.py").write_text(MODEL, encoding="utf-8")
    return root


def compile_world(root: Path) -> ir.Project:
    return compile_project(write_project(root)).project


def schema_sql(project: ir.Project) -> str:
    (artifact,) = [a for a in DbGenerator().generate(project) if a.path.endswith(".sql")]
    return artifact.content.decode()


@dataclass
class World:
    users: list[uuid.UUID] = field(default_factory=list)
    tenants: list[uuid.UUID] = field(default_factory=list)
    #: entity name -> rows by field name; refs hold keys.
    rows: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def random_world(seed: int, invoices: int = 150) -> World:
    rng = random.Random(seed)
    world = World(
        users=[uuid.UUID(int=rng.getrandbits(128)) for _ in range(6)],
        tenants=[uuid.UUID(int=rng.getrandbits(128)) for _ in range(3)],
    )

    def maybe(value: Any) -> Any:
        return None if rng.random() < 0.2 else value

    def key() -> uuid.UUID:
        return uuid.UUID(int=rng.getrandbits(128))

    def owned(tenant: uuid.UUID) -> dict[str, Any]:
        return {"id": key(), "tenant": tenant, "created_by": maybe(rng.choice(world.users))}

    accounts = [
        {
            **owned(tenant),
            "name": f"account {n}",
            "manager": maybe(rng.choice(world.users)),
            "tier": maybe(rng.choice(["free", "pro"])),
        }
        for n, tenant in enumerate(t for t in world.tenants for _ in range(2))
    ]
    customers = []
    for n in range(12):
        account = maybe(rng.choice(accounts)) if n else None  # one without, always
        tenant = account["tenant"] if account else rng.choice(world.tenants)
        customers.append(
            {
                **owned(tenant),
                "name": f"customer {n}",
                "account": account["id"] if account else None,
                "account_manager": maybe(rng.choice(world.users)),
                "status": maybe(rng.choice(["active", "paused", "closed"])),
                "credit": maybe(Decimal(rng.randrange(0, 100_000)) / 100),
                "since": maybe(TODAY - dt.timedelta(days=rng.randrange(-30, 400))),
                "note": maybe(rng.choice(NOTES)),
            }
        )
    world.rows = {"Account": accounts, "Customer": customers, "Invoice": []}
    for _ in range(invoices):
        customer = maybe(rng.choice(customers))
        world.rows["Invoice"].append(
            {
                **owned(customer["tenant"] if customer else rng.choice(world.tenants)),
                "customer": customer["id"] if customer else None,
                "approver": maybe(rng.choice(world.users)),
                "title": maybe(rng.choice(TITLES)),
                "amount": maybe(Decimal(rng.randrange(-1000, 100_000)) / 100),
                "quantity": maybe(rng.randrange(-3, 20)),
                "due": maybe(TODAY + dt.timedelta(days=rng.randrange(-60, 60))),
                "paid": maybe(rng.random() < 0.5),
                "stage": maybe(rng.choice(["draft", "sent", "paid", "void"])),
            }
        )
    return world


def insert(
    connection: sa.Connection, project: ir.Project, tables: dict[str, sa.Table], world: World
) -> None:
    users = tables["user"]
    connection.execute(
        users.insert(),
        [
            {"id": u, "email": f"user{n}@example.test", "is_active": True}
            for n, u in enumerate(world.users)
        ],
    )
    connection.execute(
        tables["tenant"].insert(),
        [
            {"id": t, "name": f"tenant {n}", "slug": f"tenant-{n}"}
            for n, t in enumerate(world.tenants)
        ],
    )
    for name in ("Account", "Customer", "Invoice"):
        entity = project.entity(name)
        assert entity is not None
        rows = [_columns(entity, row) for row in world.rows[name]]
        if rows:
            connection.execute(tables[entity.table].insert(), rows)


def _columns(entity: ir.Entity, row: dict[str, Any]) -> dict[str, Any]:
    found = {}
    for name, value in row.items():
        node = entity.field(name)
        assert node is not None and node.column is not None, f"{entity.name}.{name}"
        found[node.column] = value
    return found


def python_rows(world: World, name: str) -> list[dict[str, Any]]:
    """Rows of `name` with every ref the rules follow replaced by the row it points at."""
    accounts = {a["id"]: a for a in world.rows["Account"]}
    customers = {
        c["id"]: {**c, "account": accounts.get(c["account"])} for c in world.rows["Customer"]
    }
    if name == "Invoice":
        return [{**i, "customer": customers.get(i["customer"])} for i in world.rows["Invoice"]]
    if name == "Customer":
        return list(customers.values())
    return list(accounts.values())
