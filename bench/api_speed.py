"""The generated list endpoint against the same endpoint written by hand (issue 5).

A bench model with the shapes of the invoices example (tenant entities
Customer, Invoice with a `customer` ref and `lines`, InvoiceLine; every read
rule `tenant_member()`, to which the compiler ANDs `same_tenant()`) is
compiled with the real compiler and every generator is run into a temporary
package. Its database is made from the generated `db/schema.postgres.sql`
(tables first, its indexes and foreign keys after the rows), loaded on the
server (`INSERT ... SELECT generate_series`): 100 tenants x 2,000 invoices x
3 lines, 50 customers and 5 users (memberships, one live session each) per
tenant; then `VACUUM ANALYZE`.

Two apps serve `GET /api/invoices?page[size]=50&include=customer,lines`:

- generated: the generated `api/app.py` (auth, routers, runtime.api);
- hand: `bench/hand_api.py`, FastAPI + SQLAlchemy Core + pydantic written by
  hand, with the same bearer-token lookup in the same session table (see
  its docstring) and the same engine settings.

Each runs in its own `uvicorn` process (one worker, `--no-access-log`, the
same options) on loopback. Before timing, both must answer the same JSON
(keys sorted) for several callers. Then rounds alternate A, B, A, B...: each
round drives one server from a separate process (`bench/api_load.py`, N
concurrent httpx clients for T seconds after a warm-up) and reads the
server's CPU time from /proc. The report gives per-server medians over the
rounds of requests/s, p50 and p99 latency, server CPU per request, and the
ratio generated / hand of requests/s (target >= 0.9x), with CPU steal.

    python -m bench.api_speed [--tenants 100] [--invoices 2000] [--rounds 5]
        [--seconds 8] [--clients 8] [--profile]

`--profile` runs py-spy (`--gil`) on each server during one more round and
prints where its Python time goes, in buckets (py-spy must be able to ptrace
the server; `BENCH_KEEP_PROFILE=<dir>` keeps the raw stacks).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg

from bench.comparators.postgres import scratch_database, server_url, server_version
from bench.compile_speed import calibration_seconds, cpu_model, cpu_times
from compiler.compile import compile_project
from generators.registry import load_generators, run_generators

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = "apibench_generated"
TARGET_RATIO = 0.9
PATH = "/api/invoices?page[size]=50&include=customer,lines"

GEN_TOML = """[app]
name = "apibench"
roles = ["admin", "billing", "member"]
tenancy = "org"

[auth]
providers = ["password"]
"""

MODEL = """
from compiler.dsl import (
    allow, array, date, email, entity, enum, index, integer, money, ref, role, tenant_member,
    text, view,
)

Customer = entity("Customer", tenant=True, fields={
    "name": text().required().max_length(200),
    "email": email().required(),
}, policies=allow(read=tenant_member(), create=role("billing")))

Invoice = entity("Invoice", tenant=True, fields={
    "number": text().required().max_length(30),
    "customer": ref(Customer).required(),
    "issue_date": date().required(),
    "due_date": date().required(),
    "status": enum(["draft", "sent", "paid", "void"]).required().default("draft"),
    "lines": array(ref("InvoiceLine")),
}, policies=allow(read=tenant_member(), create=role("billing")),
   views={"list": view().columns(["number", "customer", "status"]).sort("-created_at")},
   indexes=[index("tenant", "created_at")])

InvoiceLine = entity("InvoiceLine", tenant=True, fields={
    "invoice": ref(Invoice).required().on_delete("cascade"),
    "description": text().required().max_length(500),
    "quantity": integer().required().default(1),
    "unit_price": money().required(),
    "position": integer().required().default(0),
}, policies=allow(read=tenant_member(), create=role("billing")),
   views={"list": view().columns(["description"]).sort("position")})
