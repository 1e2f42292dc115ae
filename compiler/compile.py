"""Compile a project: load the model files, run the passes, return a frozen IR."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from compiler import ir, naming
from compiler.builtins import BUILTIN_NAMES, builtin_entities
from compiler.diagnostics import CompileError, Diagnostics
from compiler.dsl.declarations import Declarations, EntityDecl
from compiler.load import LoadedFile, LoadedProject, load_project
from compiler.passes import PASSES
from compiler.passes.context import PassContext
from compiler.passes.reuse import EntityReuse
from compiler.relocate import relocated


@dataclass(frozen=True)
class Compiled:
    project: ir.Project
    loaded: LoadedProject
    #: The per-entity pass results, when the compile kept them (compiler/incremental.py).
    reuse: EntityReuse | None = None


_pause_lock = threading.Lock()
_pause_depth = 0
_threshold_before = gc.get_threshold()


@contextmanager
def fewer_gc_pauses() -> Iterator[None]:
    """Collect young objects less often while compiling.

    A compile allocates hundreds of thousands of small objects that live until
    it ends, and generators then walk them; with the default threshold the
    cyclic collector rescans them over and over (about 30% of a 500-entity
    compile, a third of generating). mypy does the same. Nesting is fine, in one
    thread or several (`gen dev` builds in one and answers commands in another):
    the first block in sets the threshold, the last one out restores it.
    """
    global _pause_depth, _threshold_before
    with _pause_lock:
        if _pause_depth == 0:
            _threshold_before = gc.get_threshold()
            gc.set_threshold(100_000, 50, 100)
        _pause_depth += 1
    try:
        yield
    finally:
        with _pause_lock:
            _pause_depth -= 1
            if _pause_depth == 0:
                gc.set_threshold(*_threshold_before)


def compile_project(
    root: Path,
    files: Mapping[str, LoadedFile] | None = None,
    reuse: EntityReuse | None = None,
) -> Compiled:
    """Compile the project at `root`, or raise CompileError with every problem.

    `files` and `reuse`: what an earlier compile of this project loaded and
    computed, to keep where it still holds (compiler/incremental.py).
    """
    with fewer_gc_pauses():
        return _compile(root, files, reuse)


def _compile(
    root: Path, files: Mapping[str, LoadedFile] | None, reuse: EntityReuse | None
) -> Compiled:
    diagnostics = Diagnostics()
    loaded = load_project(root, diagnostics, files)
    if loaded.config is None:
        diagnostics.raise_if_any()
    assert loaded.config is not None
    loading_errors = list(diagnostics.items)
    project = _passes(loaded, loaded.declarations, diagnostics, reuse, bool(loaded.moved))
    if diagnostics and loaded.moved:
        # Moved declarations still carry the lines they were made at: errors name the
        # lines where things are now, so the declarations as made this time run instead.
        diagnostics = Diagnostics(loading_errors)
        project = _passes(loaded, loaded.as_declared(), diagnostics, None, False)
    diagnostics.raise_if_any()
    if loaded.moved:
        project = _relocated(project, loaded.moved, reuse)
    return Compiled(project=project, loaded=loaded, reuse=reuse)


def _passes(
    loaded: LoadedProject,
    declarations: Declarations,
    diagnostics: Diagnostics,
    reuse: EntityReuse | None,
    stop_at_error: bool,
) -> ir.Project:
    """Run the passes over `declarations` (or until the first error, when told)."""
    config = loaded.config
    assert config is not None
    builtins = (
        reuse.kept("builtins", lambda: builtin_entities(config))
        if reuse
        else builtin_entities(config)
    )
    ctx = PassContext(
        config=config,
        entities=_entities_by_name(builtins, declarations, diagnostics),
        policy_files=list(declarations.policies),
        diagnostics=diagnostics,
        reuse=reuse,
    )
    # An entity refused here (a table clash) is reported once; uses of it stay quiet.
    ctx.broken.update(
        decl.name
        for decl in declarations.entities
        if isinstance(decl.name, str) and decl.name not in ctx.entities
    )
    project = ir.Project(
        app=ir.AppConfig(
            name=config.app.name,
            roles=config.app.roles,
            tenancy=config.app.tenancy,
            auth_providers=config.auth.providers,
        ),
        entities=(),
        theme=_theme(declarations, diagnostics),
    )
    for run in PASSES:
        if stop_at_error and diagnostics:
            break
        project = run(project, ctx)
    return project


def _relocated(
    project: ir.Project, moved: Mapping[str, tuple[str, int]], reuse: EntityReuse | None
) -> ir.Project:
    """`project` with what was made of each moved declaration moved to where it is now."""

    def move(entity: ir.Entity) -> ir.Entity:
        where = moved.get(entity.name)
        if where is None:
            return entity
        return reuse.relocated(entity, *where) if reuse else relocated(entity, *where)

    order = {entity.name: i for i, entity in enumerate(project.entities)}

    def move_table(table: ir.JoinTable) -> ir.JoinTable:
        # Made from the field of the first entity it serves (passes/relations.py).
        maker = min((q.partition(".")[0] for q in table.serves), key=order.__getitem__)
        where = moved.get(maker)
        return relocated(table, *where) if where else table

    return project.replace(
        entities=tuple(map(move, project.entities)),
        join_tables=tuple(map(move_table, project.join_tables)),
    )


def _entities_by_name(
    builtins: list[EntityDecl], declarations: Declarations, diagnostics: Diagnostics
) -> dict[str, EntityDecl]:
    """Declarations by name; a repeated name or table is an error at the second one."""
    found: dict[str, EntityDecl] = {decl.name: decl for decl in builtins}
    tables: dict[str, EntityDecl] = {naming.table_name(d.name): d for d in builtins}
    for decl in declarations.entities:
        name = decl.name if isinstance(decl.name, str) else repr(decl.name)
        earlier = found.get(name)
        if earlier is not None:
            builtin = name in BUILTIN_NAMES
            diagnostics.error(
                decl.loc,
                "entity-builtin" if builtin else "entity-duplicate",
                f"entity {name!r} is built in."
                if builtin
                else f"entity {name!r} is declared twice: at {earlier.loc} and at {decl.loc}.",
                'refer to it with ref("' + name + '") instead of declaring it.'
                if builtin
                else "rename one of them, or delete the copy.",
            )
            continue
        table = naming.table_name(name) if isinstance(decl.name, str) else name
        clash = tables.get(table)
        if clash is not None:
            diagnostics.error(
                decl.loc,
                "entity-table-clash",
                f"entities {clash.name!r} and {name!r} would both use the table {table!r}.",
                "rename one of them so their snake_case names differ.",
            )
            continue
        found[name] = decl
        tables[table] = decl
    return found


__all__ = ["CompileError", "Compiled", "compile_project"]


def _theme(declarations: Declarations, diagnostics: Diagnostics) -> ir.Theme | None:
    """The tokens of `ui/theme.py`'s one `theme(...)` call, if any."""
    themes = declarations.themes
    for extra in themes[1:]:
        diagnostics.error(
            extra.loc,
            "theme-duplicate",
            f"theme(...) is called twice: at {themes[0].loc} and at {extra.loc}.",
            "keep one theme(...) call in ui/theme.py and merge the tokens.",
        )
    if not themes:
        return None
    decl = themes[0]
    return ir.Theme(
        light=tuple(sorted(decl.light.items())),
        dark=tuple(sorted(decl.dark.items())),
        loc=ir.SourceRef(file=decl.loc.file, line=decl.loc.line),
    )
