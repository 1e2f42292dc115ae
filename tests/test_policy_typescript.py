"""The TypeScript mirror of the policies allows exactly what policy/python.py allows.

Real tools, no mocks: the emitted module is checked with `tsc --strict`,
bundled with esbuild and run by node. Random policies and callers come from
tests/policy_strategies.py; one hypothesis test draws them, the next
compiles them all into one module and runs node once over the seeded world,
with refs nested (every path readable) and as keys (paths throw
NeedsRelated, in both languages).
"""

from __future__ import annotations

import datetime as dt
import json
import uuid
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from syrupy.assertion import SnapshotAssertion

from compiler import ir
from compiler.compile import compile_project
from policy.caller import Caller
from policy.python import NeedsRelated, allows
from policy.typescript import TypeScriptCompileError, function_name, typescript_module
from tests.conftest import Node
from tests.policy_strategies import callers, policies, rule
from tests.policy_world import World, compile_world, python_rows, random_world

REPO = Path(__file__).resolve().parent.parent
CASES_DRAWN = 1500
#: The world of tests/test_policy_engine.py.
WORLD = random_world(seed=20261121)
#: (policy, caller) pairs drawn by test_draw_cases, checked by the test after it.
CASES: list[tuple[ir.PolicyExpr, Caller]] = []


@pytest.fixture(scope="module")
def world_project(tmp_path_factory: pytest.TempPathFactory) -> ir.Project:
    return compile_world(tmp_path_factory.mktemp("policyworld"))


@pytest.fixture(scope="module")
def invoices() -> ir.Project:
    return compile_project(REPO / "examples" / "invoices").project


# Differential: TypeScript == Python on drawn policies and callers ------------------------


