"""Create, update and delete, with the policies, field rules and constraints of the model.

Order of checks, so that nothing is revealed to a caller who may not see a
row: a row outside the read rule is a 404 for every write; a visible row the
caller may not change is a 403 whose detail names the rule and why; a field
the caller may not edit is a 403 naming it; database constraints answer 409
(unique, a row still referenced) or 422 naming the field. The row is locked
(`FOR UPDATE`) before its ETag is compared, so two writers with the same
ETag cannot both win.

A many-to-many with a generated join table (`many_to_many("Tag")`, no
`through=`) is written as the list of the linked rows' keys, which replaces
the links, in the write's transaction, after the row itself: each key must be
a row the caller may read (as a ref's, else 422 naming the field and the key,
and nothing is written); links to rows the caller may not read are kept, as
the caller could neither see nor send them. `null` is `[]`. The audit entry
has the sorted keys before and after.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from compiler import ir
from policy.caller import Caller
from policy.explain import explain
from policy.fields import refused_edits
from policy.python import NeedsRelated
from runtime.api import audit, materialized
from runtime.api.model import AppModel
from runtime.api.problems import FieldError, Problem, not_found
from runtime.api.reading import get_row, parse_key, row_tag, visible_rows

Row = dict[str, Any]


def stored_row(
    connection: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    caller: Caller,
    key: object,
    *,
    lock: bool = False,
) -> Row | None:
    """The stored values of a row the caller may read, by field name (refs as keys)."""
    parsed = parse_key(entity, key)
    if parsed is None:
        return None
    table = model.table(entity)
    query = sa.select(table).where(
        model.column(entity, entity.primary_key) == parsed,
        visible_rows(model, entity, caller),
    )
    if lock:
        query = query.with_for_update(of=table)
    found = connection.execute(query).mappings().first()
    return None if found is None else model.by_field(entity, found)


def _load_path(
    connection: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    row: Row,
    caller: Caller,
    hops: list[str],
) -> Row:
    name, rest = hops[0], hops[1:]
    field = entity.field(name)
    assert field is not None and isinstance(field.type, ir.RefType)
    target = model.entity(field.type.target)
    value = row.get(name)
    if isinstance(value, Mapping):
        loaded: Row | None = dict(value)
    else:
        loaded = stored_row(connection, model, target, caller, value) if value is not None else None
    if loaded is not None and rest:
        loaded = _load_path(connection, model, target, loaded, caller, rest)
    return {**row, name: loaded}


def decide(
    connection: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    operation: str,
    row: Row,
    caller: Caller,
    rule: ir.Rule | None = None,
) -> Row:
    """Raise 403 unless the rule allows; return the row with the related rows it needed."""
    chosen = rule if rule is not None else entity.rule(operation)
    while True:
        try:
            decision = explain(model.project, entity, operation, row, caller, rule=chosen)
            break
        except NeedsRelated as needed:
            row = _load_path(connection, model, entity, row, caller, needed.path.split("."))
    if not decision.allowed:
        if not caller.authenticated:
            raise sign_in_first(decision.sentence())
        raise Problem(403, decision.sentence())
    return row


def sign_in_first(detail: str) -> Problem:
    """401: a request a signed-in caller might be allowed to make (API.md: 401 no credentials)."""
    return Problem(401, f"Sign in first. {detail}", headers={"WWW-Authenticate": "Bearer"})


def _refuse_fields(
    model: AppModel, entity: ir.Entity, row: Row, caller: Caller, changed: Mapping[str, Any]
) -> None:
    refused = refused_edits(model.project, entity, row, caller, changed)
    if refused:
        raise Problem(
            403,
            " ".join(r.message for r in refused),
            tuple(FieldError(r.field, r.decision.sentence()) for r in refused),
        )


def _check_refs(
    connection: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    caller: Caller,
    values: Mapping[str, Any],
) -> None:
    """A ref, and each key of a many-to-many, must point at a row the caller may read: no
    linking to another tenant's rows."""
    errors = []
    for name, value in values.items():
        field = entity.field(name)
        if field is None or value is None:
            continue
        if isinstance(field.type, ir.ManyToManyType):
            target = model.entity(field.type.target)
            found = _pointable(connection, model, target, caller, value)
            errors += [
                FieldError(name, f"no {target.label.lower()} with id {key}")
                for key in dict.fromkeys(value)
                if parse_key(target, key) not in found
            ]
            continue
        if isinstance(field.type, ir.PolyRefType):
            kind = value.get("type") if isinstance(value, Mapping) else None
            if kind not in field.type.targets:
                allowed = ", ".join(field.type.targets)
                errors.append(FieldError(f"{name}.type", f"must be one of {allowed}"))
                continue
            target, value = model.entity(str(kind)), value.get("id")
        elif isinstance(field.type, ir.RefType):
            target = model.entity(field.type.target)
        else:
            continue
        if not _may_point_at(connection, model, target, caller, value):
            errors.append(FieldError(name, f"no {target.label.lower()} with id {value}"))
    if errors:
        raise Problem(
            422, "Invalid input: " + ", ".join(e.field for e in errors) + ".", tuple(errors)
        )


