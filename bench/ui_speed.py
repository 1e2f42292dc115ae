"""Time to a rendered list view: `gen serve` against Vite's dev server (issue 7).

Target: a cold load no slower than Vite's, a warm one under 300 ms.

One run sets up, on a scratch PostgreSQL database:

- a copy of examples/invoices in a temporary folder, `gen generate` on it,
  then (through a first `gen serve`, over the API) a user who signs up with a
  tenant, `--customers` customers and `--invoices` invoices;
- a Vite project in the same temporary folder: the copy's generated
  `client/` and `ui/`, an `index.html` made from the generated one (same
  stylesheets, same entry `ui/main.ts`; no import map: Vite resolves `react`
  and friends from the repository's node_modules, linked in, and
  `reframe/ui` by an alias), `appType: "spa"` so that `/app/invoices`
  answers the page, and a proxy sending `/api` and `/_overrides` to a
  `gen serve` of the same copy: both UIs read the same API and rows. Vite
  (pinned in bench/vite/package-lock.json) is installed with
  `npm ci --prefix bench/vite` when it is missing; the product never needs it.

Each load opens `/app/invoices` in headless Chromium (Playwright), signed in
by the session cookies, and takes the time from `page.goto` to the first
`table tbody tr` in the page with a box (a MutationObserver in the page
notes the moment, so no polling interval is added; the page's clock and the
benchmark's are the same machine's).

- cold: a server started just before, with nothing cached, and a new
  browser context (empty HTTP cache). `gen serve`: the hook store's transpile
  memo emptied (the vendor React build stays: `make setup` makes it).
  Vite: its dep cache folder removed and `--force`, so its dependency
  pre-bundling is part of the load. The API server is new in both cases.
  The page is opened as soon as the server accepts connections.
- warm: the same server and context after that first load (server caches
  and HTTP cache filled): a new page per load.
- Vite pre-bundles React's development build (its default NODE_ENV), four
  times the bytes `gen serve` sends (the production build, hookfs/vendor.py):
  "Vite, production React" runs it with NODE_ENV=production too, so that the
  same React runs on both sides.
- two more cold variants, what a restart usually is: `gen serve` with the
  memo kept from the previous start, Vite with its dep cache kept.

Rounds alternate the order (one round: every variant once, each with its own
fresh servers, then the next round backwards); one untimed cold load of each
server comes first. The report gives medians, the ratios and the targets, and
per variant the moments the module graph had run (DOMContentLoaded) and the
API answered, the page's main-thread time (Chromium's Performance metrics) and
the requests made.

    python -m bench.ui_speed [--rounds 5] [--warm 2] [--invoices 100]
        [--customers 10] [--profile]

`--profile` adds one more cold load and its warm loads on a `gen serve` run
under `instrumented_serve` (timers around requests, transpiles, esbuild runs
and memo reads and writes, patched into that process only) and prints where
the server's time went. Needs PostgreSQL (`TEST_DATABASE_URL`, else
127.0.0.1:5432 as postgres), Chromium (`make chromium`), node and npm.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import signal
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from contextlib import redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import httpx

from bench.comparators.postgres import scratch_database, server_url, server_version
from bench.compile_speed import calibration_seconds, cpu_model, cpu_times
from tests.browser import CHROMIUM_ARGS  # the browser tests' launch flags, one list

if TYPE_CHECKING:
    from playwright.sync_api import Browser, BrowserContext

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "invoices"
VITE_DIR = ROOT / "bench" / "vite"
GEN = Path(sys.executable).parent / "gen"
PAGE = "/app/invoices"
ROW = "table tbody tr"
TARGET_WARM_MS = 300.0
PASSWORD = "correct horse battery"
#: Notes in the page when the first list row has a box: `window.__rf_row` (ms since navigation).
ROW_WATCH = """
(() => {
  const seen = () => {
    const row = document.querySelector(ROW);
    if (!row) return false;
    const box = row.getBoundingClientRect();
    if (box.width === 0 || box.height === 0) return false;
    window.__rf_row = performance.now();
    return true;
  };
  const observer = new MutationObserver(() => { if (seen()) observer.disconnect(); });
  observer.observe(document, { childList: true, subtree: true });
})();
""".replace("ROW", json.dumps(ROW))
#: What a load did, read from the page once the row is there.
LOAD_FACTS = """
() => {
  const nav = performance.getEntriesByType("navigation")[0];
  const resources = performance.getEntriesByType("resource");
  const api = (part) => resources.find((r) => r.name.includes(part));
  return {
    origin: performance.timeOrigin,
    row: window.__rf_row,
    modules: nav.domContentLoadedEventStart,
    me: api("/api/auth/me")?.responseEnd ?? null,
    list: api("/api/invoices")?.responseEnd ?? null,
    resources: resources.length + 1,
    sent: resources.filter((r) => r.transferSize > 0).length + 1,
    // Resource Timing gives a revalidated (304) answer a transferSize of exactly 300.
    full: resources.filter((r) => r.transferSize > 0 && r.transferSize !== 300).length + 1,
    bytes: resources.reduce((sum, r) => sum + r.transferSize, nav.transferSize),
  };
}
"""


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# Processes ------------------------------------------------------------------------------------


@dataclass
class Process:
    """A server process of the benchmark, its output in a log file."""

    label: str
    command: list[str]
    cwd: Path
    log_path: Path
    process: subprocess.Popen[bytes] | None = None
    env: dict[str, str] = field(default_factory=dict)
    started: float = 0.0
    ready_seconds: float = 0.0

    def start(self) -> None:
        self.started = time.perf_counter()
        with self.log_path.open("ab") as out:
            self.process = subprocess.Popen(
                self.command,
                cwd=self.cwd,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.env},
            )

    def wait_ready(self, ready: Callable[[], bool], timeout: float = 60) -> None:
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"{self.label} exited with {self.process.returncode}:\n{self.tail()}"
                )
            if ready():
                self.ready_seconds = time.perf_counter() - self.started
                return
            time.sleep(0.02)
        raise RuntimeError(f"{self.label} did not start in {timeout:g} s:\n{self.tail()}")

    def tail(self) -> str:
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-30:])

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None


def accepts(port: int) -> Callable[[], bool]:
    """Whether something listens on the port (asks nothing, so that no cache fills)."""

    def check() -> bool:
        with socket.socket() as s:
            s.settimeout(0.5)
            return s.connect_ex(("127.0.0.1", port)) == 0

    return check


def answers(url: str) -> Callable[[], bool]:
    def check() -> bool:
        try:
            httpx.get(url, timeout=2)
            return True
        except httpx.TransportError:
            return False

    return check


@dataclass
class Setup:
    tmp: Path
    project: Path
    database: str
    vite_app: Path
    vite_js: Path
    logs: Path = field(init=False)

    def __post_init__(self) -> None:
        self.logs = self.tmp / "logs"
        self.logs.mkdir(exist_ok=True)

    def gen_serve(self, label: str) -> tuple[Process, str]:
        """Start `gen serve` on the copy; return it (ready) and its base URL."""
        port = free_port()
        command = [
            str(GEN), "--project", str(self.project), "serve",
            "--database", self.database, "--port", str(port),
        ]  # fmt: skip
        server = Process(label, command, ROOT, self.logs / "gen-serve.log")
        server.start()
        base = f"http://127.0.0.1:{port}"
        # "/" only redirects: it reads no snapshot file and transpiles nothing.
        server.wait_ready(answers(base + "/"))
        return server, base

    def vite(self, api_base: str, fresh: bool, production: bool) -> tuple[Process, str]:
        """Start Vite's dev server on the Vite copy.

        `fresh`: no dep cache, `--force`; `production`: NODE_ENV=production, so that the
        dependencies are pre-bundled with React's production build, as `gen serve` serves.
        """
        port = free_port()
        cache = self.vite_app / ".vite"
        if fresh:
            shutil.rmtree(cache, ignore_errors=True)
        config = self.vite_app / "vite.config.mjs"
        config.write_text(vite_config(self.vite_app, port, api_base), encoding="utf-8")
        command = [node(), str(self.vite_js), "--config", str(config)]
        if fresh:
            command.append("--force")
        env = {"NODE_ENV": "production"} if production else {}
        server = Process("vite", command, self.vite_app, self.logs / "vite.log", env=env)
        server.start()
        server.wait_ready(accepts(port))
        return server, f"http://127.0.0.1:{port}"


def node() -> str:
    found = shutil.which("node")
    if found is None:
        raise SystemExit("node is not on PATH: Vite needs it (and `make setup` needs npm)")
    return found


# Vite -----------------------------------------------------------------------------------------


def ensure_vite() -> Path:
    """Return Vite's CLI script, running `npm ci --prefix bench/vite` when it is not installed."""
    pinned = json.loads((VITE_DIR / "package.json").read_text())["devDependencies"]["vite"]
    installed = VITE_DIR / "node_modules" / "vite" / "package.json"
    if not installed.is_file() or json.loads(installed.read_text())["version"] != pinned:
        log(f"installing Vite {pinned} (npm ci --prefix bench/vite) ...")
        subprocess.run(
            ["npm", "ci", "--prefix", str(VITE_DIR), "--no-audit", "--no-fund"],
            cwd=ROOT,
            check=True,
        )
    return VITE_DIR / "node_modules" / "vite" / "bin" / "vite.js"


