"""What the Django translator reads: the IR, and the schema conventions it must reproduce.

The translator asks Django for the database Reframe's own Postgres generator
describes (generators/db/lower.py), so that the migration tools diff the same
schema (Alembic needs no translation: it targets the generated db/tables.py):

- text-like fields are `varchar(n)` with a max length, else `text`; money is
  `numeric(19, 4)`; datetimes `timestamptz`; json `jsonb`; arrays are arrays;
- enum and state fields are a Postgres enum type `<table>_<column>`;
- a ref column has the type of its target's primary key; join tables have a
  composite primary key and cascade both ways;
- names: `pk_<table>`, `fk_<table>_<column>`, `ck_<table>_<column>_<rule>`;
  index names come from the IR;
- min/max/min_length/pattern are CHECK constraints; a same-row computed
  field is a stored generated column; `doc` and `help` are comments.

What Django cannot express is listed by the translator (`notes`).
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

from compiler import ir
from compiler.naming import fit_identifier

MONEY_DIGITS = 19
MONEY_PLACES = 4
TEXT_LIKE = frozenset({"text", "slug", "email", "url"})


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