"""

USERS_PER_TENANT = 5
CUSTOMERS_PER_TENANT = 50
LINES_PER_INVOICE = 3

# Keys are md5 of a label. User n belongs to tenant n / U (user 0 of a tenant is its admin,
# 1 billing, the others members) and signs in with the token 'bench-token-n'. Invoice i:
# tenant i % T, j = i / T its number in the tenant, newest first by j.
LOAD = {
    "tenant": """
        INSERT INTO tenant (id, name, slug, created_at, updated_at)
        SELECT md5('tenant:' || t)::uuid, 'Tenant ' || t, 'tenant-' || t,
               timestamptz '2026-01-01 00:00+00' + t * interval '1 second',
               timestamptz '2026-01-01 00:00+00'
        FROM generate_series(0, %(tenants)s::int - 1) AS t""",
    "user": """
        INSERT INTO "user" (id, email, name)
        SELECT md5('user:' || n)::uuid, 'user' || n || '@bench.test', 'User ' || n
        FROM generate_series(0, %(tenants)s::int * %(users)s::int - 1) AS n""",
    "membership": """
        INSERT INTO membership (user_id, tenant_id, roles)
        SELECT md5('user:' || n)::uuid, md5('tenant:' || (n / %(users)s::int))::uuid,
               (CASE n %% %(users)s::int WHEN 0 THEN '{admin}' WHEN 1 THEN '{billing}'
                    ELSE '{member}' END)::membership_roles[]
        FROM generate_series(0, %(tenants)s::int * %(users)s::int - 1) AS n""",
    "reframe_session": """
        INSERT INTO reframe_session (token_hash, user_id, csrf_hash, expires_at)
        SELECT encode(sha256(convert_to('bench-token-' || n, 'UTF8')), 'hex'),
               md5('user:' || n)::uuid, 'unused', now() + interval '1 day'
        FROM generate_series(0, %(tenants)s::int * %(users)s::int - 1) AS n""",
    "customer": """
        INSERT INTO customer (id, name, email, tenant_id, created_by_id)
        SELECT md5('customer:' || c)::uuid, 'Customer ' || c, 'billing' || c || '@bench.test',
               md5('tenant:' || (c / %(customers)s::int))::uuid,
               md5('user:' || ((c / %(customers)s::int) * %(users)s::int + 1))::uuid
        FROM generate_series(0, %(tenants)s::int * %(customers)s::int - 1) AS c""",
    "invoice": """
        INSERT INTO invoice (id, number, customer_id, issue_date, due_date, status, tenant_id,
                             created_by_id, created_at, updated_at)
        SELECT md5('invoice:' || i)::uuid, 'INV-' || lpad(j::text, 6, '0'),
               md5('customer:' || (t * %(customers)s::int + (j * 31) %% %(customers)s::int))::uuid,
               date '2026-01-01' + (j %% 300), date '2026-01-31' + (j %% 300),
               (ARRAY['draft', 'sent', 'paid', 'void'])[i %% 4 + 1]::invoice_status,
               md5('tenant:' || t)::uuid,
               md5('user:' || (t * %(users)s::int + 1 + j %% 2))::uuid, ts, ts
        FROM (
            SELECT i, i %% %(tenants)s::int AS t, i / %(tenants)s::int AS j,
                   timestamptz '2026-11-01 00:00+00' - (i / %(tenants)s::int) * interval '1 minute'
                       - (i %% %(tenants)s::int) * interval '1 second' AS ts
            FROM generate_series(0, %(tenants)s::int * %(invoices)s::int - 1) AS i
        ) AS g""",
    "invoice_line": """
        INSERT INTO invoice_line (id, invoice_id, description, quantity, unit_price, position,
                                  tenant_id, created_by_id, created_at, updated_at)
        SELECT md5('line:' || k)::uuid, md5('invoice:' || (k / %(lines)s::int))::uuid,
               'Work item ' || k, 1 + k %% 5, (k %% 10000) / 100.0, k %% %(lines)s::int,
               md5('tenant:' || ((k / %(lines)s::int) %% %(tenants)s::int))::uuid,
               md5('user:' || (((k / %(lines)s::int) %% %(tenants)s::int) * %(users)s::int + 1))::uuid,
               timestamptz '2026-11-01 00:00+00', timestamptz '2026-11-01 00:00+00'
        FROM generate_series(0, %(tenants)s::int * %(invoices)s::int * %(lines)s::int - 1) AS k""",
}


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


# The generated app and its database ---------------------------------------------------------


def generate(tmp: Path) -> tuple[Path, Path]:
    """Write the bench project and generate it into `tmp/app/PACKAGE`: (project, app dir)."""
    project_dir = tmp / "project"
    (project_dir / "domain").mkdir(parents=True)
    (project_dir / "gen.toml").write_text(GEN_TOML, encoding="utf-8")
    (project_dir / "domain" / "billing.model.py").write_text(MODEL, encoding="utf-8")
    project = compile_project(project_dir).project
    app_dir = tmp / "app"
    for artifact in run_generators(project, load_generators()):
        path = app_dir / PACKAGE / artifact.path
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(artifact.content)
    return project_dir, app_dir


def schema_statements(schema: str) -> tuple[list[str], list[str]]:
    """`schema.postgres.sql` split into (types and tables, indexes and foreign keys)."""
    text = "\n".join(line for line in schema.splitlines() if not line.startswith("--"))
    statements = [s.strip() for s in text.split(";\n") if s.strip()]
    later = [s for s in statements if s.startswith(("CREATE INDEX", "CREATE UNIQUE", "ALTER"))]
    return [s for s in statements if s not in later], later


@contextmanager
def loaded_database(schema: str, sizes: dict[str, int]) -> Iterator[str]:
    with (
        scratch_database(server_url(), "api") as url,
        psycopg.connect(url, autocommit=True) as conn,
    ):
        tables, later = schema_statements(schema)
        for statement in tables:
            conn.execute(statement)
        for table, statement in LOAD.items():
            start = time.perf_counter()
            conn.execute(statement, sizes)
            log(f"  loaded {table} in {time.perf_counter() - start:.1f} s")
        start = time.perf_counter()
        for statement in later:
            conn.execute(statement)
        conn.execute("VACUUM ANALYZE")
        log(f"  indexes, foreign keys, VACUUM ANALYZE in {time.perf_counter() - start:.1f} s")
        yield url


# Servers ------------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


@dataclass
class Server:
    label: str
    app: str
    app_dir: Path
    env: dict[str, str]
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None
    rounds: list[dict[str, float]] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{PATH}"

    def start(self) -> None:
        command = [
            sys.executable, "-m", "uvicorn", self.app,
            "--app-dir", str(self.app_dir),
            "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", "1", "--no-access-log", "--log-level", "warning",
        ]  # fmt: skip
        self.process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **self.env})
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.label} server exited with {self.process.returncode}")
            try:
                httpx.get(self.url, timeout=2)
                return
            except httpx.TransportError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.label} server did not start")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()

    def cpu_seconds(self) -> float:
        """User + system CPU time of the server process so far."""
        assert self.process is not None
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def get(self, token: str) -> Any:
        answer = httpx.get(self.url, headers={"Authorization": f"Bearer {token}"}, timeout=30)
        assert answer.status_code == 200, f"{self.label}: {answer.status_code} {answer.text}"
        return answer.json()

    def median(self, key: str) -> float:
        return statistics.median(r[key] for r in self.rounds)


def normalized(document: Any) -> str:
    return json.dumps(document, sort_keys=True)


def check_same_answers(servers: list[Server], tokens: list[str]) -> int:
    """Both servers answer the same JSON (keys sorted) for each token; returns the item count."""
    for token in tokens:
        answers = [s.get(token) for s in servers]
        first = normalized(answers[0])
        for server, answer in zip(servers[1:], answers[1:], strict=True):
            if normalized(answer) != first:
                raise AssertionError(f"{server.label} and {servers[0].label} differ for {token}")
        items = answers[0]["items"]
        assert len(items) == 50 and all(len(i["lines"]) == LINES_PER_INVOICE for i in items)
        assert all(isinstance(i["customer"], dict) for i in items) and answers[0]["next"]
    return len(first)


def drive(server: Server, tokens: list[str], args: argparse.Namespace) -> dict[str, float]:
    command = [
        sys.executable, "-m", "bench.api_load", "--url", server.url,
        "--clients", str(args.clients), "--seconds", str(args.seconds),
        "--warmup", str(args.warmup),
        *(part for token in tokens for part in ("--token", token)),
    ]  # fmt: skip
    steal_before, total_before = cpu_times()
    cpu_before = server.cpu_seconds()
    done = subprocess.run(command, cwd=ROOT, check=True, capture_output=True, text=True)
    cpu = server.cpu_seconds() - cpu_before
    steal_after, total_after = cpu_times()
    result: dict[str, float] = json.loads(done.stdout)
    assert result["errors"] == 0, f"{server.label}: {result}"
    elapsed = total_after - total_before
    result["steal"] = (steal_after - steal_before) / elapsed if elapsed > 0 else 0.0
    # The server's CPU over the whole drive (warm-up included) per request answered then.
    answered = result["rps"] * (args.seconds + args.warmup)
    result["cpu_ms"] = cpu / answered * 1000 if answered else float("nan")
    return result


def profile(server: Server, tokens: list[str], args: argparse.Namespace, out: Path) -> Path:
    """py-spy (`--gil`: the thread running Python) on a server while it is driven."""
    assert server.process is not None
    duration = int(args.seconds + args.warmup)
    command = [
        str(Path(sys.executable).parent / "py-spy"), "record", "--pid",
        str(server.process.pid), "--duration", str(duration), "--rate", "250", "--gil",
        "--format", "raw", "--output", str(out), "--nonblocking",
    ]  # fmt: skip
    spy = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    time.sleep(0.5)
    drive(server, tokens, args)
    spy.wait(duration + 30)
    if os.environ.get("BENCH_KEEP_PROFILE"):
        shutil.copy(out, Path(os.environ["BENCH_KEEP_PROFILE"]) / out.name)
    return out


def _any(*needles: str) -> Callable[[list[str]], bool]:
    return lambda frames: any(n in f for f in frames for n in needles)


#: Where a sample goes: the first bucket whose test matches its stack (outermost first).
BUCKETS: list[tuple[str, Callable[[list[str]], bool]]] = [
    ("caller lookup (dependency: token, session, memberships)", _any("current_caller (")),
    ("response_model validation (pydantic validate_python)", _any("ModelField.validate (")),
    ("JSON encoding (pydantic dump_json)", _any("serialize_json (", "dump_json (")),
    (
        "transaction begin/commit, pool checkout + pre-ping",
        _any("Engine.begin (", "Transaction.commit (", "TransactionalContext.__exit__ ("),
    ),
    (
        "SQL execute + fetch (SQLAlchemy, psycopg)",
        _any("Connection.execute (sqlalchemy", "Result.", "psycopg/"),
    ),
    (
        "rows to JSON-ready values (reading.decode, json_value)",
        _any("decode (runtime", "decode (bench", "json_value"),
    ),
    (
        "statements built per request (row_filter, selects, query parsing)",
        _any("runtime/api/", "policy/", "sqlalchemy/sql/"),
    ),
    ("rest of the endpoint (building dicts)", _any("list_invoices (")),
]


def summarize_profile(path: Path) -> list[tuple[str, float]]:
    """Share of the GIL-holding samples per bucket."""
    totals: dict[str, int] = {}
    whole = 0
    for line in path.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        whole += count
        bucket = "FastAPI, Starlette, uvicorn, h11, asyncio, threadpool hand-offs"
        for name, test in BUCKETS:
            if test(frames):
                bucket = name
                break
        totals[bucket] = totals.get(bucket, 0) + count
    return [(name, count / whole) for name, count in totals.items()]


# Report -------------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=100)
    parser.add_argument("--invoices", type=int, default=2000, help="per tenant")
    parser.add_argument("--rounds", type=int, default=5, help="rounds per server")
    parser.add_argument("--seconds", type=float, default=8.0, help="timed seconds per round")
    parser.add_argument("--warmup", type=float, default=2.0, help="untimed seconds per round")
    parser.add_argument("--clients", type=int, default=8, help="concurrent clients")
    parser.add_argument("--callers", type=int, default=20, help="callers (tenants) in turn")
    parser.add_argument("--profile", action="store_true", help="py-spy each server, one round")
    args = parser.parse_args(argv)

    began = time.perf_counter()
    steal_before, total_before = cpu_times()
    probe_before = calibration_seconds()
    sizes = {
        "tenants": args.tenants,
        "invoices": args.invoices,
        "users": USERS_PER_TENANT,
        "customers": CUSTOMERS_PER_TENANT,
        "lines": LINES_PER_INVOICE,
    }
    # The admin (user 0) of tenants spread over the range.
    step = max(1, args.tenants // args.callers)
    tokens = [
        f"bench-token-{t * USERS_PER_TENANT}" for t in range(0, args.tenants, step)[: args.callers]
    ]
    with tempfile.TemporaryDirectory(prefix="reframe-api-bench-") as tmp:
        project_dir, app_dir = generate(Path(tmp))
        schema = (app_dir / PACKAGE / "db" / "schema.postgres.sql").read_text()
        total_invoices = args.tenants * args.invoices
        log(f"loading {total_invoices:,} invoices x {LINES_PER_INVOICE} lines ...")
        with loaded_database(schema, sizes) as url:
            env = {"DATABASE_URL": url, "REFRAME_PROJECT": str(project_dir), "REFRAME_DEV": "0"}
            servers = [
                Server("generated", f"{PACKAGE}.api.app:app", app_dir, env),
                Server("hand", "bench.hand_api:app", ROOT, env),
            ]
            try:
                for server in servers:
                    server.start()
                size = check_same_answers(servers, tokens[:5])
                log(f"same JSON from both for {min(5, len(tokens))} callers ({size:,} bytes)")
                for n in range(args.rounds):
                    for server in servers if n % 2 == 0 else servers[::-1]:
                        server.rounds.append(drive(server, tokens, args))
                        r = server.rounds[-1]
                        log(
                            f"  round {n + 1} {server.label:>9}: {r['rps']:.1f} req/s, "
                            f"p50 {r['p50_ms']:.1f} ms, p99 {r['p99_ms']:.1f} ms, "
                            f"{r['cpu_ms']:.2f} ms CPU/req, steal {r['steal']:.0%}"
                        )
                profiles: dict[str, list[tuple[str, float]]] = {}
                if args.profile:
                    for server in servers:
                        raw = profile(server, tokens, args, Path(tmp) / f"{server.label}.txt")
                        profiles[server.label] = summarize_profile(raw)
            finally:
                for server in servers:
                    server.stop()
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
        f"{args.tenants} tenants x {args.invoices:,} invoices x {LINES_PER_INVOICE} lines, "
        f"{CUSTOMERS_PER_TENANT} customers and {USERS_PER_TENANT} users per tenant; "
        f"GET {PATH} as {len(tokens)} callers in turn; {args.clients} clients, "
        f"{args.rounds} rounds per server of {args.warmup:g} s warm-up + {args.seconds:g} s, "
        "alternating; one uvicorn worker each"
    )
    print()
    print("| server | req/s median | req/s min-max | p50 ms | p99 ms | server CPU ms/req | steal |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for s in servers:
        rps = [r["rps"] for r in s.rounds]
        print(
            f"| {s.label} | {s.median('rps'):.1f} | {min(rps):.1f}-{max(rps):.1f} "
            f"| {s.median('p50_ms'):.1f} | {s.median('p99_ms'):.1f} | {s.median('cpu_ms'):.2f} "
            f"| {s.median('steal'):.0%} |"
        )
    generated, hand = servers[:2]
    ratio = generated.median("rps") / hand.median("rps")
    per_round = [g["rps"] / h["rps"] for g, h in zip(generated.rounds, hand.rounds, strict=True)]
    print()
    print(
        f"generated / hand requests/s: {ratio:.2f}x (per round {min(per_round):.2f}x to "
        f"{max(per_round):.2f}x); server CPU per request hand / generated "
        f"{hand.median('cpu_ms') / generated.median('cpu_ms'):.2f}x; "
        + ("meets" if ratio >= TARGET_RATIO else "below")
        + f" the {TARGET_RATIO}x target"
    )
    if profiles:
        print(
            "\nWhere each server's Python time goes (py-spy --gil, one more round each; "
            "share of samples x server CPU ms/req):\n"
        )
        names = [name for name, _ in BUCKETS] + [
            "FastAPI, Starlette, uvicorn, h11, asyncio, threadpool hand-offs"
        ]
        print("| bucket | " + " | ".join(profiles) + " |")
        print("|---|" + "---:|" * len(profiles))
        for name in names:
            cells = []
            for s in servers:
                share = dict(profiles[s.label]).get(name, 0.0)
                cells.append(f"{share:.0%} ({share * s.median('cpu_ms'):.2f} ms)")
            print(f"| {name} | " + " | ".join(cells) + " |")
    print(
        "\nMachine speed probe (10M-step Python loop, best of 3) before / after: "
        f"{probe_before * 1000:,.0f} / {probe_after * 1000:,.0f} ms; "
        f"total {time.perf_counter() - began:.0f} s"
    )


if __name__ == "__main__":
    main()
