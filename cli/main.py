"""The `gen` command."""

from __future__ import annotations

import gc
import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console
from rich.markup import escape

from compiler.diagnostics import CompileError

# Commands import what they use when they run: `gen --help` or `gen migrate status` need
# no compiler, no generators (their import took 0.3 s before any command ran).

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def find_project(start: Path) -> Path:
    """The folder holding gen.toml: `start` itself or its nearest parent."""
    from compiler.project_files import CONFIG_FILE

    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / CONFIG_FILE).is_file():
            return folder
    fail(
        f"no {CONFIG_FILE} in {start} or any folder above it. Run `gen init DIR` to create a "
        "project, or pass --project DIR pointing at one."
    )


def fail(message: str, code: int = 1) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", markup=True)
    sys.exit(code)


def _report_compile_error(exc: CompileError, as_json: bool) -> NoReturn:
    if as_json:
        out.print_json(data={"ok": False, "errors": [d.as_json() for d in exc.diagnostics]})
        sys.exit(1)
    err.print(exc.render(), markup=False)
    sys.exit(1)


class _Context:
    def __init__(self, project: Path | None) -> None:
        self._project = project

    @property
    def project(self) -> Path:
        return find_project(self._project or Path.cwd())


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--project",
    type=click.Path(file_okay=False, path_type=Path),
    help="The project folder (default: the current folder or the nearest parent with gen.toml).",
)
@click.version_option(package_name="reframe", prog_name="gen")
@click.pass_context
def main(ctx: click.Context, project: Path | None) -> None:
    """Reframe: turn declarative *.model.py files into a database, an API and a UI.

    \b
    Start here:
      gen init my-app        a new project with one sample entity
      gen check              compile the model and show errors with file:line
      gen generate           write everything into the hook store and generated/
      gen inspect Invoice    where did this come from, and what came from it?
    """
    ctx.obj = _Context(project)
    if ctx.invoked_subcommand in _ONE_SHOT and gc.isenabled():
        # A command that compiles and exits frees its objects at exit: the cyclic collector
        # would only rescan them (0.10 to 0.15 s of `gen migrate make` at 500 entities).
        gc.disable()
        ctx.call_on_close(gc.enable)  # run in a process that goes on (tests): back on after


#: Commands that compile the model once and exit (not `serve` or `dev`, which live on).
_ONE_SHOT = frozenset({"check", "generate", "inspect", "migrate"})


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The app's name (default: the folder's name).")
def init(directory: Path, name: str | None) -> None:
    """Create a new project in DIRECTORY with one sample entity.

    The folder must be empty or not exist yet. Afterwards run `gen generate`
    inside it.
    """
    from cli.scaffold import ScaffoldError, create_project

    try:
        created = create_project(directory, name)
    except ScaffoldError as exc:
        fail(str(exc))
    out.print(f"Created a project in {directory}:")
    for path in created:
        out.print(f"  {path}")
    out.print(f"\nNext: cd {directory} && gen check && gen generate")


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def check(obj: _Context, as_json: bool) -> None:
    """Compile the model only and report every error with file:line.

    Writes nothing. Exits 1 when the model has errors.
    """
    from compiler.compile import compile_project

    try:
        compiled = compile_project(obj.project)
    except CompileError as exc:
        _report_compile_error(exc, as_json)
    project = compiled.project
    user_entities = [e for e in project.entities if not e.builtin]
    summary: dict[str, Any] = {
        "ok": True,
        "entities": len(user_entities),
        "fields": sum(len(e.fields) for e in user_entities),
        "files": list(compiled.loaded.files),
    }
    if as_json:
        out.print_json(data=summary)
        return
    out.print(
        f"ok: {_count(len(user_entities), 'entity', 'entities')}, "
        f"{_count(int(summary['fields']), 'field')} from "
        f"{_count(len(compiled.loaded.files), 'file')}; no errors."
    )


def _count(n: int, singular: str, plural: str | None = None) -> str:
    return f"{n} {singular if n == 1 else plural or singular + 's'}"


