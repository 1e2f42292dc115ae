"""Python source as `ruff format` prints it, for generated modules of call statements.

A template writes each statement exploded, one argument per line, every
argument followed by a comma and every call or list that may need splitting
opened at the end of its line:

    invoice_table = sa.Table(
        "invoice",
        metadata,
        sa.Column(
            "id",
            sa.Uuid(),
            nullable=False,
        ),
    )

`layout_module` then joins each bracket pair onto one line where it fits in
ruff's default 88 columns, outermost first, and keeps the others exploded with
their trailing commas, which ruff keeps as they are (its "magic trailing
comma"). The result is a fixed point of `ruff format`, however the template
indents inside a statement. It works on lines, not on a parse of the module,
so that a schema of hundreds of tables lays out in a blink: an unindented line
ending in `(` or `[` starts a statement; inside one, a line ending in `(` or
`[` opens a group, a line `)` or `]` (with its comma) closes it, and any other
line is an argument. Lines outside statements are copied as they are.

`python_string` spells a string as ruff prefers: double quotes unless that
needs more escapes, lowercase hex escapes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field

#: ruff's default line length; generated files are checked with ruff's defaults.
LINE_LENGTH = 88
INDENT = "    "

_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def python_string(value: str) -> str:
    """A Python string literal for `value`, quoted and escaped as ruff formats it."""
    quote = "'" if value.count('"') > value.count("'") else '"'
    if value.isprintable() and quote not in value and "\\" not in value:
        return quote + value + quote
    return quote + "".join(_escape(char, quote) for char in value) + quote


def _escape(char: str, quote: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    if char == quote:
        return "\\" + char
    if char.isprintable():
        return char
    code = ord(char)
    if code <= 0xFF:
        return f"\\x{code:02x}"
    return f"\\u{code:04x}" if code <= 0xFFFF else f"\\U{code:08x}"


def width(text: str) -> int:
    """Columns `text` takes in an editor (wide East Asian characters take two), as ruff counts."""
    if text.isascii():
        return len(text)
    return sum(2 if unicodedata.east_asian_width(char) in "WF" else 1 for char in text)


@dataclass
class _Group:
    """A bracket pair and what is inside: `sa.Column(` ... `)`, and all of it on one line."""

    head: str
    items: list[_Group | str] = field(default_factory=list)
    close: str = ""
    flat: str = ""


@dataclass(frozen=True)
class Statement:
    """A statement as laid out: its lines (1-based, inclusive) and those of each argument."""

    #: What it assigns to (`invoice_table`), or "" for a bare expression.
    target: str
    start: int
    end: int
    items: tuple[tuple[int, int], ...]


def layout_module(text: str) -> tuple[str, list[Statement]]:
    """Lay out every exploded statement of `text` as ruff would; say where each one landed."""
    out: list[str] = []
    statements: list[Statement] = []
    lines = iter(text.splitlines())
    for line in lines:
        if line[:1].isspace() or not line.endswith(("(", "[")):
            out.append(line)
            continue
        group = _read_group(line, lines)
        items: list[tuple[int, int]] = []
        if _fits(group, 0, ""):
            laid = [group.flat]
        else:
            laid, items = _explode(group, 0, "")
        start = len(out) + 1
        statements.append(
            Statement(
                target=line.partition(" = ")[0] if " = " in line else "",
                start=start,
                end=start + len(laid) - 1,
                items=tuple((start + first, start + last) for first, last in items),
            )
        )
        out += laid
    return "".join(f"{line}\n" for line in out), statements


def _read_group(head: str, lines: Iterator[str]) -> _Group:
    group = _Group(head.strip())
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith((")", "]")):
            if line.removesuffix(",") not in (")", "]"):
                raise ValueError(f"layout: a closing line holds only its bracket: {line!r}")
            group.close = line[0]
            inside = ", ".join(i if isinstance(i, str) else i.flat for i in group.items)
            group.flat = group.head + inside + group.close
            return group
        if line.endswith(("(", "[")):
            group.items.append(_read_group(line, lines))
        else:
            group.items.append(line.removesuffix(","))
    raise ValueError(f"layout: {head.strip()!r} is never closed")


def _flat(item: _Group | str) -> str:
    return item if isinstance(item, str) else item.flat


def _fits(item: _Group | str, depth: int, trail: str) -> bool:
    return width(_flat(item)) + len(INDENT) * depth + len(trail) <= LINE_LENGTH


def _lines(item: _Group | str, depth: int, trail: str) -> list[str]:
    if isinstance(item, str) or _fits(item, depth, trail):
        return [INDENT * depth + _flat(item) + trail]
    return _explode(item, depth, trail)[0]


def _explode(group: _Group, depth: int, trail: str) -> tuple[list[str], list[tuple[int, int]]]:
    """The group over several lines, and the (first, last) line offsets of each item."""
    lines = [INDENT * depth + group.head]
    spans = []
    for item in group.items:
        first = len(lines)
        lines += _lines(item, depth + 1, ",")
        spans.append((first, len(lines) - 1))
    lines.append(INDENT * depth + group.close + trail)
    return lines, spans
