"""Execute a project's model and policy files and collect their declarations.

Model files are ordinary Python. Whatever goes wrong in one (a syntax error,
a misspelt name, a builder used the wrong way) becomes a diagnostic at the
file and line where it happened, and loading goes on with the next file so
that one run reports every broken file.
"""

from __future__ import annotations

import sys
import traceback
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from compiler.bytecode import BytecodeCache
from compiler.config import ProjectConfig, load_config
from compiler.diagnostics import Diagnostics
from compiler.dsl.declarations import Declarations, EntityDecl, collecting
from compiler.dsl.same import Print, lines_moved, printed, same_declaration
from compiler.expr import DslUsageError
from compiler.source import SourceLoc, project_root, relative_file

D = TypeVar("D")

MODEL_GLOB = "*.model.py"
POLICY_GLOB = "*.policy.py"
#: Design tokens for the UI (optional): `theme(light={...}, dark={...})`.
THEME_FILE = "ui/theme.py"


@dataclass(frozen=True)
class LoadedFile:
    """What one model, policy or theme file declared, and the source it ran."""

    source: str
    declarations: Declarations
    #: What a compile is given: `declarations`, with each one that says what an earlier
    #: run of the file declared (maybe lines away) replaced by that earlier object.
    given: Declarations | None = None
    #: Lines each of `given.entities` now sits below the line its object was made at.
    moved: tuple[int, ...] = ()
    #: `printed(decl, decl.loc)` of each of `given.entities` (compiler/dsl/same.py).
    prints: tuple[Print, ...] = ()

    @property
    def compiled(self) -> Declarations:
        """What a compile is given."""
        return self.given if self.given is not None else self.declarations


@dataclass(frozen=True)
class LoadedProject:
    root: Path
    config: ProjectConfig | None
    #: What a compile is given (see LoadedFile.given), in load order.
    declarations: Declarations
    #: Every file read, relative to the root, in load order.
    files: tuple[str, ...]
    #: Bytecode of the files compiled in this load, saved once the compile succeeds.
    bytecode: BytecodeCache
    #: Each file's own declarations, by relative path (what a later load may reuse).
    by_file: Mapping[str, LoadedFile] = field(default_factory=dict)
    #: Modules of the project the model files imported (helpers), by name.
    helpers: tuple[str, ...] = ()
    #: Entities of `declarations` made that many lines above where they are now declared,
    #: by name: the compile moves what it makes of them down (compiler/relocate.py).
    moved: Mapping[str, tuple[str, int]] = field(default_factory=dict)

    def as_declared(self) -> Declarations:
        """The declarations as the files made them this time, none moved."""
        return _merged(f.declarations for f in self.by_file.values())


def model_files(root: Path) -> list[Path]:
    """Model files under domain/, policy files under policies/, sorted; then ui/theme.py."""
    found = sorted((root / "domain").rglob(MODEL_GLOB)) if (root / "domain").is_dir() else []
    if (root / "policies").is_dir():
        found += sorted((root / "policies").rglob(POLICY_GLOB))
    if (root / THEME_FILE).is_file():
        found.append(root / THEME_FILE)
    return found


def load_project(
    root: Path, diagnostics: Diagnostics, reuse: Mapping[str, LoadedFile] | None = None
) -> LoadedProject:
    """Run every model file; `reuse`: files of an earlier load, kept where the source is the same.

    Only pass `reuse` (an empty one the first time) when nothing else a model file can read
    changed (gen.toml, helper modules of the project), and when no model file imports a
    helper module (a helper runs again in whichever file imports it first, and may declare
    entities): compiler/incremental.py decides that.
    """
    root = root.resolve()
    config = load_config(root, diagnostics)
    bytecode = BytecodeCache(root)
    files = model_files(root)
    if not any(f.name.endswith(".model.py") for f in files) and config is not None:
        diagnostics.error(
            SourceLoc("domain", 0),
            "no-models",
            f"no model files found under {root / 'domain'}.",
            "add a file such as domain/things.model.py declaring entity(...).",
        )
    by_file: dict[str, LoadedFile] = {}
    importable = _importable(root)
    with project_root(root), importable:
        for path in files:
            relative = path.relative_to(root).as_posix()
            source = path.read_text(encoding="utf-8")
            earlier = reuse.get(relative) if reuse is not None else None
            if earlier is not None and earlier.source == source:
                by_file[relative] = earlier
                continue
            own = Declarations()
            with collecting(own):
                _exec_model_file(path, source, bytecode, diagnostics)
            by_file[relative] = (
                _beside_earlier(source, own, earlier)
                if reuse is not None
                else LoadedFile(source, own)
            )
    return LoadedProject(
        root=root,
        config=config,
        declarations=_merged(f.compiled for f in by_file.values()),
        files=tuple(by_file),
        bytecode=bytecode,
        by_file=by_file,
        helpers=tuple(sorted(importable.forgotten)),
        moved=_moved(by_file.values()),
    )


