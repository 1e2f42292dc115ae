"""Execute a project's model and policy files and collect their declarations.

Model files are ordinary Python. Whatever goes wrong in one (a syntax error,
a misspelt name, a builder used the wrong way) becomes a diagnostic at the
file and line where it happened, and loading goes on with the next file so
that one run reports every broken file.
"""

from __future__ import annotations

import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

from compiler.bytecode import BytecodeCache
from compiler.config import ProjectConfig, load_config
from compiler.diagnostics import Diagnostics
from compiler.dsl.declarations import Declarations, collecting
from compiler.expr import DslUsageError
from compiler.source import SourceLoc, project_root, relative_file

MODEL_GLOB = "*.model.py"
POLICY_GLOB = "*.policy.py"
#: Design tokens for the UI (optional): `theme(light={...}, dark={...})`.
THEME_FILE = "ui/theme.py"


@dataclass(frozen=True)
class LoadedProject:
    root: Path
    config: ProjectConfig | None
    declarations: Declarations
    #: Every file read, relative to the root, in load order.
    files: tuple[str, ...]
    #: Bytecode of the files compiled in this load, saved once the compile succeeds.
    bytecode: BytecodeCache


def model_files(root: Path) -> list[Path]:
    """Model files under domain/, policy files under policies/, sorted; then ui/theme.py."""
    found = sorted((root / "domain").rglob(MODEL_GLOB)) if (root / "domain").is_dir() else []
    if (root / "policies").is_dir():
        found += sorted((root / "policies").rglob(POLICY_GLOB))
    if (root / THEME_FILE).is_file():
        found.append(root / THEME_FILE)
    return found


def load_project(root: Path, diagnostics: Diagnostics) -> LoadedProject:
    root = root.resolve()
    config = load_config(root, diagnostics)
    declarations = Declarations()
    bytecode = BytecodeCache(root)
    files = model_files(root)
    if not any(f.name.endswith(".model.py") for f in files) and config is not None:
        diagnostics.error(
            SourceLoc("domain", 0),
            "no-models",
            f"no model files found under {root / 'domain'}.",
            "add a file such as domain/things.model.py declaring entity(...).",
        )
    with project_root(root), _importable(root), collecting(declarations):
        for path in files:
            _exec_model_file(path, bytecode, diagnostics)
    return LoadedProject(
        root=root,
        config=config,
        declarations=declarations,
        files=tuple(path.relative_to(root).as_posix() for path in files),
        bytecode=bytecode,
    )


def _exec_model_file(path: Path, bytecode: BytecodeCache, diagnostics: Diagnostics) -> None:
    source = path.read_text(encoding="utf-8")
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

    def __enter__(self) -> None:
        self.before = set(sys.modules)
        self.bytecode = sys.dont_write_bytecode
        sys.dont_write_bytecode = True
        sys.path.insert(0, self.root)

    def __exit__(self, *exc: object) -> None:
        sys.path.remove(self.root)
        sys.dont_write_bytecode = self.bytecode
        for name in set(sys.modules) - self.before:
            module_file = getattr(sys.modules[name], "__file__", None) or ""
            if module_file.startswith(self.root):
                del sys.modules[name]