def vite_version() -> str:
    installed = VITE_DIR / "node_modules" / "vite" / "package.json"
    return str(json.loads(installed.read_text())["version"])


def vite_project(generated: Path, folder: Path) -> Path:
    """The generated client/ and ui/ with an index.html for Vite; node_modules linked in."""
    folder.mkdir()
    for part in ("client", "ui"):
        shutil.copytree(generated / part, folder / part)
    page = (generated / "ui" / "index.html").read_text(encoding="utf-8")
    start = page.index('<script type="importmap">')
    end = page.index("</script>", start) + len("</script>")
    page = page[:start] + page[end:]
    page = "\n".join(line for line in page.splitlines() if 'rel="modulepreload"' not in line)
    page = page.replace("/_hook/", "/")
    assert '<script type="module" src="/ui/main.ts">' in page, page
    (folder / "index.html").write_text(page + "\n", encoding="utf-8")
    (folder / "node_modules").symlink_to(ROOT / "node_modules", target_is_directory=True)
    return folder


def vite_config(folder: Path, port: int, api_base: str) -> str:
    """Vite's config: SPA fallback, the proxy to `gen serve`, TSX with the automatic runtime."""
    config = {
        "root": str(folder),
        "base": "/",
        "appType": "spa",
        "cacheDir": str(folder / ".vite"),
        "clearScreen": False,
        "logLevel": "warn",
        "resolve": {"alias": {"reframe/ui": str(folder / "ui" / "runtime" / "all.bundle.ts")}},
        # Vite 8 transforms TS/TSX with Oxc (earlier majors: `esbuild: {jsx: "automatic"}`).
        "oxc": {"jsx": {"runtime": "automatic"}},
        "server": {
            "host": "127.0.0.1",
            "port": port,
            "strictPort": True,
            "proxy": {"/api": api_base, "/_overrides": api_base},
            # react & co. resolve (through the link) into the repository's node_modules.
            "fs": {"allow": [str(folder), str(ROOT / "node_modules")]},
        },
    }
    return "export default " + json.dumps(config, indent=2) + ";\n"


