"""Access control of the generated API, probed from the model: two tenants, every role,
every endpoint of every entity of the invoices example.

Tenant A has an admin, a billing user and a plain member; tenant B has an admin; and
there is the anonymous caller. Tenant A holds a row of every entity (through the API
where the rules allow, with SQL where they do not); tenant B holds a few rows of its
own, some of them pointing at tenant A's rows with SQL (which the API would refuse),
so that includes and filters through refs are probed across tenants too.

The probes are generated from the IR, not written by hand: for each entity, caller and
operation (list; list with a filter on every field and on every field one ref away;
list with each include; get and get with each include; create; update; delete; each
action) the expected answer is computed from the model's rules with `policy.explain`
(the Python evaluator) for that caller and row, and the API must give it:

- a row the caller may not read: 404 for get, update, delete and actions, identical
  to the answer for an id that exists nowhere, and absent from lists and includes;
- a readable row the rule refuses: 403, or 401 for the anonymous caller;
- a transition from the wrong state or a failing guard: 409;
- a hidden field (`visible_to`) is absent from every row it is hidden on, included
  rows too, and a filter on it matches nothing where it is hidden;
- no response to one tenant holds an id, an email or a marked value of the other
  (tenant A's values contain "zqa", tenant B's "zqb").

Writes run in a transaction the probe rolls back (the app's engine is swapped for one
connection whose request transactions are savepoints), so every probe starts from the
same rows. Cases that find a wrong answer are marked xfail (strict) in `FINDINGS`.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

import policy.python as policy_python
from compiler import ir
from compiler.compile import compile_project
from policy.caller import Caller
from policy.explain import Decision, explain
from policy.python import Context, NeedsRelated
from runtime.database import normalize_url
from tests.test_api_http import EXAMPLE, client, generated_app, member, signup  # noqa: F401

PROJECT = compile_project(EXAMPLE).project
#: Who asks: three users of tenant A, the admin of tenant B, and nobody.
CALLERS = ("admin", "billing", "member", "other", "anon")
ROLES = {"admin": ("admin",), "billing": ("billing",), "member": ("member",), "other": ("admin",)}
TENANT_OF = {"admin": "A", "billing": "A", "member": "A", "other": "B"}
PROCESSOR = "5f0c6a52-8d0e-4c0b-9d5e-0a1b2c3d4e5f"

Body = Callable[[Callable[[str], Any]], dict[str, Any]]


@dataclass(frozen=True)
class Seed:
    """A row: made by `by` through the API, or with SQL as if `by` had made it."""

    label: str
    entity: str
    by: str
    body: Body
    sql: bool = False


@dataclass(frozen=True)
class Act:
    label: str
    action: str
    by: str


@dataclass(frozen=True)
class Link:
    """A many-to-many link, with SQL."""

    label: str
    field: str
    target: str


# `k("label")` is a seeded row's key, `k("@member")` a user's id.
STEPS: list[Seed | Act | Link] = [
    # Tenant A: a row of every entity.
    Seed("std", "TaxRate", "admin", lambda k: {"code": "std-zq", "name": "Standard rate", "rate": "0.2"}),
    Seed("address", "Address", "member", lambda k: {"street": "1 zqa street", "city": "Zqacity", "postal_code": "75001", "country": "FR"}),
    Seed("tag", "Tag", "member", lambda k: {"name": "zqa-tag", "color": "#123456"}),
    Seed("product", "Product", "billing", lambda k: {"name": "zqa widget", "sku": "zqa-widget", "unit_price": "12.50", "tax_rate": k("std"), "description": "a zqa gadget", "attributes": {"zqa": 1}, "images": ["https://zqa.test/w.png"]}),
    Seed("customer", "Customer", "billing", lambda k: {"name": "zqa customer one", "email": "one@zqa.test", "website": "https://zqa.test", "vat_number": "ZQA123", "billing_address": k("address"), "notes": "HIDDENNOTE zqa one", "aliases": ["zqa-alias"]}),
    # Made with SQL to keep the probes' fixtures independent of the ref checks under test.
    Seed("managed", "Customer", "admin", lambda k: {"name": "zqa customer two", "email": "two@zqa.test", "account_manager": k("@member"), "notes": "HIDDENNOTE zqa two", "credit_limit": "5000.00"}, sql=True),
    Seed("contact", "CustomerContact", "billing", lambda k: {"customer": k("customer"), "user": k("@member"), "job_title": "zqa buyer"}, sql=True),
    Seed("draft", "Invoice", "billing", lambda k: {"number": "ZQA-1", "customer": k("customer"), "due_date": "2030-01-31", "notes": "zqa draft"}),
    Seed("line", "InvoiceLine", "billing", lambda k: {"invoice": k("draft"), "product": k("product"), "description": "zqa line", "quantity": 2, "unit_price": "12.50", "tax_rate": "0.2"}),
    Seed("sent", "Invoice", "billing", lambda k: {"number": "ZQA-2", "customer": k("managed"), "issue_date": "2020-01-01", "due_date": "2020-02-01"}),
    Seed("sent_line", "InvoiceLine", "billing", lambda k: {"invoice": k("sent"), "description": "zqa sent line", "unit_price": "100.00"}),
    Act("sent", "send", "billing"),
    Seed("payment", "Payment", "billing", lambda k: {"invoice": k("sent"), "amount": "40.00", "method": "card", "processor_id": PROCESSOR}),
    # Members may not create invoices: theirs are made with SQL.
    Seed("mine", "Invoice", "member", lambda k: {"number": "ZQA-3", "customer": k("customer"), "due_date": "2030-03-01"}, sql=True),
    Seed("voided", "Invoice", "member", lambda k: {"number": "ZQA-4", "customer": k("managed"), "due_date": "2030-04-01", "status": "void"}, sql=True),
    # POST /api/comments fails with a 500 today (the poly ref is inserted as one value):
    # comments are made with SQL.
    Seed("comment", "Comment", "member", lambda k: {"subject": {"type": "Invoice", "id": k("draft")}, "body": "zqa comment"}, sql=True),
    Seed("c_comment", "Comment", "admin", lambda k: {"subject": {"type": "Customer", "id": k("customer")}, "body": "zqa note"}, sql=True),
    Link("customer", "tags", "tag"),
    Link("draft", "tags", "tag"),
    # Tenant B: rows of its own, and (with SQL) rows pointing at tenant A's.
    Seed("b_address", "Address", "other", lambda k: {"street": "9 zqb road", "city": "Zqbcity", "postal_code": "10115", "country": "DE"}),
    Seed("b_tag", "Tag", "other", lambda k: {"name": "zqb-tag"}),
    Seed("b_product", "Product", "other", lambda k: {"name": "zqb widget", "sku": "zqb-widget", "unit_price": "1.00", "tax_rate": k("std")}),
    Seed("b_customer", "Customer", "other", lambda k: {"name": "zqb customer", "email": "c@zqb.test", "billing_address": k("b_address"), "notes": "zqb private"}),
    Seed("b_invoice", "Invoice", "other", lambda k: {"number": "ZQB-1", "customer": k("b_customer"), "due_date": "2030-01-01"}),
    Seed("b_line", "InvoiceLine", "other", lambda k: {"invoice": k("b_invoice"), "product": k("b_product"), "description": "zqb line", "unit_price": "3.00"}),
    Seed("b_cross", "Invoice", "other", lambda k: {"number": "ZQB-2", "customer": k("customer"), "due_date": "2030-01-01"}, sql=True),
    Seed("b_cross_line", "InvoiceLine", "other", lambda k: {"invoice": k("b_invoice"), "product": k("product"), "description": "zqb line of an other product", "unit_price": "5.00"}, sql=True),
    Seed("b_comment", "Comment", "other", lambda k: {"subject": {"type": "Invoice", "id": k("draft")}, "body": "zqb comment"}, sql=True),
    Link("b_invoice", "tags", "tag"),
]  # fmt: skip
SEEDS = [step for step in STEPS if isinstance(step, Seed)]
USERS = ("admin", "billing", "member", "other")
#: Rows of the built-in entities (one user and membership per tenant), keyed once the
#: users exist.
BUILTIN = [("User", "@member"), ("User", "@other"), ("Tenant", "#A"), ("Tenant", "#B")]
BUILTIN += [("Membership", "m@member"), ("Membership", "m@other")]
ROW_LABELS: list[tuple[str, str]] = BUILTIN + [(s.entity, s.label) for s in SEEDS]

#: Bodies for create probes of the built-in entities (the others reuse their seed).
BUILTIN_CREATE: dict[str, Body] = {
    "User": lambda k: {"email": "new@zqa.test", "name": "zqa new"},
    "Tenant": lambda k: {"name": "zqa new", "slug": "zqa-new"},
    "Membership": lambda k: {"user": k("@member"), "tenant": k("#A"), "roles": ["admin"]},
}
#: Create probes: a row like the first seed, with another value where a unique index
#: would clash with it and another parent where a composite one would.
CREATE_OVERRIDES: dict[str, dict[str, Any]] = {
    "CustomerContact": {"customer": "managed"},
    "Customer": {"billing_address": None},
    "Payment": {"processor_id": None},
}

#: Cases whose answer is wrong today, by cause: {case id: expected vs got}. The case's
#: request is put in front of it (see `case`).
_FINDING_GROUPS: list[tuple[str, list[str]]] = []
FINDINGS: dict[str, str] = {i: why for why, ids in _FINDING_GROUPS for i in ids}


# The model, walked to make the probes ---------------------------------------------------


def entities() -> list[ir.Entity]:
    return list(PROJECT.entities)


def entity(name: str) -> ir.Entity:
    found = PROJECT.entity(name)
    assert found is not None, name
    return found


def kind_of(f: ir.FieldNode) -> str:
    kind = f.type
    if isinstance(kind, ir.ScalarType):
        return kind.name
    if isinstance(kind, ir.EnumType | ir.StateType):
        return "enum"
    if isinstance(kind, ir.OneToManyType | ir.ManyToManyType):
        return "many"
    return kind.kind


def filter_op(f: ir.FieldNode) -> str:
    kind = kind_of(f)
    if kind == "array":
        return "contains"
    if kind in ("json", "poly_ref"):
        return "is_null"
    return "eq"


def filter_paths(e: ir.Entity) -> list[tuple[str, ...]]:
    """Every filterable field, and every filterable field of each ref's target."""
    paths: list[tuple[str, ...]] = []
    for f in e.fields:
        if kind_of(f) == "many":
            continue
        paths.append((f.name,))
        if isinstance(f.type, ir.RefType):
            # Through each ref: the target's hidden fields and its first text field
            # (for users: their email, which must not be guessable by filtering).
            target = entity(f.type.target)
            texts = [g for g in target.fields if kind_of(g) in ("text", "email", "slug")]
            chosen = [g.name for g in target.fields if g.visible_to is not None]
            chosen += [g.name for g in texts[:1]]
            paths += [(f.name, name) for name in dict.fromkeys(chosen)]
    return paths


