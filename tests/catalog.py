"""The public schema of a database as plain data, to compare databases built differently.

`catalog(url)` reads pg_catalog into nested dicts keyed by name (columns too, so that
column order does not matter) whose leaves are what PostgreSQL itself prints:
`format_type`, `pg_get_expr`, `pg_get_constraintdef`, `pg_get_indexdef`, ... Two
databases compare equal exactly when their public schemas are the same, whether one was
built by a DDL file and the other by a chain of migrations. Bookkeeping tables
(`alembic_version`, `reframe_*`) and objects that belong to an extension are left out.
`diff_catalogs(a, b)` lists the differences for an assertion message.

Read: tables (comment, row security, and by name their columns, constraints, indexes,
policies and triggers), views, enum types with their labels in order, functions and
installed extensions. Not read: sequences (an identity column says only "always" or
"by default"), domains, composite types, grants, partition bounds, storage parameters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import psycopg

from tests.pg import connect

Catalog = dict[str, Any]

#: Excludes whatever an extension created (pg_trgm's functions, for instance).
_NOT_FROM_EXTENSION = """NOT EXISTS (
    SELECT FROM pg_depend d
    WHERE d.classid = '{catalog}'::regclass AND d.objid = {oid} AND d.deptype = 'e'
)"""

_TABLES = f"""
SELECT c.relname, obj_description(c.oid, 'pg_class'), c.relrowsecurity, c.relforcerowsecurity
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('r', 'p')
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_class", oid="c.oid")}
ORDER BY 1
"""

_COLUMNS = """
SELECT c.relname, a.attname, format_type(a.atttypid, a.atttypmod), a.attnotnull,
       pg_get_expr(ad.adbin, ad.adrelid), a.attidentity, a.attgenerated,
       CASE WHEN a.attcollation <> t.typcollation THEN co.collname END,
       col_description(c.oid, a.attnum)
FROM pg_attribute a
JOIN pg_class c ON c.oid = a.attrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
JOIN pg_type t ON t.oid = a.atttypid
LEFT JOIN pg_attrdef ad ON ad.adrelid = a.attrelid AND ad.adnum = a.attnum
LEFT JOIN pg_collation co ON co.oid = a.attcollation
WHERE n.nspname = 'public' AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY 1, 2
"""

# PostgreSQL 18 also lists NOT NULL as constraints ('n'); the columns already say it.
_CONSTRAINTS = """
SELECT c.relname, k.conname, k.contype, pg_get_constraintdef(k.oid)
FROM pg_constraint k
JOIN pg_class c ON c.oid = k.conrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND k.contype <> 'n'
ORDER BY 1, 2
"""

_INDEXES = """
SELECT c.relname, ic.relname, pg_get_indexdef(i.indexrelid), i.indisvalid
FROM pg_index i
JOIN pg_class c ON c.oid = i.indrelid
JOIN pg_class ic ON ic.oid = i.indexrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
ORDER BY 1, 2
"""

_POLICIES = """
SELECT c.relname, p.polname, p.polcmd, p.polpermissive,
       ARRAY(SELECT CASE WHEN r = 0 THEN 'public' ELSE pg_get_userbyid(r) END
             FROM unnest(p.polroles) r ORDER BY 1),
       pg_get_expr(p.polqual, p.polrelid), pg_get_expr(p.polwithcheck, p.polrelid)
FROM pg_policy p
JOIN pg_class c ON c.oid = p.polrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public'
ORDER BY 1, 2
"""

_TRIGGERS = """
SELECT c.relname, g.tgname, pg_get_triggerdef(g.oid)
FROM pg_trigger g
JOIN pg_class c ON c.oid = g.tgrelid
JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND NOT g.tgisinternal
ORDER BY 1, 2
"""

_VIEWS = f"""
SELECT c.relname, c.relkind = 'm', pg_get_viewdef(c.oid)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = 'public' AND c.relkind IN ('v', 'm')
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_class", oid="c.oid")}
ORDER BY 1
"""

_ENUMS = f"""
SELECT t.typname, array_agg(e.enumlabel ORDER BY e.enumsortorder)
FROM pg_type t
JOIN pg_namespace n ON n.oid = t.typnamespace
JOIN pg_enum e ON e.enumtypid = t.oid
WHERE n.nspname = 'public' AND {_NOT_FROM_EXTENSION.format(catalog="pg_type", oid="t.oid")}
GROUP BY t.typname
ORDER BY 1
"""

_FUNCTIONS = f"""
SELECT p.proname || '(' || pg_get_function_identity_arguments(p.oid) || ')',
       pg_get_functiondef(p.oid)
