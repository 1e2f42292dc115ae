"""A Reframe IR as SQLAlchemy 2 declarative models, inside an Alembic environment.

`write_alembic_project` writes what a user of Alembic has: `alembic init`'s
files, `env.py` pointing at the models' metadata, `alembic.ini` at a Postgres
database, and `models.py` with one declarative class per entity (attributes
named after columns) plus a `Table` per join table. Everything the schema of
common.py asks for is expressible: native enum types, named keys and checks,
ON DELETE, stored generated columns, partial and non-btree indexes, comments.

Not written: `relationship()`s, which change no table (autogenerate never
reads them), and the `pg_trgm` extension a trigram index needs (Alembic
does not manage extensions).

    python -m bench.comparators.sqlalchemy_models PROJECT_DIR OUT_DIR [--url URL]
"""

from __future__ import annotations

import argparse
import contextlib
import io
import keyword
from dataclasses import dataclass, field
from pathlib import Path

from bench.comparators.common import (
    ON_DELETE_SQL,
    TEXT_LIKE,
    Check,
    Unsupported,
    column_checks,
    constraint_name,
    decimal_digits,
    default_sql,
    entity_named,
    enum_type_name,
    field_columns,
    is_generated,
    key_field,
    literal,
    load_ir,
    quote,
    sql_expr,
    stored_fields,
)
from compiler import ir

HEADER = '''"""A Reframe model as SQLAlchemy declarative models (written by bench.comparators)."""

from __future__ import annotations

import datetime
import decimal
import uuid
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql as pg
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass
'''


@dataclass(frozen=True)
class ColumnType:
    """One column's type three ways: SQLAlchemy source, Postgres spelling, Python annotation."""

    source: str
    sql: str
    python: str


@dataclass
class Translation:
    """models.py being written, and what SQLAlchemy could not say as Reframe would."""

    project: ir.Project
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


def scalar_type(scalar: ir.ScalarType, max_length: int | None) -> ColumnType:
    name = scalar.name
    if name in TEXT_LIKE:
        if max_length:
            return ColumnType(f"sa.String({max_length})", f"varchar({max_length})", "str")
        return ColumnType("sa.Text()", "text", "str")
    if name in ("decimal", "money"):
        digits = decimal_digits(scalar)
        if digits is None:
            return ColumnType("sa.Numeric()", "numeric", "decimal.Decimal")
        return ColumnType(
            f"sa.Numeric({digits[0]}, {digits[1]})",
            "numeric({}, {})".format(*digits),
            "decimal.Decimal",
        )
    simple = {
        "uuid": ColumnType("sa.Uuid()", "uuid", "uuid.UUID"),
        "integer": ColumnType("sa.Integer()", "integer", "int"),
        "boolean": ColumnType("sa.Boolean()", "boolean", "bool"),
        "date": ColumnType("sa.Date()", "date", "datetime.date"),
        "datetime": ColumnType("sa.DateTime(timezone=True)", "timestamptz", "datetime.datetime"),
        "json": ColumnType("pg.JSONB()", "jsonb", "Any"),
    }
    return simple[name]


def column_type(
    project: ir.Project, entity: ir.Entity, field_: ir.FieldNode, type_: object
) -> ColumnType:
    """The type of the column that stores `field_` (`type_` is its type, or an array's element)."""
    if isinstance(type_, ir.ScalarType):
        return scalar_type(type_, field_.max_length)
    if isinstance(type_, ir.EnumType | ir.StateType):
        assert field_.column is not None
        name = enum_type_name(entity.table, field_.column)
        values = ", ".join(repr(v) for v in type_.values)
        return ColumnType(f"sa.Enum({values}, name={name!r})", name, "str")
    if isinstance(type_, ir.ArrayType):
        element = column_type(project, entity, field_, type_.of)
        return ColumnType(
            f"pg.ARRAY({element.source})", f"{element.sql}[]", f"list[{element.python}]"
        )
    if isinstance(type_, ir.RefType):
        return key_type(project, type_.target)
    raise Unsupported(
        f"{entity.name}.{field_.name}: no column type for {getattr(type_, 'kind', type_)}"
    )


def key_type(project: ir.Project, entity_name: str) -> ColumnType:
    key = key_field(project, entity_name)
    assert isinstance(key.type, ir.ScalarType), f"{entity_name}: the key must be a scalar"
    return scalar_type(key.type, key.max_length)


def attribute(column: str) -> str:
    """The Python attribute for a column: its name, unless that is a keyword."""
    return f"{column}_" if keyword.iskeyword(column) else column