# The project, its data -----------------------------------------------------------------------


def copy_and_generate(tmp: Path) -> Path:
    project = tmp / "invoices"
    shutil.copytree(
        EXAMPLE, project, ignore=shutil.ignore_patterns(".gen", "generated", "migrations")
    )
    subprocess.run(
        [str(GEN), "--project", str(project), "generate"],
        cwd=ROOT,
        check=True,
        stdout=subprocess.DEVNULL,
    )
    return project


def seed(base: str, customers: int, invoices: int) -> list[dict[str, Any]]:
    """Sign up (a user, admin of a new tenant) and create rows; return the session cookies."""
    with httpx.Client(base_url=base, timeout=30) as client:
        signed = client.post(
            "/api/auth/signup",
            json={"email": "bench@ui.test", "password": PASSWORD, "tenant": "Bench Ltd"},
        )
        assert signed.status_code == 201, signed.text
        headers = {"x-csrf-token": client.cookies["reframe_csrf"]}
        ids = []
        for n in range(customers):
            made = client.post(
                "/api/customers",
                json={"name": f"Customer {n:03d}", "email": f"billing{n}@ui.test"},
                headers=headers,
            )
            assert made.status_code == 201, made.text
            ids.append(made.json()["id"])
        for n in range(invoices):
            made = client.post(
                "/api/invoices",
                json={
                    "number": f"INV-{n:05d}",
                    "customer": ids[n % len(ids)],
                    "due_date": f"2026-12-{1 + n % 28:02d}",
                },
                headers=headers,
            )
            assert made.status_code == 201, made.text
        return [
            {"name": name, "value": value, "domain": "127.0.0.1", "path": "/"}
            for name, value in client.cookies.items()
        ]