def _beside_earlier(source: str, now: Declarations, earlier: LoadedFile | None) -> LoadedFile:
    """The file as it ran now; each entity declaration that says what one of `earlier` said
    is given to the compile as that earlier object: what the compile made of it is reused."""
    prints = tuple(printed(decl, decl.loc) for decl in now.entities)
    if earlier is None:
        return LoadedFile(source, now, None, (0,) * len(prints), prints)
    before = earlier.compiled
    by_name = {decl.name: i for i, decl in enumerate(before.entities) if isinstance(decl.name, str)}
    # A policy() in a model file puts its lines into an entity's rules: that entity's
    # results cannot be moved with it (compiler/relocate.py), so it is compiled again.
    may_move = not now.policies
    given: list[EntityDecl] = []
    moved: list[int] = []
    for decl, print_ in zip(now.entities, prints, strict=True):
        i = by_name.pop(decl.name, None) if isinstance(decl.name, str) else None
        lines = None if i is None else lines_moved(decl, print_, *_printed_at(earlier, i))
        if i is not None and lines is not None and (lines == 0 or may_move):
            given.append(before.entities[i])
            moved.append(lines)
        else:
            given.append(decl)
            moved.append(0)
    kept = Declarations(
        entities=given,
        policies=_kept_at(now.policies, before.policies),
        themes=_kept_at(now.themes, before.themes),
    )
    return LoadedFile(source, now, kept, tuple(moved), prints)


def _printed_at(loaded: LoadedFile, i: int) -> tuple[EntityDecl, Print]:
    """The `i`-th entity a compile was given for the file, and its print."""
    decl = loaded.compiled.entities[i]
    return decl, loaded.prints[i] if i < len(loaded.prints) else printed(decl, decl.loc)


def _moved(files: Iterable[LoadedFile]) -> dict[str, tuple[str, int]]:
    """(file, lines) by entity name, for each entity given to the compile lines above
    where it is now declared."""
    return {
        decl.name: (decl.loc.file, lines)
        for loaded in files
        for decl, lines in zip(loaded.compiled.entities, loaded.moved, strict=False)
        if lines
    }


def _kept_at(now: list[D], earlier: list[D]) -> list[D]:
    """Each of `now`, or the earlier one at its place when that is the same (same lines)."""
    return [
        earlier[i] if i < len(earlier) and same_declaration(earlier[i], decl) else decl
        for i, decl in enumerate(now)
    ]


def _merged(declared: Iterable[Declarations]) -> Declarations:
    """The declarations of every file, in load order."""
    merged = Declarations()
    for each in declared:
        merged.entities += each.entities
        merged.policies += each.policies
        merged.themes += each.themes
    return merged


def _exec_model_file(
    path: Path, source: str, bytecode: BytecodeCache, diagnostics: Diagnostics
) -> None:
    relative = relative_file(str(path))
    try:
        code = bytecode.compile(source, path)
    except SyntaxError as exc:
        diagnostics.error(
            SourceLoc(relative, exc.lineno or 1),
            "python-syntax",
            f"this model file is not valid Python: {exc.msg}.",
            "model files are ordinary Python; fix the syntax on that line.",
        )
        return
    namespace = {"__name__": f"reframe_models.{path.stem.replace('.', '_')}", "__file__": str(path)}
    try:
        exec(code, namespace)
    except DslUsageError as exc:
        diagnostics.error(_failing_line(exc, path), "dsl-usage", exc.message, exc.hint)
    except Exception as exc:
        diagnostics.error(
            _failing_line(exc, path),
            "python-error",
            f"running this model file raised {type(exc).__name__}: {exc}.",
            _python_error_hint(exc),
        )


def _failing_line(exc: BaseException, path: Path) -> SourceLoc:
    """The deepest frame of the traceback inside the project (model file first)."""
    frames = traceback.extract_tb(exc.__traceback__)
    in_file = [f for f in frames if Path(f.filename) == path]
    chosen = in_file[-1] if in_file else (frames[-1] if frames else None)
    if chosen is None:
        return SourceLoc(relative_file(str(path)), 1)
    return SourceLoc(relative_file(chosen.filename), chosen.lineno or 1)


def _python_error_hint(exc: Exception) -> str:
    if isinstance(exc, NameError):
        return (
            "import the name from compiler.dsl (see docs/model-language.md), or refer to "
            'another entity by its name as a string: ref("Customer").'
        )
    if isinstance(exc, TypeError):
        return "check the arguments against docs/model-language.md."
    return "fix the Python on that line; model files run top to bottom like any module."


class _importable:
    """Let model files import helper modules from the project, then forget them.

    Helpers are dropped from sys.modules afterwards so the next compile (as in
    `gen dev`) sees their new contents. Importing them writes no __pycache__
    into the project: a compile (even a failing one) leaves the project as it was.
    """

    def __init__(self, root: Path) -> None:
        self.root = str(root)
        #: The project's modules imported inside the block (dropped at its end).
        self.forgotten: set[str] = set()

    def __enter__(self) -> None:
        self.before = set(sys.modules)
        self.bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        sys.path.insert(0, self.root)

    def __exit__(self, *exc: object) -> None:
        sys.path.remove(self.root)
        sys.dont_write_bytecode = self.bytecode
        self.forgotten = set()
        for name in set(sys.modules) - self.before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(self.root):
                del sys.modules[name]
                self.forgotten.add(name)
