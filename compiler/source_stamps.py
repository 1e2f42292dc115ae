"""Which version of Reframe's own code runs, told by its source files' sizes and times.

Cheap (no file is read) and importable without the compiler: the IR cache keys on
the compiler's sources (compiler/ir_cache.py), and a command compares its code with
the running `gen dev`'s (runtime/dev_link.py).
"""

from __future__ import annotations

from pathlib import Path
from typing import Protocol


class _Digest(Protocol):
    def update(self, data: bytes, /) -> None: ...


def add_source_stamps(digest: _Digest, folder: Path) -> None:
    """Feed `digest` the path, size and modification time of every `.py` file under `folder`."""
    for path in sorted(folder.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path}\0{stat.st_size}\0{stat.st_mtime_ns}\0".encode())
