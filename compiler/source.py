"""Where a declaration was made, found by walking out of the DSL's own frames."""

from __future__ import annotations

import bisect
import functools
import sys
from dataclasses import dataclass
from pathlib import Path
from types import CodeType, FrameType
from typing import NamedTuple

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
    frame: FrameType | None = sys._getframe(1)
    while frame is not None:
        code = frame.f_code
        if not (code.co_filename.startswith(_LANGUAGE_DIRS) or code.co_filename == _GENERATED_CODE):
            return _location(frame, code)
        frame = frame.f_back
    return UNKNOWN_LOC


class _CodeLines(NamedTuple):
    """A code object's line table, decoded, and the locations made in it."""

    code: CodeType
    #: Instruction offsets where a line starts, and that line.
    starts: tuple[int, ...]
    lines: tuple[int | None, ...]
    #: The project root the code's file was made relative to, and the file so made.
    root: str
    file: str
    #: One location per line: declarations on one line share it (it is frozen).
    at_line: dict[int, SourceLoc]


#: id(code) -> its `_CodeLines`. Keyed by identity: hashing a code object hashes its
#: whole bytecode, which costs as much as the decoding.
_code_lines: dict[int, _CodeLines] = {}


def _location(frame: FrameType, code: CodeType) -> SourceLoc:
    """`frame`'s file and line, without `frame.f_lineno`'s cost.

    CPython finds f_lineno by decoding the code's line table from the start. A model
    file is one module-level code object, so asking at each of its declarations is
    quadratic: 40% of loading 500 entities. The table is decoded once per code object
    instead and searched by instruction offset.
    """
    root = str(_project_root[-1]) if _project_root else ""
    known = _code_lines.get(id(code))
    if known is None or known.code is not code or known.root != root:
        known = _decoded(code, root)
    line = known.lines[bisect.bisect_right(known.starts, frame.f_lasti) - 1]
    if line is None:
        line = frame.f_lineno
    found = known.at_line.get(line)
    if found is None:
        found = known.at_line[line] = SourceLoc(known.file, line)
    return found


def _decoded(code: CodeType, root: str) -> _CodeLines:
    if len(_code_lines) > 256:
        _code_lines.clear()
    ranges = list(code.co_lines())  # (start offset, end offset, line) in order
    known = _CodeLines(
        code,
        tuple(r[0] for r in ranges),
        tuple(r[2] for r in ranges),
        root,
        _relative_to(code.co_filename, root),
        {},
    )
    _code_lines[id(code)] = known
    return known


class project_root:
    """Context manager: report locations relative to `root` while loading."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def __enter__(self) -> None:
        _project_root.append(self.root)

    def __exit__(self, *exc: object) -> None:
        _project_root.pop()
