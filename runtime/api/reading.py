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
- an included row is read under its own entity's read rule: an invisible ref
  is included as null, an invisible row of a list is left out.

Statements per request are fixed whatever the page size: one for the page
(computed fields included, see runtime/api/computed.py), one per include
(`WHERE id IN (...)` / `WHERE parent IN (...)`), one for `count=true`.

Sorting puts NULLs last ascending and first descending (NULL is the
largest value), text in code-point order (`COLLATE "C"`, as rules compare
text), and the primary key breaks ties, so keyset pages (`page[after]`)
never skip or repeat a row.

JSON: keys are field names; uuids, dates and datetimes are ISO strings,
decimals and money strings (no precision lost), enums strings, arrays lists;
a ref is the referenced key under its own name, or the row when included; a
poly ref is `{"type", "id"}`; a one-to-many or many-to-many field is absent
unless included, then a list.
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
from sqlalchemy.engine import RowMapping
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
)

Bool = ColumnElement[bool]
Value = ColumnElement[Any]
_TEXT_LIKE = frozenset({"text", "slug", "email", "url"})


def visible_rows(model: AppModel, entity: ir.Entity, caller: Caller | CallerParams) -> Bool:
    """The WHERE of the rows of `entity` the caller may read (its `read` rule; none: false)."""
    return row_filter(model.project, entity, entity.rule("read"), model.tables, caller)


def list_rows(
    conn: sa.Connection, model: AppModel, entity: ir.Entity, caller: Caller, query: ListQuery
) -> dict[str, Any]:
    """One page: `{"items": [...], "next": cursor or None}`, and `"total"` when asked."""
    return _Reader(model, caller).page(conn, entity, query)


def get_row(
    conn: sa.Connection,
    model: AppModel,
    entity: ir.Entity,
    caller: Caller,
    key: Any,
    include: Sequence[str] = (),
) -> dict[str, Any] | None:
    """The row with primary key `key` as JSON, or None when it is missing or not readable
    (the API answers 404 either way). A key that is not of the key's type is missing too."""
    names = parse_include(model, entity, ",".join(include))
    field = entity.field(entity.primary_key)
    assert field is not None
    if isinstance(key, str):
        try:
            key = parse_value(model, field, key, "id")
        except Problem:
            return None
    return _Reader(model, caller).get(conn, entity, key, names)


def row_etag(row: Mapping[str, Any]) -> str:
    """A strong ETag (quoted) of a row's values: equal rows, equal tags; any change in a value
    (`updated_at` included) changes it. Give it the stored fields of the row, without
    included relations, so that reads and writes compute the same tag."""
    text = json.dumps({k: json_value(v) for k, v in row.items()}, sort_keys=True, default=str)
    return '"' + hashlib.sha256(text.encode()).hexdigest()[:32] + '"'


def json_value(value: Any) -> Any:
    """A database value as JSON: ISO strings for dates and uuids, strings for decimals."""
    if isinstance(value, Decimal):
        return format(value, "f")
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [json_value(item) for item in value]
    return value


# Internals ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Out:
    """A field in the SELECT: the label of its value, of its visibility and of a poly type."""

    field: ir.FieldNode
    label: str
    visible: str | None = None
    poly_type: str | None = None


