"""Policy expression trees as users write them: `owner() | role("billing")`.

Deny by default: an operation with no rule is refused. Field conditions
(`F("status") == "draft"`) mix in freely and become `Condition` nodes.
The compiler lowers these trees into the IR's policy nodes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from compiler.expr import DslUsageError, Expr
from compiler.source import SourceLoc, caller_location


def _loc() -> SourceLoc:
    return caller_location()


def as_policy(value: object) -> PolicyNode:
    """Accept a policy node or a boolean field expression."""
    if isinstance(value, PolicyNode):
        return value
    if isinstance(value, Expr):
        return Condition(value, loc=value.loc)
    raise DslUsageError(
        f"{value!r} is not a policy.",
        "use anyone(), authenticated(), role('name'), owner(), tenant_member(), "
        "rel('path') or a condition such as F('status') == 'draft', combined with & | ~.",
    )


@dataclass(frozen=True, eq=False)
class PolicyNode:
    loc: SourceLoc = field(default_factory=_loc, kw_only=True, repr=False)

    def __and__(self, other: object) -> PolicyNode:
        return AllOf((self, as_policy(other)))

    def __rand__(self, other: object) -> PolicyNode:
        return AllOf((as_policy(other), self))

    def __or__(self, other: object) -> PolicyNode:
        return AnyOf((self, as_policy(other)))

    def __ror__(self, other: object) -> PolicyNode:
        return AnyOf((as_policy(other), self))

    def __invert__(self) -> PolicyNode:
        return Negation(self)

    def __bool__(self) -> Any:
        raise DslUsageError(
            "a policy has no truth value in Python.",
            "combine policies with & | ~ instead of and / or / not.",
        )


@dataclass(frozen=True, eq=False)
class Anyone(PolicyNode):
    """Everyone, signed in or not."""


@dataclass(frozen=True, eq=False)
class Authenticated(PolicyNode):
    """Any signed-in user."""


@dataclass(frozen=True, eq=False)
class Role(PolicyNode):
    """The caller holds this role in the current tenant (roles from gen.toml)."""

    name: str


@dataclass(frozen=True, eq=False)
class Owner(PolicyNode):
    """The row's `field` (a ref to User, `created_by` by default) is the caller."""

    field: str = "created_by"


@dataclass(frozen=True, eq=False)
class TenantMember(PolicyNode):
    """The caller is a member of the row's tenant."""


@dataclass(frozen=True, eq=False)
class Rel(PolicyNode):
    """ReBAC: following `path` through refs from the row reaches the caller."""

    path: str


@dataclass(frozen=True, eq=False)
class Condition(PolicyNode):
    """A boolean field expression used as a rule."""

    expr: Expr


@dataclass(frozen=True, eq=False)
class AllOf(PolicyNode):
    items: tuple[PolicyNode, ...]


@dataclass(frozen=True, eq=False)
class AnyOf(PolicyNode):
    items: tuple[PolicyNode, ...]


@dataclass(frozen=True, eq=False)
class Negation(PolicyNode):
    item: PolicyNode


def anyone() -> Anyone:
    return Anyone()


def authenticated() -> Authenticated:
    return Authenticated()


def role(name: str) -> Role:
    if not isinstance(name, str) or not name:
        raise DslUsageError(f"role() takes a role name, got {name!r}.", "write role('billing').")
    return Role(name)


def owner(field: str = "created_by") -> Owner:
    return Owner(field)


def tenant_member() -> TenantMember:
    return TenantMember()


def rel(path: str) -> Rel:
    if not isinstance(path, str) or not path:
        raise DslUsageError(
            f"rel() takes a path of refs ending at a User, got {path!r}.",
            "write rel('customer.account_manager').",
        )
    return Rel(path)
