"""What the Django and SQLAlchemy translators share: the IR, and the schema conventions.

Both translators ask their tool for the database Reframe's own Postgres
generator describes (generators/db/lower.py), so that the three migration
tools diff the same schema:

- text-like fields are `varchar(n)` with a max length, else `text`; money is
  `numeric(19, 4)`; datetimes `timestamptz`; json `jsonb`; arrays are arrays;
- enum and state fields are a Postgres enum type `<table>_<column>`;
- a ref column has the type of its target's primary key; join tables have a
  composite primary key and cascade both ways;
- names: `pk_<table>`, `fk_<table>_<column>`, `ck_<table>_<column>_<rule>`;
  index names come from the IR;
- min/max/min_length/pattern are CHECK constraints; a same-row computed
  field is a stored generated column; `doc` and `help` are comments.

What a tool cannot express is listed by its translator (`notes`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from compiler import ir
from compiler.naming import fit_identifier

MONEY_DIGITS = 19
MONEY_PLACES = 4
TEXT_LIKE = frozenset({"text", "slug", "email", "url"})
DEFAULT_CALLS = {"now": "now()", "today": "CURRENT_DATE", "uuid": "gen_random_uuid()"}
ON_DELETE_SQL = {"cascade": "CASCADE", "restrict": "RESTRICT", "set_null": "SET NULL"}


class Unsupported(ValueError):
    """An IR element the target tool cannot express; the translator notes it and moves on."""


def load_ir(project_dir: Path) -> ir.Project:
    """The IR that `gen generate` wrote to `generated/ir.json`."""
    text = (project_dir / "generated" / "ir.json").read_text(encoding="utf-8")
    return ir.Project.model_validate_json(text)


def entity_named(project: ir.Project, name: str) -> ir.Entity:
    found = project.entity(name)
    if found is None:
        raise KeyError(f"no entity {name} in the IR")
    return found


def key_field(project: ir.Project, entity_name: str) -> ir.FieldNode:
    entity = entity_named(project, entity_name)
    key = entity.field(entity.primary_key)
    assert key is not None, f"{entity_name} has no primary key field"
    return key


def is_generated(field: ir.FieldNode) -> bool:
    """A same-row computed field that is not materialized: a stored generated column."""
    computed = field.computed
    return computed is not None and computed.same_row and not field.materialized


def stored_fields(entity: ir.Entity) -> list[ir.FieldNode]:
    """Fields with a column of their own (one-to-many, many-to-many and aggregates have none)."""
    return [f for f in entity.fields if f.column is not None]


def constraint_name(*parts: str) -> str:
    return fit_identifier("_".join(parts))


def enum_type_name(table: str, column: str) -> str:
    return fit_identifier(f"{table}_{column}")


def decimal_digits(scalar: ir.ScalarType) -> tuple[int, int] | None:
    """(precision, scale) of a money or decimal column; None for an unbounded numeric."""
    if scalar.name == "money":
        return MONEY_DIGITS, MONEY_PLACES
    if scalar.precision is None:
        return None
    return scalar.precision, scalar.scale or 0


# Checks ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Check:
    """One CHECK constraint on one column: `column <rule> value`."""

    name: str
    column: str
    #: "min", "max", "min_length", "pattern", or "type" (a polymorphic ref's type column).
    rule: str
    value: Decimal | int | str | tuple[str, ...]


def column_checks(entity: ir.Entity, field: ir.FieldNode) -> list[Check]:
    """The checks Reframe puts on a field's column, in its order."""
    if isinstance(field.type, ir.PolyRefType):
        name = constraint_name("ck", entity.table, field.type.id_column, "type")
        return [Check(name, field.type.type_column, "type", field.type.targets)]
    if not isinstance(field.type, ir.ScalarType) or is_generated(field):
        return []
    assert field.column is not None
    bounds: list[tuple[str, Decimal | int | str | None]] = [
        ("min", field.min),
        ("max", field.max),
        ("min_length", field.min_length),
        ("pattern", field.pattern),
    ]
    return [
        Check(constraint_name("ck", entity.table, field.column, rule), field.column, rule, value)
        for rule, value in bounds
        if value is not None
    ]


