"""The read path of the generated API: lists and single rows, policies applied in SQL.

Every statement is SQLAlchemy Core (no SQL text) and carries the caller's
rules:

- the entity's `read` rule is in the WHERE of every query (`visible_rows`);
- a filter through a relation (`customer.name`) is an EXISTS over related
  rows the caller may read (each hop ANDs the target's read rule); a sort
  through one reads NULL where the related row is not readable;
- a field with `visible_to` is absent from the JSON of rows where the caller
  may not see it; a filter on it matches only rows where it is visible, and a
  sort reads it as NULL where hidden, so a hidden value cannot be probed;
- an included row is read under its own entity's read rule: a ref to a row
  the caller may not read stays the key it already was (nothing more is
  revealed, and it is still of the Read schema's `<key> | <Target>Read`), an
  invisible row of a list is left out.

Statements per request are fixed whatever the page size: one for the page
(computed fields included, see runtime/api/computed.py), one per include
(`WHERE id = ANY(:keys)` / `WHERE parent = ANY(:parents)`, one array
parameter), one for `count=true`. Each is built once per entity and query
shape and kept with the model; the caller and the request's values are bind
parameters given at execute time (see "Internals" below).

Sorting puts NULLs last ascending and first descending (NULL is the
largest value), text in code-point order (`COLLATE "C"`, as rules compare
text), and the primary key breaks ties, so keyset pages (`page[after]`)
never skip or repeat a row.

Rows: keys are field names; `read_page` and `read_row` give the driver's
values (UUID, date, datetime, Decimal), which the route's response model
serializes (uuids, dates and datetimes as ISO strings, decimals and money as
strings keeping their scale: `"25.0000"`); `list_rows` and `get_row` give
the same rows JSON-ready (`json_value`), for writes, actions and the ETag.
Enums are strings, arrays lists; a ref is the referenced key under its own
name, or the row when included; a poly ref is `{"type", "id"}` (the id a
string); a one-to-many or many-to-many field is absent unless included, then
a list.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any
from uuid import UUID

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql
from sqlalchemy.sql.elements import ColumnElement

from compiler import ir
from policy.caller import Caller
from policy.fields import visible_where
from policy.sql import _COMPARE, CallerParams, row_filter
from runtime.api.computed import ExprCompiler
from runtime.api.model import AppModel
from runtime.api.problems import Problem
from runtime.api.query import (
    ListQuery,
    Sort,
    default_sort,
    encode_cursor,
    field_kind,
    parse_include,
    parse_value,
    resolve_path,
)

Bool = ColumnElement[bool]
Value = ColumnElement[Any]
_TEXT_LIKE = frozenset({"text", "slug", "email", "url"})


def visible_rows(model: AppModel, entity: ir.Entity, caller: Caller | CallerParams) -> Bool:
    """The WHERE of the rows of `entity` the caller may read (its `read` rule; none: false)."""
    return row_filter(model.project, entity, entity.rule("read"), model.tables, caller)


def read_page(
    conn: sa.Connection, model: AppModel, entity: ir.Entity, caller: Caller, query: ListQuery
) -> dict[str, Any]:
    """One page: `{"items": [...], "next": cursor or None}`, and `"total"` when asked. Values
    are the driver's (UUID, datetime, Decimal...): the route's response model serializes them."""
    return _Reader(model, caller, conn).page(entity, query)


def read_row(
    conn: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    caller: Caller,
    key: Any,
    include: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The row with primary key `key`, values as the driver reads them, or None when it is
    missing or not readable (the API answers 404 either way). A key that is not of the key's
    type is missing too."""
    names = parse_include(model, entity, ",".join(include))
    field = entity.field(entity.primary_key)
    assert field is not None
    if isinstance(key, str):
        try:
            key = parse_value(model, field, key, "id")
        except Problem:
            return None
    return _Reader(model, caller, conn).get(entity, key, names)


def list_rows(
    conn: sa.Connection, model: AppModel, entity: ir.Entity, caller: Caller, query: ListQuery
) -> dict[str, Any]:
    """`read_page` with JSON-ready values (see `json_value`)."""
    page = read_page(conn, model, entity, caller, query)
    page["items"] = json_value(page["items"])
    return page


