"""Migration operations: data with forwards, backwards, a sentence and a lock level.

Each factory below makes one kind of operation from schema objects. An
operation's `stage` places it in the dependency order of a migration
(renames, then creates, drops, alters, then constraints and indexes); its
`phase` says how it runs: inside the migration's transaction, or outside it
where Postgres requires (`ALTER TYPE ... ADD VALUE` before, `CREATE INDEX
CONCURRENTLY` after).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from generators.db import ddl
from generators.db.schema import (
    Check,
    Column,
    EnumType,
    ForeignKey,
    Index,
    Schema,
    Table,
    literal,
    quote,
)

Phase = Literal["before", "transaction", "concurrent"]

# Locks, in the words `--plan` prints.
INSTANT = "ACCESS EXCLUSIVE, catalog only (instant)"
REWRITE = "ACCESS EXCLUSIVE for a full table rewrite (blocks reads and writes)"
SCAN = "ACCESS EXCLUSIVE while every row is checked (blocks reads and writes)"
NEW_TABLE = "none (new table)"
VALIDATE = "ACCESS EXCLUSIVE (instant), then SHARE UPDATE EXCLUSIVE while rows are checked"
CONCURRENT = "SHARE UPDATE EXCLUSIVE (reads and writes continue)"
ROW_UPDATE = "ROW EXCLUSIVE while rows are updated, then ACCESS EXCLUSIVE to check"

# Stages: the order operations run in (and, reversed, are undone in).
RENAME, CREATE_TYPE, DROP_DEPENDENT, CREATE_TABLE, ADD_COLUMN = 10, 20, 30, 40, 50
ALTER_COLUMN, DROP_COLUMN, DROP_TABLE, DROP_TYPE, ADD_CONSTRAINT = 60, 70, 80, 90, 100
#: Values of existing rows, once every column they are computed from exists.
FILL = 105
CREATE_INDEX, COMMENT = 110, 120


@dataclass(frozen=True)
class Operation:
    stage: int
    description: str
    lock: str
    forwards: tuple[str, ...]
    #: None: it cannot be undone (the sentence says why).
    backwards: tuple[str, ...] | None
    phase: Phase = "transaction"
    destructive: bool = False
    #: What can go wrong on a live database, in words.
    risk: str | None = None
    #: The model element it serves: "Invoice", "Invoice.status".
    origin: str = ""


# Types ---------------------------------------------------------------------------------


def create_enum(enum: EnumType) -> Operation:
    return Operation(
        CREATE_TYPE,
        f"Create enum type {enum.name} ({', '.join(enum.values)})",
        NEW_TABLE,
        (ddl.create_enum(enum),),
        (ddl.drop_enum(enum),),
        origin=enum.origin,
    )


def drop_enum(enum: EnumType) -> Operation:
    return Operation(
        DROP_TYPE,
        f"Drop enum type {enum.name}",
        INSTANT,
        (ddl.drop_enum(enum),),
        (ddl.create_enum(enum),),
        origin=enum.origin,
    )


def rename_enum(old: EnumType, new: EnumType) -> Operation:
    return Operation(
        RENAME,
        f"Rename enum type {old.name} to {new.name}",
        INSTANT,
        (f"ALTER TYPE {quote(old.name)} RENAME TO {quote(new.name)}",),
        (f"ALTER TYPE {quote(new.name)} RENAME TO {quote(old.name)}",),
        origin=new.origin,
    )


def add_enum_values(old: EnumType, new: EnumType, added: list[str], uses: list[Uses]) -> Operation:
    """`ADD VALUE` each new value in its declared place; undone by recreating `old`."""
    statements = []
    for value in added:
        at = new.values.index(value)
        position = (
            f" AFTER {literal(new.values[at - 1])}" if at else f" BEFORE {literal(new.values[1])}"
        )
        statements.append(
            f"ALTER TYPE {quote(old.name)} ADD VALUE IF NOT EXISTS {literal(value)}{position}"
        )
    return Operation(
        CREATE_TYPE,
        f"Add {', '.join(repr(v) for v in added)} to enum type {new.name}",
        INSTANT,
        tuple(statements),
        recreate_enum_statements(old, old, {}, uses),
        phase="before",
        risk="runs outside the migration's transaction (Postgres requires it); repeating it "
        "is harmless",
        origin=new.origin,
    )


def rename_enum_values(enum: EnumType, renames: dict[str, str]) -> Operation:
    name = quote(enum.name)
    moves = sorted(renames.items())
    return Operation(
        ALTER_COLUMN,
        f"Rename in enum type {enum.name}: "
        + ", ".join(f"{old!r} to {new!r}" for old, new in moves)
        + " (rows keep their value)",
        INSTANT,
        tuple(f"ALTER TYPE {name} RENAME VALUE {literal(o)} TO {literal(n)}" for o, n in moves),
        tuple(f"ALTER TYPE {name} RENAME VALUE {literal(n)} TO {literal(o)}" for o, n in moves),
        origin=enum.origin,
    )


def replace_enum(
    old: EnumType,
    new: EnumType,
    mapping: dict[str, str],
    uses: list[Uses],
) -> Operation:
    """Values removed (rows moved by `mapping`) or reordered: swap the type for a new one.

    `uses` are the columns of the type while the operation runs (the same set
    when it is undone, since it is undone at the same point of the migration).
    """
    removed = [v for v in old.values if v not in new.values]
    moves = ", ".join(f"{v!r} -> {mapping[v]!r}" for v in removed if v in mapping)
    return Operation(
        ALTER_COLUMN,
        f"Replace enum type {new.name} with values ({', '.join(new.values)})"
        + (f", moving rows {moves}" if moves else ""),
        REWRITE,
        recreate_enum_statements(old, new, mapping, uses),
        # Undoing it cannot know where moved rows came from: they stay where they went.
        recreate_enum_statements(new, old, {}, uses),
        destructive=bool(removed),
        risk="rewrites every table using the type; undoing it does not move rows back"
        if removed
        else "rewrites every table using the type",
        origin=new.origin,
    )


@dataclass(frozen=True)
class Uses:
    """A column whose type is an enum (or an array of it), with what depends on it."""

    table: Table
    column: Column
    #: Statements that remove what blocks a type change (partial indexes and generated
    #: columns reading the column), and those that put it back afterwards.
    release: tuple[str, ...] = ()
    restore: tuple[str, ...] = ()


def recreate_enum_statements(
    old: EnumType, new: EnumType, mapping: dict[str, str], uses: list[Uses]
) -> tuple[str, ...]:
    """Swap an enum type for one with other values, moving rows by `mapping`.

    Postgres cannot drop an enum value: the type is renamed away, the new one
    created, every column converted through text, and the old type dropped.
    """
    stale = f"{old.name}__old"
    statements = [f"ALTER TYPE {quote(old.name)} RENAME TO {quote(stale)}", ddl.create_enum(new)]
    for use in uses:
        statements += [*use.release, *_convert_column(use, new.name, mapping), *use.restore]
    statements.append(f"DROP TYPE {quote(stale)}")
    return tuple(statements)


def _convert_column(use: Uses, type_name: str, mapping: dict[str, str]) -> list[str]:
    table, column = quote(use.table.name), quote(use.column.name)
    is_array = use.column.type.endswith("[]")
    target = f"{quote(type_name)}[]" if is_array else quote(type_name)
    moves = sorted(mapping.items())
    if is_array:
        as_text = f"{column}::text[]"
        for old, new in moves:
            as_text = f"array_replace({as_text}, {literal(old)}, {literal(new)})"
    elif moves:
        cases = " ".join(f"WHEN {literal(old)} THEN {literal(new)}" for old, new in moves)
        as_text = f"CASE {column}::text {cases} ELSE {column}::text END"
    else:
        as_text = f"{column}::text"
    statements = []
    if use.column.default is not None:
        statements.append(f"ALTER TABLE {table} ALTER COLUMN {column} DROP DEFAULT")
    statements.append(
        f"ALTER TABLE {table} ALTER COLUMN {column} TYPE {target} USING ({as_text})::{target}"
    )
    if use.column.default is not None:
        statements.append(
            f"ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT {use.column.default}"
        )
    return statements


# Tables --------------------------------------------------------------------------------


def create_table(table: Table) -> Operation:
    return Operation(
        CREATE_TABLE,
        f"Create table {table.name} ({len(table.columns)} columns)",
        NEW_TABLE,
        (ddl.create_table(table), *ddl.comments(table)),
        (ddl.drop_table(table),),
        origin=table.origin,
    )


def drop_table(schema: Schema, table: Table) -> Operation:
    """Drop `table` of `schema`; undoing it restores the table with its keys and indexes."""
    restore = [ddl.create_table(table), *ddl.comments(table)]
    restore += [
        ddl.add_constraint(table, ddl.foreign_key_definition(schema, table, key))
        for key in table.foreign_keys
    ]
    restore += [ddl.create_index(schema, i) for i in schema.indexes if i.table == table.uid]
    return Operation(
        DROP_TABLE,
        f"Drop table {table.name} and every row in it",
        INSTANT,
        (ddl.drop_table(table),),
        tuple(restore),
        destructive=True,
        risk="its rows are deleted; undoing it recreates the table empty",
        origin=table.origin,
    )


def rename_table(old: Table, new: Table) -> Operation:
    return Operation(
        RENAME,
        f"Rename table {old.name} to {new.name} (rows kept)",
        INSTANT,
        (f"ALTER TABLE {quote(old.name)} RENAME TO {quote(new.name)}",),
        (f"ALTER TABLE {quote(new.name)} RENAME TO {quote(old.name)}",),
        origin=new.origin,
    )


def comment_table(old: Table, new: Table) -> Operation:
    return Operation(
        COMMENT,
        f"Set the comment of table {new.name}",
        INSTANT,
        (ddl.comment_on_table(new, new.comment),),
        (ddl.comment_on_table(new, old.comment),),
        origin=new.origin,
    )


# Columns -------------------------------------------------------------------------------


def add_column(table: Table, column: Column, backfill: str | None) -> Operation:
    """Add a column; a required one without default gets `backfill` for existing rows."""
    name, table_name = quote(column.name), quote(table.name)
    drop = (f"ALTER TABLE {table_name} DROP COLUMN {name}",)
    comment = (ddl.comment_on_column(table, column, column.comment),) if column.comment else ()
    if backfill is None or column.nullable or column.default is not None:
        rewrites = column.generated is not None
        return Operation(
            ADD_COLUMN,
            f"Add column {table.name}.{column.name} ({column.type}"
            + (", generated" if rewrites else "")
            + (", required" if not column.nullable else "")
            + ")",
            REWRITE if rewrites else INSTANT,
            (
                f"ALTER TABLE {table_name} ADD COLUMN {ddl.column_definition(table, column)}",
                *comment,
            ),
            drop,
            risk="computes the value for every existing row" if rewrites else None,
            origin=column.origin,
        )
    nullable = column.replace(nullable=True)
    return Operation(
        ADD_COLUMN,
        f"Add required column {table.name}.{column.name} ({column.type}), "
        f"filling existing rows with {backfill}",
        ROW_UPDATE,
        (
            f"ALTER TABLE {table_name} ADD COLUMN {ddl.column_definition(table, nullable)}",
            f"UPDATE {table_name} SET {name} = {backfill}",
            f"ALTER TABLE {table_name} ALTER COLUMN {name} SET NOT NULL",
            *comment,
        ),
        drop,
        risk="updates every existing row",
        origin=column.origin,
    )


def fill_column(table: Table, column: Column, update: str) -> Operation:
    """Compute a stored computed field for the rows a table has (`update`, an UPDATE of them):
    a column added for it starts empty. Undone with the column."""
    return Operation(
        FILL,
        f"Fill {table.name}.{column.name} of the existing rows (a stored computed field)",
        "ROW EXCLUSIVE while every row is updated (reads continue, writes to them wait)",
        (update,),
        (),
        risk="updates every existing row",
        origin=column.origin,
    )


def drop_column(table: Table, column: Column) -> Operation:
    generated = column.generated is not None
    return Operation(
        DROP_COLUMN,
        f"Drop column {table.name}.{column.name}"
        + (" (generated: nothing is lost)" if generated else " and its values"),
        INSTANT,
        (f"ALTER TABLE {quote(table.name)} DROP COLUMN {quote(column.name)}",),
        (
            f"ALTER TABLE {quote(table.name)} ADD COLUMN {ddl.column_definition(table, column)}",
            *((ddl.comment_on_column(table, column, column.comment),) if column.comment else ()),
        ),
        destructive=not generated,
        risk=None
        if generated
        else "its values are deleted; undoing it brings the column back empty",
        origin=column.origin,
    )


def rename_column(table: Table, old: Column, new: Column) -> Operation:
    name = quote(table.name)
    return Operation(
        RENAME,
        f"Rename column {table.name}.{old.name} to {new.name} (values kept)",
        INSTANT,
        (f"ALTER TABLE {name} RENAME COLUMN {quote(old.name)} TO {quote(new.name)}",),
        (f"ALTER TABLE {name} RENAME COLUMN {quote(new.name)} TO {quote(old.name)}",),
        origin=new.origin,
    )


def alter_column_type(
    table: Table, old: Column, new: Column, widening: bool, using: str | None = None
) -> Operation:
    table_name, name = quote(table.name), quote(new.name)
    catalog_only = widening and _catalog_only(old.type, new.type)

    def change(to: str, frm: str) -> str:
        # Between text types, no USING: an explicit cast to varchar(n) silently
        # truncates, while the implicit one refuses values that do not fit.
        how = "" if _is_text(to) and _is_text(frm) else f" USING {using or f'{name}::{to}'}"
        return f"ALTER TABLE {table_name} ALTER COLUMN {name} TYPE {to}{how}"

    return Operation(
        ALTER_COLUMN,
        f"Change the type of {table.name}.{new.name} from {old.type} to {new.type}"
        + ("" if widening else " (narrowing: values that do not fit make it fail)"),
        INSTANT if catalog_only else REWRITE,
        (change(new.type, old.type),),
        (change(old.type, new.type),),
        destructive=not widening,
        risk=None if widening else "values that do not fit the new type stop the migration",
        origin=new.origin,
    )


def _is_text(sql_type: str) -> bool:
    return sql_type == "text" or sql_type.startswith("varchar")


def _catalog_only(old: str, new: str) -> bool:
    """varchar(n) -> varchar(m >= n) or text needs no rewrite in Postgres."""
    return old.startswith("varchar") and (new == "text" or new.startswith("varchar"))


def set_default(table: Table, old: Column, new: Column) -> Operation:
    def statement(default: str | None) -> str:
        action = f"SET DEFAULT {default}" if default is not None else "DROP DEFAULT"
        return f"ALTER TABLE {quote(table.name)} ALTER COLUMN {quote(new.name)} {action}"

    return Operation(
        ALTER_COLUMN,
        f"Set the default of {table.name}.{new.name} to {new.default}"
        if new.default is not None
        else f"Remove the default of {table.name}.{new.name}",
        INSTANT,
        (statement(new.default),),
        (statement(old.default),),
        origin=new.origin,
    )


def set_nullable(table: Table, column: Column, nullable: bool, backfill: str | None) -> Operation:
    table_name, name = quote(table.name), quote(column.name)
    drop = f"ALTER TABLE {table_name} ALTER COLUMN {name} DROP NOT NULL"
    set_ = f"ALTER TABLE {table_name} ALTER COLUMN {name} SET NOT NULL"
    if nullable:
        return Operation(
            ALTER_COLUMN,
            f"Make {table.name}.{column.name} optional",
            INSTANT,
            (drop,),
            (set_,),
            risk=None,
            origin=column.origin,
        )
    fill = (
        (f"UPDATE {table_name} SET {name} = {backfill} WHERE {name} IS NULL",) if backfill else ()
    )
    return Operation(
        ALTER_COLUMN,
        f"Make {table.name}.{column.name} required"
        + (f", filling empty values with {backfill}" if backfill else ""),
        ROW_UPDATE if backfill else SCAN,
        (*fill, set_),
        (drop,),
        risk="fails if a row has no value" if not backfill else "updates rows with no value",
        origin=column.origin,
    )


def comment_column(table: Table, old: Column, new: Column) -> Operation:
    return Operation(
        COMMENT,
        f"Set the comment of {table.name}.{new.name}",
        INSTANT,
        (ddl.comment_on_column(table, new, new.comment),),
        (ddl.comment_on_column(table, new, old.comment),),
        origin=new.origin,
    )


def drop_expression(table: Table, column: Column) -> Operation:
    """A generated column becomes an ordinary one, keeping its values."""
    table_name, name = quote(table.name), quote(column.name)
    return Operation(
        ALTER_COLUMN,
        f"Make {table.name}.{column.name} an ordinary column (current values kept)",
        INSTANT,
        (f"ALTER TABLE {table_name} ALTER COLUMN {name} DROP EXPRESSION",),
        None,
        risk="cannot be undone in place: Postgres cannot turn a column back into a generated one",
        origin=column.origin,
    )


# Constraints and indexes -------------------------------------------------------------------


def add_check(table: Table, check: Check, existing_table: bool) -> Operation:
    return _add_constraint(
        table,
        check.name,
        ddl.check_definition(table, check),
        f"Add check {check.name} on {table.name}: {check.meaning}",
        "fails if an existing row breaks the rule",
        check.origin,
        existing_table,
    )


def _add_constraint(
    table: Table,
    name: str,
    definition: str,
    description: str,
    risk: str,
    origin: str,
    existing_table: bool,
) -> Operation:
    """On an existing table: add it NOT VALID, then validate (a shorter exclusive lock)."""
    drop = (ddl.drop_constraint(table, name),)
    if not existing_table:
        return Operation(
            ADD_CONSTRAINT,
            description,
            NEW_TABLE,
            (ddl.add_constraint(table, definition),),
            drop,
            origin=origin,
        )
    return Operation(
        ADD_CONSTRAINT,
        description,
        VALIDATE,
        (
            ddl.add_constraint(table, definition + " NOT VALID"),
            f"ALTER TABLE {quote(table.name)} VALIDATE CONSTRAINT {quote(name)}",
        ),
        drop,
        risk=risk,
        origin=origin,
    )


def drop_check(table: Table, check: Check) -> Operation:
    return Operation(
        DROP_DEPENDENT,
        f"Drop check {check.name} on {table.name}",
        INSTANT,
        (ddl.drop_constraint(table, check.name),),
        (ddl.add_constraint(table, ddl.check_definition(table, check)),),
        origin=check.origin,
    )


def add_foreign_key(schema: Schema, table: Table, key: ForeignKey, existing: bool) -> Operation:
    target = schema.table(key.target_table).name
    return _add_constraint(
        table,
        key.name,
        ddl.foreign_key_definition(schema, table, key),
        f"Add foreign key {key.name}: {table.name} -> {target}"
        + (f" (on delete {key.on_delete})" if existing else ""),
        "fails if an existing row points at a missing row",
        key.origin,
        existing,
    )


def drop_foreign_key(schema: Schema, table: Table, key: ForeignKey) -> Operation:
    return Operation(
        DROP_DEPENDENT,
        f"Drop foreign key {key.name} on {table.name}",
        INSTANT,
        (ddl.drop_constraint(table, key.name),),
        (ddl.add_constraint(table, ddl.foreign_key_definition(schema, table, key)),),
        origin=key.origin,
    )


def rename_constraint(table: Table, old: str, new: str, origin: str) -> Operation:
    name = quote(table.name)
    return Operation(
        RENAME,
        f"Rename constraint {old} on {table.name} to {new}",
        INSTANT,
        (f"ALTER TABLE {name} RENAME CONSTRAINT {quote(old)} TO {quote(new)}",),
        (f"ALTER TABLE {name} RENAME CONSTRAINT {quote(new)} TO {quote(old)}",),
        origin=origin,
    )


def create_index(schema: Schema, index: Index, existing_table: bool) -> Operation:
    table = schema.table(index.table).name
    kind = "unique index" if index.unique else "index"
    if not existing_table:
        return Operation(
            CREATE_INDEX,
            f"Create {kind} {index.name} on {table}",
            NEW_TABLE,
            (ddl.create_index(schema, index),),
            (ddl.drop_index(index),),
            origin=index.origin,
        )
    return Operation(
        CREATE_INDEX,
        f"Create {kind} {index.name} on {table} concurrently",
        CONCURRENT,
        (ddl.create_index(schema, index, concurrently=True),),
        (ddl.drop_index(index),),
        phase="concurrent",
        risk="built after the migration's transaction commits; if it fails, the partial "
        "index is dropped and `gen migrate apply` retries it"
        + ("; duplicates make a unique index fail" if index.unique else ""),
        origin=index.origin,
    )


def drop_index(old_schema: Schema, index: Index) -> Operation:
    return Operation(
        DROP_DEPENDENT,
        f"Drop index {index.name}",
        INSTANT,
        (ddl.drop_index(index),),
        (ddl.create_index(old_schema, index),),
        origin=index.origin,
    )


def rename_index(old: Index, new: Index) -> Operation:
    return Operation(
        RENAME,
        f"Rename index {old.name} to {new.name}",
        INSTANT,
        (f"ALTER INDEX {quote(old.name)} RENAME TO {quote(new.name)}",),
        (f"ALTER INDEX {quote(new.name)} RENAME TO {quote(old.name)}",),
        origin=new.origin,
    )
