"""Passes `add_implicit_fields` and `add_tenancy_columns`.

Every entity gets `id` (unless it declares a primary key), `created_at` and
`updated_at` (unless `timestamps=False`), and `created_by`, which `owner()`
uses by default. Entities with `tenant=True` get a required `tenant` ref.
"""

from __future__ import annotations

from compiler import ir, naming
from compiler.passes.context import PassContext

_ORIGIN_HINTS = {
    "primary_key": "declare your own key with .primary() instead of a field named id",
    "timestamps": "pass timestamps=False to entity(...) to manage it yourself",
    "created_by": "it is set by the server on create; read it, or use owner(field=...) with your own ref",
    "tenancy": "the tenant is set from the caller's tenant; remove your field",
}


def _implicit(entity: ir.Entity, name: str, origin: str, **attrs: object) -> ir.FieldNode:
    return ir.FieldNode(
        uid=naming.stable_uid("field", entity.renamed_from or entity.name, name),
        name=name,
        label=naming.humanize(name),
        read_only=True,
        origin=origin,
        loc=entity.loc,
        **attrs,
    )


def _timestamp(entity: ir.Entity, name: str) -> ir.FieldNode:
    return _implicit(
        entity,
        name,
        "timestamps",
        type=ir.ScalarType(name="datetime"),
        column=name,
        nullable=False,
        default=ir.Default(kind="now"),
    )


def _planned(entity: ir.Entity, ctx: PassContext) -> tuple[list[ir.FieldNode], list[ir.FieldNode]]:
    """Implicit fields to put before and after the declared ones."""
    before, after = [], []
    if not any(f.primary for f in entity.fields):
        before.append(
            _implicit(
                entity,
                "id",
                "primary_key",
                type=ir.ScalarType(name="uuid"),
                column="id",
                nullable=False,
                primary=True,
                default=ir.Default(kind="uuid"),
            )
        )
    if not entity.builtin:
        after.append(
            _implicit(
                entity,
                "created_by",
                "created_by",
                type=ir.RefType(target="User", on_delete="set_null"),
                column="created_by_id",
                nullable=True,
            )
        )
    if entity.timestamps:
        after += [_timestamp(entity, "created_at"), _timestamp(entity, "updated_at")]
    return before, after


def add_implicit_fields(project: ir.Project, ctx: PassContext) -> ir.Project:
    return project.replace(entities=ctx.each_entity("implicit", project, _with_implicit_fields))


def _with_implicit_fields(_: object, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    before, after = _planned(entity, ctx)
    _report_clashes(entity, before + after, ctx)
    return entity.replace(fields=(*before, *entity.fields, *after))


def add_tenancy_columns(project: ir.Project, ctx: PassContext) -> ir.Project:
    return project.replace(entities=ctx.each_entity("tenancy", project, _with_tenancy_column))


def _with_tenancy_column(_: object, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    if not entity.tenant:
        return entity
    tenant = _implicit(
        entity,
        "tenant",
        "tenancy",
        type=ir.RefType(target="Tenant", on_delete="cascade"),
        column="tenant_id",
        nullable=False,
    )
    _report_clashes(entity, [tenant], ctx)
    # Order: key, declared fields, tenant, then the other implicit fields.
    head = tuple(f for f in entity.fields if f.origin in ("declared", "primary_key"))
    tail = tuple(f for f in entity.fields if f.origin not in ("declared", "primary_key"))
    return entity.replace(fields=(*head, tenant, *tail))


def _report_clashes(entity: ir.Entity, implicit: list[ir.FieldNode], ctx: PassContext) -> None:
    declared = {f.name: f for f in entity.fields if f.origin == "declared"}
    for field in implicit:
        clash = declared.get(field.name)
        if clash is None:
            continue
        ctx.error(
            clash.loc,
            "field-implicit-clash",
            f"{entity.name}.{field.name} is added by the compiler ({field.origin.replace('_', ' ')}).",
            f"rename your field; {_ORIGIN_HINTS[field.origin]}.",
        )
