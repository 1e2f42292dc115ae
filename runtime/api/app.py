"""`create_app`: what every generated `api/app.py` calls.

The app serves the generated routers and auth under `/api`, answers every
error as problem+json, publishes OpenAPI 3.1 at `/api/openapi.json` with
docs at `/api/docs`, and holds in `app.state`:

- `model`: the `AppModel` (IR + tables);
- `engine`: the database, from `database_url` or the `DATABASE_URL`
  environment variable (`gen serve` sets it); None without either;
- `project_root`: where effect modules are imported from;
- `dev`: magic links land in the outbox instead of being mailed.
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from fastapi import APIRouter, FastAPI

from runtime.api.db import make_engine
from runtime.api.model import AppModel
from runtime.api.problems import document_problems, install_problem_handlers


def create_app(
    *,
    title: str,
    ir_json: Path,
    metadata: sa.MetaData,
    routers: Sequence[APIRouter],
    database_url: str | None = None,
    project_root: Path | None = None,
    dev: bool | None = None,
) -> FastAPI:
    model = AppModel.load(ir_json, metadata)

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        yield
        if app.state.engine is not None:
            app.state.engine.dispose()

    app = FastAPI(
        title=title,
        openapi_url="/api/openapi.json",
        docs_url="/api/docs",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.model = model
    url = database_url or os.environ.get("DATABASE_URL")
    # Engines connect lazily: importing the app (to print its OpenAPI) needs no database.
    app.state.engine = make_engine(url) if url else None
    app.state.project_root = project_root or Path(os.environ.get("REFRAME_PROJECT", os.getcwd()))
    app.state.dev = dev if dev is not None else os.environ.get("REFRAME_DEV", "1") == "1"
    if str(app.state.project_root) not in sys.path:
        # Effect functions (`invoices.effects:send_email`) live in the project.
        sys.path.append(str(app.state.project_root))
    install_problem_handlers(app)
    from runtime.api.audit import audit_router
    from runtime.api.auth import auth_router

    api = APIRouter(prefix="/api")
    api.include_router(auth_router(model))
    api.include_router(audit_router())
    app.include_router(api)
    # The entities' routers carry their full prefix (`/api/invoices`): their routes are
    # taken as they are. `include_router` would build each route again, twice through
    # `api`: most of the time a 200-entity API took to load.
    for router in routers:
        app.router.routes.extend(router.routes)
    _document(app)
    return app


def _document(app: FastAPI) -> None:
    """`/api/openapi.json`: FastAPI's document, with the problem answers every operation has."""
    plain = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = document_problems(plain())
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
