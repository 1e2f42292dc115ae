"""The generated TypeScript client (generators/client), checked with the real tools.

tsc --strict checks the client of the invoices example and of a synthetic
200-entity model, and tests/client/typecheck.ts, whose `@ts-expect-error`
lines must not compile; a golden file makes tsc prove that the types and the
OpenAPI schemas of the running app agree field by field; node's own test
runner runs tests/client/integration.test.ts (bundled by esbuild) against
the generated API under uvicorn on a fresh PostgreSQL database.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from syrupy.assertion import SnapshotAssertion

from bench.synthetic import write_synthetic_project
from compiler import ir
from compiler.compile import compile_project
from generators.client import ClientGenerator
from generators.client.invalidation import Target, invalidation_map
from tests import pg
from tests.conftest import MakeProject, Node
from tests.test_api_uvicorn import served_example

REPO = Path(__file__).resolve().parent.parent
EXAMPLE = REPO / "examples" / "invoices"
CASES = Path(__file__).resolve().parent / "client"
TSCONFIG = {
    "compilerOptions": {
        "strict": True,
        "noEmit": True,
        "target": "es2022",
        "lib": ["es2022", "dom"],
        "module": "esnext",
        "moduleResolution": "bundler",
        "skipLibCheck": True,
        "types": [],
    },
    "include": ["*.ts", "client/*.ts"],
}


def write_client(project: ir.Project, folder: Path) -> dict[str, str]:
    """The client of `project` in folder/client, ready for tsc (node_modules linked)."""
    files = {a.path: a.content.decode() for a in ClientGenerator().generate(project)}
    for path, text in files.items():
        (folder / path).parent.mkdir(parents=True, exist_ok=True)
        (folder / path).write_text(text, encoding="utf-8")
    link_tools(folder)
    return files


def link_tools(folder: Path, include: tuple[str, ...] = ("*.ts", "client/*.ts")) -> None:
    if not (folder / "node_modules").exists():
        (folder / "node_modules").symlink_to(REPO / "node_modules")
    config = {**TSCONFIG, "include": list(include)}
    (folder / "tsconfig.json").write_text(json.dumps(config), encoding="utf-8")


def tsc(node: Node, folder: Path) -> None:
    done = subprocess.run([node.tsc, "-p", folder], capture_output=True, text=True)
    assert done.returncode == 0, done.stdout + done.stderr


@pytest.fixture(scope="module")
def invoices() -> ir.Project:
    return compile_project(EXAMPLE).project


# The running app: `gen generate` of a copy of the example, uvicorn, a fresh database ------


@pytest.fixture(scope="module")
def served(
    pg_admin_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[str, Path]]:
    """(base url, the generated folder) of the example's app under uvicorn, fresh database."""
    target = tmp_path_factory.mktemp("clientapp") / "invoices"
    url = pg.create_database(pg_admin_url)
    try:
        with served_example(target, url) as base:
            yield base, target / "generated"
    finally:
        pg.drop_database(pg_admin_url, url)


# (1) and (2): tsc --strict, and the lines that must not compile --------------------------


def test_the_example_client_and_the_type_tests_pass_tsc_strict(
    node: Node, invoices: ir.Project, tmp_path: Path
) -> None:
    write_client(invoices, tmp_path)
    shutil.copy(CASES / "typecheck.ts", tmp_path / "typecheck.ts")
    tsc(node, tmp_path)
    # The @ts-expect-error lines are errors indeed: without their markers tsc refuses them.
    source = (CASES / "typecheck.ts").read_text()
    expected = source.count("// @ts-expect-error")
    (tmp_path / "typecheck.ts").write_text(source.replace("// @ts-expect-error", "// was"))
    done = subprocess.run([node.tsc, "-p", tmp_path], capture_output=True, text=True)
    errors = {line.split(":")[0] for line in done.stdout.splitlines() if "error TS" in line}
    assert done.returncode != 0 and len(errors) == expected, done.stdout


def test_the_client_of_a_200_entity_model_passes_tsc_strict(node: Node, tmp_path: Path) -> None:
    root = write_synthetic_project(tmp_path / "synthetic", 200)
    project = compile_project(root).project
    write_client(project, tmp_path)
    tsc(node, tmp_path)


# (3): node --test against the generated API ---------------------------------------------