@main.command()
@click.option("-m", "--message", default="gen generate", help="Message stored with the snapshot.")
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def generate(obj: _Context, message: str, as_json: bool) -> None:
    """Compile and run every generator; store one snapshot; mirror it to generated/.

    Nothing is written unless the model compiles and every generator
    succeeds. With no model change there is no new snapshot and no file is
    rewritten. Files you put in generated/ yourself are never touched.
    """
    from generators.pipeline import generate as run_generate
    from generators.registry import GeneratorError
    from hookfs.store import StoreError

    root = obj.project
    try:
        with err.status("Compiling and generating...", spinner="dots"):
            built, report = run_generate(root, message)
    except CompileError as exc:
        _report_compile_error(exc, as_json)
    except (GeneratorError, StoreError) as exc:
        fail(str(exc))
    mirror = report.mirror
    result: dict[str, Any] = {
        "snapshot": report.snapshot.id,
        "new_snapshot": report.created,
        "artifacts": len(built.artifacts),
        "written": list(mirror.written),
        "unchanged": len(mirror.unchanged),
        "removed": list(mirror.removed),
        "kept": list(mirror.kept),
    }
    if as_json:
        out.print_json(data=result)
        return
    state = "new snapshot" if report.created else "no model change, snapshot"
    out.print(
        f"{state} {report.snapshot.id}: {len(mirror.written)} written, "
        f"{len(mirror.unchanged)} unchanged, {len(mirror.removed)} removed "
        f"({len(built.artifacts)} files in {root / 'generated'})"
    )
    for path in mirror.kept:
        out.print(f"  kept {path}: no longer generated, but you edited it; delete it if unneeded")