def _may_point_at(
    connection: sa.Connection, model: AppModel, target: ir.Entity, caller: Caller, key: object
) -> bool:
    """A row the caller may read; a user counts when they belong to the caller's tenant."""
    return parse_key(target, key) in _pointable(connection, model, target, caller, [key])


def _pointable(
    connection: sa.Connection,
    model: AppModel,
    target: ir.Entity,
    caller: Caller,
    keys: Iterable[object],
) -> set[object]:
    """Which of `keys` (parsed) are rows of `target` a ref may point at, in one query: rows
    the caller may read; for `User`, members of the caller's tenant (or the caller)."""
    parsed = {k for k in (parse_key(target, key) for key in keys) if k is not None}
    if not parsed:
        return set()
    key = model.column(target, target.primary_key)
    if target.name == "User":
        if caller.tenant_id is None:
            return parsed & {caller.user_id}
        membership = model.entity("Membership")
        member = model.column(membership, "user")
        query = sa.select(member).where(
            member.in_(parsed), model.column(membership, "tenant") == caller.tenant_id
        )
    else:
        query = sa.select(key).where(key.in_(parsed), visible_rows(model, target, caller))
    return set(connection.scalars(query))


def _links(entity: ir.Entity, values: Mapping[str, Any]) -> tuple[Row, Row]:
    """`values` split into the row's own fields and the many-to-many ones (keys, or None)."""
    own: Row = {}
    links: Row = {}
    for name, value in values.items():
        field = entity.field(name)
        chosen = links if field is not None and isinstance(field.type, ir.ManyToManyType) else own
        chosen[name] = value
    return own, links


def _set_links(
    connection: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    caller: Caller,
    key: object,
    links: Mapping[str, Any],
) -> tuple[Row, Row]:
    """Replace the links of the row `key` with `links` ({field: keys or None}), leaving those
    to rows the caller may not read; the sorted keys before and after, by field."""
    before: Row = {}
    after: Row = {}
    for name, value in links.items():
        field = entity.field(name)
        assert field is not None and isinstance(field.type, ir.ManyToManyType), name
        kind = field.type
        assert kind.through is None, f"{entity.name}.{name} is written through {kind.through}"
        target = model.entity(kind.target)
        link = model.tables[kind.join_table]
        source, linked = link.c[kind.source_column], link.c[kind.target_column]
        wanted = {parse_key(target, k) for k in value or ()}
        current = set(connection.scalars(sa.select(linked).where(source == key)))
        # Unlinked: what the caller could see and did not send again.
        gone = _pointable(connection, model, target, caller, current - wanted)
        try:
            if gone:
                connection.execute(sa.delete(link).where(source == key, linked.in_(gone)))
            added = wanted - current
            if added:
                rows = [{kind.source_column: key, kind.target_column: k} for k in _in_order(added)]
                connection.execute(sa.insert(link), rows)
        except IntegrityError:  # a target deleted since it was checked
            raise Problem(
                422, f"Invalid input: {name} points at no row.", _errors(name, "points at no row")
            ) from None
        before[name] = _in_order(current)
        after[name] = _in_order((current - gone) | wanted)
    return before, after


