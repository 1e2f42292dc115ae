"""Compiled policy filters against the same list query written by hand (issue 4).

A small multi-tenant model (Customer with an account manager, Invoice with a
customer) is compiled with the real compiler and its database made from the
generated DDL, indexes included: the model declares `index("tenant",
"created_at")` and `index("created_by")` on Invoice and
`index("account_manager")` on Customer, and the generator adds one per ref.
The tables are created first; the generated indexes and foreign keys run
after the rows are loaded (server-side `INSERT ... SELECT generate_series`),
then `VACUUM ANALYZE`.

Two rules, as the compiler leaves them (it ANDs `same_tenant()` into every
rule of a tenant entity):

- A, Invoice's read rule: `tenant_member() & (owner() | role("billing"))`;
- B, Invoice's update rule (declared there only so that the compiler checks and
  compiles it): `tenant_member() & rel("customer.account_manager")`.

For each rule and caller, the list query of a generated API (the row's
columns, `ORDER BY created_at DESC, id LIMIT 50`) and its `COUNT(*)` run in
three ways, interleaved in one session:

- hand: SQL text with the filter written by hand, through psycopg;
- policy: `policy.sql.row_filter(...)` in a SQLAlchemy select, compiled once,
  its SQL and parameters (captured from SQLAlchemy's own execution) sent
  through the same psycopg connection: the database's share;
- api: the select with `row_filter(...)` built and executed through SQLAlchemy
  on every call, as a request would: adds the Python cost.

psycopg prepares a statement after 5 executions and PostgreSQL may then switch
it to a generic plan; the warm-up runs past both, and the report says how many
generic and custom plans each prepared statement used.

    python -m bench.policy_speed [--rows 1000000] [--tenants 100] [--runs 300]
"""

from __future__ import annotations

import argparse
import hashlib
import os
import platform
import re
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
import sqlalchemy as sa
from psycopg import sql

from bench.comparators.postgres import scratch_database, server_url, server_version, sqlalchemy_url
from bench.compile_speed import calibration_seconds, cpu_model, cpu_times
from compiler import ir
from compiler.compile import compile_project
from generators.db import DbGenerator
from policy.caller import Caller
from policy.sql import row_filter

GEN_TOML = """[app]
name = "policybench"
roles = ["admin", "billing", "member"]
tenancy = "org"
"""

MODEL = """
from compiler.dsl import (
    allow, date, entity, enum, index, money, owner, ref, rel, role, tenant_member, text,
)

Customer = entity("Customer", tenant=True, fields={
    "name": text().required(),
    "account_manager": ref("User"),
}, indexes=[index("account_manager")])

Invoice = entity("Invoice", tenant=True, fields={
    "customer": ref("Customer"),
    "title": text(),
    "amount": money(),
    "due": date(),
    "stage": enum(["draft", "sent", "paid", "void"]),
}, policies=allow(
    read=tenant_member() & (owner() | role("billing")),
    update=tenant_member() & rel("customer.account_manager"),
), indexes=[index("tenant", "created_at"), index("created_by")])
"""

USERS_PER_TENANT = 20
CUSTOMERS_PER_TENANT = 50
LIMIT = 50
TARGET_RATIO = 1.2
#: Untimed executions of every query first: past psycopg's prepare threshold (5) and
#: PostgreSQL's five custom plans before it may choose a generic one.
WARM_UP = 15

