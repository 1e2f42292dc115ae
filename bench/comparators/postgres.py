"""Scratch Postgres databases for the benchmark, one per tool and size, dropped afterwards.

The server is `TEST_DATABASE_URL` when set, else the local one on
127.0.0.1:5432 as user postgres (trust auth). Its database in the URL is
only used to create and drop the scratch ones.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from urllib.parse import urlsplit, urlunsplit

import psycopg
from psycopg import sql

LOCAL_SERVER = "postgresql://postgres@127.0.0.1:5432/postgres"


def server_url() -> str:
    """The server's URL in libpq form (`postgresql://`, no SQLAlchemy driver suffix)."""
    url = os.environ.get("TEST_DATABASE_URL") or LOCAL_SERVER
    parts = urlsplit(url)
    return urlunsplit(parts._replace(scheme=parts.scheme.split("+", 1)[0]))


def database_url(server: str, name: str) -> str:
    return urlunsplit(urlsplit(server)._replace(path=f"/{name}"))


def sqlalchemy_url(url: str) -> str:
    """The same database for SQLAlchemy, through psycopg 3."""
    return urlunsplit(urlsplit(url)._replace(scheme="postgresql+psycopg"))


def django_database(url: str) -> dict[str, str]:
    """The same database as a Django `DATABASES` entry."""
    parts = urlsplit(url)
    return {
        "ENGINE": "django.db.backends.postgresql",
        "NAME": parts.path.lstrip("/"),
        "USER": parts.username or "",
        "PASSWORD": parts.password or "",
        "HOST": parts.hostname or "",
        "PORT": str(parts.port or ""),
    }


def server_version(server: str) -> str:
    with psycopg.connect(server) as connection:
        row = connection.execute("SHOW server_version").fetchone()
    return str(row[0]) if row else "unknown"


@contextmanager
def scratch_database(server: str, label: str) -> Iterator[str]:
    """Create an empty database named after `label`, this process and a random tag; drop it after."""
    name = f"bench_{label}_{os.getpid()}_{secrets.token_hex(3)}"
    with psycopg.connect(server, autocommit=True) as connection:
        connection.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield database_url(server, name)
    finally:
        with psycopg.connect(server, autocommit=True) as connection:
            # FORCE: a killed (timed-out) client may still hold a connection.
            connection.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
