"""The base of every IR node: frozen, no unknown keys, JSON round-trip."""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict


class Node(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid", validate_default=False)

    def replace(self, **changes: Any) -> Self:
        """A copy with some attributes changed (passes build new IR this way).

        Cached lookups (`cached_property` values live in `__dict__`) describe the
        old node, so the copy starts without them.
        """
        copy = self.model_copy(update=changes)
        fields = type(self).model_fields
        for cached in [key for key in copy.__dict__ if key not in fields]:
            del copy.__dict__[cached]
        return copy


class SourceRef(Node):
    """Where in the model files a node was declared."""

    file: str
    line: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}"
