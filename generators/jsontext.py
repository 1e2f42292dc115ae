"""Pretty JSON that knows which lines each tagged node occupies.

The text is exactly `json.dumps(value, indent=2, ensure_ascii=False)`; the
regions let `gen inspect ir.json:120` name the entity or field on line 120.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from generators.base import Region

#: Given the JSON path of a node (keys and indexes), return its origin or None.
Tagger = Callable[[tuple[str | int, ...]], str | None]


def dumps_with_regions(value: Any, tag: Tagger) -> tuple[str, tuple[Region, ...]]:
    lines: list[str] = []
    regions: list[Region] = []

    def emit(node: Any, path: tuple[str | int, ...], prefix: str, depth: int, suffix: str) -> None:
        start = len(lines) + 1
        pad = "  " * depth
        if isinstance(node, dict) and node:
            lines.append(f"{prefix}{{")
            items = list(node.items())
            for i, (key, child) in enumerate(items):
                comma = "," if i < len(items) - 1 else ""
                emit(
                    child,
                    (*path, key),
                    f"{pad}  {json.dumps(key, ensure_ascii=False)}: ",
                    depth + 1,
                    comma,
                )
            lines.append(f"{pad}}}{suffix}")
        elif isinstance(node, list) and node:
            lines.append(f"{prefix}[")
            for i, child in enumerate(node):
                comma = "," if i < len(node) - 1 else ""
                emit(child, (*path, i), f"{pad}  ", depth + 1, comma)
            lines.append(f"{pad}]{suffix}")
        else:
            lines.append(f"{prefix}{json.dumps(node, ensure_ascii=False)}{suffix}")
        origin = tag(path)
        if origin is not None:
            regions.append(Region(start, len(lines), origin))

    emit(value, (), "", 0, "")
    return "\n".join(lines) + "\n", tuple(sorted(regions, key=lambda r: (r.start, -r.end)))
