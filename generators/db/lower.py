"""IR -> relational schema: tables, columns, keys, checks, enums and indexes.

Conventions (docs/database.md lists them for users):

- text-like fields with `max_length` are `varchar(n)`, others `text`; money
  is `numeric(19, 4)`; datetimes are `timestamptz`; json is `jsonb`;
- enum and state fields get a Postgres enum type `<table>_<column>`;
- a ref column has the type of the target's primary key; many-to-many join
  tables have a composite primary key and cascade both ways;
- constraint names: `pk_<table>`, `fk_<table>_<column>`,
  `ck_<table>_<column>_<rule>`; index names come from the IR;
- min/max/length/pattern become CHECK constraints; a same-row computed
  field is a stored generated column; `doc` and `help` become comments.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import partial
from itertools import chain
from typing import Any

from compiler import ir
from compiler.naming import fit_identifier
from generators.db.schema import (
    Check,
    Column,
    ColumnRef,
    EnumType,
    ForeignKey,
    Index,
    IndexElement,
    OnDeleteSql,
    PrimaryKey,
    Schema,
    SqlExpr,
    Table,
    literal,
)
from generators.db.sql_expr import to_sql
from generators.db.system import system_tables
from hookfs.graph import incremental, same_objects

MONEY_TYPE = "numeric(19, 4)"

_SCALAR_SQL: dict[str, str] = {
    "uuid": "uuid",
    "integer": "integer",
    "money": MONEY_TYPE,
    "boolean": "boolean",
    "date": "date",
    "datetime": "timestamptz",
    "json": "jsonb",
}
_TEXT_LIKE = frozenset({"text", "slug", "email", "url"})
_ON_DELETE: dict[str, OnDeleteSql] = {
    "cascade": "CASCADE",
    "restrict": "RESTRICT",
    "set_null": "SET NULL",
}
_DEFAULT_CALLS = {"now": "now()", "today": "CURRENT_DATE", "uuid": "gen_random_uuid()"}


@dataclass(frozen=True)
class Unit:
    """What one entity, one join table or the runtime brings to the schema, in order.

    A unit kept between builds (`gen dev`: an entity's is a build graph node) is the same
    object: what is written of it can be kept with it (`same_objects`).
    """

    enums: tuple[EnumType, ...] = ()
    tables: tuple[Table, ...] = ()
    indexes: tuple[Index, ...] = ()


def lower_schema(project: ir.Project) -> Schema:
    """The whole database of `project`, in model order."""
    return schema_of(lower_units(project))


def schema_of(units: Sequence[Unit]) -> Schema:
    return Schema(
        enums=tuple(chain.from_iterable(u.enums for u in units)),
        tables=tuple(chain.from_iterable(u.tables for u in units)),
        indexes=tuple(chain.from_iterable(u.indexes for u in units)),
    )


def lower_units(project: ir.Project) -> list[Unit]:
    """The entities' units, the join tables', then the runtime's (its reframe_* tables)."""
    units = [_entity_unit(project, entity) for entity in project.entities]
    units += [_join_unit(project, join) for join in project.join_tables]
    by_origin = {unit.tables[0].origin: unit.tables[0] for unit in units}
    user, tenant = by_origin["User"], by_origin["Tenant"]
    units.append(same_objects("db.system", (user, tenant), partial(_system_unit, user, tenant)))
    return units


@incremental("db.table")
def _entity_unit(project: ir.Project, entity: ir.Entity) -> Unit:
    """An entity's table, with the enum types and indexes it brings."""
    lowering = _Lowering(project)
    table = lowering.entity_table(entity)
    return Unit(tuple(lowering.enums), (table,), tuple(lowering.indexes))


@incremental("db.join_table")
def _join_unit(project: ir.Project, join: ir.JoinTable) -> Unit:
    lowering = _Lowering(project)
    table = lowering.join_table(join)
    return Unit(tuple(lowering.enums), (table,), tuple(lowering.indexes))


def _system_unit(user: Table, tenant: Table) -> Unit:
    tables, indexes = system_tables(user, tenant)
    return Unit((), tuple(tables), tuple(indexes))


def enum_type_name(table: str, column: str) -> str:
    return fit_identifier(f"{table}_{column}")


class _Lowering:
    """Collects enums and indexes while tables are built, entity by entity."""

    def __init__(self, project: ir.Project) -> None:
        self.project = project
        self.enums: list[EnumType] = []
        self.indexes: list[Index] = []

    # Tables ------------------------------------------------------------------------

    def entity_table(self, entity: ir.Entity) -> Table:
        columns: list[Column] = []
        checks: list[Check] = []
        foreign_keys: list[ForeignKey] = []
        for field in entity.fields:
            if field.column is None:
                continue
            columns += self._columns(entity, field)
            checks += _checks(entity, field, columns[-1])
            foreign_keys += self._foreign_keys(entity, field)
        primary = entity.field(entity.primary_key)
        assert primary is not None, f"{entity.name} has no primary key field"
        by_name = {c.name: c.uid for c in columns}
        self.indexes += [_index(entity, index, by_name, columns) for index in entity.indexes]
        return Table(
            uid=entity.uid,
            name=entity.table,
            columns=tuple(columns),
            primary_key=PrimaryKey(
                name=fit_identifier(f"pk_{entity.table}"), columns=(primary.uid,)
            ),
            foreign_keys=tuple(foreign_keys),
            checks=tuple(checks),
            comment=entity.doc,
            origin=entity.name,
        )

    def join_table(self, join: ir.JoinTable) -> Table:
        served = self.project.field(join.serves[0])
        assert served is not None, f"join table {join.name} serves no field"
        uid = f"{served.uid}.join"
        sides = (
            (f"{uid}.left", join.left_column, join.left_entity),
            (f"{uid}.right", join.right_column, join.right_entity),
        )
        columns, foreign_keys = [], []
        for column_uid, column, target_name in sides:
            target = self._target(target_name)
            columns.append(
                Column(
                    uid=column_uid,
                    name=column,
                    type=self._key_type(target),
                    nullable=False,
                    origin=join.serves[0],
                )
            )
            foreign_keys.append(
                ForeignKey(
                    name=fit_identifier(f"fk_{join.name}_{column}"),
                    columns=(column_uid,),
                    target_table=target.uid,
                    target_columns=(target.key.uid,),
                    on_delete="CASCADE",
                    origin=join.serves[0],
                )
            )
        # The primary key serves lookups from the left; this index those from the right.
        self.indexes.append(
            Index(
                name=fit_identifier(f"ix_{join.name}_{join.right_column}"),
                table=uid,
                elements=(IndexElement(column=f"{uid}.right"),),
                unique=False,
                using="btree",
                origin=join.serves[0],
            )
        )
        return Table(
            uid=uid,
            name=join.name,
            columns=tuple(columns),
            primary_key=PrimaryKey(
                name=fit_identifier(f"pk_{join.name}"), columns=(f"{uid}.left", f"{uid}.right")
            ),
            foreign_keys=tuple(foreign_keys),
            comment=f"Links {join.left_entity} and {join.right_entity} ({', '.join(join.serves)}).",
            origin=join.serves[0],
        )

    # Columns -------------------------------------------------------------------------

    def _columns(self, entity: ir.Entity, field: ir.FieldNode) -> list[Column]:
        assert field.column is not None
        origin = f"{entity.name}.{field.name}"
        if isinstance(field.type, ir.PolyRefType):
            return self._poly_columns(entity, field, field.type, origin)
        generated = None
        if field.computed is not None and field.computed.same_row and not field.materialized:
            generated = to_sql(field.computed.expr, _column_of(entity))
        column_type = self._column_type(entity, field, field.type)
        return [
            Column(
                uid=field.uid,
                name=field.column,
                type=column_type,
                nullable=field.nullable,
                default=_default_sql(field, column_type),
                generated=generated,
                comment=field.help,
                origin=origin,
            )
        ]

    def _poly_columns(
        self, entity: ir.Entity, field: ir.FieldNode, poly: ir.PolyRefType, origin: str
    ) -> list[Column]:
        key_types = {self._key_type(self._target(target)) for target in poly.targets}
        return [
            Column(
                uid=f"{field.uid}.type",
                name=poly.type_column,
                type="text",
                nullable=field.nullable,
                comment=f"Which entity {poly.id_column} points at: {', '.join(poly.targets)}.",
                origin=origin,
            ),
            Column(
                uid=field.uid,
                name=poly.id_column,
                type=key_types.pop() if len(key_types) == 1 else "text",
                nullable=field.nullable,
                comment=field.help,
                origin=origin,
            ),
        ]

    def _column_type(self, entity: ir.Entity, field: ir.FieldNode, type_: Any) -> str:
        if isinstance(type_, ir.ScalarType):
            return _scalar_sql(type_, field.max_length)
        if isinstance(type_, ir.EnumType | ir.StateType):
            return self._enum(entity, field, type_.values).name
        if isinstance(type_, ir.ArrayType):
            element = self._column_type(entity, field, type_.of)
            return f"{element}[]"
        if isinstance(type_, ir.RefType):
            return self._key_type(self._target(type_.target))
        raise TypeError(f"{entity.name}.{field.name}: no column type for {type_.kind}")

    def _enum(self, entity: ir.Entity, field: ir.FieldNode, values: tuple[str, ...]) -> EnumType:
        assert field.column is not None
        enum = EnumType(
            uid=f"{field.uid}.enum",
            name=enum_type_name(entity.table, field.column),
            values=values,
            origin=f"{entity.name}.{field.name}",
        )
        self.enums.append(enum)
        return enum

    def _foreign_keys(self, entity: ir.Entity, field: ir.FieldNode) -> list[ForeignKey]:
        if not isinstance(field.type, ir.RefType):
            return []
        target = self._target(field.type.target)
        return [
            ForeignKey(
                name=fit_identifier(f"fk_{entity.table}_{field.column}"),
                columns=(field.uid,),
                target_table=target.uid,
                target_columns=(target.key.uid,),
                on_delete=_ON_DELETE[field.type.on_delete],
                origin=f"{entity.name}.{field.name}",
            )
        ]

    # Keys ----------------------------------------------------------------------------

    def _target(self, name: str) -> ir.RefTarget:
        """What a reference needs of entity `name`: its table and key, not all of it."""
        found = self.project.ref_target(name)
        assert found is not None, f"unresolved entity {name}"
        return found

    def _key_type(self, target: ir.RefTarget) -> str:
        key = target.key
        assert isinstance(key.type, ir.ScalarType), f"{target.name}: key must be a scalar"
        return _scalar_sql(key.type, key.max_length)


def _scalar_sql(scalar: ir.ScalarType, max_length: int | None) -> str:
    if scalar.name in _TEXT_LIKE:
        return f"varchar({max_length})" if max_length else "text"
    if scalar.name == "decimal":
        if scalar.precision is None:
            return "numeric"
        return f"numeric({scalar.precision}, {scalar.scale or 0})"
    return _SCALAR_SQL[scalar.name]


def _column_of(entity: ir.Entity) -> Callable[[str], ColumnRef]:
    def column_of(name: str) -> ColumnRef:
        field = entity.field(name)
        assert field is not None and field.column is not None, f"{entity.name}.{name} is not stored"
        return ColumnRef(uid=field.uid)

    return column_of


# Defaults ------------------------------------------------------------------------------


def _default_sql(field: ir.FieldNode, column_type: str) -> str | None:
    if isinstance(field.type, ir.StateType):
        return f"{literal(field.type.initial)}::{column_type}"
    default = field.default
    if default is None:
        return None
    if default.kind != "value":
        return _DEFAULT_CALLS[default.kind]
    return _value_sql(default.value, column_type)


def _value_sql(value: object, column_type: str) -> str | None:
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return str(value)
    if isinstance(value, dict):
        return f"{literal(json.dumps(value, sort_keys=True))}::jsonb"
    if isinstance(value, list):
        if column_type == "jsonb":
            return f"{literal(json.dumps(value))}::jsonb"
        items = ",".join(_array_item(str(item)) for item in value)
        return f"{literal('{' + items + '}')}::{column_type}"
    if column_type.startswith("numeric") or column_type == "integer":
        return str(Decimal(str(value)))
    return f"{literal(str(value))}::{column_type}"


def _array_item(item: str) -> str:
    """An element of a Postgres array literal, always double-quoted."""
    return '"' + item.replace("\\", "\\\\").replace('"', '\\"') + '"'


# Checks --------------------------------------------------------------------------------


def _checks(entity: ir.Entity, field: ir.FieldNode, column: Column) -> list[Check]:
    origin = f"{entity.name}.{field.name}"
    ref = ColumnRef(uid=field.uid)

    def check(rule: str, parts: tuple[str | ColumnRef, ...], meaning: str) -> Check:
        return Check(
            name=fit_identifier(f"ck_{entity.table}_{field.column}_{rule}"),
            expr=SqlExpr(parts=parts),
            origin=origin,
            meaning=meaning,
        )

    found = []
    if isinstance(field.type, ir.PolyRefType):
        names = ", ".join(literal(t) for t in field.type.targets)
        type_ref = ColumnRef(uid=f"{field.uid}.type")
        found.append(check("type", (type_ref, f" IN ({names})"), f"one of {names}"))
    if not isinstance(field.type, ir.ScalarType) or column.generated is not None:
        return found
    if field.min is not None:
        found.append(check("min", (ref, f" >= {field.min}"), f"at least {field.min}"))
    if field.max is not None:
        found.append(check("max", (ref, f" <= {field.max}"), f"at most {field.max}"))
    if field.min_length is not None:
        found.append(
            check(
                "min_length",
                ("char_length(", ref, f") >= {field.min_length}"),
                f"at least {field.min_length} characters",
            )
        )
    if field.pattern is not None:
        found.append(
            check("pattern", (ref, f" ~ {literal(field.pattern)}"), f"matches {field.pattern}")
        )
    return found


# Indexes -------------------------------------------------------------------------------


def _index(
    entity: ir.Entity, index: ir.Index, column_uids: dict[str, str], columns: list[Column]
) -> Index:
    types = {c.uid: c.type for c in columns}
    elements = []
    for name in index.columns:
        uid = column_uids[name]
        text_like = types[uid] == "text" or types[uid].startswith("varchar")
        words = index.using == "gin" and text_like
        elements.append(IndexElement(column=uid, of="words" if words else "value"))
    where = to_sql(index.where, _column_of(entity)) if index.where is not None else None
    origin = f"{entity.name}.{index.fields[0]}" if index.origin == "field" else entity.name
    return Index(
        name=index.name,
        table=entity.uid,
        elements=tuple(elements),
        unique=index.unique,
        using=index.using,
        where=where,
        origin=origin,
    )