def get_row(
    conn: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    caller: Caller,
    key: Any,
    include: Sequence[str] = (),
) -> dict[str, Any] | None:
    """`read_row` with JSON-ready values (see `json_value`): what writes and actions store."""
    row = read_row(conn, model, entity, caller, key, include)
    return None if row is None else json_value(row)


def parse_key(entity: ir.Entity, key: object) -> object | None:
    """The primary key value of `key` as its column type; None when it cannot be one (404)."""
    field = entity.field(entity.primary_key)
    assert field is not None
    if isinstance(field.type, ir.ScalarType) and field.type.name == "uuid":
        try:
            return key if isinstance(key, UUID) else UUID(str(key))
        except ValueError:
            return None
    if isinstance(field.type, ir.ScalarType) and field.type.name == "integer":
        try:
            return int(str(key))
        except ValueError:
            return None
    return str(key)


def row_tag(conn: sa.Connection, model: AppModel, entity: ir.Entity, row: Mapping[str, Any]) -> str:
    """The ETag of a stored row (`get_row`) as every response sends it and `If-Match` is
    compared with: `row_etag` of its values and of the keys of its many-to-many links.

    Links change without the row: from the other side of a many-to-many declared on both
    entities (one join table), or on an entity without `updated_at` to touch. The tag
    changes with them, so that an update made from a stale read is refused."""
    key = parse_key(entity, row.get(entity.primary_key))
    links = {
        field.name: sorted(map(str, _linked_keys(conn, model, field.type, key)))
        for field in entity.fields
        if isinstance(field.type, ir.ManyToManyType) and field.type.through is None
    }
    return row_etag({**row, "(links)": links} if links else row)


def _linked_keys(
    conn: sa.Connection, model: AppModel, kind: ir.ManyToManyType, key: object
) -> list[object]:
    link = model.tables[kind.join_table]
    source, target = link.c[kind.source_column], link.c[kind.target_column]
    return list(conn.scalars(sa.select(target).where(source == key)))