def includes(e: ir.Entity) -> list[str]:
    return [
        f.name
        for f in e.fields
        if isinstance(f.type, ir.RefType | ir.OneToManyType | ir.ManyToManyType)
    ]


def update_field(e: ir.Entity) -> str | None:
    """A field a PATCH may send (set to its current value): the first plain writable one."""
    for f in e.fields:
        if (
            f.column is not None
            and not f.primary
            and not f.read_only
            and f.computed is None
            and f.editable_by is None
            and f.origin not in ("timestamps", "tenant", "created_by")
            and f.name not in ("tenant", "created_by")
            and kind_of(f) not in ("ref", "poly_ref", "json")
        ):
            return f.name
    return None


def case(id_: str, request: str, *values: Any) -> Any:
    """A parametrized probe; `request` says what it sends (`<label>`: that row's key)."""
    marks = []
    if id_ in FINDINGS:
        marks = [pytest.mark.xfail(strict=True, reason=f"{request}: {FINDINGS[id_]}")]
    return pytest.param(*values, id=id_, marks=marks)


def list_cases() -> list[Any]:
    cases = []
    for e in entities():
        for who in CALLERS:
            asked = f"GET /api/{e.path}?count=true as {who}"
            cases.append(case(f"list-{e.path}-{who}", asked, e.name, who, None))
            for name in includes(e):
                asked = f"GET /api/{e.path}?include={name}&count=true as {who}"
                cases.append(case(f"list-{e.path}-include={name}-{who}", asked, e.name, who, name))
    return cases


def filter_cases() -> list[Any]:
    cases = []
    for e in entities():
        for path in filter_paths(e):
            for who in CALLERS:
                text = ".".join(path)
                asked = f"GET /api/{e.path}?filter[{text}]=... as {who}"
                cases.append(case(f"filter-{e.path}-{text}-{who}", asked, e.name, path, who))
    return cases


def row_cases(operations: Callable[[ir.Entity], list[str]]) -> list[Any]:
    cases = []
    for name, label in ROW_LABELS:
        e = entity(name)
        for op in operations(e):
            for who in CALLERS:
                asked = _asked(op, e, label, who)
                cases.append(case(f"{op}-{e.path}-{label}-{who}", asked, name, label, op, who))
    return cases


