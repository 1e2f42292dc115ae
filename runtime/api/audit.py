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
from typing import Any

import sqlalchemy as sa

from compiler import ir
from policy.caller import Caller
from runtime.api.model import AppModel

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


def _json(value: Any) -> Any:
    if isinstance(value, uuid.UUID | Decimal | dt.date):
        return value.isoformat() if isinstance(value, dt.date) else str(value)
    if isinstance(value, list):
        return [_json(v) for v in value]
    return value
