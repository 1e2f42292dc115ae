"""The API's database: one engine per app, one transaction per request."""

from __future__ import annotations

from collections.abc import Iterator

import sqlalchemy as sa
from fastapi import Request

from runtime.database import normalize_url


def make_engine(url: str) -> sa.Engine:
    # Pool sized for a small server; pre-ping survives a restarted database.
    return sa.create_engine(normalize_url(url), pool_size=10, max_overflow=10, pool_pre_ping=True)


def transaction(request: Request) -> Iterator[sa.Connection]:
    """FastAPI dependency: a connection in a transaction, committed when the endpoint returns."""
    engine: sa.Engine = request.app.state.engine
    with engine.begin() as connection:
        yield connection