@settings(
    max_examples=CASES_DRAWN,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
@given(policy=policies(), caller=callers(WORLD))
def test_draw_cases(policy: ir.PolicyExpr, caller: Caller) -> None:
    CASES.append((policy, caller))


def test_typescript_allows_exactly_what_python_allows(
    node: Node, world_project: ir.Project, tmp_path: Path
) -> None:
    if len(CASES) < CASES_DRAWN:  # run alone (-k): draw first
        CASES.clear()
        test_draw_cases()
    invoice = world_project.entity("Invoice")
    assert invoice is not None
    rules = [rule(policy, operation=f"case{n}") for n, (policy, _) in enumerate(CASES)]
    tables = [python_rows(WORLD, "Invoice"), WORLD.rows["Invoice"]]  # refs nested, refs as keys
    (tmp_path / "policies.ts").write_text(
        typescript_module(world_project, [(invoice, r) for r in rules]), encoding="utf-8"
    )
    (tmp_path / "run.mjs").write_text(RUNNER, encoding="utf-8")
    stdin = json.dumps(
        {
            "tables": tables,
            "cases": [
                {"id": r.id, "caller": _caller(c)} for r, (_, c) in zip(rules, CASES, strict=True)
            ],
        },
        default=_json,
    )
    typescript = json.loads(node.run(tmp_path / "run.mjs", stdin))
    python = [
        [
            "".join(_outcome(world_project, invoice, r, row, caller) for row in rows)
            for rows in tables
        ]
        for r, (_, caller) in zip(rules, CASES, strict=True)
    ]
    wrong = [n for n in range(len(rules)) if typescript[n] != python[n]]
    assert not wrong, _explain(wrong[0], rules, CASES, python, typescript)
    # The cases mean something: some allow some rows, and some ask for related rows.
    mixed = sum("0" in p[0] and "1" in p[0] for p in python)
    assert mixed > len(rules) // 10 and any("N" in p[1] for p in python)


RUNNER = """\
import { readFileSync } from "node:fs";
import { rules } from "./policies.ts";

const input = JSON.parse(readFileSync(0, "utf8"));
const outcome = (check, row, caller) => {
  try {
    return check(row, caller) ? "1" : "0";
  } catch (error) {
    return error.name === "NeedsRelated" ? "N" : "E";
  }
};
const results = input.cases.map(({ id, caller }) =>
  input.tables.map((rows) => rows.map((row) => outcome(rules[id], row, caller)).join("")),
);
process.stdout.write(JSON.stringify(results));
"""


def _outcome(
    project: ir.Project, entity: ir.Entity, chosen: ir.Rule, row: dict[str, Any], caller: Caller
) -> str:
    try:
        return "1" if allows(project, entity, chosen, row, caller) else "0"
    except NeedsRelated:
        return "N"
    except (TypeError, ValueError):
        return "E"


def _caller(caller: Caller) -> dict[str, Any]:
    return {
        "userId": _json(caller.user_id) if caller.user_id else None,
        "tenantId": _json(caller.tenant_id) if caller.tenant_id else None,
        "roles": sorted(caller.roles),
        "now": caller.now.isoformat(),
    }


def _json(value: Any) -> str:
    """How the API sends values: decimals as strings, ISO dates, uuids as strings."""
    if isinstance(value, Decimal | uuid.UUID):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    raise TypeError(f"no JSON for {value!r}")


def _explain(
    n: int,
    rules: list[ir.Rule],
    cases: list[tuple[ir.PolicyExpr, Caller]],
    python: list[list[str]],
    typescript: list[list[str]],
) -> str:
    return (
        f"case {n}: TypeScript and Python disagree\n"
        f"policy: {rules[n].expr.model_dump_json()}\ncaller: {cases[n][1]}\n"
        f"python:     {python[n]}\ntypescript: {typescript[n]}"
    )


# The emitted module -------------------------------------------------------------------


def test_the_modules_pass_tsc_strict(
    node: Node, invoices: ir.Project, world_project: ir.Project, tmp_path: Path
) -> None:
    for name, project in [("invoices", invoices), ("world", world_project)]:
        source = tmp_path / f"{name}.ts"
        source.write_text(typescript_module(project), encoding="utf-8")
        node.typecheck(source)


def test_the_invoices_module_is_pinned(invoices: ir.Project, snapshot: SnapshotAssertion) -> None:
    module = typescript_module(invoices)
    assert module == typescript_module(invoices)  # deterministic
    assert module == snapshot


def test_function_names() -> None:
    assert function_name("Invoice.read") == "canReadInvoice"
    assert function_name("Invoice.mark_paid") == "canMarkPaidInvoice"
    assert function_name("Customer.notes.visible_to") == "canSeeCustomerNotes"
    assert function_name("Customer.credit_limit.editable_by") == "canEditCustomerCreditLimit"


def test_two_rules_with_one_name_are_an_error(world_project: ir.Project) -> None:
    invoice = world_project.entity("Invoice")
    assert invoice is not None
    twins = [(invoice, rule(ir.AnyonePolicy(), "read")), (invoice, rule(ir.AnyonePolicy(), "read"))]
    with pytest.raises(TypeScriptCompileError, match="canReadInvoice"):
        typescript_module(world_project, twins)


def test_a_key_where_a_row_is_needed_names_the_path(
    node: Node, world_project: ir.Project, tmp_path: Path
) -> None:
    invoice = world_project.entity("Invoice")
    assert invoice is not None
    chosen = rule(ir.RelPolicy(path="customer.account.manager"))
    (tmp_path / "policies.ts").write_text(
        typescript_module(world_project, [(invoice, chosen)]), encoding="utf-8"
    )
    (tmp_path / "run.mjs").write_text(
        'import { canReadInvoice } from "./policies.ts";\n'
        "const caller = { userId: null, tenantId: null, roles: [], now: '2026-06-15T12:00:00Z' };\n"
        "try { canReadInvoice({ customer: { account: 'k' } }, caller); }\n"
        "catch (error) { process.stdout.write(`${error.name} ${error.path} ${error.message}`); }\n",
        encoding="utf-8",
    )
    assert node.run(tmp_path / "run.mjs", "") == (
        'NeedsRelated customer.account Invoice: the rule reads "customer.account"; '
        "pass the related row (an object) instead of its key"
    )


# Values: exact decimals, code point order, the clock ------------------------------------

ARITHMETIC = [
    ("divide", "1", "3"),
    ("divide", "2", "3"),
    ("divide", "-7", "6"),
    ("divide", "10", "4"),
    ("divide", "1E+30", "7"),
    ("divide", "0.00012", "-0.7"),
    ("divide", "5", "0.00"),
    ("plus", "123456789012345678901234567890.5", "1"),
    ("plus", "0.1", "0.2"),
    ("minus", "1E+28", "0.5"),
    ("minus", "1E+28", "1.5"),
    ("times", "99999999999999.99", "99999999999999.99"),
    ("times", "-2.5", "4"),
]


def test_decimal_arithmetic_rounds_as_python_does(node: Node, tmp_path: Path) -> None:
    """Strategies never divide; here results past 28 digits round half-even, as Decimal's."""
    (tmp_path / "policies.ts").write_text(typescript_module(_empty_project()), encoding="utf-8")
    (tmp_path / "run.mjs").write_text(
        'import { dec, divide, plus, minus, times, compareText, today } from "./policies.ts";\n'
        "const ops = { divide, plus, minus, times };\n"
        f"const cases = {json.dumps(ARITHMETIC)};\n"
        "const values = cases.map(([op, a, b]) => {\n"
        "  const r = ops[op](dec(a), dec(b));\n"
        "  return r === null ? null : `${r.units}E${-r.scale}`;\n"
        "});\n"
        "const order = compareText('\\uff21', '\\u{1F600}') < 0 && compareText('Z', 'a') < 0;\n"
        "const day = today({ userId: null, tenantId: null, roles: [], now: '2026-06-15T23:30:00-02:00' });\n"
        "process.stdout.write(JSON.stringify({ values, order, day: day.iso }));\n",
        encoding="utf-8",
    )
    got = json.loads(node.run(tmp_path / "run.mjs", ""))
    python_ops = {
        "divide": lambda a, b: None if b == 0 else a / b,
        "plus": lambda a, b: a + b,
        "minus": lambda a, b: a - b,
        "times": lambda a, b: a * b,
    }
    expected = [python_ops[op](Decimal(a), Decimal(b)) for op, a, b in ARITHMETIC]
    values = [None if v is None else Decimal(v) for v in got["values"]]
    assert values == expected
    assert got["order"] is ("\uff21" < "\U0001f600")
    assert got["day"] == "2026-06-16"


def _empty_project() -> ir.Project:
    return ir.Project(app=ir.AppConfig(name="empty", roles=(), auth_providers=()), entities=())


def test_the_world_has_the_cases_that_matter() -> None:
    """Sanity of the differential: NULLs, refs missing on the way, text out of locale order."""
    rows = python_rows(WORLD, "Invoice")
    assert any(r["customer"] is None for r in rows)
    assert any(r["customer"] and r["customer"]["account"] is None for r in rows)
    assert {"Beta", "alpha", "éclair"} <= {r["title"] for r in rows}
    assert isinstance(WORLD, World)
