"""The IR contract: pinned for the example, schema-valid, frozen, JSON round-trip."""

from __future__ import annotations

import json
from pathlib import Path

import jsonschema
import pytest
from pydantic import ValidationError
from syrupy.assertion import SnapshotAssertion

from compiler import ir
from compiler.compile import compile_project
from compiler.ir.schema import SCHEMA_PATH, schema_text
from generators.ir import IrGenerator
from tests.conftest import EXAMPLE


@pytest.fixture(scope="module")
def example_ir() -> ir.Project:
    return compile_project(EXAMPLE).project


@pytest.fixture(scope="module")
def example_ir_json(example_ir: ir.Project) -> str:
    (artifact,) = IrGenerator().generate(example_ir)
    return artifact.content.decode()


def test_example_ir_is_pinned(example_ir_json: str, snapshot: SnapshotAssertion) -> None:
    assert example_ir_json == snapshot


def test_published_schema_is_current() -> None:
    assert SCHEMA_PATH.read_text(encoding="utf-8") == schema_text(), (
        "docs/ir.schema.json is stale: run `.venv/bin/python -m compiler.ir.schema`"
    )


def test_ir_json_validates_against_the_published_schema(example_ir_json: str) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(json.loads(example_ir_json), schema, cls=jsonschema.Draft202012Validator)


def test_schema_rejects_an_ir_with_an_unknown_key(example_ir_json: str) -> None:
    schema = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    data = json.loads(example_ir_json)
    data["entities"][3]["colour"] = "blue"
    with pytest.raises(jsonschema.ValidationError, match="colour"):
        jsonschema.validate(data, schema, cls=jsonschema.Draft202012Validator)


def test_json_round_trip_is_exact(example_ir: ir.Project, example_ir_json: str) -> None:
    loaded = ir.Project.model_validate_json(example_ir_json)
    assert loaded == example_ir
    assert loaded.model_dump_json() == example_ir.model_dump_json()


def test_ir_is_frozen(example_ir: ir.Project) -> None:
    invoice = example_ir.entity("Invoice")
    assert invoice is not None
    with pytest.raises(ValidationError, match="frozen"):
        invoice.name = "Bill"  # type: ignore[misc]
    assert isinstance(invoice.fields, tuple), "sequences are tuples, not mutable lists"


def test_ir_forbids_unknown_keys(example_ir: ir.Project) -> None:
    data = example_ir.model_dump(mode="json")
    data["entities"][0]["fields"][0]["colour"] = "blue"
    with pytest.raises(ValidationError, match="colour"):
        ir.Project.model_validate(data)


def test_ir_carries_its_schema_version(example_ir_json: str) -> None:
    assert json.loads(example_ir_json)["schema_version"] == ir.SCHEMA_VERSION


def test_every_element_has_a_unique_stable_identity(example_ir: ir.Project) -> None:
    uids = [e.uid for e in example_ir.entities] + [
        f.uid for e in example_ir.entities for f in e.fields
    ]
    assert len(uids) == len(set(uids))


def test_declarations_remember_their_line(example_ir: ir.Project) -> None:
    status = example_ir.field("Invoice.status")
    assert status is not None
    source = Path(EXAMPLE / status.loc.file).read_text().splitlines()
    assert source[status.loc.line - 1].strip().startswith('"status": state(')


def test_every_entity_and_field_has_its_region_in_ir_json(example_ir: ir.Project) -> None:
    (artifact,) = IrGenerator().generate(example_ir)
    lines = artifact.content.decode().splitlines()
    expected = {e.name for e in example_ir.entities} | {
        f"{e.name}.{f.name}" for e in example_ir.entities for f in e.fields
    }
    assert {r.origin for r in artifact.regions} == expected
    for region in artifact.regions:
        node = example_ir.element(region.origin)
        assert node is not None
        body = "\n".join(lines[region.start - 1 : region.end])
        assert lines[region.start - 1].strip() == "{"
        assert lines[region.end - 1].strip() in ("}", "},")
        assert f'"uid": "{node.uid}"' in "\n".join(lines[region.start : region.start + 2]), region
        assert json.loads(body.rstrip(",")) == node.model_dump(mode="json", exclude_none=True)