# SQL text ----------------------------------------------------------------------------


def quote(identifier: str) -> str:
    """Always quoted: raw SQL here never needs to know Postgres's reserved words."""
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


_COMPARE = {"==": "=", "!=": "<>", "<": "<", "<=": "<=", ">": ">", ">=": ">="}


def sql_expr(expr: ir.Expr, columns: Mapping[str, str]) -> str:
    """A same-row expression as SQL, `columns` mapping field names to column names."""
    if isinstance(expr, ir.FieldExpr):
        if expr.path not in columns:
            raise Unsupported(f"F({expr.path!r}) is not a column of this row")
        return quote(columns[expr.path])
    if isinstance(expr, ir.LiteralExpr):
        return _sql_literal(expr)
    if isinstance(expr, ir.BinaryExpr):
        left, right = sql_expr(expr.left, columns), sql_expr(expr.right, columns)
        if expr.op == "+" and expr.type == "text":
            return f"({left} || {right})"
        if expr.op == "/":  # the model's x / 0 is NULL, not an error
            return f"({left} / NULLIF({right}, 0))"
        return f"({left} {expr.op} {right})"
    if isinstance(expr, ir.CompareExpr):
        left, right = sql_expr(expr.left, columns), sql_expr(expr.right, columns)
        return f"({left} {_COMPARE[expr.op]} {right})"
    if isinstance(expr, ir.LogicalExpr):
        joined = f" {expr.op.upper()} ".join(sql_expr(o, columns) for o in expr.operands)
        return f"({joined})"
    if isinstance(expr, ir.NotExpr):
        return f"(NOT {sql_expr(expr.operand, columns)})"
    if isinstance(expr, ir.IsNullExpr):
        test = "IS NOT NULL" if expr.negated else "IS NULL"
        return f"({sql_expr(expr.operand, columns)} {test})"
    if isinstance(expr, ir.InExpr):
        values = ", ".join(sql_expr(v, columns) for v in expr.values)
        return f"({sql_expr(expr.operand, columns)} IN ({values}))"
    raise Unsupported(f"a {expr.kind} expression has no SQL rendering here")


def _sql_literal(expr: ir.LiteralExpr) -> str:
    value = expr.value
    if expr.literal_type == "null" or value is None:
        return "NULL"
    if expr.literal_type == "boolean":
        return "TRUE" if value else "FALSE"
    if expr.literal_type in ("integer", "decimal"):
        return str(value)
    if expr.literal_type == "date":
        return f"DATE {literal(str(value))}"
    if expr.literal_type == "datetime":
        return f"TIMESTAMPTZ {literal(str(value))}"
    return literal(str(value))


def field_columns(entity: ir.Entity) -> dict[str, str]:
    """Field name -> column name, for the fields an expression may read."""
    return {f.name: f.column for f in entity.fields if f.column is not None}


def default_sql(field: ir.FieldNode, sql_type: str) -> str | None:
    """The column default as SQL, as Reframe writes it (`sql_type` for casts)."""
    if isinstance(field.type, ir.StateType):
        return f"{literal(field.type.initial)}::{sql_type}"
    default = field.default
    if default is None:
        return None
    if default.kind != "value":
        return DEFAULT_CALLS[default.kind]
    value = default.value
    if value is None:
        return None
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, dict) or sql_type == "jsonb":
        return f"{literal(json.dumps(value, sort_keys=True))}::jsonb"
    if isinstance(value, list):
        items = ",".join(
            '"' + str(v).replace("\\", "\\\\").replace('"', '\\"') + '"' for v in value
        )
        return f"{literal('{' + items + '}')}::{sql_type}"
    if sql_type.startswith("numeric") or sql_type == "integer":
        return str(Decimal(str(value)))
    return f"{literal(str(value))}::{sql_type}"
