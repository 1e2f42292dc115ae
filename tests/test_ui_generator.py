"""The `ui` generator: per-entity metadata, the app, the page, the theme.

What the browser does with it is tested in tests/test_ui_browser.py; here:
what the metadata says about fields, views and actions, the theme from
`ui/theme.py`, snapshots of the example, and one file per entity.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest
from syrupy.assertion import SnapshotAssertion

from compiler import ir
from compiler.compile import compile_project
from generators.ui import IMPORT_MAP, RUNTIME_FILES, UiGenerator
from generators.ui.meta import display_field
from tests.conftest import EXAMPLE, MakeProject, Node


@pytest.fixture(scope="module")
def invoices() -> ir.Project:
    return compile_project(EXAMPLE).project


@pytest.fixture(scope="module")
def files(invoices: ir.Project) -> dict[str, str]:
    return {a.path: a.content.decode() for a in UiGenerator().generate(invoices)}


def fields_of(module: str) -> dict[str, dict[str, object]]:
    """The `fields: [...]` entries of an entity module, by name."""
    rows = re.findall(r"^    (\{\"name\": .*\}),$", module, flags=re.MULTILINE)
    return {row["name"]: row for row in map(json.loads, rows)}


def test_each_entity_gets_one_module_and_the_app_lists_them(
    invoices: ir.Project, files: dict[str, str]
) -> None:
    for entity in invoices.entities:
        assert f"ui/entities/{entity.table}.ts" in files
    app = files["ui/app.ts"]
    assert "entities: [user, tenant, membership, taxRate, product" in app
    assert {f"ui/runtime/{name}" for name in RUNTIME_FILES} <= set(files)
    assert {"ui/index.html", "ui/main.ts", "ui/theme.css"} <= set(files)


def test_fields_carry_the_widget_and_the_server_checks(files: dict[str, str]) -> None:
    invoice = fields_of(files["ui/entities/invoice.ts"])
    assert invoice["notes"]["widget"] == "richtext"  # the form view's .widget("notes", "richtext")
    assert invoice["customer"] | {"widget": "reference", "target": "Customer", "required": True}
    assert invoice["customer"]["widget"] == "reference"
    assert invoice["total"]["computed"] is True and invoice["total"]["creatable"] is False
    assert invoice["status"]["values"] == ["draft", "sent", "paid", "void"]
    assert invoice["sent_at"]["updatable"] is False  # read_only()
    assert invoice["lines"] == invoice["lines"] | {"type": "one_to_many", "via": "invoice"}
    address = fields_of(files["ui/entities/address.ts"])
    assert address["country"] | {} == address["country"]
    assert address["country"]["pattern"] == "^[A-Z]{2}$"
    assert (address["country"]["minLength"], address["country"]["maxLength"]) == (2, 2)
    line = fields_of(files["ui/entities/invoice_line.ts"])
    assert (line["quantity"]["min"], line["quantity"]["max"]) == ("1", "100000")
    assert line["quantity"]["default"] == 1 and line["quantity"]["required"] is False
    product = fields_of(files["ui/entities/product.ts"])
    assert product["description"]["widget"] == "textarea"  # text with no max length
    assert product["images"] | {"of": "url"} == product["images"]
    assert product["unit_price"]["scale"] == 2


def test_views_actions_and_rules_come_from_the_model(files: dict[str, str]) -> None:
    invoice = files["ui/entities/invoice.ts"]
    assert '"columns": ["number", "customer", "total", "status", "due_date"]' in invoice
    assert '"name": "overdue", "title": "Overdue invoices"' in invoice
    assert '"tabs": [{"title": "Details"' in invoice
    pay = next(line for line in invoice.splitlines() if 'name: "pay"' in line)
    assert 'sources: ["sent"]' in pay and 'can: rule("Invoice.pay")' in pay
    assert '"name": "amount"' in pay  # the action's input
    send = next(line for line in invoice.splitlines() if 'name: "send"' in line)
    assert 'guard: guardOf({"kind": "compare", "op": ">"' in send
    customer = files["ui/entities/customer.ts"]
    assert 'edit: { "credit_limit": rule("Customer.credit_limit.editable_by") }' in customer
    assert 'see: { "notes": rule("Customer.notes.visible_to") }' in customer
    # TaxRate has no delete rule in the model: nobody may, so no check is given.
    assert "delete:" not in files["ui/entities/tax_rate.ts"].split("can: {")[1]


def test_form_fields_leave_out_what_the_server_sets(files: dict[str, str]) -> None:
    form = re.search(r"form: (\{.*\}),", files["ui/entities/payment.ts"])
    assert form is not None
    assert json.loads(form.group(1))["fields"] == [
        "invoice",
        "amount",
        "received_on",
        "method",
        "processor_id",
        "recorded_at",
    ]
    user_form = json.loads(re.search(r"form: (\{.*\}),", files["ui/entities/user.ts"]).group(1))  # type: ignore[union-attr]
    assert "created_at" not in user_form["fields"]


def test_a_row_is_named_by_a_conventional_field(invoices: ir.Project) -> None:
    names = {e.name: display_field(e) for e in invoices.entities}
    assert names["Invoice"] == "number"
    assert names["Customer"] == "name"
    assert names["TaxRate"] == "name"
    assert names["Address"] == "street"  # the first required text
    assert names["Payment"] == "id"  # nothing textual: the key
    assert names["User"] == "email"  # its name may be empty; the email never is


def test_the_page_maps_every_bare_import(files: dict[str, str]) -> None:
    page = files["ui/index.html"]
    imports = json.loads(re.search(r'<script type="importmap">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    assert imports == {"imports": IMPORT_MAP}
    assert '<script type="module" src="/_hook/ui/main.ts">' in page
    bare = set()
    for path, text in files.items():
        if path.endswith((".ts", ".tsx")):
            bare |= {m for m in re.findall(r'from "([^".][^"]*)"', text)}
    assert bare <= set(IMPORT_MAP), bare - set(IMPORT_MAP)


def test_the_theme_file_overrides_tokens_per_scheme(make_project: MakeProject) -> None:
    root = make_project(
        {
            "domain/shop.model.py": """
                from compiler.dsl import *
                Thing = entity("Thing", fields={"name": text().required()})
            """,
            "ui/theme.py": """
                from compiler.dsl import theme
                theme(light={"accent": "#0f766e", "radius": "2px"}, dark={"accent": "#5eead4"})
            """,
        }
    )
    project = compile_project(root).project
    assert project.theme is not None and project.theme.loc.file == "ui/theme.py"
    css = next(a for a in UiGenerator().generate(project) if a.path == "ui/theme.css")
    light, dark, system = css.content.decode().split(":root")[1:4]
    assert "--rf-accent: #0f766e;" in light and "--rf-accent: #5eead4;" in dark
    assert "--rf-accent: #5eead4;" in system  # prefers-color-scheme: dark
    assert (
        "--rf-radius: 2px;" in light and "--rf-radius: 2px;" in dark
    )  # light-only applies to both
    assert "--rf-focus:" in light  # untouched tokens keep their defaults


def test_without_a_theme_file_the_defaults_apply(
    invoices: ir.Project, files: dict[str, str]
) -> None:
    assert invoices.theme is None
    assert "--rf-accent: #4f46e5;" in files["ui/theme.css"]
    assert 'data-theme="dark"' in files["ui/theme.css"]


def test_changing_one_field_rewrites_one_entity_module(example_copy: Path) -> None:
    before = {
        a.path: a.content for a in UiGenerator().generate(compile_project(example_copy).project)
    }
    model = example_copy / "domain" / "catalog.model.py"
    text = model.read_text(encoding="utf-8")
    model.write_text(
        text.replace(
            '"name": text().required().max_length(40),', '"name": text().required().max_length(50),'
        ),
        encoding="utf-8",
    )
    after = {
        a.path: a.content for a in UiGenerator().generate(compile_project(example_copy).project)
    }
    assert [p for p in after if after[p] != before.get(p)] == ["ui/entities/tag.ts"]


def test_the_example_is_pinned(files: dict[str, str], snapshot: SnapshotAssertion) -> None:
    assert files["ui/entities/invoice.ts"] == snapshot(name="invoice.ts")
    assert files["ui/app.ts"] == snapshot(name="app.ts")
    assert files["ui/index.html"] == snapshot(name="index.html")


# tsc --strict over the whole generated UI, with an override as a user would write it ---------

OVERRIDE = """\
import { registerWidget, type DisplayProps } from "reframe/ui";