def clear_memo(project: Path) -> int:
    """Forget every transpiled file of the copy's hook store; return how many there were."""
    with sqlite3.connect(project / ".gen" / "store.db") as db:
        count: int = db.execute("DELETE FROM memo").rowcount
    return count


# Loads ----------------------------------------------------------------------------------------


@dataclass
class Load:
    ms: float  # page.goto to the first row
    modules_ms: float  # navigation start to DOMContentLoaded (the module graph ran)
    me_ms: float  # navigation start to the answer of /api/auth/me (who is signed in)
    list_ms: float  # navigation start to the list's API answer
    resources: int  # requests the page made, from the HTTP cache or not
    sent: int  # ... that reached the server
    full: int  # ... answered with a body (not a 304)
    kb: float
    busy_ms: float  # the page's main thread busy (Chromium's TaskDuration), until the row
    script_ms: float  # ... of which running JavaScript (ScriptDuration)


def load(context: BrowserContext, base: str) -> Load:
    """Open the list in a new page of `context`; time it to the first row."""
    page = context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    # The renderer's main-thread time (Chromium's Performance domain), from the same page.
    devtools = context.new_cdp_session(page)
    devtools.send("Performance.enable")
    try:
        before = time.time() * 1000
        page.goto(base + PAGE, wait_until="commit")
        page.wait_for_function("window.__rf_row !== undefined", timeout=60_000)
        facts = page.evaluate(LOAD_FACTS)
        metrics = {
            m["name"]: m["value"] for m in devtools.send("Performance.getMetrics")["metrics"]
        }
    except Exception:
        raise RuntimeError(f"no row at {base}{PAGE}; page errors: {errors}") from None
    finally:
        page.close()
    return Load(
        ms=facts["origin"] + facts["row"] - before,
        modules_ms=facts["modules"],
        me_ms=facts["me"] or float("nan"),
        list_ms=facts["list"] or float("nan"),
        resources=facts["resources"],
        sent=facts["sent"],
        full=facts["full"],
        kb=facts["bytes"] / 1024,
        busy_ms=metrics.get("TaskDuration", float("nan")) * 1000,
        script_ms=metrics.get("ScriptDuration", float("nan")) * 1000,
    )


def new_context(browser: Browser, cookies: list[dict[str, Any]]) -> BrowserContext:
    context = browser.new_context()
    context.add_cookies(cookies)  # type: ignore[arg-type]
    context.add_init_script(ROW_WATCH)
    return context


@dataclass
class Variant:
    """One way of serving the page, and its loads."""

    label: str
    server: str  # "gen" or "vite"
    cached: bool  # gen serve: the transpile memo kept; Vite: the dep cache kept
    warm: bool  # warm loads after the cold one
    production: bool = False  # Vite only: NODE_ENV=production
    cold: list[Load] = field(default_factory=list)
    warm_loads: list[Load] = field(default_factory=list)
    ready: list[float] = field(default_factory=list)

    def cold_ms(self) -> float:
        return statistics.median(x.ms for x in self.cold)

    def warm_ms(self) -> float:
        return statistics.median(x.ms for x in self.warm_loads)

    def run(self, setup: Setup, browser: Browser, cookies: list[Any], warm: int) -> None:
        """Start the servers, load the page cold (then `warm` times warm), stop them."""
        warm = warm if self.warm else 0
        if self.server == "gen":
            if not self.cached:
                clear_memo(setup.project)
            server, base = setup.gen_serve(self.label)
            try:
                self.ready.append(server.ready_seconds)
                measure(browser, cookies, base, self, warm)
            finally:
                server.stop()
            return
        api, api_base = setup.gen_serve("gen serve (API for Vite)")
        try:
            server, base = setup.vite(api_base, fresh=not self.cached, production=self.production)
            try:
                self.ready.append(server.ready_seconds)
                measure(browser, cookies, base, self, warm)
            finally:
                server.stop()
        finally:
            api.stop()


