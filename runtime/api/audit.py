"""The audit log: who changed what, when, in the same transaction as the change.

Rows go to `reframe_audit` (append-only: the API never updates or deletes
them). Values of `.private()` fields are masked, so the log can be read by
admins without exposing personal data.
"""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request

from compiler import ir
from policy.caller import Caller
from runtime.api.auth import ADMIN, require_user
from runtime.api.model import AppModel
from runtime.api.problems import FieldError, Problem

TABLE = "reframe_audit"
MASK = "***"


def record(
    connection: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    key: object,
    operation: str,
    changes: Mapping[str, Any],
    caller: Caller,
    before: Mapping[str, Any] | None = None,
) -> None:
    """Append one entry; `changes` are the new values, `before` the old ones when known."""
    entry: dict[str, Any] = {}
    for name, value in changes.items():
        field = entity.field(name)
        private = field is not None and field.private
        new = MASK if private else _json(value)
        if before is not None and name in before:
            entry[name] = {"from": MASK if private else _json(before[name]), "to": new}
        else:
            entry[name] = new
    connection.execute(
        sa.insert(model.tables[TABLE]).values(
            user_id=caller.user_id,
            tenant_id=caller.tenant_id,
            entity=entity.name,
            row_id=str(key),
            operation=operation,
            changes=entry,
        )
    )


def _instant(text: str) -> dt.datetime:
    """An ISO 8601 date-time (naive: UTC), or a 400 naming `before`."""
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise Problem(
            400, "before must be an ISO 8601 date-time.", (FieldError("before", "not a date-time"),)
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.UTC)


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal | dt.date):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value


def audit_router() -> APIRouter:
    """`GET /api/audit`: the audit log of the caller's tenant, newest first, for its admins."""
    router = APIRouter(tags=["Audit"])

    @router.get("/audit", operation_id="listAuditEntries")
    def list_audit_entries(
        request: Request,
        caller: Annotated[Caller, Depends(require_user)],
        entity: str | None = None,
        row: str | None = None,
        before: Annotated[
            str | None,
            Query(description="ISO 8601 date-time", json_schema_extra={"format": "date-time"}),
        ] = None,
        limit: Annotated[int, Query(ge=1, le=200)] = 50,
    ) -> dict[str, Any]:
        if ADMIN not in caller.roles or caller.tenant_id is None:
            raise Problem(403, "Only admins of the tenant may read its audit log.")
        model: AppModel = request.app.state.model
        table = model.tables[TABLE]
        query = sa.select(table).where(table.c.tenant_id == caller.tenant_id)
        if entity is not None:
            query = query.where(table.c.entity == entity)
        if row is not None:
            query = query.where(table.c.row_id == row)
        if before is not None:
            query = query.where(table.c.at < _instant(before))
        query = query.order_by(table.c.at.desc(), table.c.id.desc()).limit(limit)
        with request.app.state.engine.connect() as connection:
            rows = connection.execute(query).mappings().all()
        items = [{k: _json(v) for k, v in r.items()} for r in rows]
        return {"items": items, "next_before": items[-1]["at"] if len(items) == limit else None}

    return router