def mapped(column: str, type_: ColumnType, nullable: bool, extras: list[str]) -> str:
    """One `name: Mapped[...] = mapped_column(...)` line."""
    annotation = f"{type_.python} | None" if nullable else type_.python
    name = attribute(column)
    args = ([repr(column)] if name != column else []) + [type_.source, *extras]
    args.append(f"nullable={nullable}")
    return f"    {name}: Mapped[{annotation}] = mapped_column({', '.join(args)})"


# Entities ----------------------------------------------------------------------------


def field_lines(out: Translation, entity: ir.Entity, field_: ir.FieldNode) -> list[str]:
    assert field_.column is not None
    if isinstance(field_.type, ir.PolyRefType):
        return poly_lines(out.project, field_, field_.type)
    type_ = column_type(out.project, entity, field_, field_.type)
    extras = []
    if is_generated(field_):
        assert field_.computed is not None
        try:
            expression = sql_expr(field_.computed.expr, field_columns(entity))
            extras.append(f"sa.Computed({expression!r}, persisted=True)")
        except Unsupported as error:
            out.notes.append(f"{entity.name}.{field_.name}: plain column, not generated ({error})")
    default = default_sql(field_, type_.sql)
    if default is not None:
        extras.append(f"server_default=sa.text({default!r})")
    if field_.help:
        extras.append(f"comment={field_.help!r}")
    return [mapped(field_.column, type_, field_.nullable, extras)]


def poly_lines(project: ir.Project, field_: ir.FieldNode, poly: ir.PolyRefType) -> list[str]:
    """A type column and an id column (no foreign key: it may point at several tables)."""
    keys = {key_type(project, target) for target in poly.targets}
    id_type = keys.pop() if len(keys) == 1 else ColumnType("sa.Text()", "text", "str")
    targets = ", ".join(poly.targets)
    comment = f"comment={f'Which entity {poly.id_column} points at: {targets}.'!r}"
    return [
        mapped(
            poly.type_column, ColumnType("sa.Text()", "text", "str"), field_.nullable, [comment]
        ),
        mapped(poly.id_column, id_type, field_.nullable, []),
    ]


def check_sql(check: Check) -> str:
    column = quote(check.column)
    if check.rule == "type":
        assert isinstance(check.value, tuple)
        return f"{column} IN ({', '.join(literal(v) for v in check.value)})"
    if check.rule == "min_length":
        return f"char_length({column}) >= {check.value}"
    if check.rule == "pattern":
        return f"{column} ~ {literal(str(check.value))}"
    return f"{column} {'>=' if check.rule == 'min' else '<='} {check.value}"


def table_args(out: Translation, entity: ir.Entity) -> list[str]:
    """Keys, checks and indexes of one entity's table, as `__table_args__` items."""
    key = key_field(out.project, entity.name)
    args = [
        f"sa.PrimaryKeyConstraint({key.column!r}, name={constraint_name('pk', entity.table)!r})"
    ]
    for field_ in stored_fields(entity):
        if isinstance(field_.type, ir.RefType):
            target = entity_named(out.project, field_.type.target)
            target_key = key_field(out.project, target.name).column
            args.append(
                f"sa.ForeignKeyConstraint([{field_.column!r}], [{f'{target.table}.{target_key}'!r}], "
                f"name={constraint_name('fk', entity.table, str(field_.column))!r}, "
                f"ondelete={ON_DELETE_SQL[field_.type.on_delete]!r})"
            )
        args += [
            f"sa.CheckConstraint({check_sql(c)!r}, name={c.name!r})"
            for c in column_checks(entity, field_)
        ]
    args += [index_source(out, entity, index) for index in entity.indexes]
    return args


def index_source(out: Translation, entity: ir.Entity, index: ir.Index) -> str:
    parts = [repr(index.name), *(repr(c) for c in index.columns)]
    if index.unique:
        parts.append("unique=True")
    if index.using != "btree":
        parts.append(f"postgresql_using={index.using!r}")
        if index.using == "gin" and text_columns(entity, index.columns):
            ops = {c: "gin_trgm_ops" for c in text_columns(entity, index.columns)}
            parts.append(f"postgresql_ops={ops!r}")
            out.notes.append(
                f"{index.name}: needs the pg_trgm extension, which Alembic does not create"
            )
    if index.where is not None:
        try:
            parts.append(
                f"postgresql_where=sa.text({sql_expr(index.where, field_columns(entity))!r})"
            )
        except Unsupported as error:
            out.notes.append(f"{index.name}: not partial ({error})")
    return f"sa.Index({', '.join(parts)})"