def measure(browser: Browser, cookies: list[Any], base: str, v: Variant, warm: int) -> None:
    context = new_context(browser, cookies)
    try:
        v.cold.append(load(context, base))
        for _ in range(warm):
            v.warm_loads.append(load(context, base))
    finally:
        context.close()
    warm_text = ", warm " + " ".join(f"{x.ms:.0f}" for x in v.warm_loads[-warm:]) if warm else ""
    log(f"  {v.label:<28} cold {v.cold[-1].ms:6.0f} ms{warm_text}")


# Where gen serve's time goes (--profile) -----------------------------------------------------------

TRACE_ENV = "REFRAME_BENCH_TRACE"


def instrumented_serve() -> None:
    """`gen serve` (its arguments after the script's) with timers; see `--profile`.

    Times every HTTP request (ASGI, from its start to its last byte), every
    `Transpiler.transpile` call (memo lookup, esbuild on a miss, memo write),
    every esbuild run, memo lookup and write, and the transpiler's getting of its
    thread's store connection (opened on a thread's first use); writes them as JSON to $REFRAME_BENCH_TRACE when the
    server stops. Only this process is patched; the product's code is unchanged.
    """
    import dataclasses

    import hookfs.transpile as transpile_module
    import runtime.serve as serve_module
    from cli.main import main as gen

    events: list[dict[str, Any]] = []

    def timed(kind: str, function: Callable[..., Any], label: Callable[..., str]) -> Any:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return function(*args, **kwargs)
            finally:
                end = time.perf_counter()
                events.append({"kind": kind, "what": label(*args), "start": start, "end": end})

        return wrapper

    transpile_module.transpile = timed(
        "esbuild", transpile_module.transpile, lambda source, path: path
    )
    transpile_module.Transpiler.transpile = timed(  # type: ignore[method-assign]
        "transpile", transpile_module.Transpiler.transpile, lambda self, source, path, *_: path
    )
    # Each thread of the pool opens its own store connection on its first transpile.
    transpile_module.Transpiler._store = timed(  # type: ignore[method-assign]
        "store", transpile_module.Transpiler._store, lambda self: ""
    )
    store_class = transpile_module.HookStore
    for name in ("memo_get", "memo_put"):
        setattr(
            store_class, name, timed(name, getattr(store_class, name), lambda self, key, *_: key)
        )
    prepare = serve_module.prepare

    def timed_prepare(*args: Any, **kwargs: Any) -> Any:
        prepared = prepare(*args, **kwargs)
        app = prepared.app

        async def asgi(scope: Any, receive: Any, send: Any) -> None:
            if scope["type"] != "http":
                return await app(scope, receive, send)
            start = time.perf_counter()
            status: list[int] = []

            async def sending(message: Any) -> None:
                if message["type"] == "http.response.start":
                    status.append(message["status"])
                await send(message)

            try:
                await app(scope, receive, sending)
            finally:
                events.append({
                    "kind": "request", "what": scope["path"], "start": start,
                    "end": time.perf_counter(), "status": status[0] if status else 0,
                })  # fmt: skip

        return dataclasses.replace(prepared, app=asgi)

    serve_module.prepare = timed_prepare
    try:
        gen.main(args=sys.argv[1:], prog_name="gen")
    finally:
        Path(os.environ[TRACE_ENV]).write_text(json.dumps(events), encoding="utf-8")


