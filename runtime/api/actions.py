"""Actions: a state transition (or a custom action) checked and run in one transaction.

Order: the row must be visible (else 404); the action's rule must allow the
caller (else 403 with the rule and why); a transition must leave from the
current state (else 409 naming the current state and the allowed ones); the
guard must hold, evaluated in SQL on the locked row, aggregates included
(else 409 naming it). Then the state moves, the audit entry is written, and
the answer is stored under the `Idempotency-Key` in the same transaction.
The `effect` runs after the commit, once: a replayed key returns the first
answer without running anything again.
"""

from __future__ import annotations

import hashlib
import importlib
import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa

from compiler import ir
from compiler.ir.render import render_expr
from policy.caller import Caller
from policy.sql import CallerParams
from runtime.api import audit, materialized
from runtime.api.computed import ExprCompiler
from runtime.api.model import AppModel
from runtime.api.problems import Problem, not_found
from runtime.api.reading import get_row, parse_key, row_etag, row_tag
from runtime.api.writing import decide, stored_row, write_fields

log = logging.getLogger("reframe.effects")
IDEMPOTENCY = "reframe_idempotency"


@dataclass(frozen=True)
class Done:
    status: int
    body: dict[str, Any]
    etag: str | None = None


def run(
    engine: sa.Engine,
    model: AppModel,
    entity: ir.Entity,
    action_name: str,
    caller: Caller,
    key: str,
    inputs: dict[str, Any],
    idempotency_key: str | None,
    path: str,
) -> Done:
    action = entity.action(action_name)
    assert action is not None, f"{entity.name} has no action {action_name}"
    request_hash = hashlib.sha256(
        json.dumps(inputs, sort_keys=True, default=str).encode()
    ).hexdigest()
    with engine.begin() as connection:
        # Lock the row first: a concurrent retry with the same key waits here, then replays.
        row = stored_row(connection, model, entity, caller, key, lock=True)
        if row is None:
            raise not_found(entity.label)
        if idempotency_key is not None:
            replay = _replayed(connection, model, caller, idempotency_key, path, request_hash)
            if replay is not None:
                return replay
        rule = next((r for r in entity.rules if r.id == action.rule), None)
        if rule is None:
            raise Problem(
                403, f"No rule allows the {action.name} action on {entity.name}: denied by default."
            )
        decide(connection, model, entity, action.name, row, caller, rule=rule)
        _check_transition(entity, action, row)
        _check_guard(connection, model, entity, action, key, caller)
        changes: dict[str, Any] = {}
        if action.kind == "transition" and action.state_field and action.target:
            changes[action.state_field] = action.target
            write_fields(connection, model, entity, key, changes)
            materialized.refresh(connection, model, entity, parse_key(entity, key), row, caller)
        audit.record(
            connection, model, entity, key, action.name, {**changes, **inputs}, caller, before=row
        )
        shown = get_row(connection, model, entity, caller, key) or {entity.primary_key: key}
        done = Done(200, shown, row_tag(connection, model, entity, shown))
        if idempotency_key is not None:
            _remember(connection, model, caller, idempotency_key, path, request_hash, done)
    if action.effect:
        # The same key on a retry of the request: providers deduplicate with it.
        _run_effect(entity, action, shown, idempotency_key or str(uuid.uuid4()))
    return done


def _check_transition(entity: ir.Entity, action: ir.Action, row: Mapping[str, Any]) -> None:
    if action.kind != "transition" or action.state_field is None:
        return
    current = row.get(action.state_field)
    if current in action.sources:
        return
    allowed = " or ".join(action.sources)
    raise Problem(
        409,
        f"Cannot {action.name} this {entity.label.lower()}: its {action.state_field} is {current}; "
        f"{action.name} is allowed from {allowed}.",
    )


def _check_guard(
    connection: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    action: ir.Action,
    key: str,
    caller: Caller,
) -> None:
    if action.guard is None:
        return
    table = model.table(entity)
    compiler = ExprCompiler(model.project, model.tables, CallerParams.of(caller))
    holds = compiler.expr(action.guard, entity, table)
    query = sa.select(holds).where(
        model.column(entity, entity.primary_key) == parse_key(entity, key)
    )
    if connection.execute(query).scalar() is not True:
        raise Problem(
            409,
            f"Cannot {action.name} this {entity.label.lower()}: its guard "
            f"{render_expr(action.guard)} does not hold.",
        )


def _replayed(
    connection: sa.Connection,
    model: AppModel,
    caller: Caller,
    key: str,
    path: str,
    request_hash: str,
) -> Done | None:
    if caller.user_id is None:
        raise Problem(401, "An Idempotency-Key needs a signed-in caller.")
    table = model.tables[IDEMPOTENCY]
    found = (
        connection.execute(
            sa.select(table)
            .where(table.c.user_id == caller.user_id, table.c.key == key)
            .with_for_update()
        )
        .mappings()
        .first()
    )
    if found is None:
        return None
    if found["path"] != path or (found["request_hash"] and found["request_hash"] != request_hash):
        raise Problem(422, "This Idempotency-Key was used for another request; use a new key.")
    body = found["body"] or {}
    # The tag of the body as remembered (without links: an If-Match with it may be refused,
    # never wrongly accepted).
    return Done(found["status"], body, row_etag(body) if body else None)


def _remember(
    connection: sa.Connection,
    model: AppModel,
    caller: Caller,
    key: str,
    path: str,
    request_hash: str,
    done: Done,
) -> None:
    table = model.tables[IDEMPOTENCY]
    connection.execute(
        sa.insert(table).values(
            user_id=caller.user_id,
            key=key,
            method="POST",
            path=path,
            request_hash=request_hash,
            status=done.status,
            body=json.loads(json.dumps(done.body, default=str)),
        )
    )


def _run_effect(entity: ir.Entity, action: ir.Action, row: dict[str, Any], key: str) -> None:
    """Call `module:function(row, idempotency_key=...)` after the commit.

    A failing effect is logged; the action itself stays committed.
    """
    assert action.effect is not None
    module_name, _, function_name = action.effect.partition(":")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
        function(row, idempotency_key=key)
    except Exception:
        log.exception(
            "effect %s of %s.%s failed (the action is committed)",
            action.effect,
            entity.name,
            action.name,
        )
