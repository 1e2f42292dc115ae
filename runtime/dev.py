"""`gen dev`: `gen serve` that follows the project as it is saved.

A thread watches `domain/`, `policies/`, `ui/` and `gen.toml` (watchfiles,
debounced). A saved model file is rebuilt in this process (compile, generate,
one snapshot, the mirror: hookfs/writer.py); then the dev database follows
the model when that is safe (runtime/dev_database.py), the new snapshot's app
replaces the served one (requests in flight finish on the old one), and every
open page hears of it on `/_dev/events` (server-sent events): the page
imports the new snapshot's `ui/app` and re-renders in place. A file under
`ui/overrides/` needs no rebuild: the pages re-import it.

A model that does not compile changes nothing that is served: the error
(file:line, what, how to fix) is printed and sent to the pages, which show
it over the app until a save compiles again.

Other `gen` commands of the project may hand their work to it (`answer`,
runtime/dev_link.py): `gen migrate make` is answered from the model it keeps
compiled.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import secrets
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from compiler import ir
from compiler.diagnostics import CompileError
from generators.pipeline import Session
from generators.registry import GeneratorError
from hookfs.store import Snapshot, StoreError
from hookfs.transpile import (
    EsbuildMissing,
    TranspileError,
    Transpiler,
    bundle_inputs,
    is_bundle,
)
from hookfs.web import OVERRIDE_MODULES, OVERRIDES_DIR, snapshot_version, ui_routes
from runtime.api.model import known_model
from runtime.dev_database import DevDatabaseError, follow_model
from runtime.dev_link import TOKEN_HEADER, new_token
from runtime.serve import (
    EMPTY_DATABASE_NOTE,
    ServeError,
    bring_schema_up_to_date,
    load_api,
    snapshot_files,
    unload_api,
)

EVENTS_PATH = "/_dev/events"
#: What is watched, relative to the project; a change elsewhere is not the model's.
WATCHED = ("domain", "policies", "ui", "gen.toml")
OVERRIDES = OVERRIDES_DIR + "/"
#: Sent now and then so that proxies and the browser keep the stream open.
KEEPALIVE_SECONDS = 15.0
#: How long a request to `/api` waits for the API of a new snapshot to load.
API_WAIT_SECONDS = 120.0
#: How long the API's reload waits for the open pages to show a new snapshot.
PAGES_WAIT_SECONDS = 3.0


@dataclass(frozen=True)
class Change:
    """What a rebuild did, for the terminal."""

    ok: bool
    lines: tuple[str, ...]


@dataclass(frozen=True)
class _Built(Change):
    #: The snapshot committed, when there is a new one to serve.
    snapshot: Snapshot | None = None


class Events:
    """Server-sent events to every open page; `publish` may be called from any thread."""

    def __init__(self) -> None:
        self._queues: set[asyncio.Queue[dict[str, Any]]] = set()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._lock = threading.Condition()
        #: Sent to a page as it connects: the error being shown, if any.
        self.current: dict[str, Any] = {"type": "ok"}
        #: Per snapshot: pages told of it that have not yet said they show it.
        self._showing: dict[int, int] = {}

    def publish(self, event: dict[str, Any]) -> None:
        with self._lock:
            if event["type"] in ("error", "update", "ok"):
                self.current = event
            loop, queues = self._loop, list(self._queues)
            if event["type"] == "update" and loop is not None:
                # A page told to reload (new UI runtime) does not say when it shows it.
                self._showing = {event["snapshot"]: 0 if event["reload"] else len(queues)}
        if loop is None:
            return
        for queue in queues:
            loop.call_soon_threadsafe(queue.put_nowait, event)

    def shown(self, snapshot: int) -> None:
        """A page says it shows `snapshot` (it imported its app and rendered it)."""
        with self._lock:
            if self._showing.get(snapshot, 0) > 0:
                self._showing[snapshot] -= 1
                self._lock.notify_all()

    def wait_shown(self, snapshot: int, timeout: float) -> None:
        """Until every page told of `snapshot` shows it, at most `timeout` seconds."""
        with self._lock:
            self._lock.wait_for(lambda: self._showing.get(snapshot, 0) <= 0, timeout)

    async def stream(self, request: Request) -> StreamingResponse:
        queue: asyncio.Queue[dict[str, Any]] = asyncio.Queue()
        with self._lock:
            self._loop = asyncio.get_running_loop()
            self._queues.add(queue)
            # What the page loaded is this state: it needs no list of what changed.
            first = {k: v for k, v in self.current.items() if k != "changed"}
        first["connected"] = True

        async def body() -> Any:
            try:
                yield _sse(first)
                while not await request.is_disconnected():
                    try:
                        event = await asyncio.wait_for(queue.get(), KEEPALIVE_SECONDS)
                    except TimeoutError:
                        yield ": keepalive\n\n"
                        continue
                    yield _sse(event)
            finally:
                with self._lock:
                    self._queues.discard(queue)

        headers = {"cache-control": "no-cache", "x-accel-buffering": "no"}
        return StreamingResponse(body(), media_type="text/event-stream", headers=headers)


def _sse(event: dict[str, Any]) -> str:
    return f"data: {json.dumps(event)}\n\n"


#: How long without a save before the builds' garbage is collected (`Session`).
QUIET_MS = 3000


class DevServer:
    """The ASGI app `gen dev` runs: its event stream, the current snapshot's UI and API.

    A rebuild shows the new UI first: the pages are told as soon as the snapshot is
    committed, and re-render from it while the API reloads. Requests to `/api` made
    meanwhile wait for the reloaded API (never the old one: it does not know the new
    model), so the reload's time is not in the way of what the page shows.
    """

    def __init__(self, root: Path, url: str, say: Callable[[str], None] = print) -> None:
        self.root = root
        self.url = url
        self.say = say
        self.events = Events()
        self.session = Session(root, quiet_collector=True)
        self._transpiler = Transpiler(root)
        self._snapshot: Snapshot | None = None
        self._files: dict[str, bytes] = {}
        self._ui: Starlette | None = None
        self._api: Any = None
        #: The snapshot whose API is loaded: a new one reuses its unchanged modules.
        self._api_snapshot: Snapshot | None = None
        #: Why the served snapshot's API could not be loaded (`/api` answers 503 with it).
        self._api_failure: str | None = None
        #: Set while the API served is the one of the UI served.
        self._api_ready = threading.Event()
        #: The model of the snapshot being served.
        self._served: ir.Project | None = None
        self._rebuild_lock = threading.Lock()
        #: The last build's model error, as sent to the pages; None after a good build.
        self._error: dict[str, Any] | None = None
        #: What commands of the project may ask (`answer`), by path, and the token they
        #: must show (runtime/dev_link.py writes it where only this user reads it).
        self._answers: dict[str, Callable[[dict[str, Any]], dict[str, Any]]] = {}
        self.token = new_token()

    def answer(self, path: str, handler: Callable[[dict[str, Any]], dict[str, Any]]) -> None:
        """Answer a command's JSON POST to `path` with `handler`'s (it runs in a thread)."""
        self._answers[path] = handler

    # -- the app -----------------------------------------------------------------

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] == "http" and scope["path"] == EVENTS_PATH:
            request = Request(scope, receive)
            if request.method == "POST":  # a page shows the snapshot it was told of
                with contextlib.suppress(ValueError):
                    self.events.shown(int(request.query_params.get("shown", "")))
                response: Response = Response(status_code=204)
            else:
                response = await self.events.stream(request)
            await response(scope, receive, send)
            return
        if scope["type"] == "http" and scope["path"] in self._answers:
            await self._answer_command(scope, receive, send)
            return
        assert self._ui is not None, "start() first"
        if scope["path"] == "/api" or scope["path"].startswith("/api/"):
            await self._api_loaded()
            if self._api_failure is not None:
                response = JSONResponse(
                    {"title": "The API of the new model failed to load", "status": 503,
                     "detail": self._api_failure},
                    status_code=503,
                    media_type="application/problem+json",
                )  # fmt: skip
                await response(scope, receive, send)
                return
            await self._api(scope, receive, send)
            return
        await self._ui(scope, receive, send)

    async def _answer_command(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        request = Request(scope, receive)
        shown = request.headers.get(TOKEN_HEADER, "")
        if request.method != "POST" or not secrets.compare_digest(shown, self.token):
            response: Response = Response(status_code=403 if request.method == "POST" else 405)
            await response(scope, receive, send)
            return
        try:
            asked = json.loads(await request.body())
        except ValueError:
            asked = None
        if not isinstance(asked, dict):
            await Response(status_code=400)(scope, receive, send)
            return
        if asked.get("project") != str(self.root.resolve()):  # a copy's command: not ours
            await Response(status_code=409)(scope, receive, send)
            return
        handler = self._answers[scope["path"]]
        await JSONResponse(await run_in_threadpool(handler, asked))(scope, receive, send)

    async def _api_loaded(self) -> None:
        """Until the API of the UI being served is loaded (a request cancelled meanwhile
        holds no thread)."""
        deadline = time.monotonic() + API_WAIT_SECONDS
        while not self._api_ready.is_set() and time.monotonic() < deadline:
            await asyncio.sleep(0.01)

    async def _lifespan(self, receive: Any, send: Any) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                _dispose(self._api)
                await send({"type": "lifespan.shutdown.complete"})
                return

    @property
    def snapshot_id(self) -> int:
        assert self._snapshot is not None
        return self._snapshot.id

    def start(self) -> Change:
        """Build what the project holds now, and serve it (else the last good snapshot)."""
        previous = _head_project(self.root)
        built, project, files = self._build()
        if built.snapshot is not None and project is not None and files is not None:
            snapshot = built.snapshot  # served as built: its model is `project`
        else:
            try:  # the last good snapshot: this build failed
                snapshot, files = snapshot_files(self.root, None)
            except ServeError as exc:  # nothing to serve: say why the build failed too
                raise ServeError("\n".join((*built.lines[:-1], str(exc)))) from exc
            # The head, as it was before this build: read already (`previous`).
            project = previous or ir.Project.model_validate_json(files["ir.json"])
        # An empty database gets this snapshot's schema here.
        schema_note = bring_schema_up_to_date(self.root, self.url, files)
        self._served = project
        self._bundle_ahead(files)
        self._show_ui(snapshot, files)
        failure = self._load_api(self._served)
        self._api_ready.set()
        if self._error is not None:  # the pages that connect are to see why it is not new
            self.events.publish(self._error)
        if schema_note == EMPTY_DATABASE_NOTE or previous is None:
            note = self._follow(self._served, self._served)  # it is at this model: keep that
        else:
            note = self._follow(previous, self._served)
        self.session.keep_caches()
        return Change(
            built.ok and failure is None, (*built.lines, schema_note, note, failure or "")
        )

    # -- rebuilding --------------------------------------------------------------------

    def changed(self, paths: Iterable[Path]) -> Change | None:
        """React to saved files: overrides are re-imported by the pages, the rest rebuilds."""
        relative = sorted({r for r in map(self._relative, _with_files(paths)) if r is not None})
        if not relative:
            return None
        overrides = [p for p in relative if p.startswith(OVERRIDES) and _is_module(p)]
        # A new folder of overrides is no model change: its files are imported.
        relative = [p for p in relative if p != OVERRIDES.rstrip("/")]
        if overrides:
            self.events.publish({"type": "overrides", "paths": overrides})
        if all(p.startswith(OVERRIDES) for p in relative):
            return Change(True, (f"override changed: {', '.join(overrides)}",))
        with self._rebuild_lock:
            began = time.perf_counter()
            built, project, files = self._build()
            if project is None or files is None or built.snapshot is None:
                return built
            assert self._served is not None
            try:
                self._show_ui(built.snapshot, files)
                told = time.perf_counter()
                # The API's reload takes the processor for a while: the pages first fetch
                # and show the new UI (they say so), then it runs. Their API requests wait.
                self.events.wait_shown(built.snapshot.id, PAGES_WAIT_SECONDS)
                shown = time.perf_counter()
                # The database first, so that the reloaded API finds the columns it asks for.
                note = self._follow(self._served, project)
                self._served = project
                failure = self._load_api(project)
            finally:
                self._api_ready.set()  # whatever happened, no request waits for nothing
            self.session.keep_caches()
            done = time.perf_counter()
            timing = _took(told - began, shown - began, done - began)
            return Change(failure is None, (*built.lines, note, failure or timing))

    def _relative(self, path: Path) -> str | None:
        try:
            relative = path.resolve().relative_to(self.root.resolve()).as_posix()
        except ValueError:
            return None
        top = relative.split("/", 1)[0]
        return relative if top in WATCHED else None

    def _build(self) -> tuple[_Built, ir.Project | None, dict[str, bytes] | None]:
        """Compile, generate and commit a snapshot; on a model error, tell the pages.

        Returns the model and the files of a new snapshot, else None for both.
        """
        try:
            built, report = self.session.generate(
                "gen dev", lambda made: self._bundle_ahead({a.path: a.content for a in made})
            )
        except CompileError as exc:
            self._failed([d.as_json() for d in exc.diagnostics])
            lines = (exc.render(), "still serving the last good snapshot")
            return _Built(False, lines), None, None
        except (GeneratorError, StoreError) as exc:
            self._failed_with("generate", str(exc))
            return _Built(False, (str(exc), "still serving the last good snapshot")), None, None
        if self._error is not None:  # the pages show an error: the model compiles again
            self._error = None
            self.events.publish({"type": "ok"})
        if not report.created and report.snapshot.id == self._api_snapshot_id():
            line = f"snapshot {report.snapshot.id}: the same output, nothing to reload"
            return _Built(True, (line,)), None, None
        written = report.mirror.written + report.mirror.removed
        line = f"snapshot {report.snapshot.id}: {len(written)} file(s) changed"
        files = {a.path: a.content for a in built.artifacts}
        return _Built(True, (line,), report.snapshot), built.project, files

    def _api_snapshot_id(self) -> int | None:
        return self._api_snapshot.id if self._api_snapshot is not None else None

    def _failed(self, errors: list[dict[str, object]]) -> None:
        self._error = {"type": "error", "errors": errors}
        self.events.publish(self._error)

    def _failed_with(self, code: str, message: str) -> None:
        """A failure that is no model error (it has no file and line)."""
        self._failed([{"file": "", "line": 0, "code": code, "message": message, "hint": ""}])

    def _show_ui(self, snapshot: Snapshot, files: dict[str, bytes]) -> None:
        """Serve `snapshot`'s UI, hold `/api` until its API is loaded, and tell the pages."""
        before, self._files = self._files, files
        version = snapshot_version(files)
        routes = ui_routes(files, self.root, self._transpiler, EVENTS_PATH, version)
        self._api_ready.clear()
        self._ui = Starlette(routes=routes)
        self._snapshot = snapshot
        changed = sorted(p for p in set(before) | set(files) if before.get(p) != files.get(p))
        self.events.publish(
            {
                "type": "update",
                "snapshot": snapshot.id,
                "app": f"/_hook/~{version}/ui/app",
                "changed": changed,
                # Code the page keeps from its first load: a new one needs a reload.
                "reload": any(p.startswith(("ui/runtime/", "ui/index.html")) for p in changed),
            }
        )

    def _bundle_ahead(self, files: dict[str, bytes]) -> None:
        """Make the bundles a page will ask for (those whose modules changed) before the pages
        are told (while the snapshot is written): asked for while the API reloads, one took
        over a second at 200 entities."""
        before = self._files
        try:
            for entry in filter(is_bundle, files):
                inputs = bundle_inputs(files, entry)
                if all(before.get(path) is data for path, data in inputs.modules.items()):
                    continue  # the same modules: the bundle is remembered
                with contextlib.suppress(TranspileError, EsbuildMissing):  # the page is told
                    self._transpiler.bundle(inputs, self._transpiler.bundle_key(inputs))
        finally:
            self._transpiler.close()  # this thread's connection to the store

    def _load_api(self, model: ir.Project) -> str | None:
        """Import the served snapshot's API, whose model is `model` (reusing the unchanged
        modules of the last one).

        When it fails, `/api` answers 503 with why, the pages show it, and the reason is
        returned; the next save that loads replaces it. The caller then lets `/api` through
        (`_api_ready`).
        """
        assert self._snapshot is not None
        old = self._api
        known_model(self._files["ir.json"], model)  # the model the build made
        try:
            api = load_api(self.root, self.url, self._snapshot, self._files, self._api_snapshot)
        except Exception as exc:  # the generated API, or code of the project it imports
            failure = f"the API of snapshot {self._snapshot.id} failed to load: {exc!r}"
            self._api_failure = failure
            if self._snapshot.id != self._api_snapshot_id():
                unload_api(self._snapshot)  # what it imported before it failed
            self._failed_with("api", failure)
            return failure
        replaced = self._api_snapshot
        if replaced is not None and replaced.id != self._snapshot.id:
            # Before requests reach the new API: no import runs while its modules go.
            unload_api(replaced)  # else every save's modules would stay in memory
        self._api, self._api_snapshot, self._api_failure = api, self._snapshot, None
        if old is not None:
            _dispose(old)
        return None

    def _follow(self, served: ir.Project, new: ir.Project) -> str:
        """Bring the dev database along, or say why it was not: the API loads either way."""
        try:
            return follow_model(self.root, self.url, served, new)
        except DevDatabaseError as exc:
            return str(exc)
        except Exception as exc:  # Postgres unreachable, and the like
            return f"the dev database could not be brought to the model: {exc!r}"

    # -- watching ----------------------------------------------------------------------

    def watch(self, stop: threading.Event) -> None:
        """Rebuild on every batch of saved files until `stop` is set; run it in a thread."""
        from watchfiles import DefaultFilter, watch

        server = self

        class Watched(DefaultFilter):
            # The project root is watched (an editor may replace gen.toml rather than write
            # it), and only what WATCHED names counts: the rebuild's own output does not.
            def __call__(self, change: Any, path: str) -> bool:
                return super().__call__(change, path) and server._relative(Path(path)) is not None

        for batch in watch(
            self.root,
            watch_filter=Watched(),
            stop_event=stop,
            debounce=400,
            step=30,
            rust_timeout=QUIET_MS,
            yield_on_timeout=True,
        ):
            if not batch:  # nothing saved for a while: collect what the builds left
                self.session.collect_garbage()
                continue
            try:
                change = self.changed(Path(path) for _, path in batch)
            except Exception as exc:  # said, and the watch goes on: the next save may mend it
                self.say(f"the rebuild failed: {exc!r}")
                continue
            if change is not None:
                for line in change.lines:
                    if line:
                        self.say(line)


def _is_module(path: str) -> bool:
    return Path(path).suffix in OVERRIDE_MODULES and not path.endswith(".d.ts")


def _with_files(paths: Iterable[Path]) -> list[Path]:
    """The paths, a folder's files added: an editor may create a folder and its file at once,
    faster than a watch on the new folder starts."""
    found: list[Path] = []
    for path in paths:
        found.append(path)
        if path.is_dir():
            found.extend(p for p in sorted(path.rglob("*")) if p.is_file())
    return found


def _head_project(root: Path) -> ir.Project | None:
    """The model of the store's latest snapshot, if there is one."""
    try:
        _, files = snapshot_files(root, None)
    except ServeError:
        return None
    return ir.Project.model_validate_json(files["ir.json"])


def _dispose(app: Any) -> None:
    """Close the database connections of an API no longer served."""
    engine = getattr(getattr(app, "state", None), "engine", None)
    if engine is not None:
        engine.dispose()


def _took(told: float, shown: float, api: float) -> str:
    return (
        f"pages told in {told * 1000:.0f} ms, shown by {shown * 1000:.0f} ms; "
        f"API reloaded by {api * 1000:.0f} ms"
    )
