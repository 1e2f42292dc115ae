"""Python source as `ruff format` prints it, for generated modules of call statements.

A statement is built as a tree of `Group`s, a bracket pair and its arguments
(`sa.Column(` ... `)`, each argument a string or another group), and laid out
by `place`: each bracket pair joins onto one line where it fits in ruff's
default 88 columns, outermost first; the others stay exploded, one argument
per line with a trailing comma, which ruff keeps as they are (its "magic
trailing comma"). The result is a fixed point of `ruff format`. Each group
knows its one-line spelling from the moment it is built, so laying out a
schema of hundreds of tables is one pass over its lines.

`layout_module` does the same for text written exploded, one argument per
line, every argument followed by a comma and every call or list that may need
splitting opened at the end of its line:

    invoice_table = sa.Table(
        "invoice",
        metadata,
        sa.Column(
            "id",
            sa.Uuid(),
            nullable=False,
        ),
    )

It works on lines, not on a parse of the module: an unindented line ending in
`(` or `[` starts a statement; inside one, a line ending in `(` or `[` opens a
group, a line `)` or `]` (with its comma) closes it, and any other line is an
argument. Lines outside statements are copied as they are.

`python_string` spells a string as ruff prefers: double quotes unless that
needs more escapes, lowercase hex escapes.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

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


class Group:
    """A bracket pair and its arguments: `sa.Column(` ... `)`, and all of it on one line.

    `head` ends with the opening bracket (`name=sa.text(` for a keyword argument),
    `close` is the closing one; an argument is a string (one line, never split)
    or a group.
    """

    __slots__ = ("close", "flat", "head", "items")

    head: str
    items: Sequence[Group | str]
    close: str
    #: The whole group on one line.
    flat: str

    def __init__(self, head: str, items: Sequence[Group | str], close: str = ")") -> None:
        self.head = head
        self.items = items
        self.close = close
        self.flat = head + ", ".join([i if isinstance(i, str) else i.flat for i in items]) + close

    def exploded(self) -> str:
        """The group as a template writes it: one argument per line, each with a comma."""
        inside = "".join(
            f"{item if isinstance(item, str) else item.exploded()},\n" for item in self.items
        )
        return f"{self.head}\n{inside}{self.close}"


def keyword(name: str, value: Group | str) -> Group | str:
    """`name=value` as an argument: a group stays a group, its head prefixed."""
    if isinstance(value, str):
        return f"{name}={value}"
    return Group(f"{name}={value.head}", value.items, value.close)


@dataclass(frozen=True)
class Statement:
    """A statement as laid out: its lines (1-based, inclusive) and those of each argument."""

    #: What it assigns to (`invoice_table`), or "" for a bare expression.
    target: str
    start: int
    end: int
    items: tuple[tuple[int, int], ...]


def place(group: Group, out: list[str]) -> Statement:
    """Append the lines of the statement `group` to `out`, laid out as ruff would.

    Its arguments' lines are given only when it does not fit on one line.
    """
    start = len(out) + 1
    head = group.head
    target = head.partition(" = ")[0] if " = " in head else ""
    if width(group.flat) <= LINE_LENGTH:
        out.append(group.flat)
        return Statement(target, start, start, ())
    out.append(head)
    spans = []
    for item in group.items:
        first = len(out) + 1
        _argument(item, 1, out)
        spans.append((first, len(out)))
    out.append(group.close)
    return Statement(target, start, len(out), tuple(spans))


def _argument(item: Group | str, depth: int, out: list[str]) -> None:
    """Append `item` as an argument at `depth`, followed by a comma."""
    indent = INDENT * depth
    if isinstance(item, str):
        out.append(indent + item + ",")
        return
    flat = item.flat
    if (len(flat) if flat.isascii() else width(flat)) + len(indent) < LINE_LENGTH:
        out.append(indent + flat + ",")
        return
    out.append(indent + item.head)
    for inner in item.items:
        _argument(inner, depth + 1, out)
    out.append(indent + item.close + ",")


def layout_module(text: str) -> tuple[str, list[Statement]]:
    """Lay out every exploded statement of `text` as ruff would; say where each one landed."""
    out: list[str] = []
    statements: list[Statement] = []
    lines = iter(text.splitlines())
    for line in lines:
        if line[:1].isspace() or not line.endswith(("(", "[")):
            out.append(line)
            continue
        statements.append(place(_read_group(line, lines), out))
    return "".join(f"{line}\n" for line in out), statements


def _read_group(head: str, lines: Iterator[str]) -> Group:
    items: list[Group | str] = []
    for raw in lines:
        line = raw.strip()
        if not line:
            continue
        if line.startswith((")", "]")):
            if line.removesuffix(",") not in (")", "]"):
                raise ValueError(f"layout: a closing line holds only its bracket: {line!r}")
            return Group(head.strip(), items, line[0])
        if line.endswith(("(", "[")):
            items.append(_read_group(line, lines))
        else:
            items.append(line.removesuffix(","))
    raise ValueError(f"layout: {head.strip()!r} is never closed")
