"""Where a project's migrations live, known without importing the migration runner."""

from __future__ import annotations

MIGRATIONS_DIR = "migrations"

ENV_PY = '''"""Alembic environment of this project's migrations (written by `gen migrate make`).

Run them with `gen migrate apply | status | down`. Plain Alembic works too,
given `sqlalchemy.url` in an alembic.ini whose script_location is this folder.
"""

from runtime.migrations import run_alembic_env

run_alembic_env()
'''
