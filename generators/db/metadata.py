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

import operator
import re
from collections.abc import Iterable, Sequence
from functools import partial
from itertools import chain

from generators.base import Piece, Region
from generators.db import ddl
from generators.db.lower import Unit
from generators.db.pysource import Group, keyword, place, python_string
from generators.db.schema import Column, EnumType, Index, IndexElement, Schema, Table
from hookfs.graph import same_objects

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
_INTEGER_TYPES = ("sa.Integer()", "sa.BigInteger()")

#: `sqlalchemy.text()` takes `:name` for a bound parameter, and its compiler turns `\\:name`
#: back into `:name` (SQLAlchemy 2.1's TextClause._bind_params_regex and BIND_PARAMS_ESC).
_BIND = re.compile(r"(?<![:\w\\]):(\w+)(?![:\w])")
_UNESCAPE = re.compile(r"\\(:\w*)(?![:\w])")

#: What comes before the first statement, after the header line.
_PREAMBLE = (
    '"""The database of the model as SQLAlchemy Core metadata, for the API to query.',
    "",
    "`metadata.create_all(engine)` builds what db/schema.postgres.sql builds: the same",
    "enum types, tables, keys, checks, indexes and comments. Each table is",
    "`<table>_table` and each enum type `<type>_enum`.",
    '"""',
    "",
    "import sqlalchemy as sa",
    "from sqlalchemy.dialects import postgresql",
    "",
    "metadata = sa.MetaData()",
)


# Names ------------------------------------------------------------------------------------


def table_var(table: Table) -> str:
    return _python_name(table.name) + "_table"


def enum_var(enum: EnumType) -> str:
    return _python_name(enum.name) + "_enum"


def _python_name(sql_name: str) -> str:
    name = re.sub(r"\W", "_", sql_name.lower())
    return f"_{name}" if name[:1].isdigit() else name


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


class _Cycles:
    """`_cycles` of the last build's tables, for the next (`gen dev`): the same while the
    tables are the same objects, or those that are not lead to the same tables."""

    def __init__(self) -> None:
        self.tables: tuple[Table, ...] = ()
        self.edges: dict[str, list[str]] = {}
        self.found: dict[str, int] = {}

    def of(self, tables: tuple[Table, ...]) -> dict[str, int]:
        last = self.tables
        if len(last) == len(tables) and all(map(operator.is_, last, tables)):
            return self.found
        edges = _edges(tables)
        if list(edges.items()) != list(self.edges.items()):  # in order: it numbers them
            self.edges, self.found = edges, _cycles(edges)
        self.tables = tables
        return self.found


def _edges(tables: Iterable[Table]) -> dict[str, list[str]]:
    """The tables each table's foreign keys lead to, by uid."""
    return {t.uid: sorted({k.target_table for k in t.foreign_keys}) for t in tables}


def _cycles(edges: dict[str, list[str]]) -> dict[str, int]:
    """Number the tables so that two share a number when foreign keys lead from each to the
    other (the strongly connected components, Tarjan's algorithm, without recursion).

    SQLAlchemy cannot sort such tables for CREATE and DROP; a key between them is
    marked `use_alter`, as SQLAlchemy asks, so that it is added once both tables exist.
    """
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


def _sql_argument(sql: str) -> Group | str:
    """SQL text as the string argument of `CheckConstraint` or `Computed` (read by `text()`).

    A colon before a word would be a bound parameter; it is escaped (`\\:`), which
    SQLAlchemy removes again. SQL that would not come back exactly (it holds a
    backslash before a colon already) is a `literal_column`, printed verbatim.
    """
    # Both patterns need a colon, and only an escape can make the text differ.
    escaped = _BIND.sub(lambda found: "\\" + found[0], sql) if ":" in sql else sql
    if "\\" in escaped and _UNESCAPE.sub(r"\1", escaped) != sql:
        return Group("sa.literal_column(", [python_string(sql)])
    return python_string(escaped)


def _sql_clause(sql: str) -> Group:
    """SQL text as a clause: `sa.text(...)` (server defaults, index expressions and conditions)."""
    argument = _sql_argument(sql)
    return argument if isinstance(argument, Group) else Group("sa.text(", [argument])


def sql_string(sql: str) -> str:
    """The source of `_sql_argument(sql)`, a call written exploded."""
    argument = _sql_argument(sql)
    return argument if isinstance(argument, str) else argument.exploded()


