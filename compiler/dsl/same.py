"""Whether two declarations say the same thing, at the same lines or moved.

A model file run again (`gen dev`, after a save) makes new declaration objects
for everything it declares, also for what the save did not touch. Those that
say what the earlier ones said are replaced by the earlier objects
(compiler/load.py), so that the incremental compile sees them unchanged and
reuses what it computed from them (a comment added to a file of 20 entities
recompiled all 20). A declaration below an added line says the same, a line
further down: the compile reuses it and moves its results (compiler/relocate.py).

A declaration is compared by its pickle (C speed), with each location in the
declaration's own file written as lines below the declaration's first line.
Equal bytes: the same values, types, order and sharing, and every location
moved by the same number of lines. Pickle writes `1` and `True`, `0.0` and
`-0.0`, `Decimal("0")` and `Decimal("0.0")` apart, as a compile tells them apart.
"""

from __future__ import annotations

import copyreg
import io
import pickle
from typing import Any

from compiler.source import SourceLoc

#: A printed declaration: bytes, or None for one that cannot be pickled (never the same).
Print = bytes | None


def printed(value: object, anchor: SourceLoc | None = None) -> Print:
    """`value` pickled; locations in `anchor`'s file as lines below `anchor`'s line."""
    buffer = io.BytesIO()
    pickler = pickle.Pickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.dispatch_table = {**copyreg.dispatch_table, SourceLoc: _writer(anchor)}
    try:
        pickler.dump(value)
    except Exception:  # a value pickle cannot write (a lambda, a socket): compiled again
        return None
    return buffer.getvalue()


def same_declaration(a: object, b: object) -> bool:
    """Whether `a` and `b` are the same declaration at the same lines."""
    if a is b:
        return True
    first = printed(a)
    return first is not None and first == printed(b)


def lines_moved(now: object, now_print: Print, earlier: object, earlier_print: Print) -> int | None:
    """How many lines down `now` says what `earlier` said, or None when it says something else.

    Each print is `printed(declaration, declaration.loc)`.
    """
    if now_print is None or now_print != earlier_print:
        return None
    return int(getattr(now, "loc").line - getattr(earlier, "loc").line)  # noqa: B009


def _writer(anchor: SourceLoc | None) -> Any:
    if anchor is None:
        return _absolute

    def write(loc: SourceLoc) -> tuple[object, tuple[object, ...]]:
        if loc.file == anchor.file:
            return _below_anchor, (loc.line - anchor.line,)
        return _absolute(loc)

    return write


def _absolute(loc: SourceLoc) -> tuple[object, tuple[object, ...]]:
    return SourceLoc, (loc.file, loc.line)


def _below_anchor(lines: int) -> int:
    """What a location relative to its declaration is pickled as (never unpickled)."""
    return lines
