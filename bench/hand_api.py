"""The invoice list of bench/api_speed.py written by hand: FastAPI, SQLAlchemy Core, pydantic.

What a developer would write for `GET /api/invoices?page[size]=50&include=customer,lines`
without Reframe, returning the same JSON as the generated endpoint:

- the caller comes from a sync dependency, as in the generated app: the bearer token's
  SHA-256 looked up in the same `reframe_session` table (live session of an active
  user), with the user's first tenant (by tenant creation time, then id) and roles, in
  one joined statement; `last_used_at` is touched when older than a minute;
- the endpoint always embeds the customer and the lines (it is written for this one
  page; `include=` in the URL is ignored) and reads, in one transaction, the 51 newest invoices of the caller's tenant
  (`created_at DESC, id`; the 51st only says whether there is a next page), then their
  customers (`id = ANY(...)`) and their lines (`invoice_id = ANY(...)`, by position then
  id), each filtered by the caller's tenant, as `tenant_member()` reads;
- the response goes through pydantic `response_model`s with the same field types, so
  the JSON is the same; `next` is the same base64url keyset cursor.

The engine has the generated app's settings (pool 10 + 10, pre-ping).

    DATABASE_URL=postgresql://... uvicorn bench.hand_api:app
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import json
import os
from decimal import Decimal
from typing import Annotated, Any, Literal
from uuid import UUID

import sqlalchemy as sa
from fastapi import Depends, FastAPI, Header, HTTPException, Query
from pydantic import BaseModel

PAGE_SIZE = 50


def _engine() -> sa.Engine:
    url = os.environ["DATABASE_URL"]
    scheme, _, rest = url.partition("://")
    if "+" not in scheme:
        url = f"postgresql+psycopg://{rest}"
    return sa.create_engine(url, pool_size=10, max_overflow=10, pool_pre_ping=True)


engine = _engine()
app = FastAPI(title="hand-written invoices")

# The caller ------------------------------------------------------------------------------------

CALLER_SQL = sa.text(
    """
    SELECT s.user_id, s.last_used_at, m.tenant_id, m.roles::text[] AS roles
    FROM reframe_session AS s
    JOIN "user" AS u ON u.id = s.user_id
    LEFT JOIN membership AS m ON m.user_id = s.user_id
    LEFT JOIN tenant AS t ON t.id = m.tenant_id
    WHERE s.token_hash = :token_hash AND s.expires_at > :now AND u.is_active
    ORDER BY t.created_at, t.id
    LIMIT 1
    """
)
TOUCH_SQL = sa.text("UPDATE reframe_session SET last_used_at = :now WHERE token_hash = :token_hash")


class Caller(BaseModel):
    user_id: UUID
    tenant_id: UUID | None
    roles: frozenset[str]


def current_caller(authorization: Annotated[str | None, Header()] = None) -> Caller:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise HTTPException(401, "Bearer token required", {"WWW-Authenticate": "Bearer"})
    hashed = hashlib.sha256(token.strip().encode()).hexdigest()
    now = dt.datetime.now(dt.UTC)
    with engine.begin() as conn:
        row = conn.execute(CALLER_SQL, {"token_hash": hashed, "now": now}).first()
        if row is None:
            raise HTTPException(401, "Invalid or expired session", {"WWW-Authenticate": "Bearer"})
        if now - row.last_used_at > dt.timedelta(minutes=1):
            conn.execute(TOUCH_SQL, {"token_hash": hashed, "now": now})
    return Caller(user_id=row.user_id, tenant_id=row.tenant_id, roles=frozenset(row.roles or ()))


# Shapes --------------------------------------------------------------------------------------


class CustomerOut(BaseModel):
    id: UUID
    name: str
    email: str
    tenant: UUID
    created_by: UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class InvoiceLineOut(BaseModel):
    id: UUID
    invoice: UUID
    description: str
    quantity: int
    unit_price: Decimal
    position: int
    tenant: UUID
    created_by: UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class InvoiceOut(BaseModel):
    id: UUID
    number: str
    customer: CustomerOut | None
    issue_date: dt.date
    due_date: dt.date
    status: Literal["draft", "sent", "paid", "void"]
    lines: list[InvoiceLineOut]
    tenant: UUID
    created_by: UUID | None
    created_at: dt.datetime
    updated_at: dt.datetime


class InvoicePage(BaseModel):
    items: list[InvoiceOut]
    next: str | None


# The endpoint --------------------------------------------------------------------------------

INVOICES_SQL = sa.text(
    """
    SELECT id, number, customer_id AS customer, issue_date, due_date, status::text AS status,
           tenant_id AS tenant, created_by_id AS created_by, created_at, updated_at
    FROM invoice
    WHERE tenant_id = :tenant
    ORDER BY created_at DESC, id
    LIMIT :limit
    """
)
CUSTOMERS_SQL = sa.text(
    """
    SELECT id, name, email, tenant_id AS tenant, created_by_id AS created_by,
           created_at, updated_at
    FROM customer
    WHERE tenant_id = :tenant AND id = ANY(:ids)
    """
)
LINES_SQL = sa.text(
    """
    SELECT id, invoice_id AS invoice, description, quantity, unit_price, position,
           tenant_id AS tenant, created_by_id AS created_by, created_at, updated_at
    FROM invoice_line
    WHERE tenant_id = :tenant AND invoice_id = ANY(:ids)
    ORDER BY position, id
    """
)


def _cursor(created_at: dt.datetime, key: UUID) -> str:
    body = {"s": "-created_at", "v": [created_at.isoformat(), str(key)]}
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


@app.get("/api/invoices", response_model=InvoicePage)
def list_invoices(
    caller: Annotated[Caller, Depends(current_caller)],
    size: Annotated[int, Query(alias="page[size]", ge=1, le=100)] = PAGE_SIZE,
) -> dict[str, Any]:
    """The caller's tenant's invoices, newest first, each with its customer and lines."""
    if caller.tenant_id is None:  # signed in, member of no tenant: sees nothing
        return {"items": [], "next": None}
    tenant = caller.tenant_id
    with engine.begin() as conn:
        rows = conn.execute(INVOICES_SQL, {"tenant": tenant, "limit": size + 1}).mappings().all()
        page = rows[:size]
        if not page:
            return {"items": [], "next": None}
        items = [dict(row) for row in page]
        ids = list({item["customer"] for item in items})
        found = conn.execute(CUSTOMERS_SQL, {"tenant": tenant, "ids": ids}).mappings()
        customers = {row["id"]: dict(row) for row in found}
        lines: dict[UUID, list[dict[str, Any]]] = {item["id"]: [] for item in items}
        found = conn.execute(LINES_SQL, {"tenant": tenant, "ids": list(lines)}).mappings()
        for row in found:
            lines[row["invoice"]].append(dict(row))
    for item in items:
        item["customer"] = customers.get(item["customer"])
        item["lines"] = lines[item["id"]]
    next_page = _cursor(page[-1]["created_at"], page[-1]["id"]) if len(rows) > size else None
    return {"items": items, "next": next_page}