def _asked(op: str, e: ir.Entity, label: str, who: str) -> str:
    row = f"/api/{e.path}/<{label}>"
    if op.startswith("get"):
        include = op.partition("+")[2]
        return f"GET {row}" + (f"?include={include}" if include else "") + f" as {who}"
    if op.startswith("action:"):
        return f"POST {row}/actions/{op.partition(':')[2]} as {who}"
    return f"{ {'update': 'PATCH', 'delete': 'DELETE'}[op] } {row} as {who}"


def create_cases() -> list[Any]:
    return [
        case(f"create-{e.path}-{who}", f"POST /api/{e.path} as {who}", e.name, who)
        for e in entities()
        for who in CALLERS
    ]


# The world: the app, its rows, and what each caller may do with them -------------------


@dataclass
class Row:
    label: str
    entity: ir.Entity
    key: str
    tenant: str | None
    #: The row as its tenant's admin reads it (every field), or from SQL for built-ins.
    truth: dict[str, Any]
    #: Stored values by field name, computed fields typed: what the rules read.
    stored: dict[str, Any]


@dataclass
class World:
    client: TestClient
    app: Any
    engine: sa.Engine
    headers: dict[str, dict[str, str]]
    callers: dict[str, Caller]
    users: dict[str, str] = field(default_factory=dict)
    emails: dict[str, str] = field(default_factory=dict)
    tenants: dict[str, str] = field(default_factory=dict)
    rows: dict[str, Row] = field(default_factory=dict)
    by_key: dict[tuple[str, str], Row] = field(default_factory=dict)
    forbidden: dict[str, dict[str, str]] = field(default_factory=dict)
    rows_by_key: dict[str, list[Row]] = field(default_factory=dict)
    readable_cache: dict[tuple[str, str], bool] = field(default_factory=dict)

    @property
    def model(self) -> Any:
        return self.app.state.model

    def key(self, label: str) -> Any:
        if label.startswith("@"):
            return self.users[label[1:]]
        if label.startswith("#"):
            return self.tenants[label[1:]]
        return self.rows[label].key

    def row_of(self, entity_name: str, key: Any) -> Row | None:
        return self.by_key.get((entity_name, str(key)))

    # What the rules say ------------------------------------------------------------------

    def decide(
        self,
        who: str,
        e: ir.Entity,
        operation: str,
        row: Mapping[str, Any],
        rule: ir.Rule | None = None,
    ) -> Decision:
        current = dict(row)
        while True:
            try:
                return explain(PROJECT, e, operation, current, self.callers[who], rule=rule)
            except NeedsRelated as needed:
                current = self.load_path(who, e, current, needed.path.split("."))

    def load_path(
        self, who: str, e: ir.Entity, row: dict[str, Any], hops: list[str]
    ) -> dict[str, Any]:
        """The row with the ref `hops[0]` replaced by the related row, or by None when the
        caller may not read it (a rule never sees what its caller cannot)."""
        name, rest = hops[0], hops[1:]
        f = e.field(name)
        assert f is not None and isinstance(f.type, ir.RefType)
        target = entity(f.type.target)
        value = row.get(name)
        loaded: dict[str, Any] | None
        if isinstance(value, Mapping):
            loaded = dict(value)
        else:
            found = self.row_of(target.name, value) if value is not None else None
            loaded = dict(found.stored) if found and self.can_read(who, found) else None
        if loaded is not None and rest:
            loaded = self.load_path(who, target, loaded, rest)
        return {**row, name: loaded}

    def may_point_at(self, who: str, target: str, key: str) -> bool:
        """What a ref may name: a row the caller may read; a user of the caller's tenant."""
        if target == "User":
            caller = self.callers[who]
            tenant_users = {
                str(self.users[name])
                for name, c in self.callers.items()
                if name in self.users
                and c.tenant_id is not None
                and c.tenant_id == caller.tenant_id
            }
            return caller.tenant_id is not None and key in tenant_users
        found = self.row_of(target, key)
        return found is not None and self.can_read(who, found)

    def can_read(self, who: str, row: Row) -> bool:
        cached = self.readable_cache.get((who, row.label))
        if cached is None:
            cached = self.decide(who, row.entity, "read", row.stored).allowed
            self.readable_cache[(who, row.label)] = cached
        return cached

    def sees_field(self, who: str, row: Row, f: ir.FieldNode) -> bool:
        if f.visible_to is None:
            return True
        cached = self.readable_cache.get((who, f"{row.label}.{f.name}"))
        if cached is None:
            rule = f.visible_to
            cached = self.decide(who, row.entity, "read", row.stored, rule=rule).allowed
            self.readable_cache[(who, f"{row.label}.{f.name}")] = cached
        return cached

    def refused(self, who: str) -> int:
        """The status of a refusal: 401 when signing in could change it, else 403."""
        return 401 if who == "anon" else 403


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [_json_value(v) for v in value]
    return value


def _typed(f: ir.FieldNode, value: Any) -> Any:
    """A JSON value as the rules read it (decimals, dates, uuids)."""
    if value is None:
        return None
    kind = kind_of(f)
    if kind in ("money", "decimal"):
        return Decimal(str(value))
    if kind == "date":
        return dt.date.fromisoformat(value) if isinstance(value, str) else value
    if kind == "datetime" and isinstance(value, str):
        return dt.datetime.fromisoformat(value)
    if kind == "uuid" or (kind == "ref" and entity(f.type.target).primary_key == "id"):  # type: ignore[union-attr]
        return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
    return value


def _sql_values(w: World, e: ir.Entity, by: str, body: Mapping[str, Any]) -> dict[str, Any]:
    values: dict[str, Any] = {}
    for name, value in body.items():
        f = e.field(name)
        assert f is not None, name
        if isinstance(f.type, ir.PolyRefType):
            values[f.type.type_column] = value["type"]
            values[f.type.id_column] = uuid.UUID(value["id"])
        else:
            assert f.column is not None
            values[f.column] = _typed(f, value)
    pk = e.field(e.primary_key)
    assert pk is not None and pk.column is not None
    values[pk.column] = uuid.uuid4()
    for name, value in (("tenant", w.tenants[TENANT_OF[by]]), ("created_by", w.users[by])):
        f = e.field(name)
        if f is not None and f.column is not None:
            values[f.column] = uuid.UUID(value)
    return values


