"""Shapes the generated schemas share."""

from __future__ import annotations

from pydantic import BaseModel


class PolyRef(BaseModel):
    """A reference to one of several entities: which one, and its key."""

    type: str
    id: str
