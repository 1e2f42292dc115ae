"""What a running API knows of the model: the IR and the tables, looked up by name or path."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from compiler import ir
from runtime.hook_import import read_file

#: A model at hand, by the bytes of its ir.json (`known_model`).
_KNOWN: dict[bytes, ir.Project] = {}


def known_model(ir_json: bytes, project: ir.Project) -> None:
    """Say that `ir_json` holds `project`: `gen dev` has the model it just built, and the
    API it then loads takes it instead of parsing ir.json again (0.5 s at 200 entities).
    One is kept: the last."""
    _KNOWN.clear()
    _KNOWN[ir_json] = project


@dataclass(frozen=True)
class AppModel:
    project: ir.Project
    #: The generated `db/tables.py` metadata (same tables as `schema.postgres.sql`).
    metadata: sa.MetaData

    @classmethod
    def load(cls, ir_json: Path, metadata: sa.MetaData) -> AppModel:
        # From disk, or from the hook-store snapshot `gen serve` mounted.
        data = read_file(ir_json)
        known = _KNOWN.get(data)
        return cls(known if known is not None else ir.Project.model_validate_json(data), metadata)

    @cached_property
    def tables(self) -> dict[str, sa.Table]:
        return dict(self.metadata.tables)

    @cached_property
    def by_path(self) -> dict[str, ir.Entity]:
        """Entities by their URL segment: "invoice-lines" -> InvoiceLine."""
        return {e.path: e for e in self.project.entities}

    def entity(self, name: str) -> ir.Entity:
        found = self.project.entity(name)
        if found is None:
            raise KeyError(f"no entity {name!r} in the model")
        return found

    def table(self, entity: ir.Entity | str) -> sa.Table:
        chosen = self.entity(entity) if isinstance(entity, str) else entity
        return self.tables[chosen.table]

    @staticmethod
    def by_field(entity: ir.Entity, columns: Mapping[str, Any] | sa.RowMapping) -> dict[str, Any]:
        """A row's stored values keyed by field name instead of column (refs as keys)."""
        return {
            f.name: columns[f.column]
            for f in entity.fields
            if f.column is not None and f.column in columns
        }

    def column(self, entity: ir.Entity, field_name: str) -> sa.Column[object]:
        found = entity.field(field_name)
        if found is None or found.column is None:
            raise KeyError(f"{entity.name}.{field_name} has no column")
        return self.table(entity).c[found.column]