def traced_gen_serve(setup: Setup, trace: Path) -> tuple[Process, str]:
    """`gen serve` on the copy under `instrumented_serve`."""
    port = free_port()
    command = [
        sys.executable, "-c", "from bench.ui_speed import instrumented_serve; instrumented_serve()",
        "--project", str(setup.project), "serve", "--database", setup.database,
        "--port", str(port),
    ]  # fmt: skip
    os.environ[TRACE_ENV] = str(trace)
    try:
        server = Process("gen serve (traced)", command, ROOT, setup.logs / "gen-serve.log")
        server.start()
    finally:
        del os.environ[TRACE_ENV]
    base = f"http://127.0.0.1:{port}"
    server.wait_ready(answers(base + "/"))
    return server, base


def bucket(path: str) -> str:
    for prefix, name in (
        ("/_hook/", "/_hook/ (generated modules, CSS)"),
        ("/_vendor/", "/_vendor/ (React, React Query)"),
        ("/api/", "/api/"),
        ("/_overrides/", "/_overrides/"),
        ("/app", "/app/ (the page)"),
    ):
        if path.startswith(prefix):
            return name
    return path


def profile_gen(setup: Setup, browser: Browser, cookies: list[Any], warm: int) -> str:
    """One more cold load (memo emptied) and `warm` warm ones on a traced `gen serve`.

    Return the report's tables.
    """
    trace = setup.tmp / "trace.json"
    cleared = clear_memo(setup.project)
    server, base = traced_gen_serve(setup, trace)
    context = new_context(browser, cookies)
    marks: list[tuple[str, float, float, Load]] = []
    try:
        for n in range(1 + warm):
            start = time.perf_counter()
            done = load(context, base)
            marks.append(("cold" if n == 0 else "warm", start, time.perf_counter(), done))
    finally:
        context.close()
        server.stop()
    events = json.loads(trace.read_text())
    with redirect_stdout(io.StringIO()) as text:
        print_profile(events, marks, cleared, warm)
    return text.getvalue()


def print_profile(
    events: list[dict[str, Any]],
    marks: list[tuple[str, float, float, Load]],
    cleared: int,
    warm: int,
) -> None:
    print(
        f"\nWhere gen serve's time goes (--profile: one more cold load, the memo emptied of "
        f"{cleared} entries, then {warm} warm loads, on a gen serve with timers):\n"
    )
    print(
        "| load | page ms | modules ran at ms | requests | server time: sum ms, median, max "
        "| busy span ms | most in flight | esbuild runs: n, sum ms, median, max "
        "| memo lookups, writes ms | store connections ms |"
    )
    print("|---|---:|---:|---:|---|---:|---:|---|---|---:|")
    for kind, start, end, done in marks:
        inside = [e for e in events if start <= e["start"] <= end]
        requests = [e for e in inside if e["kind"] == "request"]
        runs = [(e["end"] - e["start"]) * 1000 for e in inside if e["kind"] == "esbuild"]

        def total(kind: str, inside: list[dict[str, Any]] = inside) -> float:
            return sum((e["end"] - e["start"]) * 1000 for e in inside if e["kind"] == kind)

        took = [(e["end"] - e["start"]) * 1000 for e in requests]
        span = (
            (max(e["end"] for e in requests) - min(e["start"] for e in requests)) * 1000
            if requests
            else 0.0
        )
        print(
            f"| {kind} | {done.ms:,.0f} | {done.modules_ms:,.0f} | {len(requests)} "
            f"| {sum(took):,.0f}, {statistics.median(took) if took else 0:.1f}, "
            f"{max(took, default=0):.1f} | {span:,.0f} | {most_in_flight(requests)} "
            f"| {len(runs)}, {sum(runs):,.0f}, {statistics.median(runs) if runs else 0:.1f}, "
            f"{max(runs, default=0):.1f} | {total('memo_get'):,.0f}, {total('memo_put'):,.0f} "
            f"| {total('store'):,.0f} |"
        )
    print(
        "\nRequests by kind (server time from the request's start to its last byte; "
        "warm: all warm loads together):\n"
    )
    print("| load | requests to | n | sum ms | median ms | max ms | statuses |")
    print("|---|---|---:|---:|---:|---:|---|")
    for kind in ("cold", "warm"):
        windows = [(start, end) for k, start, end, _ in marks if k == kind]
        requests = [
            e
            for e in events
            if e["kind"] == "request" and any(a <= e["start"] <= b for a, b in windows)
        ]
        kinds: dict[str, list[dict[str, Any]]] = {}
        for e in requests:
            kinds.setdefault(bucket(e["what"]), []).append(e)
        for name, items in sorted(kinds.items()):
            took = [(e["end"] - e["start"]) * 1000 for e in items]
            statuses = ", ".join(
                f"{s} x{n}" for s, n in sorted(Counter(e["status"] for e in items).items())
            )
            print(
                f"| {kind} | {name} | {len(items)} | {sum(took):,.0f} "
                f"| {statistics.median(took):.1f} | {max(took):.1f} | {statuses} |"
            )