FROM pg_proc p JOIN pg_namespace n ON n.oid = p.pronamespace
WHERE n.nspname = 'public' AND p.prokind IN ('f', 'p')
  AND {_NOT_FROM_EXTENSION.format(catalog="pg_proc", oid="p.oid")}
ORDER BY 1
"""

_EXTENSIONS = "SELECT extname FROM pg_extension ORDER BY extname"

_CONSTRAINT_TYPES = {
    "c": "check",
    "f": "foreign key",
    "p": "primary key",
    "u": "unique",
    "t": "trigger",
    "x": "exclusion",
}
_IDENTITY = {"": None, "a": "always", "d": "by default"}
_POLICY_COMMANDS = {"*": "all", "r": "select", "a": "insert", "w": "update", "d": "delete"}


def catalog(url: str) -> Catalog:
    """Read the public schema of the database at `url` (a SQLAlchemy or libpq URL)."""
    with connect(url) as conn:
        tables = _tables(conn)
        _add_members(conn, tables)
        return {
            "tables": tables,
            "views": {
                name: {"materialized": materialized, "definition": definition}
                for name, materialized, definition in conn.execute(_VIEWS)
            },
            "enums": dict(conn.execute(_ENUMS).fetchall()),
            "functions": dict(conn.execute(_FUNCTIONS).fetchall()),
            "extensions": [name for (name,) in conn.execute(_EXTENSIONS)],
        }


def is_bookkeeping(table: str) -> bool:
    """Say whether a table records migrations or generator state rather than app data."""
    return table == "alembic_version" or table.startswith("reframe_")


def _tables(conn: psycopg.Connection[Any]) -> dict[str, Catalog]:
    """Return each app table with its comment, row security and empty member maps."""
    return {
        name: {
            "comment": comment,
            "row_security": {"enabled": enabled, "forced": forced},
            "columns": {},
            "constraints": {},
            "indexes": {},
            "policies": {},
            "triggers": {},
        }
        for name, comment, enabled, forced in conn.execute(_TABLES)
        if not is_bookkeeping(name)
    }


def _add_members(conn: psycopg.Connection[Any], tables: dict[str, Catalog]) -> None:
    """Fill in each table's columns, constraints, indexes, policies and triggers."""
    for section, query, shape in _MEMBERS:
        for table, name, *details in conn.execute(query):
            if table in tables:
                tables[table][section][name] = shape(*details)


def _column(
    type_: str,
    not_null: bool,
    expr: str | None,
    identity: str,
    generated: str,
    collation: str | None,
    comment: str | None,
) -> Catalog:
    """Describe a column; a generated column's expression is not a default."""
    return {
        "type": type_,
        "not_null": not_null,
        "default": None if generated else expr,
        "identity": _IDENTITY[identity],
        "generated": expr if generated else None,
        "collation": collation,
        "comment": comment,
    }


def _constraint(kind: str, definition: str) -> Catalog:
    """Describe a constraint by its kind and its definition as PostgreSQL prints it."""
    return {"type": _CONSTRAINT_TYPES[kind], "definition": definition}


def _index(definition: str, valid: bool) -> Catalog:
    """Describe an index by its CREATE INDEX statement and whether it is usable."""
    return {"definition": definition, "valid": valid}


def _policy(
    command: str, permissive: bool, roles: list[str], using: str | None, check: str | None
) -> Catalog:
    """Describe a row security policy."""
    return {
        "command": _POLICY_COMMANDS[command],
        "permissive": permissive,
        "roles": roles,
        "using": using,
        "with_check": check,
    }


def _trigger(definition: str) -> str:
    """Describe a trigger by its CREATE TRIGGER statement."""
    return definition


#: (section of a table, query returning table, name and details, shape of the details)
_MEMBERS: list[tuple[str, str, Callable[..., Any]]] = [
    ("columns", _COLUMNS, _column),
    ("constraints", _CONSTRAINTS, _constraint),
    ("indexes", _INDEXES, _index),
    ("policies", _POLICIES, _policy),
    ("triggers", _TRIGGERS, _trigger),
]


def diff_catalogs(a: Catalog, b: Catalog) -> list[str]:
    """List where two catalogs differ, one readable line per difference."""
    return list(_diff(a, b, ""))


def _diff(a: Any, b: Any, path: str) -> Iterator[str]:
    """Yield the differences below `path`, walking dicts key by key."""
    if not (isinstance(a, dict) and isinstance(b, dict)):
        if a != b:
            yield f"{path}: {a!r} != {b!r}"
        return
    for key in sorted(a.keys() | b.keys()):
        where = f"{path}.{key}" if path else key
        if key not in b:
            yield f"{where}: only in the first"
        elif key not in a:
            yield f"{where}: only in the second"
        else:
            yield from _diff(a[key], b[key], where)
