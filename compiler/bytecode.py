"""A bytecode cache for model files: `__pycache__`, kept out of the user's folders.

Model files are executed, not imported, so Python never caches their
bytecode, and compiling them is a third of loading a large model. Entries
live in `.gen/cache/bytecode/`, one file per (interpreter, path, source);
a changed file simply gets a new entry. New entries are only written by
`save()`, which `gen generate` calls once everything else is written, so a
failed run leaves `.gen/` exactly as it was. An unreadable entry is recompiled; a
cache that cannot be written is skipped.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import marshal
import os
from pathlib import Path
from types import CodeType

CACHE_DIR = Path(".gen") / "cache" / "bytecode"


class BytecodeCache:
    def __init__(self, project_root: Path) -> None:
        self.folder = project_root / CACHE_DIR
        self._new: dict[Path, bytes] = {}

    def compile(self, source: str, path: Path) -> CodeType:
        """The code of `source`, from the cache when it has it; SyntaxError as compile()."""
        digest = hashlib.sha256()
        for part in (importlib.util.MAGIC_NUMBER, str(path).encode(), source.encode()):
            digest.update(part + b"\0")
        entry = self.folder / f"{digest.hexdigest()}.bin"
        with contextlib.suppress(OSError, ValueError, EOFError, TypeError):
            code = marshal.loads(entry.read_bytes())
            if isinstance(code, CodeType):
                return code
        code = compile(source, str(path), "exec", dont_inherit=True)
        self._new[entry] = marshal.dumps(code)
        return code

    def save(self) -> None:
        """Write the entries compiled since the last save (atomically, each)."""
        new, self._new = self._new, {}
        with contextlib.suppress(OSError):
            self.folder.mkdir(parents=True, exist_ok=True)
            for entry, data in new.items():
                partial = entry.with_suffix(f".{os.getpid()}.tmp")
                partial.write_bytes(data)
                os.replace(partial, entry)
