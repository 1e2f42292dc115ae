"""`gen seed`: the model compiled (or its cached IR), its tables, and runtime.seed."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from compiler.ir_cache import compile_or_reuse
from generators.db import DbGenerator
from runtime.api.model import AppModel
from runtime.database import normalize_url
from runtime.seed import SeedReport, seed

TABLES_PATH = "db/tables.py"


def app_model(project_root: Path) -> AppModel:
    """The model and the SQLAlchemy metadata `gen generate` would write for it."""
    project = compile_or_reuse(project_root).project
    (tables,) = [a for a in DbGenerator().generate(project) if a.path == TABLES_PATH]
    namespace: dict[str, Any] = {"__name__": "reframe_seed_tables"}
    exec(compile(tables.content, TABLES_PATH, "exec"), namespace)
    return AppModel(project, namespace["metadata"])


def seed_project(project_root: Path, url: str, count: int, seed_value: int) -> SeedReport:
    engine = sa.create_engine(normalize_url(url), poolclass=sa.pool.NullPool)
    try:
        return seed(engine, app_model(project_root), count, seed_value)
    finally:
        engine.dispose()