@main.command()
@click.argument("target", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON.")
@click.pass_obj
def inspect(obj: _Context, target: str | None, as_json: bool) -> None:
    """Trace TARGET between the model and the generated files.

    \b
    TARGET is one of:
      Invoice              an entity
      Invoice.status       a field
      ir.json:120          a generated file, optionally at a line
    For each: the declaration (file:line), the IR node, and every artifact
    derived from it with the rule that produced it and why. Without TARGET,
    lists the entities and where they are declared.
    """
    from cli.inspect import InspectError, inspect_target, render_inspection
    from generators.pipeline import build
    from generators.registry import GeneratorError

    try:
        built = build(obj.project)
        inspection = inspect_target(built, obj.project, target)
    except CompileError as exc:
        _report_compile_error(exc, as_json)
    except (GeneratorError, InspectError) as exc:
        fail(str(exc))
    if as_json:
        out.print(json.dumps(inspection, indent=2, ensure_ascii=False), markup=False)
        return
    render_inspection(out, inspection)


if __name__ == "__main__":
    main()


# Migrations ------------------------------------------------------------------------------


@main.group()
def migrate() -> None:
    """Database migrations computed from the model (Alembic revisions under migrations/).

    \b
      gen migrate make -m "add due dates"   diff the model, write the next revision
      gen migrate make --plan               say what would change, write nothing
      gen migrate apply                     bring the database up to date
      gen migrate status                    which revisions the database has
      gen migrate down 1                    undo the last revision
    """


@migrate.command("make")
@click.option("-m", "--message", default="migration", help="What the migration does.")
@click.option("--plan", "plan_only", is_flag=True, help="Print the plan; write nothing.")
@click.option(
    "--allow-destructive",
    is_flag=True,
    help="Allow dropping tables or columns, narrowing types and removing enum values.",
)
@click.option(
    "--rename",
    multiple=True,
    metavar="OLD=NEW",
    help="Confirm a rename: Label=Tag, Invoice.note=notes.",
)
@click.option(
    "--no-rename", multiple=True, metavar="OLD=NEW", help="Say a drop + add is not a rename."
)
@click.option(
    "--backfill",
    multiple=True,
    metavar="FIELD=VALUE",
    help="Value for existing rows: Invoice.due_date=2026-01-31.",
)
@click.option(
    "--enum-map",
    multiple=True,
    metavar="FIELD:OLD=NEW",
    help="Where rows of a removed value go: Invoice.status:void=draft.",
)
@click.pass_obj
def migrate_make(
    obj: _Context,
    message: str,
    plan_only: bool,
    allow_destructive: bool,
    rename: tuple[str, ...],
    no_rename: tuple[str, ...],
    backfill: tuple[str, ...],
    enum_map: tuple[str, ...],
) -> None:
    """Diff the model against the last migration and write the next Alembic revision.

    Renames declared with .renamed_from() are kept as renames (data stays).
    A drop and an add that may be a rename, a required field without default
    on a table that has rows, or a removed enum value are asked on a
    terminal; elsewhere they are errors naming the flag that answers them.
    """
    from runtime.dev_link import MIGRATE_PATH, NoAnswer, running_dev_server

    root = obj.project
    interactive = sys.stdin.isatty() and not plan_only
    dev = running_dev_server(root)
    if dev is not None:  # it has the model compiled: ask it (a fifth of the time)
        asked = {
            "project": str(root.resolve()),
            "message": message,
            "plan_only": plan_only,
            "allow_destructive": allow_destructive,
            "rename": rename,
            "no_rename": no_rename,
            "backfill": backfill,
            "enum_map": enum_map,
            "interactive": interactive,
        }
        try:
            answer = dev.post(MIGRATE_PATH, asked)
        except NoAnswer as exc:
            fail(
                f"gen dev (process {dev.pid}) took the request but {exc}. It may have written "
                "a revision: look in migrations/versions/, then run `gen migrate make` again."
            )
        if answer is not None and answer.get("kind") != "ask":  # "ask": asked here, below
            _report_made_by_dev(answer)
            return

    from cli.migrate import MigrateError, make_migration, parse_answers

    try:
        answers = parse_answers(rename, no_rename, backfill, enum_map)
        made = make_migration(
            root,
            message,
            answers,
            allow_destructive=allow_destructive,
            plan_only=plan_only,
            ask=_ask_on_terminal if interactive else None,
        )
    except CompileError as exc:
        _report_compile_error(exc, False)
    except MigrateError as exc:
        fail(str(exc))
    _report_made(**made.shown(root))


def _report_made_by_dev(answer: dict[str, Any]) -> None:
    """Say what `gen dev` said, as the command would have."""
    try:
        if answer["kind"] == "compile_error":
            err.print(answer["text"], markup=False)
            sys.exit(1)
        if answer["kind"] == "error":
            fail(answer["message"])
        _report_made(answer["steps"], answer["revision"], answer["written"])
    except (KeyError, TypeError, ValueError):
        fail(
            f"gen dev answered what this command does not understand: {str(answer)[:200]}. "
            "Look in migrations/versions/ for what it wrote, and restart `gen dev`."
        )


def _report_made(steps: list[Any], revision: str | None, written: list[str]) -> None:
    if not steps:
        out.print("No changes: the database schema of the model matches the last migration.")
        return
    _print_plan(steps)
    if revision is None:
        out.print("\n(plan only: nothing written)")
        return
    out.print(f"\nWrote revision {revision}:")
    for path in written:
        out.print(f"  {path}")
    out.print("Apply it with: gen migrate apply")


def _print_plan(steps: list[Any]) -> None:
    """One write of plain lines: a plan of 500 tables printed through rich took 0.8 s.
    `steps`: cli/migrate.py's `Step`s."""
    lines = [f"{_count(len(steps), 'operation')}:"]
    marked = click.style(" (destructive)", fg="red", bold=True)
    for number, (description, lock, risk, destructive, reversible) in enumerate(steps, 1):
        lines.append(f"  {number}. {description}{marked if destructive else ''}")
        lines.append(f"     lock: {lock}")
        if risk:
            lines.append(f"     risk: {risk}")
        if not reversible:
            lines.append("     cannot be undone")
    click.echo("\n".join(lines))


def _ask_on_terminal(question: Any) -> str | bool:
    if question.kind == "rename":
        return click.confirm(question.prompt, default=False)
    if question.kind == "backfill":
        return str(click.prompt(question.prompt))
    value = question.flag.split(":", 1)[1].split("=", 1)[0]
    return f"{value}={click.prompt(question.prompt)}"


def _database_url(root: Path, database: str | None) -> str:
    from compiler.config import load_config
    from compiler.diagnostics import Diagnostics
    from runtime.database import resolve_database_url

    config = load_config(root, Diagnostics())
    configured = config.app.database if config is not None else None
    return resolve_database_url(database, configured, root)


_DATABASE = click.option(
    "--database",
    metavar="URL",
    help="postgresql://... (default: the url in gen.toml, else the embedded database).",
)


@migrate.command("apply")
@_DATABASE
@click.pass_obj
def migrate_apply(obj: _Context, database: str | None) -> None:
    """Apply every pending revision. A failure rolls its revision back and names the step."""
    from runtime.migrations import MigrationFailed, apply

    root = obj.project
    try:
        done = apply(root, _database_url(root, database))
    except MigrationFailed as exc:
        fail(str(exc))
    if not done:
        out.print("The database is up to date.")
    for revision in done:
        out.print(f"applied {revision}")


@migrate.command("status")
@_DATABASE
@click.pass_obj
def migrate_status(obj: _Context, database: str | None) -> None:
    """List every revision and whether the database has it."""
    from runtime.migrations import status

    root = obj.project
    states = status(root, _database_url(root, database))
    if not states:
        out.print("No migrations yet: run `gen migrate make`.")
    for state in states:
        mark = (
            "partly applied (index builds pending)"
            if state.partial
            else ("applied" if state.applied else "pending")
        )
        out.print(f"  {state.revision}  {mark:8}  {escape(state.message)}")


@migrate.command("down")
@click.argument("steps", type=click.IntRange(min=1), default=1)
@_DATABASE
@click.pass_obj
def migrate_down(obj: _Context, steps: int, database: str | None) -> None:
    """Undo the last STEPS applied revisions (default 1)."""
    from runtime.migrations import MigrationFailed, down

    root = obj.project
    try:
        undone = down(root, _database_url(root, database), steps)
    except MigrationFailed as exc:
        fail(str(exc))
    for revision in undone:
        out.print(f"undid {revision}")


@main.command()
@click.option("--count", type=click.IntRange(min=1, max=100_000), default=20, show_default=True)
@click.option(
    "--seed", "seed_value", type=int, default=0, show_default=True, help="Same seed, same data."
)
@_DATABASE
@click.pass_obj
def seed(obj: _Context, count: int, seed_value: int, database: str | None) -> None:
    """Fill the database with plausible rows that satisfy every constraint of the model.

    Makes a demo tenant with admin@demo.test, billing@demo.test and
    member@demo.test (password: demo-password), then COUNT rows per entity.
    Apply the migrations first (gen migrate apply).
    """
    from cli.seed import seed_project
    from runtime.seed import DEMO_PASSWORD, SeedError

    root = obj.project
    try:
        report = seed_project(root, _database_url(root, database), count, seed_value)
    except CompileError as exc:
        _report_compile_error(exc, False)
    except SeedError as exc:
        fail(str(exc))
    total = sum(report.rows.values())
    out.print(f"Seeded {_count(total, 'row')} in {_count(len(report.rows), 'entity', 'entities')}.")
    out.print(
        f"Sign in as admin@demo.test, billing@demo.test or member@demo.test ({DEMO_PASSWORD})."
    )


@main.command()
@_DATABASE
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--version", "version", type=int, help="Serve this snapshot (default: the latest).")
@click.pass_obj
def serve(obj: _Context, database: str | None, port: int, host: str, version: int | None) -> None:
    """Serve the generated app straight from the hook store: no build step.

    With no --database and no url in gen.toml, an embedded PostgreSQL that
    needs no set-up. The schema is brought up to date first (migrations, or
    the snapshot's schema on an empty database).
    """
    import uvicorn

    from runtime.serve import ServeError, prepare

    root = obj.project
    try:
        prepared = prepare(root, _database_url(root, database), version)
    except ServeError as exc:
        fail(str(exc))
    out.print(
        f"Serving snapshot {prepared.snapshot.id} ({escape(prepared.snapshot.message)}); {prepared.schema_note}."
    )
    out.print(f"App: http://{host}:{port}/app/")
    out.print(f"API: http://{host}:{port}/api  docs: http://{host}:{port}/api/docs")
    uvicorn.run(prepared.app, host=host, port=port, log_level="warning")


@main.command()
@_DATABASE
@click.option("--port", type=click.IntRange(1, 65535), default=8000, show_default=True)
@click.option("--host", default="127.0.0.1", show_default=True)
@click.pass_obj
def dev(obj: _Context, database: str | None, port: int, host: str) -> None:
    """Serve the app and follow the project: a saved file rebuilds, reloads and updates pages.

    A model error keeps the last good snapshot served and shows the error in the
    terminal and over the app in every open page. The dev database follows the model
    when that loses no data; the terminal says when it does not.
    """
    import signal
    import threading

    import uvicorn

    from cli.migrate import answer_from_dev
    from runtime.dev import WATCHED, DevServer
    from runtime.dev_link import MIGRATE_PATH, announced, code_fingerprint
    from runtime.serve import ServeError

    code = code_fingerprint()  # of the code imported now, before anyone edits it
    root = obj.project
    server = DevServer(
        root, _database_url(root, database), say=lambda line: out.print(escape(line))
    )
    try:
        started = server.start()
    except ServeError as exc:
        fail(str(exc))
    for line in started.lines:
        out.print(escape(line))
    out.print(f"Serving snapshot {server.snapshot_id}; watching {', '.join(WATCHED)}.")
    out.print(f"App: http://{host}:{port}/app/")
    out.print(f"API: http://{host}:{port}/api  docs: http://{host}:{port}/api/docs")
    server.answer(MIGRATE_PATH, answer_from_dev(server.session, server.say))
    stop = threading.Event()
    watcher = threading.Thread(target=server.watch, args=(stop,), name="gen-dev-watch", daemon=True)
    watcher.start()
    # uvicorn, once stopped, raises a SIGTERM it caught again: exit through Python instead,
    # so that the link file is removed.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(128 + signal.SIGTERM))
    try:
        # Written before uvicorn listens: a command that comes too early does its own work.
        with announced(root, host, port, server.token, code):
            # A limit, so that no open page (its event stream) can hold Ctrl-C for long.
            uvicorn.run(
                server, host=host, port=port, log_level="warning", timeout_graceful_shutdown=1
            )
    finally:
        stop.set()
        server.session.close()
        # This command ends the process: collecting the models it kept would only delay
        # that (3 to 4 s at 500 entities). Not for a caller that goes on: none does.
        gc.freeze()