def _in_order(keys: Iterable[Any]) -> list[Any]:
    """Keys of one type (uuids, integers or texts) in their order."""
    return sorted(keys)


def _columns(entity: ir.Entity, values: Mapping[str, Any]) -> dict[str, Any]:
    found = {}
    for name, value in values.items():
        field = entity.field(name)
        assert field is not None, f"{entity.name}.{name}"
        if isinstance(field.type, ir.PolyRefType):
            # {"type": "Invoice", "id": "..."} is two columns.
            found[field.type.type_column] = value["type"] if value is not None else None
            found[field.type.id_column] = value["id"] if value is not None else None
            continue
        assert field.column is not None, f"{entity.name}.{name}"
        found[field.column] = value
    return found


def _a(label: str) -> str:
    return f"an {label}" if label[:1] in "aeiou" else f"a {label}"


def create_row(
    connection: sa.Connection, model: AppModel, entity: ir.Entity, caller: Caller, values: Row
) -> object:
    """Insert a row from validated input (field names); return its key."""
    implicit: Row = {}
    if entity.field("tenant") is not None and entity.tenant:
        if caller.tenant_id is None:
            detail = f"Creating {_a(entity.label.lower())} needs a tenant."
            if not caller.authenticated:
                raise sign_in_first(detail)
            raise Problem(403, detail + " You act in no tenant: join one first.")
        implicit["tenant"] = caller.tenant_id
    if entity.field("created_by") is not None:
        implicit["created_by"] = caller.user_id
    own, links = _links(entity, values)
    candidate = {**_defaults(entity), **own, **implicit}
    decide(connection, model, entity, "create", candidate, caller)
    _refuse_fields(model, entity, candidate, caller, values)
    _check_refs(connection, model, entity, caller, values)
    table = model.table(entity)
    key_column = model.column(entity, entity.primary_key)
    with _constraints(entity):
        key = connection.execute(
            sa.insert(table).values(_columns(entity, {**own, **implicit})).returning(key_column)
        ).scalar_one()
    _, linked = _set_links(connection, model, entity, caller, key, links)
    materialized.refresh(connection, model, entity, key, None, caller)
    audit.record(connection, model, entity, key, "create", {**own, **linked}, caller)
    return key


def _defaults(entity: ir.Entity) -> Row:
    """Literal defaults, so a create rule reading a defaulted field sees its value."""
    return {
        f.name: f.default.value
        for f in entity.fields
        if f.default is not None and f.default.kind == "value" and f.column is not None
    }


def update_row(
    connection: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    caller: Caller,
    key: str,
    changes: Row,
    if_match: str | None,
) -> None:
    current = stored_row(connection, model, entity, caller, key, lock=True)
    if current is None:
        raise not_found(entity.label)
    if if_match is not None:
        shown = get_row(connection, model, entity, caller, key)
        if shown is None or if_match.strip() not in (
            row_tag(connection, model, entity, shown),
            "*",
        ):
            raise Problem(
                412,
                f"The {entity.label.lower()} changed since you read it: get it again, then retry.",
            )
    decide(connection, model, entity, "update", current, caller)
    _refuse_fields(model, entity, current, caller, changes)
    _check_refs(connection, model, entity, caller, changes)
    if not changes:
        return
    own, links = _links(entity, changes)
    parsed = parse_key(entity, key)
    with _constraints(entity):
        # Links alone still touch `updated_at`: the row's ETag changes with its links.
        write_fields(connection, model, entity, key, own)
    linked_before, linked = _set_links(connection, model, entity, caller, parsed, links)
    materialized.refresh(connection, model, entity, parsed, current, caller)
    audit.record(
        connection,
        model,
        entity,
        parsed,
        "update",
        {**own, **linked},
        caller,
        before={**current, **linked_before},
    )


