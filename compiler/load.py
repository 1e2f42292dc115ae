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
from compiler.dsl.same import same_declaration
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


@dataclass(frozen=True)
class LoadedProject:
    root: Path
    config: ProjectConfig | None
    declarations: Declarations
    #: Every file read, relative to the root, in load order.
    files: tuple[str, ...]
    #: Bytecode of the files compiled in this load, saved once the compile succeeds.
    bytecode: BytecodeCache
    #: Each file's own declarations, by relative path (what a later load may reuse).
    by_file: Mapping[str, LoadedFile] = field(default_factory=dict)
    #: Modules of the project the model files imported (helpers), by name.
    helpers: tuple[str, ...] = ()


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

    Only pass `reuse` when nothing else a model file can read changed (gen.toml,
    helper modules of the project), and when no model file imports a helper module
    (a helper runs again in whichever file imports it first, and may declare
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
            earlier = (reuse or {}).get(relative)
            if earlier is not None and earlier.source == source:
                by_file[relative] = earlier
                continue
            own = Declarations()
            with collecting(own):
                _exec_model_file(path, source, bytecode, diagnostics)
            if earlier is not None:
                own = _earlier_where_same(own, earlier.declarations)
            by_file[relative] = LoadedFile(source, own)
    return LoadedProject(
        root=root,
        config=config,
        declarations=_merged(by_file.values()),
        files=tuple(by_file),
        bytecode=bytecode,
        by_file=by_file,
        helpers=tuple(sorted(importable.forgotten)),
    )


def _earlier_where_same(now: Declarations, earlier: Declarations) -> Declarations:
    """`now`, with each declaration the file made before as it is now replaced by the
    earlier object (compiler/dsl/same.py): what a compile reuses stays reused."""
    before = {decl.name: decl for decl in earlier.entities if isinstance(decl.name, str)}

    def kept(decl: EntityDecl) -> EntityDecl:
        old = before.get(decl.name) if isinstance(decl.name, str) else None
        return old if old is not None and same_declaration(old, decl) else decl

    return Declarations(
        entities=[kept(decl) for decl in now.entities],
        policies=_kept_at(now.policies, earlier.policies),
        themes=_kept_at(now.themes, earlier.themes),
    )


def _kept_at(now: list[D], earlier: list[D]) -> list[D]:
    """Each of `now`, or the earlier one at its place when that is the same."""
    return [
        earlier[i] if i < len(earlier) and same_declaration(earlier[i], decl) else decl
        for i, decl in enumerate(now)
    ]


def _merged(loaded: Iterable[LoadedFile]) -> Declarations:
    """The declarations of every file, in load order."""
    merged = Declarations()
    for each in loaded:
        merged.entities += each.declarations.entities
        merged.policies += each.declarations.policies
        merged.themes += each.declarations.themes
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
