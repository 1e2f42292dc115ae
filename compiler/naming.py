"""Naming conventions of DSL.md, and stable identities.

`InvoiceLine` -> table `invoice_line`, path `invoice-lines`, route
`/app/invoice-lines`; a ref named `customer` -> column `customer_id`.
Identifiers longer than PostgreSQL's 63 bytes are shortened with a hash so
that every name stays deterministic and unique.
"""

from __future__ import annotations

import functools
import hashlib
import keyword
import re

import inflection

PG_MAX_IDENTIFIER = 63
ENTITY_NAME = re.compile(r"^[A-Z][A-Za-z0-9]*$")
FIELD_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@functools.lru_cache(maxsize=8192)
def snake(name: str) -> str:
    return inflection.underscore(name)


@functools.lru_cache(maxsize=8192)
def plural(word: str) -> str:
    return inflection.pluralize(word)


@functools.lru_cache(maxsize=8192)
def singular(word: str) -> str:
    return inflection.singularize(word)


def table_name(entity: str) -> str:
    return snake(entity)


def path_segment(entity: str) -> str:
    """Plural kebab-case: `InvoiceLine` -> `invoice-lines`."""
    return inflection.dasherize(plural(snake(entity)))


@functools.lru_cache(maxsize=8192)
def humanize(name: str) -> str:
    """`due_date` -> `Due date`; `InvoiceLine` -> `Invoice line`."""
    return inflection.humanize(snake(name))


def ref_column(field: str) -> str:
    return f"{field}_id"


def fit_identifier(name: str) -> str:
    """Keep a SQL identifier within 63 bytes, deterministically."""
    if len(name) <= PG_MAX_IDENTIFIER:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: PG_MAX_IDENTIFIER - 9]}_{digest}"


def index_name(table: str, columns: tuple[str, ...], unique: bool) -> str:
    prefix = "uq" if unique else "ix"
    return fit_identifier(f"{prefix}_{table}_{'_'.join(columns)}")


def is_reserved_word(name: str) -> bool:
    """Names that would break generated Python attributes or JavaScript objects."""
    return keyword.iskeyword(name) or name in {"constructor", "prototype", "__proto__"}


def stable_uid(kind: str, *origin_names: str) -> str:
    """An identity that survives renames declared with `renamed_from`.

    It hashes the element's original name (the `renamed_from` value when
    given), so `Bill` renamed to `Invoice` keeps the identity it had as `Bill`.
    """
    digest = hashlib.sha256("/".join((kind, *origin_names)).encode()).hexdigest()
    return f"{kind[0]}_{digest[:12]}"