def text_columns(entity: ir.Entity, columns: tuple[str, ...]) -> list[str]:
    """The text-like columns among `columns` (a GIN index on them is a trigram index)."""
    by_column = {f.column: f for f in stored_fields(entity)}
    return [
        column
        for column in columns
        if isinstance(scalar := getattr(by_column.get(column), "type", None), ir.ScalarType)
        and scalar.name in TEXT_LIKE
    ]


def entity_class(out: Translation, entity: ir.Entity) -> list[str]:
    lines = ["", "", f"class {entity.name}(Base):", f"    __tablename__ = {entity.table!r}"]
    lines.append("    __table_args__ = (")
    lines += [f"        {arg}," for arg in table_args(out, entity)]
    if entity.doc:
        lines.append(f"        {{'comment': {entity.doc!r}}},")
    lines += ["    )", ""]
    for field_ in stored_fields(entity):
        lines += field_lines(out, entity, field_)
    return lines


def join_table(out: Translation, join: ir.JoinTable) -> list[str]:
    """A many-to-many's table: composite key, both sides cascading, an index from the right."""
    sides = ((join.left_column, join.left_entity), (join.right_column, join.right_entity))
    items = []
    for column, target_name in sides:
        target = entity_named(out.project, target_name)
        target_key = key_field(out.project, target_name).column
        items.append(
            f"sa.Column({column!r}, {key_type(out.project, target_name).source}, nullable=False)"
        )
        items.append(
            f"sa.ForeignKeyConstraint([{column!r}], [{f'{target.table}.{target_key}'!r}], "
            f"name={constraint_name('fk', join.name, column)!r}, ondelete='CASCADE')"
        )
    pk_name = constraint_name("pk", join.name)
    items.append(
        f"sa.PrimaryKeyConstraint({join.left_column!r}, {join.right_column!r}, name={pk_name!r})"
    )
    items.append(
        f"sa.Index({constraint_name('ix', join.name, join.right_column)!r}, {join.right_column!r})"
    )
    comment = f"Links {join.left_entity} and {join.right_entity} ({', '.join(join.serves)})."
    items.append(f"comment={comment!r}")
    body = [f"    {item}," for item in items]
    return [
        "",
        "",
        f"{join.name} = sa.Table(",
        f"    {join.name!r},",
        "    Base.metadata,",
        *body,
        ")",
    ]


def render_models(project: ir.Project) -> tuple[str, list[str]]:
    """models.py for `project`, and notes on what it could not express."""
    out = Translation(project, lines=[HEADER.rstrip("\n")])
    for entity in project.entities:
        out.lines += entity_class(out, entity)
    for join in project.join_tables:
        out.lines += join_table(out, join)
    return "\n".join(out.lines) + "\n", out.notes


# The Alembic environment --------------------------------------------------------------

ENV_METADATA = "target_metadata = None"
ENV_TARGET = "from models import Base\n\ntarget_metadata = Base.metadata"


def write_models(project: ir.Project, root: Path) -> list[str]:
    """(Re)write models.py only: what a user edits before `alembic revision --autogenerate`."""
    source, notes = render_models(project)
    (root / "models.py").write_text(source, encoding="utf-8")
    return notes


def write_alembic_project(project: ir.Project, root: Path, url: str) -> list[str]:
    """`alembic init migrations`, pointed at `url` and at models.py's metadata."""
    from alembic import command
    from alembic.config import Config

    root.mkdir(parents=True, exist_ok=True)
    ini = root / "alembic.ini"
    with contextlib.redirect_stdout(io.StringIO()):  # init's progress lines are noise here
        command.init(Config(str(ini)), str(root / "migrations"))
    set_url(root, url)
    env = root / "migrations" / "env.py"
    text = env.read_text(encoding="utf-8")
    assert ENV_METADATA in text, "alembic's env.py template changed"
    env.write_text(text.replace(ENV_METADATA, ENV_TARGET), encoding="utf-8")
    return write_models(project, root)


def set_url(root: Path, url: str) -> None:
    ini = root / "alembic.ini"
    lines = ini.read_text(encoding="utf-8").splitlines()
    # configparser interpolates %: a percent-encoded password must be doubled.
    value = url.replace("%", "%%")
    lines = [f"sqlalchemy.url = {value}" if ln.startswith("sqlalchemy.url") else ln for ln in lines]
    ini.write_text("\n".join(lines) + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="a Reframe project after `gen generate`")
    parser.add_argument("out", type=Path, help="folder for the Alembic project")
    parser.add_argument("--url", default="postgresql+psycopg://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    for note in write_alembic_project(load_ir(args.project), args.out, args.url):
        print(f"note: {note}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
