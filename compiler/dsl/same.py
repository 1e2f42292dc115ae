"""Whether two declarations say the same thing, at the same lines.

A model file run again (`gen dev`, after a save) makes new declaration objects
for everything it declares, also for what the save did not touch. Those equal
to the earlier ones are replaced by the earlier objects (compiler/load.py), so
that the incremental compile sees them unchanged and reuses what it computed
from them (a comment added to a file of 20 entities recompiled all 20).

DSL objects compare by identity, and `==` on a model expression builds an
expression, so this walks them instead.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields, is_dataclass


def same_declaration(a: object, b: object) -> bool:
    """Whether `a` and `b` are the same declaration, or one a compile cannot tell apart."""
    if a is b:
        return True
    if type(a) is not type(b):
        return False
    if isinstance(a, tuple | list):
        assert isinstance(b, tuple | list)
        return len(a) == len(b) and all(map(same_declaration, a, b))
    if isinstance(a, Mapping):
        assert isinstance(b, Mapping)
        keys = list(a)  # compared as values: {1: x} is not {True: x}
        return same_declaration(keys, list(b)) and all(same_declaration(a[k], b[k]) for k in keys)
    if is_dataclass(a) and not getattr(type(a), "__dataclass_params__").eq:  # noqa: B009
        return all(same_declaration(getattr(a, f.name), getattr(b, f.name)) for f in fields(a))
    try:
        # The repr as well: Decimal("0") == Decimal("0.0"), and 0.0 == -0.0, render apart.
        return bool(a == b) and repr(a) == repr(b)
    except Exception:  # a value that cannot say (an array): not the same, compiled again
        return False