def _stored(w: World, e: ir.Entity, key: Any, truth: Mapping[str, Any]) -> dict[str, Any]:
    table = w.model.table(e)
    pk = w.model.column(e, e.primary_key)
    with w.engine.connect() as connection:
        found = connection.execute(sa.select(table).where(pk == key)).mappings().one()
    stored: dict[str, Any] = {}
    for f in e.fields:
        if isinstance(f.type, ir.PolyRefType):
            type_, id_ = found[f.type.type_column], found[f.type.id_column]
            stored[f.name] = None if id_ is None else {"type": type_, "id": str(id_)}
        elif f.column is not None and f.column in found:
            stored[f.name] = found[f.column]
        elif f.computed is not None and f.name in truth:
            stored[f.name] = _typed(f, truth[f.name])
    return stored


def _ok(answer: Any, *statuses: int) -> Any:
    assert answer.status_code in statuses, (
        f"{answer.request.method} {answer.request.url}: {answer.status_code} {answer.text}"
    )
    return answer.json() if answer.content else None


def _register(w: World, label: str, e: ir.Entity, key: Any, tenant: str | None) -> None:
    key = str(key)
    if e.builtin:
        table = w.model.table(e)
        with w.engine.connect() as connection:
            found = (
                connection.execute(sa.select(table).where(w.model.column(e, e.primary_key) == key))
                .mappings()
                .one()
            )
        truth = {
            f.name: _json_value(found[f.column])
            for f in e.fields
            if f.column is not None and f.column in found
        }
    else:
        reader = "other" if tenant == "B" else "admin"
        truth = _ok(w.client.get(f"/api/{e.path}/{key}", headers=w.headers[reader]), 200)
    row = Row(label, e, key, tenant, truth, _stored(w, e, key, truth))
    w.rows[label] = row
    w.by_key[(e.name, key)] = row


def _seed(w: World) -> None:
    for step in STEPS:
        if isinstance(step, Act):
            e = w.rows[step.label].entity
            path = f"/api/{e.path}/{w.key(step.label)}/actions/{step.action}"
            _ok(w.client.post(path, headers=w.headers[step.by]), 200)
            _register(w, step.label, e, w.key(step.label), w.rows[step.label].tenant)
            continue
        if isinstance(step, Link):
            source = w.rows[step.label]
            f = source.entity.field(step.field)
            assert f is not None and isinstance(f.type, ir.ManyToManyType)
            link = w.model.tables[f.type.join_table]
            with w.engine.begin() as connection:
                connection.execute(
                    sa.insert(link).values(
                        {
                            f.type.source_column: uuid.UUID(source.key),
                            f.type.target_column: uuid.UUID(w.key(step.target)),
                        }
                    )
                )
            continue
        e = entity(step.entity)
        body = step.body(w.key)
        if step.sql:
            values = _sql_values(w, e, step.by, body)
            table = w.model.table(e)
            with w.engine.begin() as connection:
                key = connection.execute(
                    sa.insert(table).values(values).returning(w.model.column(e, e.primary_key))
                ).scalar_one()
        else:
            made = _ok(w.client.post(f"/api/{e.path}", json=body, headers=w.headers[step.by]), 201)
            key = made[e.primary_key]
        _register(w, step.label, e, key, TENANT_OF[step.by] if e.tenant else None)
    # Rows already seeded changed (counts, first dates): read them all again.
    for label, row in list(w.rows.items()):
        _register(w, label, row.entity, row.key, row.tenant)


def _builtins(w: World) -> None:
    membership = entity("Membership")
    user_column = w.model.column(membership, "user")
    for name, label in BUILTIN:
        if name == "Membership":
            with w.engine.connect() as connection:
                key = connection.execute(
                    sa.select(w.model.column(membership, "id")).where(
                        user_column == w.users[label[2:]]
                    )
                ).scalar_one()
        else:
            key = w.key(label)
        _register(w, label, entity(name), key, None)


def _forbidden(w: World) -> None:
    """What must never appear in an answer to each caller: the other tenant's ids, emails
    and marked values (and, to members, the values of hidden fields)."""

    def tenant_tokens(tenant: str, marker: str) -> dict[str, str]:
        tokens = {marker: f"a value of tenant {tenant} ({marker!r})"}
        for row in w.rows.values():
            if row.tenant == tenant:
                tokens[row.key] = f"the id of {row.entity.name} {row.label} of tenant {tenant}"
        for who, user in w.users.items():
            if TENANT_OF[who] == tenant:
                tokens[user] = f"the id of user {who} of tenant {tenant}"
                tokens[w.emails[who].lower()] = f"the email of user {who} of tenant {tenant}"
        tokens[w.tenants[tenant]] = f"the id of tenant {tenant}"
        return tokens

    def stored_by(tenant: str) -> set[str]:
        """Strings a tenant's own rows hold (ids of the other tenant's rows they point at)."""
        found: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, str):
                found.add(value.lower())
            elif isinstance(value, Mapping):
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        for row in w.rows.values():
            if row.tenant == tenant:
                walk(row.truth)
        return found

    a, b = tenant_tokens("A", "zqa"), tenant_tokens("B", "zqb")
    a_for_b = {t: why for t, why in a.items() if t not in stored_by("B")}
    hidden = {"hiddennote": "the value of Customer.notes, hidden from members"}
    w.forbidden = {
        "admin": b,
        "billing": b,
        "member": {**b, **hidden},
        "other": a_for_b,
        "anon": {**a_for_b, **b},
    }


@pytest.fixture(scope="module")
def world(client: TestClient, generated_app: Any) -> Iterator[World]:  # noqa: F811
    admin = signup(client, "Tenant A")
    headers = {"admin": admin}
    headers["billing"] = member(client, admin, ["billing"])
    headers["member"] = member(client, admin, ["member"])
    headers["other"] = signup(client, "Tenant B")
    headers["anon"] = {}
    url = generated_app.state.engine.url
    engine = sa.create_engine(normalize_url(url.render_as_string(hide_password=False)))
    # Probes see a server error as a 500 answer, not as an exception in the test.
    probing = TestClient(generated_app, raise_server_exceptions=False)
    w = World(probing, generated_app, engine, headers, {"anon": Caller()})
    for who in USERS:
        me = _ok(client.get("/api/auth/me", headers=headers[who]), 200)
        tenant = me["tenant"]["id"] if isinstance(me["tenant"], dict) else me["tenant"]
        user = me["user"]
        w.users[who] = str(user["id"])
        w.emails[who] = user["email"]
        w.tenants[TENANT_OF[who]] = str(tenant)
        w.callers[who] = Caller(
            user_id=uuid.UUID(w.users[who]),
            tenant_id=uuid.UUID(str(tenant)),
            roles=frozenset(ROLES[who]),
        )
    assert set(me["roles"]) == {"admin"}
    _builtins(w)
    _seed(w)
    _forbidden(w)
    for row in w.rows.values():
        w.rows_by_key.setdefault(row.key, []).append(row)
    try:
        yield w
    finally:
        engine.dispose()


