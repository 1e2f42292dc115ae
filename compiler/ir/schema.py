"""The published JSON Schema of the IR: `python -m compiler.ir.schema` rewrites it."""

from __future__ import annotations

import json
from pathlib import Path

from compiler.ir.nodes import SCHEMA_VERSION, Project

SCHEMA_PATH = Path(__file__).resolve().parents[2] / "docs" / "ir.schema.json"


def ir_json_schema() -> dict[str, object]:
    schema = Project.model_json_schema(mode="serialization")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": f"https://reframe.dev/schemas/ir/v{SCHEMA_VERSION}.json",
        **schema,
    }


def schema_text() -> str:
    return json.dumps(ir_json_schema(), indent=2, sort_keys=True) + "\n"


if __name__ == "__main__":
    SCHEMA_PATH.write_text(schema_text(), encoding="utf-8")
    print(f"wrote {SCHEMA_PATH}")
