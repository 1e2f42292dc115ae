"""`gen seed`: plausible rows for demos and benches, valid against every constraint.

One demo tenant with three users (admin, billing, member; password
`demo-password`), then `count` rows per entity, parents before children.
Values come from Faker, chosen by the field's name and type, and are fitted
to the model: lengths, bounds, patterns (drawn from the regular expression
itself when no Faker value matches), enum values, initial states, unique
values, and refs to rows of the same tenant. Computed fields are left to
the database or refreshed afterwards; everything is one transaction, so a
failure leaves the database as it was.
"""

from __future__ import annotations

import datetime as dt
import random
import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from faker import Faker

from compiler import ir
from policy.caller import Caller
from runtime.api import materialized
from runtime.api.model import AppModel
from runtime.api.passwords import Passwords

DEMO_PASSWORD = "demo-password"
DEMO_USERS = (
    ("admin@demo.test", "admin"),
    ("billing@demo.test", "billing"),
    ("member@demo.test", "member"),
)
BUILTIN = ("User", "Tenant", "Membership")


class SeedError(Exception):
    """The database is not ready for seeding; the message says what to run."""


@dataclass
class SeedReport:
    tenant: object
    users: dict[str, object]
    rows: dict[str, int] = field(default_factory=dict)


def seed(engine: sa.Engine, model: AppModel, count: int, seed_value: int = 0) -> SeedReport:
    missing = [t for t in model.tables if not sa.inspect(engine).has_table(t)]
    if missing:
        raise SeedError(
            f"the database has no table {missing[0]!r}: apply the migrations first "
            "(gen migrate make, then gen migrate apply)."
        )
    with engine.begin() as connection:
        return _Seeder(connection, model, seed_value).run(count)