class _OneConnection:
    """Stands in for the app's engine: each request's transaction is a savepoint of one
    outer transaction, which the probe rolls back."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    @contextmanager
    def begin(self) -> Iterator[sa.Connection]:
        with self.connection.begin_nested():
            yield self.connection

    def dispose(self) -> None:
        pass


@contextmanager
def rolled_back(w: World) -> Iterator[sa.Connection]:
    real = w.app.state.engine
    with w.engine.connect() as connection:
        outer = connection.begin()
        w.app.state.engine = _OneConnection(connection)
        try:
            yield connection
        finally:
            w.app.state.engine = real
            outer.rollback()


# Checks of every answer -----------------------------------------------------------------


def _request_text(answer: Any) -> str:
    request = answer.request
    return (str(request.url) + (request.content or b"").decode(errors="replace")).lower()


def _without_shared(body: Any) -> Any:
    """The body without the creator of shared (non-tenant) rows: see
    test_a_shared_row_shows_its_creator_to_every_tenant."""
    if isinstance(body, list):
        return [_without_shared(item) for item in body]
    if isinstance(body, dict):
        shared = "code" in body and "rate" in body
        return {
            k: _without_shared(v) for k, v in body.items() if not (shared and k == "created_by")
        }
    return body


def check_answer(w: World, who: str, answer: Any) -> list[str]:
    """What the answer shows that `who` may not see: the other tenant's values, rows the
    caller may not read, fields hidden from the caller."""
    problems: list[str] = []
    body = answer.json() if answer.content else None
    text = json.dumps(_without_shared(body)).lower()
    asked = _request_text(answer)
    success = answer.status_code < 300
    for token, why in w.forbidden[who].items():
        # What the caller sent may come back (a created row, a 422 naming the value).
        if token.lower() in text and token.lower() not in asked:
            problems.append(f"shows {why}")

    def walk(value: Any) -> None:
        if isinstance(value, list):
            for item in value:
                walk(item)
            return
        if not isinstance(value, dict):
            return
        key = value.get("id", value.get("code"))
        poly = set(value) == {"type", "id"}  # a poly ref's value, not a row
        rows = w.rows_by_key.get(str(key), []) if key is not None and not poly else []
        for row in rows:
            if not w.can_read(who, row):
                problems.append(f"shows {row.entity.name} {row.label}, which {who} may not read")
            for f in row.entity.fields:
                if f.name in value and not w.sees_field(who, row, f):
                    problems.append(
                        f"shows {row.entity.name}.{f.name} of {row.label}, hidden from {who}"
                    )
        for item in value.values():
            walk(item)

    if success:
        walk(body)
    return problems


def assert_answer(w: World, who: str, answer: Any, expected: set[int] | int) -> Any:
    statuses = {expected} if isinstance(expected, int) else expected
    request = (
        f"{answer.request.method} {answer.request.url.path}?{answer.request.url.query.decode()}"
    )
    assert answer.status_code in statuses, (
        f"{request} as {who}: expected {sorted(statuses)}, got {answer.status_code}: {answer.text}"
    )
    problems = check_answer(w, who, answer)
    assert not problems, f"{request} as {who}: " + "; ".join(problems)
    if answer.status_code >= 400:
        assert answer.headers["content-type"].startswith("application/problem+json")
    return answer.json() if answer.content else None


def same_as_missing(w: World, answer: Any, again: Any) -> None:
    """An answer about a row the caller may not see must equal the one about no row."""

    def shape(a: Any) -> tuple[int, str]:
        return a.status_code, re.sub(r"[0-9a-f-]{36}", "<id>", a.text)

    assert shape(answer) == shape(again), (
        f"{answer.request.method} {answer.request.url.path}: the answer about a row of another "
        f"tenant differs from the one about no row: {shape(answer)} vs {shape(again)}"
    )


def missing_key(e: ir.Entity) -> str:
    return "no-such-code" if e.primary_key != "id" else str(uuid.uuid4())


def snapshot(connection: sa.Connection, w: World, row: Row) -> Any:
    table = w.model.table(row.entity)
    pk = w.model.column(row.entity, row.entity.primary_key)
    found = connection.execute(sa.select(table).where(pk == row.key)).mappings().first()
    return None if found is None else dict(found)


# Lists, filters, includes ---------------------------------------------------------------


def _listed(w: World, e: ir.Entity, who: str, params: dict[str, str]) -> tuple[set[str], Any]:
    answer = w.client.get(
        f"/api/{e.path}", params={**params, "count": "true"}, headers=w.headers[who]
    )
    body = assert_answer(w, who, answer, 200)
    assert body["next"] is None, "the probe expects one page"
    keys = {str(item[e.primary_key]) for item in body["items"]}
    assert body["total"] == len(body["items"]), (
        f"count=true says {body['total']} for {len(keys)} rows"
    )
    unknown = keys - {r.key for r in w.rows.values() if r.entity.name == e.name}
    assert not unknown, f"rows nobody seeded: {unknown}"
    return keys, body


def _labels(w: World, keys: set[str]) -> set[str]:
    return {r.label for r in w.rows.values() if r.key in keys}


@pytest.mark.parametrize(("entity_name", "who", "include"), list_cases())
def test_list(world: World, entity_name: str, who: str, include: str | None) -> None:
    e = entity(entity_name)
    params = {"include": include} if include else {}
    keys, body = _listed(world, e, who, params)
    expected = {
        r.key for r in world.rows.values() if r.entity.name == e.name and world.can_read(who, r)
    }
    assert _labels(world, keys) == _labels(world, expected)
    if include:
        for item in body["items"]:
            _check_include(world, who, world.row_of(e.name, item[e.primary_key]), item, include)


def _check_include(w: World, who: str, row: Row | None, item: dict[str, Any], name: str) -> None:
    """An included ref is the row when the caller may read it, else the key it already was
    (nothing more is revealed); an included list holds exactly the related rows the caller
    may read."""
    assert row is not None
    f = row.entity.field(name)
    assert f is not None
    if not w.sees_field(who, row, f):
        assert name not in item, f"{name} of {row.label} is shown to {who}"
        return
    if isinstance(f.type, ir.RefType):
        key = row.truth.get(name)
        target = w.row_of(f.type.target, key) if key is not None else None
        if target is not None and w.can_read(who, target):
            assert isinstance(item[name], dict)
            assert str(item[name][entity(f.type.target).primary_key]) == target.key
        else:
            shown = item[name]
            assert not isinstance(shown, dict), f"{name} of {row.label} is included for {who}"
            assert (shown is None) == (key is None) and str(shown) == str(key), (
                f"{name} of {row.label} should stay its key for {who}: {shown}"
            )
        return
    target_entity = entity(f.type.target)  # type: ignore[union-attr]
    got = {str(x[target_entity.primary_key]) for x in item[name]}
    readable = {
        r.key for r in w.rows.values() if r.entity.name == target_entity.name and w.can_read(who, r)
    }
    assert got <= readable, f"{name} of {row.label} includes rows {who} may not read"


def _path_value(w: World, who: str, row: Row, path: tuple[str, ...]) -> tuple[bool, Any]:
    """(reachable, value) of a dotted path as the caller may see it."""
    current = row
    for hop in path[:-1]:
        f = current.entity.field(hop)
        assert f is not None and isinstance(f.type, ir.RefType)
        key = current.truth.get(hop)
        if key is None or not w.sees_field(who, current, f):
            return False, None
        target = w.row_of(f.type.target, key)
        if target is None or not w.can_read(who, target):
            return False, None
        current = target
    f = current.entity.field(path[-1])
    assert f is not None
    if not w.sees_field(who, current, f):
        return False, None
    return True, current.truth.get(path[-1])


def _truth_value(w: World, row: Row, path: tuple[str, ...]) -> Any:
    current = row
    for hop in path[:-1]:
        f = current.entity.field(hop)
        assert f is not None and isinstance(f.type, ir.RefType)
        key = current.truth.get(hop)
        found = w.row_of(f.type.target, key) if key is not None else None
        if found is None:
            return None
        current = found
    return current.truth.get(path[-1])


def _matches(op: str, value: Any, probe: Any) -> bool:
    if value is None:
        return False
    if op == "contains":
        return probe in value
    if op == "is_null":
        return True  # is_null=false
    return _as_param(value) == probe


def _as_param(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return str(value.get("id"))
    return str(value)


@pytest.mark.parametrize(("entity_name", "path", "who"), filter_cases())
def test_filter(world: World, entity_name: str, path: tuple[str, ...], who: str) -> None:
    """A filter matches the rows the caller may read whose value, as the caller may see it
    (hidden fields and unreadable related rows: no value), matches: never more."""
    e = entity(entity_name)
    owner = e
    for hop in path[:-1]:
        owner = entity(owner.field(hop).type.target)  # type: ignore[union-attr]
    last = owner.field(path[-1])
    assert last is not None
    op = filter_op(last)
    rows = [r for r in world.rows.values() if r.entity.name == e.name]
    # The probe value: tenant A's first value on this path (what tenant B would guess).
    values = [_truth_value(world, r, path) for r in sorted(rows, key=lambda r: r.tenant != "A")]
    values = [v for v in values if v not in (None, [], {})]
    if op == "is_null" or not values:
        op, probe = "is_null", "false"
    elif op == "contains":
        probe = values[0][0]
    else:
        probe = _as_param(values[0])
    name = "filter[" + ".".join(path) + "]" + ("" if op == "eq" else f"[{op}]")
    keys, _ = _listed(world, e, who, {name: probe})
    expected = set()
    for row in rows:
        if not world.can_read(who, row):
            continue
        reachable, value = _path_value(world, who, row, path)
        if reachable and _matches(op, value, probe):
            expected.add(row.key)
    assert _labels(world, keys) == _labels(world, expected), f"{name}={probe} as {who}"


# Single rows -----------------------------------------------------------------------------


def get_operations(e: ir.Entity) -> list[str]:
    return ["get", *(f"get+{name}" for name in includes(e))]


@pytest.mark.parametrize(("entity_name", "label", "op", "who"), row_cases(get_operations))
def test_get(world: World, entity_name: str, label: str, op: str, who: str) -> None:
    e, row = entity(entity_name), world.rows[label]
    include = op.partition("+")[2]
    params = {"include": include} if include else {}
    answer = world.client.get(f"/api/{e.path}/{row.key}", params=params, headers=world.headers[who])
    if not world.can_read(who, row):
        assert_answer(world, who, answer, 404)
        missing = world.client.get(
            f"/api/{e.path}/{missing_key(e)}", params=params, headers=world.headers[who]
        )
        same_as_missing(world, answer, missing)
        return
    item = assert_answer(world, who, answer, 200)
    for f in e.fields:
        if f.visible_to is not None:
            assert (f.name in item) == world.sees_field(who, row, f), f"{e.name}.{f.name} for {who}"
    if include:
        _check_include(world, who, row, item, include)


def _write(w: World, who: str, row: Row, send: Callable[[], Any], expected: set[int]) -> Any:
    """Send a write in a rolled-back transaction; a refused write changes nothing."""
    with rolled_back(w) as connection:
        before = snapshot(connection, w, row)
        answer = send()
        after = snapshot(connection, w, row)
    assert_answer(w, who, answer, expected)
    if answer.status_code >= 400:
        assert after == before, f"a refused {answer.request.method} changed {row.label}"
    return answer


def _hidden_write(
    w: World, who: str, row: Row, send: Callable[[], Any], missing: Callable[[], Any]
) -> None:
    """A write to a row the caller may not read: the answer about no row at all."""
    answer = _write(w, who, row, send, {404})
    with rolled_back(w):
        other = missing()
    same_as_missing(w, answer, other)


def update_operations(e: ir.Entity) -> list[str]:
    return ["update"]


@pytest.mark.parametrize(("entity_name", "label", "op", "who"), row_cases(update_operations))
def test_update(world: World, entity_name: str, label: str, op: str, who: str) -> None:
    e, row = entity(entity_name), world.rows[label]
    name = update_field(e)
    assert name is not None, e.name
    body = {name: row.truth.get(name)}
    headers = world.headers[who]

    def send(key: str = row.key) -> Any:
        return world.client.patch(f"/api/{e.path}/{key}", json=body, headers=headers)

    if not world.can_read(who, row):
        _hidden_write(world, who, row, send, lambda: send(missing_key(e)))
        return
    allowed = world.decide(who, e, "update", row.stored).allowed
    _write(world, who, row, send, {200} if allowed else {world.refused(who)})


def editable_cases() -> list[Any]:
    cases = []
    for name, label in ROW_LABELS:
        e = entity(name)
        for f in e.fields:
            if f.editable_by is not None:
                for who in CALLERS:
                    asked = f"PATCH /api/{e.path}/<{label}> {{{f.name}: ...}} as {who}"
                    cases.append(
                        case(
                            f"edit-{e.path}.{f.name}-{label}-{who}", asked, name, label, f.name, who
                        )
                    )
    return cases


@pytest.mark.parametrize(("entity_name", "label", "field_name", "who"), editable_cases())
def test_editable_by(world: World, entity_name: str, label: str, field_name: str, who: str) -> None:
    """A write to a field the caller may not edit (on a row it may update) is a 403 naming it."""
    e, row = entity(entity_name), world.rows[label]
    f = e.field(field_name)
    assert f is not None and f.editable_by is not None
    value = "1.00" if kind_of(f) in ("money", "decimal") else "x"

    def send() -> Any:
        return world.client.patch(
            f"/api/{e.path}/{row.key}", json={field_name: value}, headers=world.headers[who]
        )

    if not world.can_read(who, row):
        _write(world, who, row, send, {404})
        return
    if not world.decide(who, e, "update", row.stored).allowed:
        _write(world, who, row, send, {world.refused(who)})
        return
    editable = world.decide(who, e, "update", row.stored, rule=f.editable_by).allowed
    body = _write(world, who, row, send, {200} if editable else {world.refused(who)}).json()
    if not editable:
        assert [error["field"] for error in body["errors"]] == [field_name]
        assert field_name in body["detail"]


def _restricted(w: World, row: Row) -> bool:
    """Whether another row points at this one through a foreign key ON DELETE RESTRICT."""
    target = w.model.table(row.entity)
    with w.engine.connect() as connection:
        for table in w.model.metadata.tables.values():
            for fk in table.foreign_keys:
                if fk.column.table is target and (fk.ondelete or "").upper() in (
                    "RESTRICT",
                    "NO ACTION",
                    "",
                ):
                    if fk.column.name != w.model.column(row.entity, row.entity.primary_key).name:
                        continue
                    found = connection.execute(
                        sa.select(sa.func.count()).select_from(table).where(fk.parent == row.key)
                    ).scalar_one()
                    if found:
                        return True
    return False


@pytest.mark.parametrize(("entity_name", "label", "op", "who"), row_cases(lambda e: ["delete"]))
def test_delete(world: World, entity_name: str, label: str, op: str, who: str) -> None:
    e, row = entity(entity_name), world.rows[label]
    headers = world.headers[who]

    def send(key: str = row.key) -> Any:
        return world.client.delete(f"/api/{e.path}/{key}", headers=headers)

    if not world.can_read(who, row):
        _hidden_write(world, who, row, send, lambda: send(missing_key(e)))
        return
    if not world.decide(who, e, "delete", row.stored).allowed:
        _write(world, who, row, send, {world.refused(who)})
        return
    _write(world, who, row, send, {409} if _restricted(world, row) else {204})


def _guard_holds(w: World, who: str, row: Row, action: ir.Action) -> bool:
    """The action's guard on the row; aggregates are counted with SQL."""
    if action.guard is None:
        return True

    def aggregate(node: ir.AggregateExpr, ctx: Context) -> Any:
        hop, _, rest = node.path.partition(".")
        f = row.entity.field(hop)
        assert (
            f is not None
            and isinstance(f.type, ir.OneToManyType)
            and node.fn == "count"
            and not rest
        )
        target = entity(f.type.target)
        table = w.model.table(target)
        with w.engine.connect() as connection:
            return connection.execute(
                sa.select(sa.func.count())
                .select_from(table)
                .where(w.model.column(target, f.type.via) == row.key)
            ).scalar_one()

    saved = policy_python._EVALUATORS["aggregate"]
    policy_python._EVALUATORS["aggregate"] = aggregate
    try:
        ctx = Context(PROJECT, row.entity, row.stored, w.callers[who])
        return policy_python.evaluate(action.guard, ctx) is True
    finally:
        policy_python._EVALUATORS["aggregate"] = saved