class _Reader:
    """The statements of one request, with the caller bound once as parameters."""

    def __init__(self, model: AppModel, caller: Caller) -> None:
        self.model = model
        self.project = model.project
        self.tables = model.tables
        self.params = CallerParams.of(caller)
        self.compiler = ExprCompiler(model.project, model.tables, self.params)

    # Requests -------------------------------------------------------------------------------

    def page(self, conn: sa.Connection, entity: ir.Entity, query: ListQuery) -> dict[str, Any]:
        table = self.model.table(entity)
        where = [self.readable(entity, table)]
        where += [self.condition(entity, table, f.path, f.op, f.value) for f in query.filters]
        columns, outs = self.columns(entity, table)
        keys = self.sort_keys(entity, table, query.sort)
        statement = sa.select(*columns, *(v.label(f"s{i}") for i, (v, _) in enumerate(keys)))
        statement = statement.where(*where).order_by(*_order(keys)).limit(query.size + 1)
        if query.after is not None:
            statement = statement.where(_after(keys, query.after))
        if query.number is not None:
            statement = statement.offset((query.number - 1) * query.size)
        records = conn.execute(statement).mappings().all()
        page = records[: query.size]
        items = [self.decode(outs, record) for record in page]
        self.include(conn, entity, outs, page, items, query.include)
        result: dict[str, Any] = {"items": items, "next": None}
        if len(records) > query.size:
            last = page[-1]
            values = [json_value(last[f"s{i}"]) for i in range(len(keys))]
            result["next"] = encode_cursor(query.sort, values)
        if query.count:
            counting = sa.select(sa.func.count()).select_from(table).where(*where)
            result["total"] = conn.execute(counting).scalar_one()
        return result

    def get(
        self, conn: sa.Connection, entity: ir.Entity, key: Any, include: Sequence[str]
    ) -> dict[str, Any] | None:
        table = self.model.table(entity)
        columns, outs = self.columns(entity, table)
        statement = sa.select(*columns).where(
            self.readable(entity, table), self.compiler.key(entity, table) == key
        )
        record = conn.execute(statement).mappings().first()
        if record is None:
            return None
        item = self.decode(outs, record)
        self.include(conn, entity, outs, [record], [item], include)
        return item

    # Rows -----------------------------------------------------------------------------------

    def readable(self, entity: ir.Entity, row: sa.FromClause) -> Bool:
        return row_filter(self.project, entity, entity.rule("read"), self.tables, self.params, row)

    def visible(self, entity: ir.Entity, field: ir.FieldNode, row: sa.FromClause) -> Bool:
        return visible_where(self.project, entity, field, self.tables, self.params, row)

    def columns(self, entity: ir.Entity, row: sa.FromClause) -> tuple[list[Value], list[_Out]]:
        """The SELECT list of a row of `entity`: its key as `k`, each field with a value
        (stored or computed) and, for fields with `visible_to`, whether it is visible."""
        columns: list[Value] = [self.compiler.key(entity, row).label("k")]
        outs: list[_Out] = []
        for position, field in enumerate(entity.fields):
            if field.column is None and field.computed is None:
                continue  # one-to-many, many-to-many: only when included
            label = f"f{position}"
            columns.append(self.compiler.column(entity, row, field.name).label(label))
            visible = poly_type = None
            if field.visible_to is not None:
                visible = f"v{position}"
                columns.append(self.visible(entity, field, row).label(visible))
            if isinstance(field.type, ir.PolyRefType):
                poly_type = f"t{position}"
                columns.append(row.c[field.type.type_column].label(poly_type))
            outs.append(_Out(field, label, visible, poly_type))
        return columns, outs

    def decode(self, outs: Sequence[_Out], record: RowMapping) -> dict[str, Any]:
        item: dict[str, Any] = {}
        for out in outs:
            if out.visible is not None and not record[out.visible]:
                continue
            value = json_value(record[out.label])
            if out.poly_type is not None and value is not None:
                value = {"type": record[out.poly_type], "id": value}
            item[out.field.name] = value
        return item

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

    # Includes -------------------------------------------------------------------------------

    def include(
        self,
        conn: sa.Connection,
        entity: ir.Entity,
        outs: Sequence[_Out],
        records: Sequence[RowMapping],
        items: list[dict[str, Any]],
        names: Sequence[str],
    ) -> None:
        if not records:
            return
        for name in names:
            field = entity.field(name)
            assert field is not None
            if isinstance(field.type, ir.RefType):
                label = next(out.label for out in outs if out.field.name == name)
                self.include_ref(conn, field.type, label, records, items, name)
            else:
                self.include_many(conn, entity, field, records, items)

    def include_ref(
        self,
        conn: sa.Connection,
        ref: ir.RefType,
        label: str,
        records: Sequence[RowMapping],
        items: list[dict[str, Any]],
        name: str,
    ) -> None:
        pairs = [(r, i) for r, i in zip(records, items, strict=True) if i.get(name) is not None]
        if not pairs:
            return
        target = self.model.entity(ref.target)
        table = self.model.table(target)
        columns, outs = self.columns(target, table)
        keys = list({record[label] for record, _ in pairs})
        statement = sa.select(*columns).where(
            self.readable(target, table), self.compiler.key(target, table).in_(keys)
        )
        found = {r["k"]: self.decode(outs, r) for r in conn.execute(statement).mappings()}
        for record, item in pairs:
            item[name] = found.get(record[label])

    def include_many(
        self,
        conn: sa.Connection,
        entity: ir.Entity,
        field: ir.FieldNode,
        records: Sequence[RowMapping],
        items: list[dict[str, Any]],
    ) -> None:
        kind = field.type
        assert isinstance(kind, ir.OneToManyType | ir.ManyToManyType)
        target = self.model.entity(kind.target)
        table = self.model.table(target)
        columns, outs = self.columns(target, table)
        parents = list({record["k"] for record in records})
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
        statement = (
            sa.select(*columns, parent.label("p"))
            .select_from(source)
            .where(self.readable(target, table), parent.in_(parents))
            .order_by(*_order(keys))
        )
        groups: dict[Any, list[dict[str, Any]]] = {}
        for record in conn.execute(statement).mappings():
            groups.setdefault(record["p"], []).append(self.decode(outs, record))
        for record, item in zip(records, items, strict=True):
            item[field.name] = groups.get(record["k"], [])


def _compare(value: Value, field: ir.FieldNode, op: str, operand: Any) -> Bool:
    if op == "is_null":
        return value.is_(None) if operand else value.is_not(None)
    if op == "contains":
        if isinstance(field.type, ir.ArrayType):
            return sa.literal(operand, value.type.item_type) == sa.any_(value)  # type: ignore[attr-defined]
        needle = sa.literal(operand.lower(), sa.Text())
        return sa.func.strpos(sa.func.lower(value), needle) > 0
    if op == "in":
        return value.in_(list(operand))
    return _COMPARE[_SYMBOLS[op]](value, operand)


_SYMBOLS = {"eq": "==", "ne": "!=", "lt": "<", "lte": "<=", "gt": ">", "gte": ">="}


def _order(keys: Sequence[tuple[Value, bool]]) -> list[Any]:
    """NULL is the largest value: last ascending, first descending (Postgres's default)."""
    return [v.desc().nulls_first() if desc else v.asc().nulls_last() for v, desc in keys]


def _after(keys: Sequence[tuple[Value, bool]], cursor: Sequence[Any]) -> Bool:
    """Rows strictly after the cursor in the order of `keys` (lexicographic, NULL largest)."""
    alternatives: list[Bool] = []
    equal: list[Bool] = []
    for (value, descending), seen in zip(keys, cursor, strict=True):
        if seen is None:
            beyond: Bool = value.is_not(None) if descending else sa.false()
            alternatives.append(sa.and_(*equal, beyond))
            equal.append(value.is_(None))
        else:
            # Bound with the key's type: a boolean key compares with <, not only with IS.
            seen = sa.literal(seen, value.type)
            beyond = value < seen if descending else sa.or_(value > seen, value.is_(None))
            alternatives.append(sa.and_(*equal, beyond))
            equal.append(value == seen)
    return sa.or_(*alternatives)
