"""Where a declaration was made, found by walking out of the DSL's own frames."""

from __future__ import annotations

import bisect
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType

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
    return SourceLoc(relative_file(frame.f_code.co_filename), _line_of(frame))


def _line_of(frame: FrameType) -> int:
    """`frame.f_lineno`, without its cost.

    CPython finds f_lineno by decoding the code's line table from the start.
    A model file is one module-level code object, so asking at each of its
    declarations is quadratic: 40% of loading 500 entities. The table is
    decoded once per code object instead and searched by instruction offset.
    """
    starts, lines = _line_table(frame.f_code)
    line = lines[bisect.bisect_right(starts, frame.f_lasti) - 1]
    return line if line is not None else frame.f_lineno


#: id(code) -> (code, offsets, lines). Keyed by identity: hashing a code
#: object hashes its whole bytecode, which costs as much as the decoding.
_line_tables: dict[int, tuple[CodeType, tuple[int, ...], tuple[int | None, ...]]] = {}


def _line_table(code: CodeType) -> tuple[tuple[int, ...], tuple[int | None, ...]]:
    known = _line_tables.get(id(code))
    if known is None or known[0] is not code:
        if len(_line_tables) > 256:
            _line_tables.clear()
        ranges = list(code.co_lines())  # (start offset, end offset, line) in order
        known = (code, tuple(r[0] for r in ranges), tuple(r[2] for r in ranges))
        _line_tables[id(code)] = known
    return known[1], known[2]


class project_root:
    """Context manager: report locations relative to `root` while loading."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def __enter__(self) -> None:
        _project_root.append(self.root)

    def __exit__(self, *exc: object) -> None:
        _project_root.pop()
