"""`db/tables.py`: the relational schema as SQLAlchemy 2 Core metadata.

Rendered from the same `Schema` as `schema.postgres.sql`, so that
`metadata.create_all(engine)` builds exactly the database that file builds,
and the generated API can query the tables it describes.

Module-level names, chosen here and nowhere else:

- `metadata`: the `sqlalchemy.MetaData` holding everything;
- `<table>_table` for each table (`invoice_table`, `user_table`, `invoice_tag_table`);
- `<type>_enum` for each enum type (`invoice_status_enum`), created and dropped
  with the metadata.

The suffixes keep the two kinds apart (a table `invoice_status` and the enum
type of `invoice.status` can both exist) and never collide with a Python
keyword or with `metadata`, `sa` and `postgresql`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from jinja2 import Environment, PackageLoader, StrictUndefined

from generators.base import Region
from generators.db import ddl
from generators.db.pysource import Statement, layout_module, python_string
from generators.db.schema import Column, EnumType, Index, IndexElement, Schema, Table

_env = Environment(
    loader=PackageLoader("templates", "db"),
    undefined=StrictUndefined,
    keep_trailing_newline=True,
    autoescape=False,
    trim_blocks=True,
    lstrip_blocks=True,
)

#: Postgres spellings (as `Column.type` holds them) -> SQLAlchemy types.
_TYPES = {
    "uuid": "sa.Uuid()",
    "integer": "sa.Integer()",
    "bigint": "sa.BigInteger()",
    "boolean": "sa.Boolean()",
    "date": "sa.Date()",
    "timestamptz": "sa.DateTime(timezone=True)",
    "jsonb": "postgresql.JSONB()",
    "text": "sa.Text()",
    "numeric": "sa.Numeric()",
}
_SIZED_TYPES = {"varchar": "sa.String", "numeric": "sa.Numeric"}
_SIZED = re.compile(r"^(\w+)\((\d+)(?:, (\d+))?\)$")

#: `sqlalchemy.text()` takes `:name` for a bound parameter, and its compiler turns `\\:name`
#: back into `:name` (SQLAlchemy 2.1's TextClause._bind_params_regex and BIND_PARAMS_ESC).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")
_UNESCAPE = re.compile(r"\\(:\w*)(?![:\w])")


# What the template reads ----------------------------------------------------------------


@dataclass(frozen=True)
class EnumView:
    var: str
    name: str
    values: tuple[str, ...]
    origin: str


@dataclass(frozen=True)
class ColumnView:
    name: str
    #: SQLAlchemy type as Python source: "sa.String(30)", "invoice_status_enum".
    type: str
    nullable: bool
    #: SQL of the server default, or of the stored generated column.
    default: str | None
    computed: str | None
    comment: str | None
    #: An integer key SQLAlchemy must not make SERIAL: the DDL gives it no default.
    no_autoincrement: bool
    origin: str


@dataclass(frozen=True)
class ForeignKeyView:
    name: str
    columns: tuple[str, ...]
    #: "table.column", as `ForeignKeyConstraint` refers to them.
    targets: tuple[str, ...]
    on_delete: str
    #: Part of a cycle of tables: added by ALTER TABLE once both exist.
    use_alter: bool
    origin: str


@dataclass(frozen=True)
class CheckView:
    name: str
    sql: str
    origin: str


@dataclass(frozen=True)
class IndexElementView:
    #: A column by name, else an SQL expression.
    column: str | None
    expression: str | None


@dataclass(frozen=True)
class IndexView:
    name: str
    elements: tuple[IndexElementView, ...]
    unique: bool
    #: None for btree, the default.
    using: str | None
    where: str | None
    origin: str


@dataclass(frozen=True)
class TableView:
    var: str
    name: str
    columns: tuple[ColumnView, ...]
    primary_key_name: str
    primary_key_columns: tuple[str, ...]
    foreign_keys: tuple[ForeignKeyView, ...]
    checks: tuple[CheckView, ...]
    indexes: tuple[IndexView, ...]
    comment: str | None
    origin: str

    def item_origins(self) -> list[str | None]:
        """The model element of each argument of its `sa.Table(...)`, in order (None: the table's)."""
        return [
            None,  # the name
            None,  # metadata
            *(c.origin for c in self.columns),
            None,  # the primary key: the table's own
            *(k.origin for k in self.foreign_keys),
            *(c.origin for c in self.checks),
            *(i.origin for i in self.indexes),
            *([None] if self.comment is not None else []),  # comment=
        ]


# Building the views -----------------------------------------------------------------------


def table_var(table: Table) -> str:
    return _python_name(table.name) + "_table"


def enum_var(enum: EnumType) -> str:
    return _python_name(enum.name) + "_enum"


def _python_name(sql_name: str) -> str:
    name = re.sub(r"\W", "_", sql_name.lower())
    return f"_{name}" if name[:1].isdigit() else name


def _enum_view(enum: EnumType) -> EnumView:
    return EnumView(var=enum_var(enum), name=enum.name, values=enum.values, origin=enum.origin)


def column_type(spelling: str, enums: dict[str, str]) -> str:
    """The SQLAlchemy type of a column Postgres spells `spelling`; `enums` maps names to vars."""
    if spelling.endswith("[]"):
        return f"postgresql.ARRAY({column_type(spelling[:-2], enums)})"
    if spelling in enums:
        return enums[spelling]
    if spelling in _TYPES:
        return _TYPES[spelling]
    sized = _SIZED.match(spelling)
    if sized is not None and sized[1] in _SIZED_TYPES:
        sizes = ", ".join(s for s in sized.groups()[1:] if s is not None)
        return f"{_SIZED_TYPES[sized[1]]}({sizes})"
    raise ValueError(f"no SQLAlchemy type for the column type {spelling!r}")


def _column_view(table: Table, column: Column, enums: dict[str, str]) -> ColumnView:
    type_ = column_type(column.type, enums)
    key = table.primary_key.columns
    return ColumnView(
        name=column.name,
        type=type_,
        nullable=column.nullable,
        default=column.default,
        computed=column.generated.render(table.column_names) if column.generated else None,
        comment=column.comment,
        no_autoincrement=(
            key == (column.uid,)
            and type_ in ("sa.Integer()", "sa.BigInteger()")
            and column.default is None
        ),
        origin=column.origin,
    )


def _index_view(table: Table, index: Index) -> IndexView:
    return IndexView(
        name=index.name,
        elements=tuple(_index_element(table, e) for e in index.elements),
        unique=index.unique,
        using=None if index.using == "btree" else index.using,
        where=index.where.render(table.column_names) if index.where is not None else None,
        origin=index.origin,
    )


def _index_element(table: Table, element: IndexElement) -> IndexElementView:
    if element.of == "value":
        return IndexElementView(column=table.column_names[element.column], expression=None)
    # The DDL's own spelling, so that both build the same index.
    return IndexElementView(column=None, expression=ddl._index_element(table, element))


def _table_view(
    schema: Schema,
    table: Table,
    indexes: list[Index],
    enums: dict[str, str],
    cycles: dict[str, int],
) -> TableView:
    names = table.column_names
    foreign_keys = []
    for key in table.foreign_keys:
        target = schema.table(key.target_table)
        foreign_keys.append(
            ForeignKeyView(
                name=key.name,
                columns=tuple(names[uid] for uid in key.columns),
                targets=tuple(
                    f"{target.name}.{target.column_names[uid]}" for uid in key.target_columns
                ),
                on_delete=key.on_delete,
                use_alter=target.uid != table.uid and cycles[target.uid] == cycles[table.uid],
                origin=key.origin,
            )
        )
    return TableView(
        var=table_var(table),
        name=table.name,
        columns=tuple(_column_view(table, c, enums) for c in table.columns),
        primary_key_name=table.primary_key.name,
        primary_key_columns=tuple(names[uid] for uid in table.primary_key.columns),
        foreign_keys=tuple(foreign_keys),
        checks=tuple(
            CheckView(name=c.name, sql=c.expr.render(names), origin=c.origin) for c in table.checks
        ),
        indexes=tuple(_index_view(table, i) for i in indexes),
        comment=table.comment,
        origin=table.origin,
    )


def views(schema: Schema) -> tuple[list[EnumView], list[TableView]]:
    enum_views = [_enum_view(e) for e in schema.enums]
    enums = {e.name: e.var for e in enum_views}
    cycles = _cycles(schema)
    indexes: dict[str, list[Index]] = {t.uid: [] for t in schema.tables}
    for index in schema.indexes:
        indexes[index.table].append(index)
    table_views = [_table_view(schema, t, indexes[t.uid], enums, cycles) for t in schema.tables]
    _check_unique([v.var for v in enum_views] + [v.var for v in table_views])
    return enum_views, table_views


def _cycles(schema: Schema) -> dict[str, int]:
    """Number the tables so that two share a number when foreign keys lead from each to the
    other (the strongly connected components, Tarjan's algorithm, without recursion).

    SQLAlchemy cannot sort such tables for CREATE and DROP; a key between them is
    marked `use_alter`, as SQLAlchemy asks, so that it is added once both tables exist.
    """
    edges = {t.uid: sorted({k.target_table for k in t.foreign_keys}) for t in schema.tables}
    order: dict[str, int] = {}
    low: dict[str, int] = {}
    component: dict[str, int] = {}
    stack: list[str] = []
    for root in edges:
        if root in order:
            continue
        walk = [(root, iter(edges[root]))]
        order[root] = low[root] = len(order)
        stack.append(root)
        while walk:
            node, targets = walk[-1]
            target = next(targets, None)
            if target is None:
                walk.pop()
                if walk:
                    low[walk[-1][0]] = min(low[walk[-1][0]], low[node])
                if low[node] == order[node]:
                    while node not in component:
                        component[stack.pop()] = order[node]
            elif target not in order:
                order[target] = low[target] = len(order)
                stack.append(target)
                walk.append((target, iter(edges[target])))
            elif target not in component:
                low[node] = min(low[node], order[target])
    return component


def _check_unique(names: list[str]) -> None:
    seen: set[str] = set()
    for name in names:
        if name in seen:
            raise ValueError(
                f"two objects of the schema would both be named {name} in db/tables.py"
            )
        seen.add(name)


# SQL inside Python ------------------------------------------------------------------------


def sql_string(sql: str) -> str:
    """SQL text as the string argument of `CheckConstraint` or `Computed` (read by `text()`).

    A colon before a word would be a bound parameter; it is escaped (`\\:`), which
    SQLAlchemy removes again. SQL that would not come back exactly (it holds a
    backslash before a colon already) is a `literal_column`, printed verbatim.
    """
    escaped = _BIND.sub(lambda found: "\\" + found[0], sql)
    if _UNESCAPE.sub(r"\1", escaped) != sql:
        return _exploded_call("sa.literal_column", python_string(sql))
    return python_string(escaped)


def sql_clause(sql: str) -> str:
    """SQL text as a clause: `sa.text(...)` (server defaults, index expressions and conditions)."""
    escaped = sql_string(sql)
    return escaped if escaped.startswith("sa.") else _exploded_call("sa.text", escaped)


def _exploded_call(function: str, argument: str) -> str:
    """A call of one argument as templates write calls, for pysource.layout_module to join."""
    return f"{function}(\n{argument},\n)"


def _py(value: object) -> str:
    return python_string(value) if isinstance(value, str) else repr(value)


_env.filters["py"] = _py
_env.filters["sql_string"] = sql_string
_env.filters["sql_clause"] = sql_clause


# Rendering ----------------------------------------------------------------------------------


def render_tables(schema: Schema, header: str) -> tuple[str, tuple[Region, ...]]:
    """The text of `db/tables.py`, and the lines of each statement and argument with the
    model element it comes from."""
    enum_views, table_views = views(schema)
    exploded = _env.get_template("tables.py.j2").render(
        header=header, enums=enum_views, tables=table_views
    )
    text, statements = layout_module(exploded)
    return text, _regions(statements, enum_views, table_views)


def _regions(
    statements: list[Statement], enum_views: list[EnumView], table_views: list[TableView]
) -> tuple[Region, ...]:
    """Each enum and table statement, and inside a table each column, key, check and index."""
    placed = {statement.target: statement for statement in statements}
    regions = [Region(placed[e.var].start, placed[e.var].end, e.origin) for e in enum_views]
    for table in table_views:
        statement = placed[table.var]
        regions.append(Region(statement.start, statement.end, table.origin))
        origins = table.item_origins()
        if len(statement.items) != len(origins):
            raise AssertionError(f"{table.var}: tables.py.j2 and TableView.item_origins disagree")
        regions += [
            Region(start, end, origin)
            for (start, end), origin in zip(statement.items, origins, strict=True)
            if origin is not None
        ]
    return tuple(regions)