def sql_clause(sql: str) -> str:
    """The source of `_sql_clause(sql)`, written exploded."""
    return _sql_clause(sql).exploded()


# Statements -------------------------------------------------------------------------------


class _Statements:
    """The statements of `db/tables.py` as `Group`s, each argument of a table with its origin.

    `enums`: the enum types the tables' columns may have (a table's own: lower.py gives
    each enum column a type of its own, named after its table and column).
    """

    def __init__(self, enums: Iterable[EnumType]) -> None:
        self.enums = {e.name: enum_var(e) for e in enums}
        #: Postgres spelling -> SQLAlchemy type: a model repeats a few spellings many times.
        self.types: dict[str, str] = {}

    def enum(self, enum: EnumType) -> Group:
        return Group(
            f"{self.enums[enum.name]} = postgresql.ENUM(",
            [
                *[python_string(v) for v in enum.values],
                f"name={python_string(enum.name)}",
                "metadata=metadata",
                "create_type=True",
            ],
        )

    def table(
        self, table: Table, indexes: Sequence[Index], targets: Sequence[Target]
    ) -> tuple[Group, list[str | None]]:
        """`<table>_table = sa.Table(...)`, and the model element of each of its arguments
        in order (None: the table's own). `targets`: the table each foreign key references,
        and whether the two are in a cycle of tables (`_cycles`)."""
        py = python_string
        names = table.column_names
        items: list[Group | str] = [py(table.name), "metadata"]
        origins: list[str | None] = [None, None]
        for column in table.columns:
            items.append(self.column(table, column))
            origins.append(column.origin)
        key_columns = [py(names[uid]) for uid in table.primary_key.columns]
        key_name = f"name={py(table.primary_key.name)}"
        items.append(Group("sa.PrimaryKeyConstraint(", [*key_columns, key_name]))
        origins.append(None)
        for key, (target, in_cycle) in zip(table.foreign_keys, targets, strict=True):
            target_names = target.column_names
            arguments: list[Group | str] = [
                Group("[", [py(names[uid]) for uid in key.columns], "]"),
                Group(
                    "[",
                    [py(f"{target.name}.{target_names[uid]}") for uid in key.target_columns],
                    "]",
                ),
                f"name={py(key.name)}",
                f"ondelete={py(key.on_delete)}",
            ]
            if target.uid != table.uid and in_cycle:
                # Part of a cycle of tables: added by ALTER TABLE once both exist.
                arguments.append("use_alter=True")
            items.append(Group("sa.ForeignKeyConstraint(", arguments))
            origins.append(key.origin)
        for check in table.checks:
            sql = _sql_argument(check.expr.render(names))
            items.append(Group("sa.CheckConstraint(", [sql, f"name={py(check.name)}"]))
            origins.append(check.origin)
        for index in indexes:
            items.append(self.index(table, index))
            origins.append(index.origin)
        if table.comment is not None:
            items.append(f"comment={py(table.comment)}")
            origins.append(None)
        return Group(f"{table_var(table)} = sa.Table(", items), origins

    def column(self, table: Table, column: Column) -> Group:
        type_ = self.types.get(column.type)
        if type_ is None:
            type_ = self.types[column.type] = column_type(column.type, self.enums)
        arguments: list[Group | str] = [python_string(column.name), type_]
        if column.generated is not None:
            computed = _sql_argument(column.generated.render(table.column_names))
            arguments.append(Group("sa.Computed(", [computed, "persisted=True"]))
        if column.default is not None:
            arguments.append(keyword("server_default", _sql_clause(column.default)))
        arguments.append("nullable=True" if column.nullable else "nullable=False")
        if (
            column.default is None
            and type_ in _INTEGER_TYPES
            and table.primary_key.columns == (column.uid,)
        ):
            # An integer key SQLAlchemy must not make SERIAL: the DDL gives it no default.
            arguments.append("autoincrement=False")
        if column.comment is not None:
            arguments.append(f"comment={python_string(column.comment)}")
        return Group("sa.Column(", arguments)

    def index(self, table: Table, index: Index) -> Group:
        arguments: list[Group | str] = [python_string(index.name)]
        arguments += [_index_element(table, e) for e in index.elements]
        if index.unique:
            arguments.append("unique=True")
        if index.using != "btree":
            arguments.append(f"postgresql_using={python_string(index.using)}")
        if index.where is not None:
            where = _sql_clause(index.where.render(table.column_names))
            arguments.append(keyword("postgresql_where", where))
        return Group("sa.Index(", arguments)