def write_fields(
    connection: sa.Connection, model: AppModel, entity: ir.Entity, key: object, changes: Row
) -> None:
    """UPDATE the row's fields (by name), and its `updated_at` when it has timestamps."""
    values = _columns(entity, changes)
    if entity.field("updated_at") is not None and entity.timestamps:
        values["updated_at"] = sa.func.now()
    if not values:
        return
    connection.execute(
        sa.update(model.table(entity))
        .where(model.column(entity, entity.primary_key) == parse_key(entity, key))
        .values(values)
    )


def delete_row(
    connection: sa.Connection, model: AppModel, entity: ir.Entity, caller: Caller, key: str
) -> None:
    current = stored_row(connection, model, entity, caller, key, lock=True)
    if current is None:
        raise not_found(entity.label)
    decide(connection, model, entity, "delete", current, caller)
    table = model.table(entity)
    with _constraints(entity, deleting=True):
        connection.execute(
            sa.delete(table).where(
                model.column(entity, entity.primary_key) == parse_key(entity, key)
            )
        )
    materialized.refresh(connection, model, entity, parse_key(entity, key), current, caller)
    audit.record(
        connection, model, entity, parse_key(entity, key), "delete", {}, caller, before=current
    )


class _constraints:
    """Turn a constraint the database refused into 409 / 422 naming the field."""

    def __init__(self, entity: ir.Entity, deleting: bool = False) -> None:
        self.entity, self.deleting = entity, deleting

    def __enter__(self) -> None:
        return None

    def __exit__(self, kind: object, error: BaseException | None, trace: object) -> None:
        if not isinstance(error, IntegrityError):
            return
        orig = error.orig
        code = getattr(orig, "sqlstate", None)
        diag = getattr(orig, "diag", None)
        column = getattr(diag, "column_name", None)
        constraint = getattr(diag, "constraint_name", None) or ""
        field = self._field(column, constraint)
        label = self.entity.label.lower()
        if code == "23505":
            raise Problem(
                409,
                f"Another {label} already has this {field or 'value'}.",
                _errors(field, "already taken"),
            ) from None
        if code == "23503":
            if self.deleting:
                raise Problem(
                    409,
                    f"This {label} is still referenced by other rows; delete or change those first.",
                ) from None
            raise Problem(
                422,
                f"Invalid input: {field or 'a reference'} points at no row.",
                _errors(field, "points at no row"),
            ) from None
        if code in ("23502", "23514"):
            what = "is required" if code == "23502" else "breaks a rule of the model"
            raise Problem(
                422, f"Invalid input: {field or 'a value'} {what}.", _errors(field, what)
            ) from None
        raise Problem(409, f"The database refused this change to the {label}.") from None

    def _field(self, column: str | None, constraint: str) -> str | None:
        """The field the database named, or whose column the constraint's name holds."""
        named = [f for f in self.entity.fields if f.column is not None and f.column == column]
        if constraint == f"pk_{self.entity.table}":
            return self.entity.primary_key
        # Names are `<kind>_<table>_<columns...>`: look at the columns part only.
        columns = constraint.split(f"_{self.entity.table}_", 1)[-1]
        inside = [
            f
            for f in self.entity.fields
            if f.column is not None and f"_{f.column}_" in f"_{columns}_"
        ]
        # The longest column inside the name: `fk_invoice_customer_id` is customer, not id.
        found = named or sorted(inside, key=lambda f: len(f.column or ""), reverse=True)
        return found[0].name if found else None


def _errors(field: str | None, message: str) -> tuple[FieldError, ...]:
    return (FieldError(field, message),) if field else ()
