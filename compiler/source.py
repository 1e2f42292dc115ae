"""Where a declaration was made, found by walking out of the DSL's own frames."""

from __future__ import annotations

import functools
import sys
from dataclasses import dataclass
from pathlib import Path

# Frames from these folders belong to the language itself, never to the user.
_LANGUAGE_DIRS = tuple(
    str(Path(__file__).resolve().parent.parent / sub) for sub in ("compiler", "policy")
)
#: The file name of code that `dataclasses` generates (the `__init__` of every
#: expression and policy node, which calls their `loc` default factory).
_GENERATED_CODE = "<string>"

#: Set by the loader so that locations are relative to the project root.
_project_root: list[Path] = []


@dataclass(frozen=True, order=True)
class SourceLoc:
    """A file (relative to the project when inside it) and a 1-based line."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"


UNKNOWN_LOC = SourceLoc("<unknown>", 0)


def relative_file(filename: str) -> str:
    """Render a file name relative to the project being loaded, POSIX style."""
    return _relative_to(filename, str(_project_root[-1]) if _project_root else "")


@functools.lru_cache(maxsize=4096)
def _relative_to(filename: str, root: str) -> str:
    # Cached: every declaration asks, and resolving a path costs a system call per part.
    path = Path(filename)
    if root:
        try:
            return path.resolve().relative_to(root).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def caller_location() -> SourceLoc:
    """Return the first frame outside the language: the user's declaration."""
    frame = sys._getframe(1)
    while frame is not None and (
        frame.f_code.co_filename.startswith(_LANGUAGE_DIRS)
        or frame.f_code.co_filename == _GENERATED_CODE
    ):
        frame = frame.f_back  # type: ignore[assignment]
    if frame is None:
        return UNKNOWN_LOC
    return SourceLoc(relative_file(frame.f_code.co_filename), frame.f_lineno)


class project_root:
    """Context manager: report locations relative to `root` while loading."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def __enter__(self) -> None:
        _project_root.append(self.root)

    def __exit__(self, *exc: object) -> None:
        _project_root.pop()
