"""The bodies of the generated endpoints: a few lines each in `api/routes/*.py` call these.

Each request runs in one transaction; an action's effect runs after it
committed. ETags go out on every single-row response and come back as
`If-Match`.
"""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

import sqlalchemy as sa
from fastapi import Depends, Request, Response
from pydantic import BaseModel

from compiler import ir
from policy import caller as policy_caller
from runtime.api import actions, reading, writing
from runtime.api.auth import current_caller
from runtime.api.model import AppModel
from runtime.api.problems import Problem, not_found
from runtime.api.query import INT_MAX, MAX_PAGE_SIZE, bad, parse_list_query, parse_value

#: The caller of a request, from its token or session cookie and `X-Tenant`.
Caller = Annotated[policy_caller.Caller, Depends(current_caller)]

#: The list query parameters, for the OpenAPI document (parsing is `parse_list_query`).
LIST_PARAMETERS: list[dict[str, Any]] = [
    {
        "name": "filter",
        "in": "query",
        "style": "deepObject",
        "explode": True,
        "description": "filter[field]=value or filter[field][op]=value; ops eq ne lt lte gt gte "
        "in contains is_null; a dotted field follows refs",
        "schema": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    {
        "name": "sort",
        "in": "query",
        "schema": {"type": "string"},
        "description": "-created_at,number",
    },
    {
        "name": "page",
        "in": "query",
        "style": "deepObject",
        "explode": True,
        "description": "page[size], page[after] (keyset cursor) or page[number] (offset)",
        "schema": {
            "type": "object",
            "properties": {
                "size": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE_SIZE},
                "after": {"type": "string"},
                "number": {"type": "integer", "minimum": 1, "maximum": INT_MAX},
            },
        },
    },
    {"name": "count", "in": "query", "schema": {"type": "boolean"}},
    {
        "name": "include",
        "in": "query",
        "schema": {"type": "string"},
        "description": "customer,lines",
    },
]


def _model(request: Request) -> AppModel:
    model: AppModel = request.app.state.model
    return model


def _engine(request: Request) -> sa.Engine:
    engine: sa.Engine | None = request.app.state.engine
    if engine is None:
        raise Problem(503, "The API has no database: set DATABASE_URL or run it with `gen serve`.")
    return engine


def _includes(text: str) -> tuple[str, ...]:
    return tuple(part for part in text.split(",") if part)


def _only(request: Request, *allowed: str) -> None:
    """A query parameter the endpoint does not take is a 400, as on lists: never ignored."""
    for name in request.query_params:
        if name not in allowed:
            hint = (
                f"this endpoint takes {', '.join(allowed)}"
                if allowed
                else "this endpoint takes none"
            )
            raise bad(name, f"unknown parameter; {hint}.")


def _checked_key(model: AppModel, entity: ir.Entity, key: str) -> str:
    """`key` when it can be a primary key of `entity`; a 404 when not (a malformed id names
    no row: the same answer as a missing one)."""
    field = entity.field(entity.primary_key)
    assert field is not None
    try:
        parse_value(model, field, key, "key")
    except Problem:
        raise not_found(entity.label) from None
    return key


def list_rows(request: Request, entity_name: str, caller: policy_caller.Caller) -> dict[str, Any]:
    model = _model(request)
    entity = model.entity(entity_name)
    query = parse_list_query(model, entity, request.query_params.multi_items())
    with _engine(request).begin() as connection:
        return reading.read_page(connection, model, entity, caller, query)


def get_row(
    request: Request,
    response: Response,
    entity_name: str,
    caller: policy_caller.Caller,
    key: str,
    include: str,
) -> dict[str, Any]:
    _only(request, "include")
    model = _model(request)
    entity = model.entity(entity_name)
    includes = _includes(include)
    with _engine(request).begin() as connection:
        row = reading.read_row(connection, model, entity, caller, key, includes)
        # The tag of the stored row, as an update compares it: not of the included rows.
        plain = (
            row
            if not includes or row is None
            else reading.read_row(connection, model, entity, caller, key)
        )
        if row is None or plain is None:
            raise not_found(entity.label)
        response.headers["ETag"] = reading.row_tag(connection, model, entity, plain)
    return row


def create_row(
    request: Request,
    response: Response,
    entity_name: str,
    caller: policy_caller.Caller,
    body: BaseModel,
) -> dict[str, Any]:
    _only(request)
    model = _model(request)
    entity = model.entity(entity_name)
    with _engine(request).begin() as connection:
        key = writing.create_row(
            connection, model, entity, caller, body.model_dump(exclude_unset=True)
        )
        row = reading.read_row(connection, model, entity, caller, key)
        if row is None:  # created, but the read rule hides it from its creator
            return {entity.primary_key: str(key)}
        response.headers["ETag"] = reading.row_tag(connection, model, entity, row)
    # Percent-encoded: a text key may hold what a header cannot (any Unicode).
    response.headers["Location"] = f"{entity.api_path}/{quote(str(key), safe='')}"
    return row


def update_row(
    request: Request,
    response: Response,
    entity_name: str,
    caller: policy_caller.Caller,
    key: str,
    body: BaseModel,
    if_match: str | None,
) -> dict[str, Any]:
    _only(request)
    model = _model(request)
    entity = model.entity(entity_name)
    key = _checked_key(model, entity, key)
    with _engine(request).begin() as connection:
        writing.update_row(
            connection, model, entity, caller, key, body.model_dump(exclude_unset=True), if_match
        )
        row = reading.read_row(connection, model, entity, caller, key)
        if row is None:
            raise not_found(entity.label)
        response.headers["ETag"] = reading.row_tag(connection, model, entity, row)
    return row


def delete_row(
    request: Request, entity_name: str, caller: policy_caller.Caller, key: str
) -> Response:
    _only(request)
    model = _model(request)
    entity = model.entity(entity_name)
    key = _checked_key(model, entity, key)
    with _engine(request).begin() as connection:
        writing.delete_row(connection, model, entity, caller, key)
    return Response(status_code=204)


def run_action(
    request: Request,
    response: Response,
    entity_name: str,
    action_name: str,
    caller: policy_caller.Caller,
    key: str,
    body: BaseModel | None,
    idempotency_key: str | None,
) -> dict[str, Any]:
    _only(request)
    model = _model(request)
    entity = model.entity(entity_name)
    key = _checked_key(model, entity, key)
    inputs = body.model_dump() if body is not None else {}
    done = actions.run(
        _engine(request),
        model,
        entity,
        action_name,
        caller,
        key,
        inputs,
        idempotency_key,
        request.url.path,
    )
    response.status_code = done.status
    if done.etag:
        response.headers["ETag"] = done.etag
    return done.body