# The rows, made on the server. User n belongs to tenant n / U; in each tenant user 0
# is the billing user, user 1 a plain member, and user U-1 a member who has just
# joined: the rows are spread over users 0..U-2 only, so U-1 owns no invoice and
# manages no customer. Keys are md5 of a label, so a run can name its callers.
LOAD = {
    "tenant": """
        INSERT INTO tenant (id, name, slug)
        SELECT md5('tenant:' || t)::uuid, 'Tenant ' || t, 'tenant-' || t
        FROM generate_series(0, %(tenants)s - 1) AS t""",
    "user": """
        INSERT INTO "user" (id, email, name)
        SELECT md5('user:' || n)::uuid, 'user' || n || '@bench.test', 'User ' || n
        FROM generate_series(0, %(tenants)s * %(users)s - 1) AS n""",
    "membership": """
        INSERT INTO membership (user_id, tenant_id, roles)
        SELECT md5('user:' || n)::uuid, md5('tenant:' || (n / %(users)s))::uuid,
               CASE WHEN n %% %(users)s = 0 THEN '{billing}' ELSE '{member}' END
                   ::membership_roles[]
        FROM generate_series(0, %(tenants)s * %(users)s - 1) AS n""",
    "customer": """
        INSERT INTO customer (id, name, account_manager_id, tenant_id, created_by_id)
        SELECT md5('customer:' || c)::uuid, 'Customer ' || c,
               CASE WHEN c %% 10 = 9 THEN NULL
                    ELSE md5('user:' || ((c / %(customers)s) * %(users)s
                                         + (c * 7) %% (%(users)s - 1)))::uuid END,
               md5('tenant:' || (c / %(customers)s))::uuid,
               md5('user:' || ((c / %(customers)s) * %(users)s))::uuid
        FROM generate_series(0, %(tenants)s * %(customers)s - 1) AS c""",
    # Invoice i: tenant i %% T, j = i / T its number in the tenant; newest first by j.
    "invoice": """
        INSERT INTO invoice (customer_id, title, amount, due, stage, tenant_id,
                             created_by_id, created_at, updated_at)
        SELECT CASE WHEN j %% 20 = 19 THEN NULL
                    ELSE md5('customer:' || (t * %(customers)s
                                             + (j * 31) %% %(customers)s))::uuid END,
               'Invoice ' || i, (i %% 100000) / 100.0,
               date '2026-01-01' + (j %% 365),
               (ARRAY['draft', 'sent', 'paid', 'void'])[i %% 4 + 1]::invoice_stage,
               md5('tenant:' || t)::uuid,
               CASE WHEN j %% 50 = 49 THEN NULL
                    ELSE md5('user:' || (t * %(users)s + (j * 7) %% (%(users)s - 1)))::uuid END,
               ts, ts
        FROM (
            SELECT i, i %% %(tenants)s AS t, i / %(tenants)s AS j,
                   timestamptz '2026-11-01 00:00+00' - (i / %(tenants)s) * interval '1 minute'
                       - (i %% %(tenants)s) * interval '1 second' AS ts
            FROM generate_series(0, %(rows)s - 1) AS i
        ) AS g""",
}

COLUMNS = (
    "id, customer_id, title, amount, due, stage, tenant_id, created_by_id, created_at, updated_at"
)
HAND_FILTER = {
    "A": "tenant_id = %(tenant)s AND (created_by_id = %(user)s OR %(billing)s)",
    "B": (
        "tenant_id = %(tenant)s AND EXISTS (SELECT 1 FROM customer AS c"
        " WHERE c.id = invoice.customer_id AND c.account_manager_id = %(user)s)"
    ),
}
RULE_TEXT = {"A": "read", "B": "update"}


def hand_sql(rule: str, kind: str) -> str:
    where = HAND_FILTER[rule]
    if kind == "count":
        return f"SELECT count(*) FROM invoice WHERE {where}"
    return f"SELECT {COLUMNS} FROM invoice WHERE {where} ORDER BY created_at DESC, id LIMIT {LIMIT}"


def write_project(root: Path) -> Path:
    (root / "domain").mkdir(parents=True, exist_ok=True)
    (root / "gen.toml").write_text(GEN_TOML, encoding="utf-8")
    (root / "domain" / "billing.model.py").write_text(MODEL, encoding="utf-8")
    return root


def schema_statements(project: ir.Project) -> tuple[list[str], list[str]]:
    """The generated DDL split into (types and tables, indexes and foreign keys)."""
    (artifact,) = [a for a in DbGenerator().generate(project) if a.path.endswith(".sql")]
    text = "\n".join(
        line for line in artifact.content.decode().splitlines() if not line.startswith("--")
    )
    statements = [s.strip() for s in text.split(";\n") if s.strip()]
    later = [s for s in statements if s.startswith(("CREATE INDEX", "CREATE UNIQUE", "ALTER"))]
    return [s for s in statements if s not in later], later


# Timing -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Who:
    label: str
    caller: Caller
    #: What the hand-written query receives.
    params: dict[str, Any]