def row_etag(row: Mapping[str, Any]) -> str:
    """A strong ETag (quoted) of a row's values: equal rows, equal tags; any change in a value
    (`updated_at` included) changes it. Give it the stored fields of the row, without
    included relations, so that reads and writes compute the same tag. Native and JSON-ready
    values of the same row give the same tag."""
    text = json.dumps(json_value(dict(row)), sort_keys=True, default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def json_value(value: Any) -> Any:
    """A database value as JSON: ISO strings for dates and uuids, strings for decimals; lists
    and dicts (included rows, poly refs) converted item by item."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    if isinstance(value, dict):
        return {key: json_value(item) for key, item in value.items()}
    return value


# Internals ----------------------------------------------------------------------------------
#
# Statements are built once per (entity, query shape) and kept per model: the caller enters
# as CallerParams placeholders and each request's values (filter operands, cursor, limit,
# keys) as named bind parameters, all given at execute time. The same statement object is
# executed again and again, so SQLAlchemy reuses its cache key and compiled form, and
# psycopg its prepared statement.

_MAX_STATEMENTS = 2000
_PLACEHOLDER = Caller()


@dataclass(frozen=True)
class _Out:
    """A field of a row: its name, the position of its value, of its visibility (`visible_to`)
    and of a poly ref's type, in the SELECT."""

    name: str
    value: int
    visible: int | None = None
    poly_type: int | None = None


@dataclass(frozen=True)
class _Shape:
    """The SELECT list of a row: each field's value, then what hides fields and types poly
    refs (then, in some statements, sort keys or a parent key)."""

    outs: tuple[_Out, ...]
    #: No hidden field, no poly ref: the row starts with the field values in order.
    plain: bool
    width: int
    #: The position of the primary key's value.
    key: int

    def decode(self, record: Sequence[Any]) -> dict[str, Any]:
        if self.plain:
            return dict(zip([o.name for o in self.outs], record[: self.width], strict=True))
        item: dict[str, Any] = {}
        for out in self.outs:
            if out.visible is not None and not record[out.visible]:
                continue
            value = record[out.value]
            if out.poly_type is not None and value is not None:
                value = {"type": record[out.poly_type], "id": json_value(value)}
            item[out.name] = value
        return item


@dataclass(frozen=True)
class _Built:
    statement: sa.Select[Any]
    shape: _Shape
    #: (bind parameter key, role) of each role the statement asks about.
    roles: tuple[tuple[str, str], ...]
    #: Pages: the positions of the sort values and the key (the cursor); includes of a
    #: list: the position of the parent's key.
    extra: tuple[int, ...] = ()


def _statements(model: AppModel) -> dict[Any, _Built]:
    # Kept beside the model's own cached properties: one cache per loaded model.
    found: dict[Any, _Built] | None = model.__dict__.get("_reframe_statements")
    if found is None:
        found = model.__dict__.setdefault("_reframe_statements", {})
    return found


class _Reader:
    """The statements of one request: prepared ones, executed with the caller's values."""

    def __init__(self, model: AppModel, caller: Caller, conn: sa.Connection) -> None:
        self.model = model
        self.caller = caller
        self.conn = conn
        self.built = _statements(model)
        self.bound = {
            "reframe_user": caller.user_id,
            "reframe_tenant": caller.tenant_id,
            "reframe_now": caller.now,
            "reframe_today": caller.today,
        }

    def prepared(self, key: Any, build: Any) -> _Built:
        found = self.built.get(key)
        if found is None:
            if len(self.built) >= _MAX_STATEMENTS:
                self.built.clear()
            found = self.built[key] = build(_Builder(self.model))
        return found

    def execute(self, built: _Built, values: Mapping[str, Any]) -> Sequence[sa.Row[Any]]:
        params = {**self.bound, **values}
        for bind, role in built.roles:
            params[bind] = role in self.caller.roles
        return self.conn.execute(built.statement, params).all()

    # Requests -------------------------------------------------------------------------------

    def page(self, entity: ir.Entity, query: ListQuery) -> dict[str, Any]:
        values = _request_values(self.model, entity, query)
        shape = _query_shape(query)
        built = self.prepared(("page", entity.name, shape), lambda b: b.page(entity, query, values))
        records = self.execute(built, values)
        page = records[: query.size]
        items = [built.shape.decode(record) for record in page]
        self.include(entity, built.shape, page, items, query.include)
        result: dict[str, Any] = {"items": items, "next": None}
        if len(records) > query.size:
            last = page[-1]
            cursor = [json_value(last[position]) for position in built.extra]
            result["next"] = encode_cursor(query.sort, cursor)
        if query.count:
            counting = self.prepared(
                ("count", entity.name, shape[0]), lambda b: b.count(entity, query, values)
            )
            result["total"] = self.execute(counting, values)[0][0]
        return result

    def get(self, entity: ir.Entity, key: Any, include: Sequence[str]) -> dict[str, Any] | None:
        built = self.prepared(("get", entity.name), lambda b: b.get(entity))
        records = self.execute(built, {"key": key})
        if not records:
            return None
        item = built.shape.decode(records[0])
        self.include(entity, built.shape, records[:1], [item], include)
        return item

    # Includes -------------------------------------------------------------------------------

    def include(
        self,
        entity: ir.Entity,
        shape: _Shape,
        records: Sequence[Sequence[Any]],
        items: list[dict[str, Any]],
        names: Sequence[str],
    ) -> None:
        if not records:
            return
        for name in names:
            field = entity.field(name)
            assert field is not None
            if isinstance(field.type, ir.RefType):
                self.include_ref(field.type, items, name)
            else:
                self.include_many(entity, shape, field, records, items)

    def include_ref(self, ref: ir.RefType, items: list[dict[str, Any]], name: str) -> None:
        """Each item's ref replaced by the row when the caller may read it. A ref to a row the
        caller may not read stays the key it already was: nothing more is revealed."""
        keys = list({item[name] for item in items if item.get(name) is not None})
        if not keys:
            return
        target = self.model.entity(ref.target)
        built = self.prepared(("ref", target.name), lambda b: b.by_keys(target))
        at = built.shape.key
        found = {r[at]: built.shape.decode(r) for r in self.execute(built, {"keys": keys})}
        for item in items:
            key = item.get(name)
            if key is not None and key in found:
                item[name] = found[key]

    def include_many(
        self,
        entity: ir.Entity,
        shape: _Shape,
        field: ir.FieldNode,
        records: Sequence[Sequence[Any]],
        items: list[dict[str, Any]],
    ) -> None:
        built = self.prepared(
            ("many", entity.name, field.name), lambda b: b.children(entity, field)
        )
        at, parent = shape.key, built.extra[0]
        parents = list({record[at] for record in records})
        groups: dict[Any, list[dict[str, Any]]] = {}
        for child in self.execute(built, {"parents": parents}):
            groups.setdefault(child[parent], []).append(built.shape.decode(child))
        for record, item in zip(records, items, strict=True):
            item[field.name] = groups.get(record[at], [])


def _query_shape(query: ListQuery) -> tuple[Any, ...]:
    """What the page statement's structure depends on; values are bound at execute time."""
    filters = tuple(
        (f.path, f.op, f.value if f.op == "is_null" else len(f.value) if f.op == "in" else None)
        for f in query.filters
    )
    after = None if query.after is None else tuple(v is None for v in query.after)
    return (filters, query.sort, after, query.number is not None)


def _request_values(model: AppModel, entity: ir.Entity, query: ListQuery) -> dict[str, Any]:
    """The bind parameters of a list request: `q<i>` per filter operand, `c<i>` per non-null
    cursor value, `lim` and `off`."""
    values: dict[str, Any] = {"lim": query.size + 1}
    for position, f in enumerate(query.filters):
        if f.op == "is_null":
            continue
        operand = f.value
        if f.op == "in":
            operand = list(operand)
        elif f.op == "contains" and isinstance(operand, str):
            _, field = resolve_path(model, entity, ".".join(f.path), f.param)[-1]
            if not isinstance(field.type, ir.ArrayType):
                operand = operand.lower()
        values[f"q{position}"] = operand
    for position, seen in enumerate(query.after or ()):
        if seen is not None:
            values[f"c{position}"] = seen
    if query.number is not None:
        values["off"] = (query.number - 1) * query.size
    return values


class _Builder:
    """Builds the statements of `_Reader`, with the caller as placeholders."""

    def __init__(self, model: AppModel) -> None:
        self.model = model
        self.project = model.project
        self.tables = model.tables
        self.params = CallerParams.of(_PLACEHOLDER)
        self.compiler = ExprCompiler(model.project, model.tables, self.params)

    def built(
        self, statement: sa.Select[Any], shape: _Shape, extra: tuple[int, ...] = ()
    ) -> _Built:
        roles = self.params.role_keys()
        return _Built(statement, shape, roles, extra)

    # Statements -----------------------------------------------------------------------------

    def page(self, entity: ir.Entity, query: ListQuery, values: Mapping[str, Any]) -> _Built:
        table = self.model.table(entity)
        where = self.where(entity, table, query, values)
        columns, shape = self.columns(entity, table)
        keys = self.sort_keys(entity, table, query.sort)
        cursor = [self.position(columns, value) for value, _ in keys]
        statement = sa.select(*columns).where(*where).order_by(*_order(keys))
        statement = statement.limit(sa.bindparam("lim", values["lim"], type_=sa.Integer()))
        if query.after is not None:
            statement = statement.where(_after(keys, query.after))
        if query.number is not None:
            statement = statement.offset(sa.bindparam("off", values["off"], type_=sa.Integer()))
        return self.built(statement, shape, tuple(cursor))

    def count(self, entity: ir.Entity, query: ListQuery, values: Mapping[str, Any]) -> _Built:
        table = self.model.table(entity)
        where = self.where(entity, table, query, values)
        statement = sa.select(sa.func.count()).select_from(table).where(*where)
        return self.built(statement, _Shape((), True, 1, 0))

    def get(self, entity: ir.Entity) -> _Built:
        table = self.model.table(entity)
        columns, shape = self.columns(entity, table)
        key = self.compiler.key(entity, table)
        statement = sa.select(*columns).where(
            self.readable(entity, table), key == sa.bindparam("key", type_=key.type)
        )
        return self.built(statement, shape)

    def by_keys(self, target: ir.Entity) -> _Built:
        """The readable rows of `target` whose key is one of `:keys` (one array parameter)."""
        table = self.model.table(target)
        columns, shape = self.columns(target, table)
        key = self.compiler.key(target, table)
        statement = sa.select(*columns).where(self.readable(target, table), key == _any(key))
        return self.built(statement, shape)

    def children(self, entity: ir.Entity, field: ir.FieldNode) -> _Built:
        """The readable rows a one-to-many or many-to-many field lists for the parents
        `:parents`, with the parent's key after the row's values, in the target's order."""
        kind = field.type
        assert isinstance(kind, ir.OneToManyType | ir.ManyToManyType)
        target = self.model.entity(kind.target)
        table = self.model.table(target)
        columns, shape = self.columns(target, table)
        source: sa.FromClause = table
        if isinstance(kind, ir.OneToManyType):
            parent = self.compiler.column(target, table, kind.via)
        else:
            link = self.tables[kind.join_table].alias()
            source = table.join(
                link, self.compiler.key(target, table) == link.c[kind.target_column]
            )
            parent = link.c[kind.source_column]
        keys = self.sort_keys(target, table, default_sort(target))
        at = self.position(columns, parent)
        statement = (
            sa.select(*columns)
            .select_from(source)
            .where(self.readable(target, table), parent == _any(parent, "parents"))
            .order_by(*_order(keys))
        )
        return self.built(statement, shape, (at,))

    # Rows -----------------------------------------------------------------------------------

    def where(
        self, entity: ir.Entity, table: sa.FromClause, query: ListQuery, values: Mapping[str, Any]
    ) -> list[Bool]:
        where = [self.readable(entity, table)]
        for position, f in enumerate(query.filters):
            operand: Any = f.value
            if f.op != "is_null":
                operand = _Bind(f"q{position}", values[f"q{position}"])
            where.append(self.condition(entity, table, f.path, f.op, operand))
        return where

    def readable(self, entity: ir.Entity, row: sa.FromClause) -> Bool:
        return row_filter(self.project, entity, entity.rule("read"), self.tables, self.params, row)

    def visible(self, entity: ir.Entity, field: ir.FieldNode, row: sa.FromClause) -> Bool:
        return visible_where(self.project, entity, field, self.tables, self.params, row)

    def position(self, columns: list[Value], value: Value) -> int:
        """Where `value` is in the SELECT list; appended when it is not there yet (a column
        already selected, as the key or a sort on a stored field, is read once)."""
        for position, column in enumerate(columns):
            if column is value:
                return position
        columns.append(value)
        return len(columns) - 1

    def columns(self, entity: ir.Entity, row: sa.FromClause) -> tuple[list[Value], _Shape]:
        """The SELECT list of a row of `entity`: each field with a value (stored or computed),
        then, for fields with `visible_to`, whether it is visible and for poly refs their type.
        Unlabelled: SQLAlchemy names them, and rows are read by position."""
        columns: list[Value] = []
        extras: list[Value] = []
        outs: list[_Out] = []
        fields = [f for f in entity.fields if f.column is not None or f.computed is not None]
        width = len(fields)
        for position, field in enumerate(fields):
            # one-to-many, many-to-many (no column, not computed): only when included
            value = self.compiler.column(entity, row, field.name)
            columns.append(value if field.column is not None else value.label(f"f{position}"))
            visible = poly_type = None
            if field.visible_to is not None:
                visible = width + len(extras)
                extras.append(self.visible(entity, field, row).label(f"v{position}"))
            if isinstance(field.type, ir.PolyRefType):
                poly_type = width + len(extras)
                extras.append(row.c[field.type.type_column].label(f"t{position}"))
            outs.append(_Out(field.name, position, visible, poly_type))
        key = [f.name for f in fields].index(entity.primary_key)
        return [*columns, *extras], _Shape(tuple(outs), not extras, width, key)

    # Filters and sorts ----------------------------------------------------------------------

    def condition(
        self, entity: ir.Entity, row: sa.FromClause, path: Sequence[str], op: str, value: Any
    ) -> Bool:
        """A filter: on this row's field, or EXISTS over readable related rows for a path."""
        *hops, name = path
        conditions: list[Bool] = []
        for hop in hops:
            entity, row, reached = self.follow(entity, row, hop)
            conditions += reached
        field = entity.field(name)
        assert field is not None
        if field.visible_to is not None:
            conditions.append(self.visible(entity, field, row))
        conditions.append(_compare(self.field_value(entity, row, field), field, op, value))
        if not hops:
            return sa.and_(*conditions)
        return sa.exists().where(*conditions)

    def follow(
        self, entity: ir.Entity, row: sa.FromClause, hop: str
    ) -> tuple[ir.Entity, sa.FromClause, list[Bool]]:
        """The row the ref `hop` names (an alias), with the conditions reaching it when the
        caller may see the ref and read the row."""
        field = entity.field(hop)
        assert field is not None and isinstance(field.type, ir.RefType)
        conditions: list[Bool] = []
        if field.visible_to is not None:
            conditions.append(self.visible(entity, field, row))
        joined = self.compiler.join_path(entity, row, [hop])
        conditions += joined.conditions
        conditions.append(self.readable(joined.entity, joined.row))
        return joined.entity, joined.row, conditions

    def field_value(self, entity: ir.Entity, row: sa.FromClause, field: ir.FieldNode) -> Value:
        value = self.compiler.column(entity, row, field.name)
        return value.collate("C") if field_kind(field) in _TEXT_LIKE else value

    def sort_value(self, entity: ir.Entity, row: sa.FromClause, path: Sequence[str]) -> Value:
        """The value a sort reads: NULL where the field is hidden or a related row unreadable."""
        *hops, name = path
        conditions: list[Bool] = []
        start = row
        for hop in hops:
            entity, row, reached = self.follow(entity, row, hop)
            conditions += reached
        field = entity.field(name)
        assert field is not None
        value = self.field_value(entity, row, field)
        if field.visible_to is not None:
            value = sa.case((self.visible(entity, field, row), value), else_=sa.null())
        if row is start:
            return value
        return sa.select(value).where(*conditions).scalar_subquery()

    def sort_keys(
        self, entity: ir.Entity, row: sa.FromClause, sort: Sequence[Sort]
    ) -> list[tuple[Value, bool]]:
        keys = [(self.sort_value(entity, row, term.path), term.descending) for term in sort]
        return [*keys, (self.compiler.key(entity, row), False)]


def _any(value: Value, name: str = "keys") -> Value:
    """`= ANY(:name)`: one array parameter, whatever the number of keys, so the statement
    text is the same on every call (an expanding IN is rendered per number of keys)."""
    return sa.any_(sa.bindparam(name, type_=postgresql.ARRAY(value.type)))


@dataclass(frozen=True)
class _Bind:
    """A filter operand: the name of its bind parameter, and the value it was built with."""

    name: str
    value: Any


def _compare(value: Value, field: ir.FieldNode, op: str, operand: Any) -> Bool:
    """`value op operand`; `operand` is a `_Bind`, or is_null's boolean."""
    if op == "is_null":
        return value.is_(None) if operand else value.is_not(None)
    if op == "contains":
        if isinstance(field.type, ir.ArrayType):
            item = sa.bindparam(operand.name, operand.value, type_=value.type.item_type)  # type: ignore[attr-defined]
            return item == sa.any_(value)
        # Bound lowercased (see _request_values).
        needle = sa.bindparam(operand.name, operand.value, type_=sa.Text())
        return sa.func.strpos(sa.func.lower(value), needle) > 0
    if op == "in":
        return value.in_(sa.bindparam(operand.name, operand.value, value.type, expanding=True))
    bound = sa.bindparam(operand.name, operand.value, type_=value.type)
    return _COMPARE[_SYMBOLS[op]](value, bound)


_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _order(keys: Sequence[tuple[Value, bool]]) -> list[Any]:
    """NULL is the largest value: last ascending, first descending (Postgres's default)."""
    return [v.desc().nulls_first() if desc else v.asc().nulls_last() for v, desc in keys]


def _after(keys: Sequence[tuple[Value, bool]], cursor: Sequence[Any]) -> Bool:
    """Rows strictly after the cursor in the order of `keys` (lexicographic, NULL largest)."""
    alternatives: list[Bool] = []
    equal: list[Bool] = []
    for position, ((value, descending), seen) in enumerate(zip(keys, cursor, strict=True)):
        if seen is None:
            beyond: Bool = value.is_not(None) if descending else sa.false()
            alternatives.append(sa.and_(*equal, beyond))
            equal.append(value.is_(None))
        else:
            # Bound with the key's type: a boolean key compares with <, not only with IS.
            seen = sa.bindparam(f"c{position}", seen, type_=value.type)
            beyond = value < seen if descending else sa.or_(value > seen, value.is_(None))
            alternatives.append(sa.and_(*equal, beyond))
            equal.append(value == seen)
    return sa.or_(*alternatives)