def action_operations(e: ir.Entity) -> list[str]:
    return [f"action:{a.name}" for a in e.actions]


@pytest.mark.parametrize(("entity_name", "label", "op", "who"), row_cases(action_operations))
def test_action(world: World, entity_name: str, label: str, op: str, who: str) -> None:
    e, row = entity(entity_name), world.rows[label]
    action = e.action(op.partition(":")[2])
    assert action is not None
    body = {
        name: "1.00" if kind_of(f) in ("money", "decimal") else "zqa"
        for name, f in ((i.name, i) for i in action.inputs)
    }
    headers = world.headers[who]

    def send(key: str = row.key) -> Any:
        path = f"/api/{e.path}/{key}/actions/{action.name}"
        return world.client.post(path, json=body or None, headers=headers)

    if not world.can_read(who, row):
        _hidden_write(world, who, row, send, lambda: send(missing_key(e)))
        return
    rule = next((r for r in e.rules if r.id == action.rule), None)
    if rule is None or not world.decide(who, e, action.name, row.stored, rule=rule).allowed:
        expected = {world.refused(who)}
    else:
        wrong_state = (
            action.kind == "transition"
            and row.stored.get(action.state_field or "") not in action.sources
        )
        refused = wrong_state or not _guard_holds(world, who, row, action)
        expected = {409} if refused else {200}
    _write(world, who, row, send, expected)