def test_the_client_runs_against_the_generated_api(node: Node, served: tuple[str, Path]) -> None:
    base, generated = served
    assert (generated / "client" / "client.ts").exists()  # `gen generate` wrote the client
    shutil.copy(CASES / "integration.test.ts", generated / "integration.test.ts")
    bundle = generated / "integration.test.mjs"
    built = subprocess.run(
        [node.esbuild, generated / "integration.test.ts", "--bundle", "--platform=node",
         "--format=esm", f"--outfile={bundle}", "--log-level=warning"],
        capture_output=True,
        text=True,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    done = subprocess.run(
        [node.node, "--test", bundle],
        capture_output=True,
        text=True,
        env={**os.environ, "BASE_URL": base},
        timeout=60,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "# pass 1" in done.stdout and "# fail 0" in done.stdout


# (4): the types and the OpenAPI schemas agree, field by field ---------------------------


def test_the_types_agree_with_the_openapi_schemas(node: Node, served: tuple[str, Path]) -> None:
    base, generated = served
    document = httpx.get(f"{base}/api/openapi.json").json()
    schemas = document["components"]["schemas"]
    project = ir.Project.model_validate_json((generated / "ir.json").read_text())
    names = []
    for entity in project.entities:
        names += [f"{entity.name}{kind}" for kind in ("Row", "Read", "Create", "Update")]
        names += [
            f"{entity.name}{a.name.title().replace('_', '')}Input"
            for a in entity.actions
            if a.inputs
        ]
    # A Row is in the document where a Read includes it (none includes a Membership).
    names = [n for n in names if not n.endswith("Row") or n in schemas]
    assert {"CustomerRow", "InvoiceLineRow", "TagRow"} <= set(names)
    checks = [check for name in names for check in _golden(name, schemas[name])]
    golden = generated / "golden.ts"
    golden.write_text(
        GOLDEN + "export type Checks = [\n" + "".join(f"  {c},\n" for c in checks) + "];\n"
    )
    link_tools(generated, ("golden.ts", "client/*.ts"))
    tsc(node, generated)
    assert len(checks) > 300  # 15 entities, 46 schemas


GOLDEN = """\
import type * as T from "./client/types";
type Equal<X, Y> = (<G>() => G extends X ? 1 : 2) extends (<G>() => G extends Y ? 1 : 2) ? true : false;
type Expect<B extends true> = B;
type OptionalKeys<O> = { [K in keyof O]-?: {} extends Pick<O, K> ? K : never }[keyof O];
"""


def _golden(name: str, schema: dict[str, Any]) -> list[str]:
    """Type-level assertions: the keys, the optional keys and each field's exact type."""
    properties: dict[str, Any] = schema.get("properties", {})
    required = set(schema.get("required", ()))
    union = " | ".join(json.dumps(p) for p in properties) or "never"
    optional = " | ".join(json.dumps(p) for p in properties if p not in required) or "never"
    checks = [
        f"Expect<Equal<keyof T.{name}, {union}>>",
        f"Expect<Equal<OptionalKeys<T.{name}>, {optional}>>",
    ]
    checks += [
        f"Expect<Equal<Exclude<T.{name}[{json.dumps(p)}], undefined>, {_ts(s)}>>"
        for p, s in properties.items()
    ]
    return checks


def _ts(schema: dict[str, Any]) -> str:
    """The TypeScript type an OpenAPI schema means, by the client's conventions: decimals
    (pydantic's `number | string` input) are strings; an included row carries no includes."""
    if "$ref" in schema:
        name = schema["$ref"].rsplit("/", 1)[-1]
        return f"T.{name.removesuffix('Read')}"
    if "anyOf" in schema:
        kinds = [s.get("type") for s in schema["anyOf"]]
        if "number" in kinds and "string" in kinds:
            rest = [s for s in schema["anyOf"] if s.get("type") not in ("number", "string")]
            return " | ".join(["string", *(_ts(s) for s in rest)])
        return " | ".join(f"({_ts(s)})" for s in schema["anyOf"])
    if "enum" in schema:
        return " | ".join(json.dumps(v) for v in schema["enum"])
    kind = schema.get("type")
    if kind == "array":
        return f"({_ts(schema['items'])})[]"
    if kind is None:
        return "T.Json"
    return {
        "string": "string",
        "integer": "number",
        "number": "number",
        "boolean": "boolean",
        "null": "null",
    }[kind]


# (5): snapshots; determinism and tracing ------------------------------------------------


def test_the_example_types_and_hooks_are_pinned(
    invoices: ir.Project, snapshot: SnapshotAssertion
) -> None:
    first = ClientGenerator().generate(invoices)
    files = {a.path: a.content.decode() for a in first}
    assert [a.content for a in ClientGenerator().generate(invoices)] == [a.content for a in first]
    assert files["client/types.ts"] == snapshot(name="types.ts")
    assert files["client/hooks.ts"] == snapshot(name="hooks.ts")


def test_every_artifact_is_traced_to_its_entities(invoices: ir.Project) -> None:
    artifacts = {a.path: a for a in ClientGenerator().generate(invoices)}
    assert set(artifacts) == {
        f"client/{n}.ts" for n in ("types", "errors", "client", "hooks", "policies", "index")
    }
    types = artifacts["client/types.ts"]
    line = types.content.decode().splitlines().index("export type InvoiceCreate = {") + 2
    assert types.origin_at(line) == ("Invoice",)
    assert "Invoice" in artifacts["client/policies.ts"].origins
    hooks = artifacts["client/hooks.ts"].content.decode().splitlines()
    line = next(
        n
        for n, text in enumerate(hooks, 1)
        if text.startswith("export function useCreateInvoiceLine(")
    )
    assert artifacts["client/hooks.ts"].origin_at(line) == ("InvoiceLine",)


# (6): what a write invalidates -----------------------------------------------------------


def test_a_new_invoice_line_invalidates_its_invoice(invoices: ir.Project) -> None:
    changes = invalidation_map(invoices)
    line = changes["InvoiceLine"]["create"]
    assert line[0] == Target("InvoiceLine", op="list")  # a new row: lists, no detail
    assert Target("Invoice") in line  # Invoice.subtotal reads InvoiceLine.total
    assert Target("Customer", via=("invoices",)) in line  # customers that include invoices
    assert all(t.entity != "Product" for t in line)  # a line's product does not change
    assert Target("Customer") in changes["Invoice"]["update"]  # invoice_count, first_invoice_on
    assert Target("Customer") not in changes["Tag"]["update"]
    assert Target("Customer", via=("tags",)) in changes["Tag"]["update"]
    # Deleting an invoice deletes its lines (cascade): all their queries.
    assert Target("InvoiceLine") in changes["Invoice"]["delete"]
    assert changes["Customer"]["create"] == (Target("Customer", op="list"),)


def test_a_new_row_created_with_links_invalidates_the_other_side(
    make_project: MakeProject,
) -> None:
    """A create may set a many-to-many (`tags: [...]`): the other side's includes of it go
    stale, when the other side declares one sharing the join table; `through=` links are rows
    of their own entity."""
    root = make_project(
        {
            "domain/blog.model.py": """
                from compiler.dsl import *
                Post = entity("Post", fields={"title": text().required(),
                                              "tags": many_to_many("Tag"),
                                              "readers": many_to_many("Reader")})
                Tag = entity("Tag", fields={"name": text().required(),
                                            "posts": many_to_many("Post")})
                Reader = entity("Reader", fields={"name": text().required()})
            """
        }
    )
    changes = invalidation_map(compile_project(root).project)
    assert Target("Tag", via=("posts",)) in changes["Post"]["create"]
    assert Target("Post", via=("tags",)) in changes["Tag"]["create"]
    # Reader declares no side of Post.readers: a new reader is in no post's readers yet.
    assert changes["Reader"]["create"] == (Target("Reader", op="list"),)


def test_the_hooks_invalidate_by_the_map_and_keys_follow_entity_op_params(
    node: Node, invoices: ir.Project, tmp_path: Path
) -> None:
    """affects() matches exactly: the via relation in include, a dotted filter or sort."""
    write_client(invoices, tmp_path)
    (tmp_path / "run.ts").write_text(
        'import { affects, invalidation, queryKeys } from "./client/hooks";\n'
        "const targets = invalidation.InvoiceLine.create;\n"
        "const hit = (key: readonly unknown[]) => targets.some((t) => affects(t, key)) ? 1 : 0;\n"
        "const keys = [\n"
        '  queryKeys.invoice.get("i"),\n'
        "  queryKeys.invoiceLine.list({}),\n"
        '  queryKeys.invoiceLine.get("l"),\n'
        '  queryKeys.customer.list({ include: ["invoices"] }),\n'
        '  queryKeys.customer.list({ include: ["tags"] }),\n'
        '  queryKeys.customer.get("c", ["invoices"]),\n'
        '  queryKeys.payment.list({ filter: { "invoice.number": "1" } }),\n'
        '  queryKeys.payment.list({ filter: { invoice: "1" } }),\n'
        '  queryKeys.payment.list({ sort: ["-invoice.number"] }),\n'
        "  queryKeys.product.list({}),\n"
        "];\n"
        "process.stdout.write(keys.map(hit).join(''));\n",
        encoding="utf-8",
    )
    assert node.run(tmp_path / "run.ts", "") == "1101011010"