def most_in_flight(requests: list[dict[str, Any]]) -> int:
    edges = sorted([(e["start"], 1) for e in requests] + [(e["end"], -1) for e in requests])
    most = current = 0
    for _, step in edges:
        current += step
        most = max(most, current)
    return most


# Report -----------------------------------------------------------------------------------------


def spread(values: list[float]) -> str:
    return f"{min(values):,.0f}-{max(values):,.0f}" if values else "-"


def median_of(loads: list[Load], key: str) -> float:
    values = [getattr(x, key) for x in loads]
    return statistics.median(values) if values else float("nan")


def print_report(variants: dict[str, Variant], args: argparse.Namespace) -> None:
    print(
        "| server | load | n | median ms | min-max ms | modules ran | me answered | list answered "
        "| page main thread busy (script) ms | requests (sent, with body) | KB | server ready s |"
    )
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---|---:|---:|")
    for v in variants.values():
        for kind, loads in (("cold", v.cold), ("warm", v.warm_loads)):
            if not loads:
                continue
            ready = f"{statistics.median(v.ready):.2f}" if kind == "cold" else ""
            print(
                f"| {v.label} | {kind} | {len(loads)} | {median_of(loads, 'ms'):,.0f} "
                f"| {spread([x.ms for x in loads])} | {median_of(loads, 'modules_ms'):,.0f} "
                f"| {median_of(loads, 'me_ms'):,.0f} | {median_of(loads, 'list_ms'):,.0f} "
                f"| {median_of(loads, 'busy_ms'):,.0f} ({median_of(loads, 'script_ms'):,.0f}) "
                f"| {median_of(loads, 'resources'):.0f} "
                f"({median_of(loads, 'sent'):.0f}, {median_of(loads, 'full'):.0f}) "
                f"| {median_of(loads, 'kb'):,.0f} | {ready} |"
            )
    gen, vite = variants["gen"], variants["vite"]
    cold_ratio = gen.cold_ms() / vite.cold_ms()
    warm_ratio = gen.warm_ms() / vite.warm_ms()
    per_round = [g.ms / w.ms for g, w in zip(gen.cold, vite.cold, strict=True)]
    print()
    print(
        f"cold gen serve / Vite: {cold_ratio:.2f}x (per round {min(per_round):.2f}x to "
        f"{max(per_round):.2f}x); target <= 1.00x: " + ("met" if cold_ratio <= 1 else "NOT met")
    )
    print(f"warm gen serve / Vite: {warm_ratio:.2f}x")
    prod = variants["vite-prod"]
    print(
        f"gen serve / Vite with React's production build (what gen serve serves): cold "
        f"{gen.cold_ms() / prod.cold_ms():.2f}x, warm {gen.warm_ms() / prod.warm_ms():.2f}x"
    )
    print(
        f"warm gen serve: {gen.warm_ms():.0f} ms median; target < {TARGET_WARM_MS:.0f} ms: "
        + ("met" if gen.warm_ms() < TARGET_WARM_MS else "NOT met")
    )
    restart = variants["gen-memo"].cold_ms() / variants["vite-cached"].cold_ms()
    print(f"restart (memo / dep cache kept) gen serve / Vite: {restart:.2f}x")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5, help="cold loads per variant")
    parser.add_argument("--warm", type=int, default=2, help="warm loads per round and server")
    parser.add_argument("--invoices", type=int, default=100)
    parser.add_argument("--customers", type=int, default=10)
    parser.add_argument("--profile", action="store_true", help="py-spy on one more cold load")
    args = parser.parse_args(argv)
    from playwright.sync_api import sync_playwright

    began = time.perf_counter()
    vite_js = ensure_vite()
    chromium = os.environ.get("REFRAME_CHROMIUM") or shutil.which("chromium")
    if chromium is None:
        raise SystemExit("no chromium on PATH: run `make chromium`")
    steal_before, total_before = cpu_times()
    load_before = os.getloadavg()[0]
    probe_before = calibration_seconds()
    profile = ""
    version = vite_version()
    # The order of one round; odd rounds run it backwards. Each kept cache follows, in both
    # orders, the cold load that filled it (Vite's dep cache: its default NODE_ENV's).
    variants = {
        "gen": Variant("gen serve", "gen", cached=False, warm=True),
        "vite-prod": Variant(
            f"Vite {version}, production React", "vite", cached=False, warm=True, production=True
        ),
        "vite": Variant(f"Vite {version}", "vite", cached=False, warm=True),
        "gen-memo": Variant("gen serve, memo kept", "gen", cached=True, warm=False),
        "vite-cached": Variant(f"Vite {version}, dep cache kept", "vite", cached=True, warm=False),
    }
    with (
        tempfile.TemporaryDirectory(prefix="reframe-ui-bench-") as tmp_name,
        scratch_database(server_url(), "ui") as database,
        sync_playwright() as playwright,
    ):
        tmp = Path(tmp_name)
        log("copying examples/invoices, gen generate ...")
        project = copy_and_generate(tmp)
        setup = Setup(
            tmp, project, database, vite_project(project / "generated", tmp / "vite"), vite_js
        )
        seeder, base = setup.gen_serve("gen serve (seed)")
        try:
            log(f"seeding {args.customers} customers, {args.invoices} invoices over the API ...")
            cookies = seed(base, args.customers, args.invoices)
        finally:
            seeder.stop()
        browser = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        try:
            log("warm-up (not counted): one cold load of each server")
            Variant("warm-up gen serve", "gen", cached=False, warm=False).run(
                setup, browser, cookies, 0
            )
            Variant("warm-up Vite", "vite", cached=False, warm=False).run(
                setup, browser, cookies, 0
            )
            for n in range(args.rounds):
                log(f"round {n + 1}/{args.rounds}")
                order = list(variants.values())
                for variant in order if n % 2 == 0 else order[::-1]:
                    variant.run(setup, browser, cookies, args.warm)
            if args.profile:
                profile = profile_gen(setup, browser, cookies, args.warm)
        finally:
            browser.close()
    steal_after, total_after = cpu_times()
    elapsed = total_after - total_before
    steal = (steal_after - steal_before) / elapsed if elapsed > 0 else None
    load_after = os.getloadavg()[0]
    probe_after = calibration_seconds()

    print(
        f"Machine: {cpu_model()}, {os.cpu_count()} cores; Python {platform.python_version()}; "
        f"PostgreSQL {server_version(server_url())}; Vite {vite_version()}; "
        f"node {subprocess.run([node(), '--version'], capture_output=True, text=True).stdout.strip()}"
        + (f"; CPU steal during the run {steal:.0%}" if steal is not None else "")
        + f"; load average before / after {load_before:.1f} / {load_after:.1f}"
    )
    print(
        f"examples/invoices, {args.customers} customers and {args.invoices} invoices; "
        f"GET {PAGE} to the first `{ROW}`; {args.rounds} rounds, alternating; "
        f"{args.warm} warm loads per round. 'modules ran', 'me answered', 'list answered': "
        "ms from the navigation's start to DOMContentLoaded, to the answer of /api/auth/me, "
        "of /api/invoices (medians)"
    )
    print()
    print_report(variants, args)
    print(profile, end="")
    print(
        "\nMachine speed probe (10M-step Python loop, best of 3) before / after: "
        f"{probe_before * 1000:,.0f} / {probe_after * 1000:,.0f} ms; "
        f"total {time.perf_counter() - began:.0f} s"
    )


if __name__ == "__main__":
    main()