@dataclass
class Case:
    rule: str
    kind: str  # "list" or "count"
    who: Who
    run: dict[str, Callable[[], int]]
    samples: dict[str, list[float]] = field(default_factory=dict)
    rows: int = 0

    def median(self, variant: str) -> float:
        return statistics.median(self.samples[variant])

    def best(self, variant: str) -> float:
        return min(self.samples[variant])


VARIANTS = ("hand", "policy", "api")


def callers(tenants: int, users: int) -> list[Who]:
    tenant = tenants // 2
    tenant_id = _key("tenant", tenant)
    found = []
    for label, offset, role in (
        ("billing user", 0, "billing"),
        ("member, owns 1/19", 1, "member"),
        ("member, owns none", users - 1, "member"),
    ):
        user_id = _key("user", tenant * users + offset)
        caller = Caller(user_id=user_id, tenant_id=tenant_id, roles=frozenset({role}))
        params = {"tenant": tenant_id, "user": user_id, "billing": role == "billing"}
        found.append(Who(label, caller, params))
    return found


def _key(kind: str, n: int) -> UUID:
    return UUID(hashlib.md5(f"{kind}:{n}".encode()).hexdigest())


class Bench:
    def __init__(self, project: ir.Project, url: str) -> None:
        self.project = project
        invoice = project.entity("Invoice")
        assert invoice is not None
        self.invoice = invoice
        # Autocommit for all three ways: each query is its own statement, no BEGIN/ROLLBACK.
        self.engine = sa.create_engine(
            sqlalchemy_url(url), poolclass=sa.pool.NullPool, isolation_level="AUTOCOMMIT"
        )
        self.connection = self.engine.connect()
        metadata = sa.MetaData()
        metadata.reflect(self.connection)
        self.tables = dict(metadata.tables)
        self.table = self.tables[invoice.table]
        # The same session underneath: the hand and policy ways run on psycopg directly.
        raw = self.connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        self.raw: psycopg.Connection[Any] = raw
        self.captured: list[tuple[str, Mapping[str, Any]]] = []
        sa.event.listen(self.engine, "before_cursor_execute", self._capture)
        columns = {c.strip() for c in COLUMNS.split(",")}
        assert columns == set(self.table.c.keys()), "the hand-written column list is stale"

    def _capture(self, _conn: Any, _cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.captured.append((statement, params))

    def rule(self, rule: str) -> ir.Rule:
        found = self.invoice.rule(RULE_TEXT[rule])
        assert found is not None
        return found

    def policy_statement(self, rule: str, kind: str, caller: Caller) -> sa.Select[Any]:
        where = row_filter(self.project, self.invoice, self.rule(rule), self.tables, caller)
        if kind == "count":
            return sa.select(sa.func.count()).select_from(self.table).where(where)
        order = (self.table.c.created_at.desc(), self.table.c.id)
        return sa.select(*self.table.c).where(where).order_by(*order).limit(LIMIT)

    def api(self, rule: str, kind: str, caller: Caller) -> int:
        """What a request does: build the filter and the select, execute, fetch."""
        result = self.connection.execute(self.policy_statement(rule, kind, caller))
        return len(result.all())

    def policy_sql(self, rule: str, kind: str, caller: Caller) -> tuple[str, Mapping[str, Any]]:
        """The SQL and parameters SQLAlchemy sends for the policy query."""
        self.captured.clear()
        self.api(rule, kind, caller)
        (found,) = self.captured
        return found

    def raw_run(self, query: str, params: Mapping[str, Any]) -> Callable[[], int]:
        def run() -> int:
            with self.raw.cursor() as cursor:
                cursor.execute(query, params)
                return len(cursor.fetchall())

        return run

    def case(self, rule: str, kind: str, who: Who) -> Case:
        query, params = self.policy_sql(rule, kind, who.caller)

        def api() -> int:
            return self.api(rule, kind, who.caller)

        return Case(
            rule,
            kind,
            who,
            {
                "hand": self.raw_run(hand_sql(rule, kind), who.params),
                "policy": self.raw_run(query, params),
                "api": api,
            },
        )

    def measure(self, cases: list[Case], runs: int) -> None:
        for case in cases:
            for _ in range(WARM_UP):
                for variant in VARIANTS:
                    case.run[variant]()
            counts = {variant: case.run[variant]() for variant in VARIANTS}
            if case.kind == "count":
                counts = {v: self._count(case, v) for v in ("hand", "policy")}
            assert len(set(counts.values())) == 1, f"{case.rule} {case.who.label}: {counts}"
            case.rows = next(iter(counts.values()))
            case.samples = {variant: [] for variant in VARIANTS}
        for n in range(runs):
            for case in cases:
                # Rotate the order, so no variant always runs first (or right after another).
                order = VARIANTS[n % 3 :] + VARIANTS[: n % 3]
                for variant in order if n % 2 else reversed(order):
                    start = time.perf_counter()
                    case.run[variant]()
                    case.samples[variant].append(time.perf_counter() - start)

    def _count(self, case: Case, variant: str) -> int:
        query, params = (
            (hand_sql(case.rule, "count"), case.who.params)
            if variant == "hand"
            else self.policy_sql(case.rule, "count", case.who.caller)
        )
        with self.raw.cursor() as cursor:
            row = cursor.execute(query, params).fetchone()
            assert row is not None
            return int(row[0])

    def plan(self, query: str, params: Mapping[str, Any], generic: bool) -> list[str]:
        """EXPLAIN (ANALYZE, BUFFERS): a custom plan (values known), or the generic plan."""
        with self.raw.cursor() as cursor:
            if not generic:
                rows = cursor.execute(
                    "EXPLAIN (ANALYZE, BUFFERS) " + query,
                    params,
                ).fetchall()
                return [str(r[0]) for r in rows]
            names = list(dict.fromkeys(_placeholders(query)))
            numbered = query
            for n, name in enumerate(names, 1):
                numbered = numbered.replace(f"%({name})s", f"${n}")
            cursor.execute(sql.SQL("PREPARE bench_generic AS {}").format(sql.SQL(numbered)))
            try:
                cursor.execute("SET plan_cache_mode = force_generic_plan")
                values = sql.SQL(", ").join(sql.Literal(params[name]) for name in names)
                rows = cursor.execute(
                    sql.SQL("EXPLAIN (ANALYZE, BUFFERS) EXECUTE bench_generic ({})").format(values)
                ).fetchall()
            finally:
                cursor.execute("RESET plan_cache_mode")
                cursor.execute("DEALLOCATE bench_generic")
            return [str(r[0]) for r in rows]

    def prepared(self) -> list[tuple[str, int, int]]:
        with self.raw.cursor() as cursor:
            rows = cursor.execute(
                "SELECT statement, generic_plans, custom_plans FROM pg_prepared_statements"
                " ORDER BY statement"
            ).fetchall()
        return [(str(s), int(g), int(c)) for s, g, c in rows]

    def close(self) -> None:
        self.connection.close()
        self.engine.dispose()


def _placeholders(query: str) -> list[str]:
    return re.findall(r"%\((\w+)\)s", query)


# Loading ------------------------------------------------------------------------------------


@contextmanager
def loaded_database(
    project: ir.Project, rows: int, tenants: int, log: Callable[[str], None]
) -> Iterator[str]:
    server = server_url()
    with scratch_database(server, "policy") as url, psycopg.connect(url, autocommit=True) as conn:
        tables, later = schema_statements(project)
        for statement in tables:
            conn.execute(statement)
        sizes = {
            "rows": rows,
            "tenants": tenants,
            "users": USERS_PER_TENANT,
            "customers": CUSTOMERS_PER_TENANT,
        }
        for table, statement in LOAD.items():
            start = time.perf_counter()
            conn.execute(statement, sizes)
            log(f"  loaded {table} in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        for statement in later:
            conn.execute(statement)
        log(f"  generated indexes and foreign keys in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        conn.execute("VACUUM ANALYZE")
        log(f"  VACUUM ANALYZE in {time.perf_counter() - start:.1f} s")
        yield url


# Report -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f}"


def table(cases: list[Case]) -> list[str]:
    lines = [
        "| rule | query | caller | rows | hand median ms | policy median ms | policy / hand "
        "| hand min | policy min | min ratio | api median ms | api / hand |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for c in cases:
        ratio = c.median("policy") / c.median("hand")
        flag = "" if ratio <= TARGET_RATIO else " **over**"
        lines.append(
            f"| {c.rule} | {c.kind} | {c.who.label} | {c.rows:,} | {ms(c.median('hand'))} "
            f"| {ms(c.median('policy'))} | {ratio:.2f}x{flag} | {ms(c.best('hand'))} "
            f"| {ms(c.best('policy'))} | {c.best('policy') / c.best('hand'):.2f}x "
            f"| {ms(c.median('api'))} | {c.median('api') / c.median('hand'):.2f}x |"
        )
    return lines


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000, help="invoices (default 1M)")
    parser.add_argument("--tenants", type=int, default=100, help="tenants (default 100)")
    parser.add_argument("--runs", type=int, default=300, help="timed runs per query and way")
    args = parser.parse_args(argv)

    def log(message: str) -> None:
        print(message, file=sys.stderr, flush=True)

    began = time.perf_counter()
    steal_before, total_before = cpu_times()
    probe_before = calibration_seconds()
    with tempfile.TemporaryDirectory(prefix="reframe-policy-bench-") as tmp:
        project = compile_project(write_project(Path(tmp))).project
    log(f"loading {args.rows:,} invoices across {args.tenants} tenants ...")
    with loaded_database(project, args.rows, args.tenants, log) as url:
        bench = Bench(project, url)
        try:
            whos = callers(args.tenants, USERS_PER_TENANT)
            cases = [
                bench.case(rule, kind, who)
                for rule in ("A", "B")
                for kind in ("list", "count")
                for who in whos
            ]
            log(f"timing {len(cases)} cases x {len(VARIANTS)} ways x {args.runs} runs ...")
            bench.measure(cases, args.runs)
            prepared = bench.prepared()
            plans = []
            member = whos[1]
            for rule in ("A", "B"):
                query, params = bench.policy_sql(rule, "list", member.caller)
                for generic in (False, True):
                    plans.append((rule, generic, query, bench.plan(query, params, generic)))
            hand_plans = {
                rule: bench.plan(hand_sql(rule, "list"), member.params, False)
                for rule in ("A", "B")
            }
        finally:
            bench.close()
    steal_after, total_after = cpu_times()
    elapsed = total_after - total_before
    steal = (steal_after - steal_before) / elapsed if elapsed > 0 else None
    probe_after = calibration_seconds()

    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"PostgreSQL {server_version(server_url())}"
        + (f"; CPU steal during the run {steal:.0%}" if steal is not None else "")
    )
    print(
        f"{args.rows:,} invoices, {args.tenants} tenants, {USERS_PER_TENANT} users and "
        f"{CUSTOMERS_PER_TENANT} customers per tenant; {args.runs} timed runs of each query "
        f"each way, after {WARM_UP} untimed"
    )
    for rule in ("A", "B"):
        print(f"Rule {rule} (Invoice.{RULE_TEXT[rule]}): {bench.rule(rule).text}")
    print()
    print("\n".join(table(cases)))
    print()
    over = [c for c in cases if c.median("policy") / c.median("hand") > TARGET_RATIO]
    ratios = [c.median("policy") / c.median("hand") for c in cases]
    print(
        f"policy / hand medians: {min(ratios):.2f}x to {max(ratios):.2f}x; "
        + (
            f"{len(over)} of {len(cases)} over the {TARGET_RATIO}x target"
            if over
            else f"all within the {TARGET_RATIO}x target"
        )
    )
    print()
    print("Prepared statements (psycopg prepares after 5 executions): generic / custom plans")
    for statement, generic_plans, custom_plans in prepared:
        print(f"  {generic_plans:>5} / {custom_plans:<5} {' '.join(statement.split())[:150]}")
    for rule, generic, query, lines in plans:
        mode = "generic plan (PREPARE, force_generic_plan)" if generic else "custom plan"
        print(f"\nRule {rule}, policy list query, caller {member.label}, {mode}:")
        if not generic:
            print("  " + " ".join(query.split()))
        print("\n".join("  " + line for line in lines))
    for rule, lines in hand_plans.items():
        print(f"\nRule {rule}, hand-written list query, caller {member.label}, custom plan:")
        print("\n".join("  " + line for line in lines))
    print(
        "\nMachine speed probe (10M-step Python loop, best of 3) before / after: "
        f"{probe_before * 1000:,.0f} / {probe_after * 1000:,.0f} ms; "
        f"total {time.perf_counter() - began:.0f} s"
    )


if __name__ == "__main__":
    main()
