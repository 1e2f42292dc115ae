"""The relational schema: what the database holds, lowered from the IR.

One frozen structure serves three uses: `schema.postgres.sql` is rendered
from it, each migration stores the one it was made from, and `gen migrate
make` diffs the stored one against the current one.

Everything that can be renamed is known by a stable `uid` taken from the IR
(entity and field identities survive `renamed_from`). SQL expressions
(checks, generated columns, partial-index conditions) refer to columns by
uid, not by name, so a renamed column leaves every constraint that reads it
equal up to its name: the diff sees a rename, not a drop and an add.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import cached_property
from typing import Literal

from compiler.ir.base import Node

#: Bump when the shape below changes; a stored schema of another version is refused.
DB_SCHEMA_VERSION: Literal[1] = 1

OnDeleteSql = Literal["CASCADE", "RESTRICT", "SET NULL"]


class ColumnRef(Node):
    """A column inside an SQL expression, by identity."""

    uid: str


class SqlExpr(Node):
    """SQL text with the columns it reads kept apart: `("char_length(", ColumnRef, ") >= 2")`."""

    parts: tuple[str | ColumnRef, ...]

    def render(self, column_names: Mapping[str, str]) -> str:
        return "".join(
            part if isinstance(part, str) else quote(column_names[part.uid]) for part in self.parts
        )

    @property
    def columns(self) -> tuple[str, ...]:
        return tuple(part.uid for part in self.parts if isinstance(part, ColumnRef))


class Column(Node):
    uid: str
    name: str
    #: As Postgres spells it in DDL: "varchar(200)", "numeric(19, 4)", "invoice_status[]".
    type: str
    nullable: bool
    #: An SQL expression (defaults never read columns).
    default: str | None = None
    #: `GENERATED ALWAYS AS (...) STORED`.
    generated: SqlExpr | None = None
    comment: str | None = None
    #: The model element it comes from: "Invoice.status".
    origin: str


class PrimaryKey(Node):
    name: str
    columns: tuple[str, ...]


class ForeignKey(Node):
    name: str
    columns: tuple[str, ...]
    target_table: str
    target_columns: tuple[str, ...]
    on_delete: OnDeleteSql
    origin: str


class Check(Node):
    name: str
    expr: SqlExpr
    origin: str
    #: What it enforces, in words: "at most 200 characters".
    meaning: str


class IndexElement(Node):
    column: str
    #: "words": index the column's words (`to_tsvector('simple', column)`), which is
    #: how a gin index on text is built: it needs no extension, so it works on
    #: every PostgreSQL, the embedded one included.
    of: Literal["value", "words"] = "value"


class Index(Node):
    name: str
    table: str
    elements: tuple[IndexElement, ...]
    unique: bool
    using: Literal["btree", "hash", "gin", "gist", "brin"]
    where: SqlExpr | None = None
    origin: str


class EnumType(Node):
    uid: str
    name: str
    values: tuple[str, ...]
    origin: str


class Table(Node):
    uid: str
    name: str
    columns: tuple[Column, ...]
    primary_key: PrimaryKey
    foreign_keys: tuple[ForeignKey, ...] = ()
    checks: tuple[Check, ...] = ()
    comment: str | None = None
    #: The entity, or the many-to-many field of a join table.
    origin: str

    @cached_property
    def column_names(self) -> dict[str, str]:
        """uid -> name, to render the expressions of this table."""
        return {c.uid: c.name for c in self.columns}

    def column(self, uid: str) -> Column | None:
        return next((c for c in self.columns if c.uid == uid), None)


class Schema(Node):
    db_schema_version: Literal[1] = DB_SCHEMA_VERSION
    enums: tuple[EnumType, ...] = ()
    tables: tuple[Table, ...] = ()
    indexes: tuple[Index, ...] = ()

    @cached_property
    def _tables_by_uid(self) -> dict[str, Table]:
        return {t.uid: t for t in self.tables}

    def table(self, uid: str) -> Table:
        return self._tables_by_uid[uid]


def quote(identifier: str) -> str:
    """Quote an identifier only when Postgres needs it (keeps DDL readable)."""
    if identifier.isidentifier() and identifier.islower() and identifier not in RESERVED:
        return identifier
    return '"' + identifier.replace('"', '""') + '"'


def literal(value: str) -> str:
    """An SQL string literal."""
    return "'" + value.replace("'", "''") + "'"


#: Postgres reserved key words (appendix C, "reserved" in the PostgreSQL column),
#: plus the non-reserved ones that cannot be column names.
RESERVED = frozenset(
    [
        "all",
        "analyse",
        "analyze",
        "and",
        "any",
        "array",
        "as",
        "asc",
        "asymmetric",
        "authorization",
        "binary",
        "both",
        "case",
        "cast",
        "check",
        "collate",
        "collation",
        "column",
        "concurrently",
        "constraint",
        "create",
        "cross",
        "current_catalog",
        "current_date",
        "current_role",
        "current_schema",
        "current_time",
        "current_timestamp",
        "current_user",
        "default",
        "deferrable",
        "desc",
        "distinct",
        "do",
        "else",
        "end",
        "except",
        "false",
        "fetch",
        "for",
        "foreign",
        "freeze",
        "from",
        "full",
        "grant",
        "group",
        "having",
        "ilike",
        "in",
        "initially",
        "inner",
        "intersect",
        "into",
        "is",
        "isnull",
        "join",
        "lateral",
        "leading",
        "left",
        "like",
        "limit",
        "localtime",
        "localtimestamp",
        "natural",
        "not",
        "notnull",
        "null",
        "offset",
        "on",
        "only",
        "or",
        "order",
        "outer",
        "overlaps",
        "placing",
        "primary",
        "references",
        "returning",
        "right",
        "select",
        "session_user",
        "similar",
        "some",
        "symmetric",
        "system_user",
        "table",
        "tablesample",
        "then",
        "to",
        "trailing",
        "true",
        "union",
        "unique",
        "user",
        "using",
        "variadic",
        "verbose",
        "when",
        "where",
        "window",
        "with",
    ]
)