function BigTotal(props: DisplayProps) {
  return <strong>Total due: {String(props.value)}</strong>;
}

registerWidget("Invoice.total", { Display: BigTotal });
"""

UI_TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "jsx": "react-jsx",
        "target": "es2022",
        "lib": ["es2022", "dom", "dom.iterable"],
        "module": "esnext",
        "moduleResolution": "bundler",
        "skipLibCheck": True,
        "types": [],
        "paths": {"reframe/ui": ["./ui/runtime/index.ts"]},
    },
    "include": ["client/*.ts", "ui/**/*.ts", "ui/**/*.tsx"],
}


def write_app(project: ir.Project, folder: Path, extra: dict[str, str]) -> None:
    from generators.client import ClientGenerator

    artifacts = [*ClientGenerator().generate(project), *UiGenerator().generate(project)]
    for path, content in [
        *((a.path, a.content) for a in artifacts),
        *((p, t.encode()) for p, t in extra.items()),
    ]:
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_bytes(content)
    (folder / "node_modules").symlink_to(Path(__file__).resolve().parent.parent / "node_modules")
    (folder / "tsconfig.json").write_text(json.dumps(UI_TSCONFIG), encoding="utf-8")


def test_the_generated_ui_and_an_override_pass_tsc_strict(
    invoices: ir.Project, tmp_path: Path, node: Node
) -> None:
    write_app(invoices, tmp_path, {"ui/overrides/BigTotal.tsx": OVERRIDE})
    done = subprocess.run([node.tsc, "-p", tmp_path], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


def test_tsc_catches_an_override_with_the_wrong_props(
    invoices: ir.Project, tmp_path: Path, node: Node
) -> None:
    wrong = OVERRIDE.replace("String(props.value)", "props.amount.toFixed(2)")
    write_app(invoices, tmp_path, {"ui/overrides/BigTotal.tsx": wrong})
    done = subprocess.run([node.tsc, "-p", tmp_path], capture_output=True, text=True)
    assert done.returncode != 0
    assert "ui/overrides/BigTotal.tsx" in done.stdout and "'amount'" in done.stdout