def _index_element(table: Table, element: IndexElement) -> Group | str:
    if element.of == "value":
        return python_string(table.column_names[element.column])
    # The DDL's own spelling, so that both build the same index.
    return _sql_clause(ddl._index_element(table, element))


# Rendering ----------------------------------------------------------------------------------

#: A table a foreign key references, and whether the two are in a cycle of tables.
Target = tuple[Table, bool]


def render_tables(schema: Schema, header: str) -> tuple[str, tuple[Region, ...]]:
    """The text of `db/tables.py`, and the lines of each statement and argument with the
    model element it comes from.

    Each statement is built as `Group`s and placed straight into its final lines
    (generators/db/pysource.py): no template text to parse and lay out again.
    """
    units = [Unit(schema.enums, schema.tables, schema.indexes)]
    pieces = tables_pieces(units, tables_head(header))
    line, regions = 0, []
    for piece in pieces:
        regions += [Region(r.start + line, r.end + line, r.origin) for r in piece.regions]
        line += piece.lines
    return "".join(p.content.decode() for p in pieces), tuple(regions)


def tables_head(header: str) -> Piece:
    """The module up to its first statement: `header`, its docstring, imports and metadata."""
    return Piece("\n".join([header, *_PREAMBLE]).encode())


def tables_pieces(units: Sequence[Unit], head: Piece) -> list[Piece]:
    """`db/tables.py` in pieces: `head`, each unit's enum types, each table, an end.

    A piece is kept with what it is made of (the same unit, table, referenced tables:
    the build graph keeps them between saves under `gen dev`), so only what changed is
    laid out again.
    """
    tables = {t.uid: t for unit in units for t in unit.tables}
    own = [same_objects("db.tables.unit", (u,), partial(_unit_enums, u)) for u in units]
    _check_unique([name for names, _ in own for name in names])
    cycles = same_objects("db.cycles", (), _Cycles).of(tuple(tables.values()))
    pieces = [head, *[enums for _, enums in own if enums is not None]]
    for unit in units:
        for table in unit.tables:
            referenced = [tables[key.target_table] for key in table.foreign_keys]
            targets = [(t, cycles[t.uid] == cycles[table.uid]) for t in referenced]
            pieces.append(
                same_objects(
                    "db.tables.table",
                    (unit, table, *chain.from_iterable(targets)),
                    partial(_table_piece, unit, table, targets),
                )
            )
    return [*pieces, _END]


_END = Piece(b"\n")


def _unit_enums(unit: Unit) -> tuple[tuple[str, ...], Piece | None]:
    """The names the unit's enum types and tables take in the module, and its enum types'
    statements."""
    names = (*(enum_var(e) for e in unit.enums), *(table_var(t) for t in unit.tables))
    if not unit.enums:
        return names, None
    statements = _Statements(unit.enums)
    return names, _piece([(statements.enum(enum), None, enum.origin) for enum in unit.enums])


def _table_piece(unit: Unit, table: Table, targets: Sequence[Target]) -> Piece:
    indexes = [index for index in unit.indexes if index.table == table.uid]
    group, origins = _Statements(unit.enums).table(table, indexes, targets)
    return _piece([(group, origins, table.origin)])


def _piece(statements: Sequence[tuple[Group, Sequence[str | None] | None, str]]) -> Piece:
    """Statements, each after a blank line, with the lines of each (`origin`) and, when
    `origins` are given, of each of its arguments (None: the statement's own)."""
    out: list[str] = []
    regions: list[Region] = []
    for group, origins, origin in statements:
        out.append("")
        placed = place(group, out)
        # The piece starts with the newline ending the line before: `out` starts on line 2.
        regions.append(Region(placed.start + 1, placed.end + 1, origin))
        if origins is None:
            continue
        if len(placed.items) != len(origins):
            raise AssertionError(f"{placed.target}: the table statement fits on one line")
        regions += [
            Region(start + 1, end + 1, item)
            for (start, end), item in zip(placed.items, origins, strict=True)
            if item is not None
        ]
    return Piece(("\n" + "\n".join(out)).encode(), tuple(regions))
