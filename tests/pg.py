"""A PostgreSQL server for the tests, and throwaway databases on it.

The server is, in order: `TEST_DATABASE_URL`; a local server on 127.0.0.1:5432 that
lets user `postgres` (or the current user) in without a password; an embedded
PostgreSQL started with pgserver in a temporary folder.
"""

from __future__ import annotations

import getpass
import os
import socket
import uuid
from pathlib import Path
from typing import Any

import psycopg
from psycopg import sql
from sqlalchemy.engine import make_url

from runtime.database import embedded_database, normalize_url

LOCAL_HOST = "127.0.0.1"
LOCAL_PORT = 5432
#: Seconds to wait for the local server before trying the next candidate.
LOCAL_TIMEOUT = 1.0
#: Databases made by `create_database` start with this, so that strays are easy to spot.
PREFIX = "reframe_test_"


def connect_kwargs(url: str) -> dict[str, Any]:
    """Return psycopg.connect() keyword arguments for a SQLAlchemy or libpq URL."""
    parsed = make_url(normalize_url(url))
    kwargs: dict[str, Any] = {
        "host": parsed.host,
        "port": parsed.port,
        "user": parsed.username,
        "password": parsed.password,
        "dbname": parsed.database,
        **parsed.query,
    }
    return {key: value for key, value in kwargs.items() if value is not None}


def connect(url: str) -> psycopg.Connection[Any]:
    """Open an autocommit connection to `url`, giving up after about two seconds."""
    return psycopg.connect(**connect_kwargs(url), autocommit=True, connect_timeout=2)


def connection_error(url: str) -> str | None:
    """Return why `url` does not accept a connection and a query, or None if it does."""
    try:
        with connect(url) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as error:
        return str(error).strip()
    return None


def can_connect(url: str) -> bool:
    """Say whether `url` accepts a connection and runs a query."""
    return connection_error(url) is None


def local_server_url() -> str | None:
    """Return the URL of a password-less local server on 127.0.0.1:5432, if there is one."""
    try:
        socket.create_connection((LOCAL_HOST, LOCAL_PORT), timeout=LOCAL_TIMEOUT).close()
    except OSError:
        return None
    for user in dict.fromkeys(["postgres", getpass.getuser()]):
        url = f"postgresql+psycopg://{user}@{LOCAL_HOST}:{LOCAL_PORT}/postgres"
        if can_connect(url):
            return url
    return None


def find_server(scratch: Path) -> tuple[str | None, list[str]]:
    """Return an admin URL for the tests' server and what was tried on the way.

    `scratch` is an empty folder the embedded server may keep its data in. The URL is
    None when no server could be found or started.
    """
    explicit = os.environ.get("TEST_DATABASE_URL")
    if explicit:
        error = connection_error(normalize_url(explicit))
        if error:
            return None, [f"TEST_DATABASE_URL={explicit} ({error})"]
        return normalize_url(explicit), []
    tried = [f"postgres or {getpass.getuser()} at {LOCAL_HOST}:{LOCAL_PORT} without a password"]
    local = local_server_url()
    if local:
        return local, tried
    tried.append(f"an embedded server (pgserver) in {scratch}")
    try:
        return embedded_database(scratch), tried
    except Exception as error:  # pgserver raises whatever its subprocesses raise
        tried[-1] += f": {type(error).__name__}: {error}"
        return None, tried


def create_database(admin_url: str) -> str:
    """Create an empty, uniquely named database from template0 and return its URL."""
    name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    with connect(admin_url) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {} TEMPLATE template0").format(sql.Identifier(name)))
    url = make_url(normalize_url(admin_url)).set(database=name)
    return url.render_as_string(hide_password=False)


def drop_database(admin_url: str, url: str) -> None:
    """Drop the database `url` names, closing whatever connections are still open on it."""
    name = make_url(normalize_url(url)).database
    if not name:
        raise ValueError(f"the URL names no database: {url}")
    with connect(admin_url) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
