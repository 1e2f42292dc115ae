"""IR expressions and policies: resolved, typed, JSON-serialisable trees.

Every node carries `type` once the type-checking pass has run (a value type
name such as "money" or "boolean"). Generators render these trees to SQL,
Python and TypeScript; they never see the DSL's operator-overloading nodes.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from compiler.ir.base import Node

# Expressions -------------------------------------------------------------------


class FieldExpr(Node):
    kind: Literal["field"] = "field"
    path: str
    type: str | None = None


class LiteralExpr(Node):
    kind: Literal["literal"] = "literal"
    #: Dates, datetimes and decimals are carried as ISO / decimal strings.
    value: str | int | bool | None = None
    literal_type: Literal["text", "integer", "decimal", "boolean", "date", "datetime", "null"]
    type: str | None = None


class BinaryExpr(Node):
    kind: Literal["binary"] = "binary"
    op: Literal["+", "-", "*", "/"]
    left: Expr
    right: Expr
    type: str | None = None


class CompareExpr(Node):
    kind: Literal["compare"] = "compare"
    op: Literal["==", "!=", "<", "<=", ">", ">="]
    left: Expr
    right: Expr
    type: str | None = None


class LogicalExpr(Node):
    kind: Literal["logical"] = "logical"
    op: Literal["and", "or"]
    operands: tuple[Expr, ...]
    type: str | None = None


class NotExpr(Node):
    kind: Literal["not"] = "not"
    operand: Expr
    type: str | None = None


class IsNullExpr(Node):
    kind: Literal["is_null"] = "is_null"
    operand: Expr
    negated: bool
    type: str | None = None


class InExpr(Node):
    kind: Literal["in"] = "in"
    operand: Expr
    values: tuple[Expr, ...]
    type: str | None = None


class ContainsExpr(Node):
    kind: Literal["contains"] = "contains"
    operand: Expr
    needle: Expr
    type: str | None = None


class AggregateExpr(Node):
    kind: Literal["aggregate"] = "aggregate"
    fn: Literal["sum", "count", "min", "max", "avg"]
    path: str
    type: str | None = None


class WhenExpr(Node):
    kind: Literal["when"] = "when"
    cond: Expr
    then: Expr
    otherwise: Expr
    type: str | None = None


class CallExpr(Node):
    kind: Literal["call"] = "call"
    fn: Literal["today", "now"]
    type: str | None = None


Expr = Annotated[
    FieldExpr
    | LiteralExpr
    | BinaryExpr
    | CompareExpr
    | LogicalExpr
    | NotExpr
    | IsNullExpr
    | InExpr
    | ContainsExpr
    | AggregateExpr
    | WhenExpr
    | CallExpr,
    Field(discriminator="kind"),
]

EXPR_KINDS = (
    FieldExpr,
    LiteralExpr,
    BinaryExpr,
    CompareExpr,
    LogicalExpr,
    NotExpr,
    IsNullExpr,
    InExpr,
    ContainsExpr,
    AggregateExpr,
    WhenExpr,
    CallExpr,
)

# Policies ----------------------------------------------------------------------


class AnyonePolicy(Node):
    kind: Literal["anyone"] = "anyone"


class AuthenticatedPolicy(Node):
    kind: Literal["authenticated"] = "authenticated"


class RolePolicy(Node):
    kind: Literal["role"] = "role"
    name: str


class OwnerPolicy(Node):
    kind: Literal["owner"] = "owner"
    field: str


class TenantMemberPolicy(Node):
    kind: Literal["tenant_member"] = "tenant_member"


class SameTenantPolicy(Node):
    """System rule added to every rule of a tenant entity: row tenant = caller's tenant."""

    kind: Literal["same_tenant"] = "same_tenant"


class RelPolicy(Node):
    kind: Literal["rel"] = "rel"
    path: str


class ConditionPolicy(Node):
    kind: Literal["condition"] = "condition"
    expr: Expr


class AllOfPolicy(Node):
    kind: Literal["all"] = "all"
    items: tuple[PolicyExpr, ...]


class AnyOfPolicy(Node):
    kind: Literal["any"] = "any"
    items: tuple[PolicyExpr, ...]


class NotPolicy(Node):
    kind: Literal["not"] = "not"
    item: PolicyExpr


PolicyExpr = Annotated[
    AnyonePolicy
    | AuthenticatedPolicy
    | RolePolicy
    | OwnerPolicy
    | TenantMemberPolicy
    | SameTenantPolicy
    | RelPolicy
    | ConditionPolicy
    | AllOfPolicy
    | AnyOfPolicy
    | NotPolicy,
    Field(discriminator="kind"),
]

POLICY_KINDS = (
    AnyonePolicy,
    AuthenticatedPolicy,
    RolePolicy,
    OwnerPolicy,
    TenantMemberPolicy,
    SameTenantPolicy,
    RelPolicy,
    ConditionPolicy,
    AllOfPolicy,
    AnyOfPolicy,
    NotPolicy,
)

for _model in (*EXPR_KINDS, *POLICY_KINDS):
    _model.model_rebuild()
