"""The `gen` command as a user runs it: help, init, check, generate, inspect."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from cli.main import main


def gen(*args: str, cwd: Path | None = None) -> Result:
    runner = CliRunner()
    previous = Path.cwd()
    try:
        if cwd is not None:
            os.chdir(cwd)
        return runner.invoke(main, list(args), catch_exceptions=False)
    finally:
        os.chdir(previous)


def test_help_names_every_command_with_a_summary() -> None:
    result = gen("--help")
    assert result.exit_code == 0
    for command in ("init", "check", "generate", "inspect"):
        assert command in result.output


def test_init_then_check_then_generate(tmp_path: Path) -> None:
    target = tmp_path / "My App"
    result = gen("init", str(target))
    assert result.exit_code == 0, result.output
    assert 'name = "my-app"' in (target / "gen.toml").read_text()
    check = gen("check", cwd=target)
    assert check.exit_code == 0 and "ok: 1 entity" in check.output
    generated = gen("generate", cwd=target / "domain")  # found from a subfolder
    assert generated.exit_code == 0, generated.output
    assert "new snapshot 1: 61 written, 0 unchanged" in generated.output
    again = gen("generate", cwd=target)
    assert "no model change, snapshot 1: 0 written, 61 unchanged" in again.output


def test_init_refuses_a_folder_with_content(tmp_path: Path) -> None:
    (tmp_path / "keep.txt").write_text("mine")
    result = gen("init", str(tmp_path))
    assert result.exit_code == 1
    assert "not empty" in result.output
    assert (tmp_path / "keep.txt").read_text() == "mine"


def test_commands_outside_a_project_explain_what_to_do(tmp_path: Path) -> None:
    result = gen("check", cwd=tmp_path)
    assert result.exit_code == 1
    assert "no gen.toml" in result.output and "gen init" in result.output


def test_check_reports_errors_with_file_and_line(example_copy: Path) -> None:
    model = example_copy / "domain" / "catalog.model.py"
    text = model.read_text().replace("ref(TaxRate)", 'ref("TaxRat")')
    model.write_text(text)
    line = next(i for i, s in enumerate(text.splitlines(), 1) if 'TaxRat"' in s)
    result = gen("--project", str(example_copy), "check")
    assert result.exit_code == 1
    assert f"domain/catalog.model.py:{line}: error[unknown-entity]" in result.output
    assert 'did you mean "TaxRate"?' in result.output
    as_json = json.loads(gen("--project", str(example_copy), "check", "--json").output)
    assert as_json["ok"] is False and as_json["errors"][0]["line"] == line


def test_inspect_field_shows_declaration_line_and_ir_node(example_copy: Path) -> None:
    result = gen("--project", str(example_copy), "inspect", "Invoice.status")
    assert result.exit_code == 0, result.output
    source = (example_copy / "domain" / "invoices.model.py").read_text().splitlines()
    line = next(i for i, s in enumerate(source, 1) if s.strip().startswith('"status": state('))
    assert f"declared at domain/invoices.model.py:{line}" in result.output
    assert '"status": state(' in result.output
    assert '"kind": "state"' in result.output and '"initial": "draft"' in result.output
    assert "ir.json lines" in result.output and "rule ir.json" in result.output


def test_inspect_json_and_generated_line_lead_back_to_the_model(example_copy: Path) -> None:
    field = json.loads(
        gen("--project", str(example_copy), "inspect", "Invoice.status", "--json").output
    )
    in_ir = next(a for a in field["artifacts"] if a["path"] == "ir.json")
    start, _ = in_ir["lines"][0]
    back = gen(
        "--project", str(example_copy), "inspect", f"generated/ir.json:{start + 2}", "--json"
    )
    data = json.loads(back.output)
    assert [e["target"] for e in data["elements"]] == ["Invoice.status"]
    assert data["elements"][0]["declared_at"] == field["declared_at"]
    in_sql = next(a for a in field["artifacts"] if a["path"] == "db/schema.postgres.sql")
    sql_line = in_sql["lines"][0][0]
    back = gen(
        "--project",
        str(example_copy),
        "inspect",
        f"generated/db/schema.postgres.sql:{sql_line}",
        "--json",
    )
    assert [e["target"] for e in json.loads(back.output)["elements"]] == ["Invoice.status"]
    assert gen("--project", str(example_copy), "generate").exit_code == 0
    sql = (example_copy / "generated" / "db" / "schema.postgres.sql").read_text().splitlines()
    assert sql[sql_line - 1].startswith("CREATE TYPE invoice_status AS ENUM")


def test_inspect_entity_lists_its_ir_and_artifacts(example_copy: Path) -> None:
    result = gen("--project", str(example_copy), "inspect", "Invoice")
    assert result.exit_code == 0
    assert '"table": "invoice"' in result.output
    assert '"Invoice.pay": "same_tenant() & role(\\"billing\\")"' in result.output


@pytest.mark.parametrize(
    ("target", "message"),
    [
        ("Invoce", 'did you mean "Invoice"?'),
        ("Invoice.stauts", 'did you mean "status"?'),
        ("ir.jsn", 'did you mean "ir.json"?'),
        ("ir.json:99999", "does not exist"),
    ],
)
def test_inspect_unknown_targets_suggest_the_right_one(
    example_copy: Path, target: str, message: str
) -> None:
    result = gen("--project", str(example_copy), "inspect", target)
    assert result.exit_code == 1
    assert message in result.output
