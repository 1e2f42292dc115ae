"""`User`, `Tenant` and `Membership`: present in every project, referable by name.

They are written in the model language itself. Access to them goes through
the auth endpoints; as entities they have no rules, so the generic API
denies everything (deny by default) until a project adds policies.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from compiler.config import ProjectConfig
from compiler.dsl.declarations import EntityDecl, IndexDecl
from compiler.dsl.fields import FieldDecl, array, boolean, email, enum, ref, slug, text
from compiler.source import SourceLoc

BUILTIN_FILE = "<builtin>"
BUILTIN_NAMES = ("User", "Tenant", "Membership")


def _at(line: int, fields: Mapping[str, FieldDecl]) -> dict[str, FieldDecl]:
    """Pin built-in declarations to a stable pseudo-location."""
    return {name: replace(decl, loc=SourceLoc(BUILTIN_FILE, line)) for name, decl in fields.items()}


def builtin_entities(config: ProjectConfig) -> list[EntityDecl]:
    user = EntityDecl(
        name="User",
        loc=SourceLoc(BUILTIN_FILE, 1),
        builtin=True,
        doc="A person who can sign in.",
        fields=_at(
            1,
            {
                "email": email().required().unique().private(),
                "name": text().max_length(200),
                "is_active": boolean().required().default(True),
            },
        ),
    )
    tenant = EntityDecl(
        name="Tenant",
        loc=SourceLoc(BUILTIN_FILE, 2),
        builtin=True,
        doc="An organisation whose rows are invisible to every other tenant.",
        fields=_at(
            2,
            {
                "name": text().required().max_length(200),
                "slug": slug().required().unique(),
            },
        ),
    )
    membership = EntityDecl(
        name="Membership",
        loc=SourceLoc(BUILTIN_FILE, 3),
        builtin=True,
        doc="A user's roles in one tenant.",
        fields=_at(
            3,
            {
                "user": ref("User").required().on_delete("cascade"),
                "tenant": ref("Tenant").required().on_delete("cascade"),
                "roles": array(enum(list(config.app.roles))).required().default([]),
            },
        ),
        indexes=(
            IndexDecl(fields=("user", "tenant"), loc=SourceLoc(BUILTIN_FILE, 3), is_unique=True),
        ),
    )
    return [user, tenant, membership]