# Creates ---------------------------------------------------------------------------------


def _create_body(w: World, e: ir.Entity) -> dict[str, Any]:
    if e.name in BUILTIN_CREATE:
        return BUILTIN_CREATE[e.name](w.key)
    seed = next(s for s in SEEDS if s.entity == e.name)
    body = dict(seed.body(w.key))
    for name, value in CREATE_OVERRIDES.get(e.name, {}).items():
        body[name] = w.key(value) if isinstance(value, str) else value
    unique = [index.fields for index in e.indexes if index.unique] + [(e.primary_key,)]
    for fields in unique:
        if fields:
            for name in fields:
                f = e.field(name)
                if f is not None and kind_of(f) in ("text", "slug") and name in body:
                    body[name] = f"{body[name]}-new"
    return {k: v for k, v in body.items() if v is not None}


def _refs(e: ir.Entity, body: Mapping[str, Any]) -> list[tuple[str, str, str]]:
    """(field, target entity, key) of each ref the body sends."""
    found = []
    for name, value in body.items():
        f = e.field(name)
        if f is None or value is None:
            continue
        if isinstance(f.type, ir.RefType):
            found.append((name, f.type.target, str(value)))
        elif isinstance(f.type, ir.PolyRefType):
            found.append((name, value["type"], str(value["id"])))
    return found


