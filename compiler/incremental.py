"""Compile one project again and again, redoing only what a save changed (`gen dev`).

A `Recompiler` keeps what its last good compile loaded and computed: each
model file's declarations (with the source that made them) and the passes'
per-entity results (compiler/passes/reuse.py). The next compile runs again
only the model files whose source changed, and the per-entity pass steps
whose entity, or something they looked up, changed. A declaration that says what
it said before, lines further down (a line added above it), is not compiled again:
what was made of it is moved down (compiler/relocate.py). When an input that any
model file may read changed (gen.toml, a helper module of the project),
everything runs again.

The result is the IR a compile from nothing gives: the same entities, equal
field by field (tests/test_incremental_compile.py edits models at random and
compares).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from compiler.compile import Compiled, compile_project, fewer_gc_pauses
from compiler.ir_cache import project_inputs
from compiler.load import model_files
from compiler.passes.reuse import EntityReuse


class Recompiler:
    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._last: Compiled | None = None
        #: Hashes of what the last good compile read besides model files.
        self._others: dict[str, str] = {}

    def compile(self) -> Compiled:
        """The project's IR now; raises CompileError like `compile_project`."""
        others = self._other_inputs()
        last = self._last if others == self._others else None
        # Files that import helper modules run together: a helper runs in the first file
        # that imports it, and what it declares is that file's (tests: a shared helper).
        # An empty mapping the first time: the load notes what a later one compares with.
        files = None if last and last.loaded.helpers else last.loaded.by_file if last else {}
        with fewer_gc_pauses():
            compiled = compile_project(
                self.root, files=files, reuse=EntityReuse(last.reuse if last else None)
            )
        self._last, self._others = compiled, others
        return compiled

    def _other_inputs(self) -> dict[str, str]:
        """gen.toml and every .py file of the project that is not a model, policy or theme file."""
        models = set(model_files(self.root))
        return {
            path.relative_to(self.root).as_posix(): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in project_inputs(self.root)
            if path not in models
        }
