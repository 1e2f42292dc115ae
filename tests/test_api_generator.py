"""The `api` generator's output: pinned, formatted as ruff formats, deterministic, traced."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from compiler import ir
from compiler.compile import compile_project
from generators.api import ApiGenerator, operation_ids
from generators.base import Artifact

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "invoices"
RUFF = Path(sys.executable).parent / "ruff"


@pytest.fixture(scope="module")
def project() -> ir.Project:
    return compile_project(EXAMPLE).project


@pytest.fixture(scope="module")
def artifacts(project: ir.Project) -> dict[str, Artifact]:
    return {a.path: a for a in ApiGenerator().generate(project)}


def test_the_example_schemas_and_invoice_routes_are_pinned(
    artifacts: dict[str, Artifact], snapshot: SnapshotAssertion
) -> None:
    assert artifacts["api/schemas.py"].content.decode() == snapshot(name="schemas")
    assert artifacts["api/rows/invoice.py"].content.decode() == snapshot(name="invoice_row")
    assert artifacts["api/shapes/invoice.py"].content.decode() == snapshot(name="invoice_shapes")
    assert artifacts["api/routes/invoice.py"].content.decode() == snapshot(name="invoice_routes")
    assert artifacts["api/app.py"].content.decode() == snapshot(name="app")


def test_generating_twice_gives_the_same_bytes(project: ir.Project) -> None:
    first = [(a.path, a.content, a.regions) for a in ApiGenerator().generate(project)]
    second = [(a.path, a.content, a.regions) for a in ApiGenerator().generate(project)]
    assert first == second


def test_the_output_is_formatted_and_clean_as_ruff_sees_it(
    artifacts: dict[str, Artifact], tmp_path: Path
) -> None:
    for path, artifact in artifacts.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(artifact.content)
    formatted = subprocess.run(
        [str(RUFF), "format", "--check", "--diff", "--isolated", str(tmp_path)],
        capture_output=True,
        text=True,
    )
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr
    checked = subprocess.run(
        [
            str(RUFF),
            "check",
            "--isolated",
            "--select",
            "E,F,I",
            "--line-length",
            "120",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


def test_every_entity_has_a_router_with_stable_operation_ids(
    project: ir.Project, artifacts: dict[str, Artifact]
) -> None:
    invoice = project.entity("Invoice")
    assert invoice is not None
    assert operation_ids(invoice) == {
        "list": "listInvoices",
        "get": "getInvoice",
        "create": "createInvoice",
        "update": "updateInvoice",
        "delete": "deleteInvoice",
        "action:send": "sendInvoice",
        "action:pay": "payInvoice",
        "action:void": "voidInvoice",
        "action:remind": "remindInvoice",
    }
    for entity in project.entities:
        routes = artifacts[f"api/routes/{entity.table}.py"]
        assert routes.origins == (entity.name,)
        assert f'ENTITY = "{entity.name}"' in routes.content.decode()


def test_each_schema_class_is_traced_to_its_entity(artifacts: dict[str, Artifact]) -> None:
    shapes = artifacts["api/shapes/invoice.py"]
    assert shapes.origins == ("Invoice",)
    lines = shapes.content.decode().splitlines()
    start = lines.index("class InvoiceCreate(BaseModel):") + 1
    owner = [r.origin for r in shapes.regions if r.start <= start <= r.end]
    assert owner == ["Invoice"]
    # The facade re-exports every entity's shapes under their one name.
    facade = artifacts["api/schemas.py"].content.decode()
    assert "from .shapes.invoice import (" in facade and '"InvoiceCreate",' in facade
