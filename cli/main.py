"""The `gen` command."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, NoReturn

import click
from rich.console import Console

from cli.inspect import InspectError, inspect_target, render_inspection
from cli.scaffold import ScaffoldError, create_project
from compiler.config import CONFIG_FILE
from compiler.diagnostics import CompileError
from generators.registry import GeneratorError
from hookfs.store import StoreError

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)


def find_project(start: Path) -> Path:
    """The folder holding gen.toml: `start` itself or its nearest parent."""
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


@main.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path))
@click.option("--name", help="The app's name (default: the folder's name).")
def init(directory: Path, name: str | None) -> None:
    """Create a new project in DIRECTORY with one sample entity.

    The folder must be empty or not exist yet. Afterwards run `gen generate`
    inside it.
    """
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
    from generators.pipeline import build

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