@pytest.mark.parametrize(("entity_name", "who"), create_cases())
def test_create(world: World, entity_name: str, who: str) -> None:
    """A create the rule refuses is a 403 (401 anonymous); a ref to a row the caller may
    not read is refused as invalid input (422), whichever comes first, and the answer is
    the same as for a ref to no row at all."""
    e = entity(entity_name)
    body = _create_body(world, e)
    caller = world.callers[who]
    candidate: dict[str, Any] = {
        f.name: f.default.value
        for f in e.fields
        if f.default is not None and f.default.kind == "value" and f.column is not None
    }
    for name, value in body.items():
        f = e.field(name)
        candidate[name] = _typed(f, value) if f is not None and kind_of(f) != "poly_ref" else value
    if e.tenant:
        candidate["tenant"] = caller.tenant_id
    if e.field("created_by") is not None:
        candidate["created_by"] = caller.user_id
    allowed = world.decide(who, e, "create", candidate).allowed
    hidden = [
        (name, target, key)
        for name, target, key in _refs(e, body)
        if not world.may_point_at(who, target, key)
    ]
    expected: set[int] = set()
    if not allowed:
        expected.add(world.refused(who))
    if hidden:
        expected.add(422)
    expected = expected or {201}

    def send(payload: Mapping[str, Any]) -> Any:
        return world.client.post(f"/api/{e.path}", json=payload, headers=world.headers[who])

    with rolled_back(world):
        answer = send(body)
    assert_answer(world, who, answer, expected)
    if hidden and any(world.row_of(t, k) is not None for _, t, k in hidden):
        nowhere = dict(body)
        for name, target, _ in hidden:
            if isinstance(nowhere[name], dict):
                nowhere[name] = {**nowhere[name], "id": str(uuid.uuid4())}
            else:
                nowhere[name] = missing_key(entity(target))
        with rolled_back(world):
            again = send(nowhere)
        same_as_missing(world, answer, again)


def unique_cases() -> list[Any]:
    cases = []
    for e in entities():
        if not e.tenant:
            continue
        for index in e.indexes:
            # The tenant column is set by the server: compare the values a client sends.
            fields = tuple(f for f in index.fields if f != "tenant")
            if not index.unique or not fields:
                continue
            if any(kind_of(e.field(f)) == "ref" for f in fields):  # type: ignore[arg-type]
                continue  # a ref to tenant A's row is a 422 first: test_create probes it
            named = "+".join(fields)
            asked = f"POST /api/{e.path} as other, with tenant A's {named}"
            cases.append(case(f"unique-{e.path}-{named}", asked, e.name, fields))
    return cases


@pytest.mark.parametrize(("entity_name", "fields"), unique_cases())
def test_unique_values_do_not_cross_tenants(
    world: World, entity_name: str, fields: tuple[str, ...]
) -> None:
    """Tenant B creating a row with tenant A's value of a unique field must not get the
    409 of a unique conflict: that would reveal that tenant A has the value."""
    e = entity(entity_name)
    own = next((s for s in SEEDS if s.entity == e.name and s.by == "other" and not s.sql), None)
    theirs = next(
        (r for r in world.rows.values() if r.entity.name == e.name and r.tenant == "A"), None
    )
    assert theirs is not None
    if own is None:
        # No row of this entity tenant B may create: check with SQL that the database
        # itself would take tenant A's value in tenant B.
        values = _sql_values(world, e, "other", {})
        seed = next(s for s in SEEDS if s.entity == e.name)
        body = seed.body(world.key)
        for name, value in body.items():
            f = e.field(name)
            if f is not None and isinstance(f.type, ir.RefType) and f.type.target == "Invoice":
                value = world.key("b_invoice")
            values.update(_sql_values(world, e, "other", {name: value}))
        values[w_pk(world, e)] = uuid.uuid4()
        table = world.model.table(e)
        with world.engine.connect() as connection, connection.begin() as outer:
            try:
                with connection.begin_nested():
                    connection.execute(sa.insert(table).values(values))
                clash = None
            except sa.exc.IntegrityError as error:
                clash = str(error.orig).splitlines()[0]
            outer.rollback()
        assert clash is None, (
            f"the database refuses tenant A's {'+'.join(fields)} in tenant B ({clash}); "
            "through the API that is a 409 telling tenant B the value exists in another tenant"
        )
        return
    body = dict(own.body(world.key))
    for name in fields:
        body[name] = theirs.truth[name]
    with rolled_back(world):
        answer = world.client.post(f"/api/{e.path}", json=body, headers=world.headers["other"])
    assert_answer(world, "other", answer, 201)


def w_pk(w: World, e: ir.Entity) -> str:
    return w.model.column(e, e.primary_key).name


# Hidden fields, in words -----------------------------------------------------------------


def test_hidden_notes_never_reach_a_member(world: World) -> None:
    member_h, billing_h = world.headers["member"], world.headers["billing"]
    customer = world.rows["customer"]
    seen = world.client.get(f"/api/customers/{customer.key}", headers=billing_h).json()
    assert seen["notes"] == "HIDDENNOTE zqa one"
    got = world.client.get(f"/api/customers/{customer.key}", headers=member_h).json()
    assert "notes" not in got
    invoices = world.client.get("/api/invoices?include=customer", headers=member_h).json()
    assert all("notes" not in i["customer"] for i in invoices["items"] if i["customer"])
    for name in ("filter[notes][contains]", "filter[notes][is_null]"):
        value = "hiddennote" if "contains" in name else "false"
        probe = world.client.get(f"/api/customers?{name}={value}&count=true", headers=member_h)
        assert probe.json()["items"] == [] and probe.json()["total"] == 0
        nothing = world.client.get(
            f"/api/customers?{name.replace('notes', 'name')}=zzz-none&count=true", headers=member_h
        )
        del nothing
    by_path = world.client.get(
        "/api/invoices?filter[customer.notes][contains]=HIDDENNOTE&count=true", headers=member_h
    ).json()
    assert by_path["items"] == [] and by_path["total"] == 0
    for_billing = world.client.get(
        "/api/invoices?filter[customer.notes][contains]=HIDDENNOTE&count=true", headers=billing_h
    ).json()
    assert for_billing["total"] >= 1


def test_a_sort_on_a_hidden_field_reveals_no_order(world: World) -> None:
    def order(sort: str, who: str) -> list[str]:
        answer = world.client.get(f"/api/customers?sort={sort}", headers=world.headers[who])
        return [item["id"] for item in assert_answer(world, who, answer, 200)["items"]]

    assert order("notes", "member") == order("-notes", "member")
    assert order("notes", "billing") == list(reversed(order("-notes", "billing")))


def test_a_shared_row_shows_its_creator_to_no_other_tenant(world: World) -> None:
    admin_a = world.users["admin"]
    for who in ("other", "anon"):
        answer = world.client.get("/api/tax-rates", headers=world.headers[who])
        assert admin_a not in answer.text, f"tax rates show tenant A's admin to {who}"
