"""The IR of the last successful compile, reused while nothing it came from changed.

Compiling 500 entities takes about a second; reading the IR it produced back
takes a fifth of that. `gen generate` stores the IR it compiled, and the next
command that needs the IR of unchanged inputs (`gen migrate make` right
after `gen generate`, a regenerate with no change) reads it instead.

The key covers everything a compile can read: the content of every `.py`
and `.toml` file of the project (model files may import the project's own
modules), and the compiler's own sources by size and modification time (read once
per process: the code that compiles is the code the process loaded).
Generated output, migrations and dot-folders are not inputs. One entry is
kept; it is written only after a successful run, atomically, and an entry
that cannot be read is ignored.
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import os
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pydantic

from compiler import ir
from compiler.compile import Compiled, compile_project, fewer_gc_pauses
from compiler.source_stamps import add_source_stamps

CACHE_DIR = Path(".gen") / "cache" / "ir"
_INPUT_SUFFIXES = (".py", ".toml")
#: Folders of a project that no compile reads.
_NOT_INPUTS = frozenset({"generated", "migrations", "node_modules", "__pycache__"})
_COMPILER_DIR = Path(__file__).resolve().parent


def inputs_key(project_root: Path) -> str:
    digest = hashlib.sha256()
    digest.update(_compiler_version())
    for path in project_inputs(project_root):
        digest.update(path.relative_to(project_root).as_posix().encode() + b"\0")
        digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


@functools.cache
def _compiler_version() -> bytes:
    """Python's, pydantic's and the compiler's versions: once a process (`gen dev` asks each
    save; stamping the compiler's files took half of it)."""
    digest = hashlib.sha256(f"{sys.version}\0{pydantic.VERSION}\0".encode())
    add_source_stamps(digest, _COMPILER_DIR)
    return digest.digest()


def project_inputs(root: Path) -> list[Path]:
    found: list[Path] = []
    for folder, subfolders, files in os.walk(root):
        subfolders[:] = [
            d
            for d in subfolders
            if d not in _NOT_INPUTS
            and not d.startswith(".")
            and not os.path.isfile(os.path.join(folder, d, "pyvenv.cfg"))  # a virtualenv
        ]
        found.extend(Path(folder, name) for name in files if name.endswith(_INPUT_SUFFIXES))
    return sorted(found)


class IrCache:
    def __init__(self, project_root: Path) -> None:
        self.folder = project_root / CACHE_DIR
        self.key = inputs_key(project_root)

    @property
    def entry(self) -> Path:
        return self.folder / f"{self.key}.json"

    def load(self) -> ir.Project | None:
        """The stored IR for these exact inputs, or None."""
        with contextlib.suppress(OSError, ValueError):
            return ir.Project.model_validate_json(self.entry.read_bytes())
        return None

    def save(self, project: ir.Project) -> None:
        """Keep `project` as the one entry; a cache that cannot be written is skipped."""
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            partial = self.entry.with_suffix(f".{os.getpid()}.tmp")
            partial.write_bytes(project.model_dump_json().encode())
            os.replace(partial, self.entry)
            for old in self.folder.glob("*.json"):
                if old != self.entry:
                    old.unlink(missing_ok=True)


@dataclass(frozen=True)
class Reused:
    """An IR, compiled or read back, and how to keep what compiling it produced."""

    project: ir.Project
    #: Stores the IR and model bytecode; call once the command has succeeded.
    save: Callable[[], None]


def compile_or_reuse(project_root: Path) -> Reused:
    """The IR of the project: the stored one when no input changed, else a fresh compile.

    Raises CompileError like `compile_project`.
    """
    cache = IrCache(project_root)
    with fewer_gc_pauses():
        stored = cache.load()
        if stored is not None:
            return Reused(stored, save=lambda: None)
        compiled = compile_project(project_root)
    return Reused(compiled.project, keeper(cache, compiled))


def keeper(cache: IrCache, compiled: Compiled) -> Callable[[], None]:
    """What stores `compiled`'s IR under `cache`'s key (the inputs as they were when the
    compile began: not when the keeping runs) and the bytecode of its model files."""

    def keep() -> None:
        compiled.loaded.bytecode.save()
        cache.save(compiled.project)

    return keep
