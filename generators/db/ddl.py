"""Postgres DDL for the objects of a `Schema`, one statement per function.

`schema.postgres.sql` and every migration operation are built from these, so
a database made by migrations and one made from the file agree exactly.
Statements carry no trailing semicolon; `script()` adds them.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from generators.db.schema import (
    Check,
    Column,
    EnumType,
    ForeignKey,
    Index,
    IndexElement,
    Schema,
    Table,
    literal,
    quote,
)


def create_enum(enum: EnumType) -> str:
    values = ", ".join(literal(v) for v in enum.values)
    return f"CREATE TYPE {quote(enum.name)} AS ENUM ({values})"


def drop_enum(enum: EnumType) -> str:
    return f"DROP TYPE {quote(enum.name)}"


def column_definition(table: Table, column: Column) -> str:
    parts = [quote(column.name), column.type]
    if column.generated is not None:
        parts.append(f"GENERATED ALWAYS AS ({column.generated.render(table.column_names)}) STORED")
    elif column.default is not None:
        parts.append(f"DEFAULT {column.default}")
    if not column.nullable:
        parts.append("NOT NULL")
    return " ".join(parts)


def check_definition(table: Table, check: Check) -> str:
    return f"CONSTRAINT {quote(check.name)} CHECK ({check.expr.render(table.column_names)})"


def primary_key_definition(table: Table) -> str:
    columns = ", ".join(quote(table.column_names[uid]) for uid in table.primary_key.columns)
    return f"CONSTRAINT {quote(table.primary_key.name)} PRIMARY KEY ({columns})"


def create_table(table: Table) -> str:
    """The table with its columns, primary key and checks; foreign keys come later."""
    lines = [column_definition(table, c) for c in table.columns]
    lines.append(primary_key_definition(table))
    lines += [check_definition(table, c) for c in table.checks]
    body = ",\n".join(f"    {line}" for line in lines)
    return f"CREATE TABLE {quote(table.name)} (\n{body}\n)"


def drop_table(table: Table) -> str:
    return f"DROP TABLE {quote(table.name)}"


def foreign_key_definition(schema: Schema, table: Table, key: ForeignKey) -> str:
    return foreign_key_to(table, key, schema.table(key.target_table))


def foreign_key_to(table: Table, key: ForeignKey, target: Table) -> str:
    """The key's definition, `target` the table it references."""
    columns = ", ".join(quote(table.column_names[uid]) for uid in key.columns)
    targets = ", ".join(quote(target.column_names[uid]) for uid in key.target_columns)
    return (
        f"CONSTRAINT {quote(key.name)} FOREIGN KEY ({columns}) "
        f"REFERENCES {quote(target.name)} ({targets}) ON DELETE {key.on_delete}"
    )


def add_constraint(table: Table, definition: str) -> str:
    return f"ALTER TABLE {quote(table.name)} ADD {definition}"


def drop_constraint(table: Table, name: str) -> str:
    return f"ALTER TABLE {quote(table.name)} DROP CONSTRAINT {quote(name)}"


def create_index(schema: Schema, index: Index, concurrently: bool = False) -> str:
    return create_index_on(schema.table(index.table), index, concurrently)


def create_index_on(table: Table, index: Index, concurrently: bool = False) -> str:
    """`CREATE INDEX`, `table` the table the index is on."""
    elements = ", ".join(_index_element(table, e) for e in index.elements)
    unique = "UNIQUE " if index.unique else ""
    how = "CONCURRENTLY IF NOT EXISTS " if concurrently else ""
    using = f" USING {index.using}" if index.using != "btree" else ""
    where = f" WHERE {index.where.render(table.column_names)}" if index.where is not None else ""
    return f"CREATE {unique}INDEX {how}{quote(index.name)} ON {quote(table.name)}{using} ({elements}){where}"


def _index_element(table: Table, element: IndexElement) -> str:
    column = quote(table.column_names[element.column])
    return f"to_tsvector('simple'::regconfig, {column})" if element.of == "words" else column


def drop_index(index: Index, concurrently: bool = False) -> str:
    how = "CONCURRENTLY IF EXISTS " if concurrently else ""
    return f"DROP INDEX {how}{quote(index.name)}"


def comment_on_table(table: Table, comment: str | None) -> str:
    text = literal(comment) if comment is not None else "NULL"
    return f"COMMENT ON TABLE {quote(table.name)} IS {text}"


def comment_on_column(table: Table, column: Column, comment: str | None) -> str:
    text = literal(comment) if comment is not None else "NULL"
    return f"COMMENT ON COLUMN {quote(table.name)}.{quote(column.name)} IS {text}"


def comments(table: Table) -> list[str]:
    found = [comment_on_table(table, table.comment)] if table.comment else []
    found += [comment_on_column(table, c, c.comment) for c in table.columns if c.comment]
    return found


def schema_statements(schema: Schema) -> list[tuple[str, str]]:
    """Everything, in an order Postgres accepts, each with the model element it serves.

    Types first, then tables with their comments, then foreign keys (once every
    table exists: references may point forwards or in cycles), then indexes.
    """
    found = enum_statements(schema.enums)
    for table in schema.tables:
        found += table_statements(table)
    for table in schema.tables:
        targets = [schema.table(key.target_table) for key in table.foreign_keys]
        found += foreign_key_statements(table, targets)
    return found + index_statements(schema.indexes, schema.table)


def enum_statements(enums: Sequence[EnumType]) -> list[tuple[str, str]]:
    return [(create_enum(enum), enum.origin) for enum in enums]


def table_statements(table: Table) -> list[tuple[str, str]]:
    """The table, then its comments."""
    found = [(create_table(table), table.origin)]
    return found + [(statement, table.origin) for statement in comments(table)]


def foreign_key_statements(table: Table, targets: Sequence[Table]) -> list[tuple[str, str]]:
    """The table's foreign keys, `targets` the table each one references."""
    return [
        (add_constraint(table, foreign_key_to(table, key, target)), key.origin)
        for key, target in zip(table.foreign_keys, targets, strict=True)
    ]


def index_statements(
    indexes: Sequence[Index], table_of: Callable[[str], Table]
) -> list[tuple[str, str]]:
    """The indexes, `table_of` giving a table by its uid."""
    return [(create_index_on(table_of(index.table), index), index.origin) for index in indexes]


def script(statements: list[str]) -> str:
    return "".join(f"{statement};\n\n" for statement in statements)