class _Seeder:
    def __init__(self, connection: sa.Connection, model: AppModel, seed_value: int) -> None:
        self.connection, self.model = connection, model
        self.random = random.Random(seed_value)
        self.fake = Faker()
        self.fake.seed_instance(seed_value)
        #: Keys of the rows made so far, per entity.
        self.keys: dict[str, list[Any]] = {}
        self.unused: dict[str, list[Any]] = {}
        self.serial = 0

    def run(self, count: int) -> SeedReport:
        report = self.people()
        for entity in _parents_first(self.model.project):
            if entity.name in BUILTIN:
                continue
            rows = self.rows(entity, report, count)
            table = self.model.table(entity)
            key = self.model.column(entity, entity.primary_key)
            made = self.connection.execute(sa.insert(table).returning(key), rows).scalars().all()
            self.keys[entity.name] = list(made)
            report.rows[entity.name] = len(made)
        self.refresh_materialized(report)
        return report

    def rows(self, entity: ir.Entity, report: SeedReport, count: int) -> list[dict[str, Any]]:
        """Up to `count` rows, none repeating the columns of a unique index."""
        uniques = [index.columns for index in entity.indexes if index.unique]
        seen: list[set[tuple[Any, ...]]] = [set() for _ in uniques]
        rows: list[dict[str, Any]] = []
        for _ in range(count * 5):
            if len(rows) == count:
                break
            row = self.row(entity, report)
            keys = [tuple(row.get(c) for c in columns) for columns in uniques]
            if any(k in s and None not in k for k, s in zip(keys, seen, strict=True)):
                continue
            for k, s in zip(keys, seen, strict=True):
                s.add(k)
            rows.append(row)
        return rows

    def people(self) -> SeedReport:
        tables = self.model.tables
        tenant = self.connection.execute(
            sa.insert(tables["tenant"])
            .values(name="Demo", slug=f"demo-{self.random.randrange(10**6)}")
            .returning(tables["tenant"].c.id)
        ).scalar_one()
        users: dict[str, object] = {}
        hasher = Passwords()
        for email, role in DEMO_USERS:
            # A second seed reuses the demo users and gives them the new tenant too.
            user = self.connection.execute(
                sa.select(tables["user"].c.id).where(tables["user"].c.email == email)
            ).scalar()
            if user is None:
                user = self.connection.execute(
                    sa.insert(tables["user"])
                    .values(email=email, name=role.title(), is_active=True)
                    .returning(tables["user"].c.id)
                ).scalar_one()
                self.connection.execute(
                    sa.insert(tables["reframe_password"]).values(
                        user_id=user, hash=hasher.hash(DEMO_PASSWORD)
                    )
                )
            self.connection.execute(
                sa.insert(tables["membership"]).values(user_id=user, tenant_id=tenant, roles=[role])
            )
            users[role] = user
        self.keys["User"] = list(users.values())
        self.keys["Tenant"] = [tenant]
        return SeedReport(tenant, users)

    def row(self, entity: ir.Entity, report: SeedReport) -> dict[str, Any]:
        values: dict[str, Any] = {}
        for node in entity.fields:
            if node.column is None or node.computed is not None or node.origin == "primary_key":
                continue
            if node.origin == "tenancy":
                values[node.column] = report.tenant
            elif node.origin == "created_by":
                values[node.column] = self.random.choice(list(report.users.values()))
            elif node.origin == "timestamps":
                continue
            elif isinstance(node.type, ir.PolyRefType):
                values.update(self.poly(node, node.type))
            else:
                values[node.column] = self.value(entity, node)
        return values

    def poly(self, node: ir.FieldNode, t: ir.PolyRefType) -> dict[str, Any]:
        targets = [name for name in t.targets if self.keys.get(name)]
        if not targets:
            return {t.type_column: None, t.id_column: None}
        target = self.random.choice(targets)
        return {t.type_column: target, t.id_column: self.random.choice(self.keys[target])}

    def value(self, entity: ir.Entity, node: ir.FieldNode) -> Any:
        t = node.type
        if node.nullable and not isinstance(t, ir.StateType) and self.random.random() < 0.15:
            return None
        if isinstance(t, ir.StateType):
            return t.initial
        if isinstance(t, ir.EnumType):
            return self.random.choice(t.values)
        if isinstance(t, ir.ArrayType):
            if isinstance(t.of, ir.EnumType):
                return self.random.sample(
                    list(t.of.values), k=self.random.randint(0, len(t.of.values))
                )
            return []
        if isinstance(t, ir.RefType):
            keys = self.keys.get(t.target) or []
            if node.unique or t.one_to_one:
                # One-to-one: each target once, then empty.
                pool = self.unused.setdefault(
                    f"{entity.name}.{node.name}", self.random.sample(keys, len(keys))
                )
                return pool.pop() if pool else None
            return self.random.choice(keys) if keys else None
        assert isinstance(t, ir.ScalarType), f"{entity.name}.{node.name}: {t.kind}"
        return self.scalar(node, t)

    def scalar(self, node: ir.FieldNode, t: ir.ScalarType) -> Any:
        name = t.name
        if name in ("integer", "decimal", "money"):
            return self.number(node, name, t)
        if name == "boolean":
            return self.random.random() < 0.5
        if name == "date":
            return dt.date.today() + dt.timedelta(days=self.random.randint(-90, 90))
        if name == "datetime":
            return dt.datetime.now(dt.UTC) - dt.timedelta(
                minutes=self.random.randint(0, 90 * 24 * 60)
            )
        if name == "uuid":
            return self.fake.uuid4()
        if name == "json":
            return {}
        return self.text(node, name)

    def number(self, node: ir.FieldNode, name: str, t: ir.ScalarType) -> Any:
        low = node.min if node.min is not None else Decimal(0)
        high = (
            node.max if node.max is not None else low + Decimal(1000 if name != "decimal" else 100)
        )
        if name == "integer":
            return self.random.randint(int(low), int(high))
        places = 2 if name == "money" else min(t.scale or 2, 4)
        step = Decimal(1).scaleb(-places)
        spread = int((Decimal(high) - Decimal(low)) / step)
        return (Decimal(low) + step * self.random.randint(0, max(spread, 0))).quantize(step)

    def text(self, node: ir.FieldNode, kind: str) -> str:
        self.serial += 1
        candidates = self.candidates(node, kind)
        pattern = re.compile(node.pattern) if node.pattern else None
        for candidate in candidates:
            fitted = self.fit(node, candidate)
            if fitted is not None and (pattern is None or pattern.fullmatch(fitted)):
                return fitted
        if pattern is not None:
            return self.from_pattern(node)
        return self.fit(node, f"{node.label} {self.serial}") or "x" * (node.min_length or 1)

    def candidates(self, node: ir.FieldNode, kind: str) -> list[str]:
        unique = f"{self.serial}"
        by_kind: dict[str, Callable[[], str]] = {
            "email": lambda: f"{unique}.{self.fake.user_name()}@example.test",
            "url": lambda: f"https://{self.fake.domain_name()}/{unique}",
            "slug": lambda: f"{self.fake.slug()}-{unique}",
        }
        if kind in by_kind:
            return [by_kind[kind]()]
        lowered = node.name.lower()
        fakers = [
            ("country", self.fake.country_code),
            ("postal", self.fake.postcode),
            ("city", self.fake.city),
            ("street", self.fake.street_address),
            ("color", lambda: self.fake.hex_color()),
            ("colour", lambda: self.fake.hex_color()),
            ("phone", self.fake.phone_number),
            ("name", self.fake.company if "company" in lowered else self.fake.name),
            ("number", lambda: f"{node.label[:3].upper()}-{unique.zfill(5)}"),
            ("code", lambda: f"{self.fake.lexify('????').lower()}{unique}"),
            ("description", self.fake.sentence),
            ("notes", self.fake.paragraph),
            ("body", self.fake.paragraph),
        ]
        found = [make() for key, make in fakers if key in lowered]
        found.append(self.fake.sentence(nb_words=4).rstrip("."))
        if node.unique:
            found = [f"{value} {unique}" for value in found]
        return found

    def fit(self, node: ir.FieldNode, value: str) -> str | None:
        if node.max_length is not None:
            value = value[: node.max_length].rstrip()
        if node.min_length is not None and len(value) < node.min_length:
            return None
        return value

    def from_pattern(self, node: ir.FieldNode) -> str:
        """A string the pattern matches, drawn from the pattern itself (hypothesis)."""
        from hypothesis import strategies as st
        from hypothesis.errors import NonInteractiveExampleWarning

        assert node.pattern is not None
        strategy = st.from_regex(node.pattern, fullmatch=True).filter(
            lambda s: (
                (node.max_length is None or len(s) <= node.max_length)
                and (node.min_length is None or len(s) >= node.min_length)
                and "\x00" not in s
            )
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", NonInteractiveExampleWarning)
            return strategy.example()

    def refresh_materialized(self, report: SeedReport) -> None:
        caller = Caller(user_id=report.users.get("admin"), tenant_id=report.tenant)  # type: ignore[arg-type]
        materialized.recompute_all(self.connection, self.model, caller)


def _parents_first(project: ir.Project) -> list[ir.Entity]:
    """Entities ordered so that the target of every required ref comes first."""
    ordered: list[ir.Entity] = []
    placed: set[str] = set()
    remaining = list(project.entities)
    while remaining:
        progress = False
        for entity in list(remaining):
            needs = {
                f.type.target
                for f in entity.fields
                if isinstance(f.type, ir.RefType) and f.type.target != entity.name
            }
            if needs <= placed | set(BUILTIN):
                ordered.append(entity)
                placed.add(entity.name)
                remaining.remove(entity)
                progress = True
        if not progress:  # a cycle: its nullable refs stay empty
            entity = remaining.pop(0)
            ordered.append(entity)
            placed.add(entity.name)
    return ordered
