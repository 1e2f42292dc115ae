"""Pass `lower_indexes`: declared indexes, field `.unique()`/`.index()`, FK indexes.

Every index gets a deterministic name. Foreign keys are indexed (PostgreSQL
does not do it by itself) unless a declared index already starts with that
column.
"""

from __future__ import annotations

from compiler import ir, naming
from compiler.diagnostics import did_you_mean
from compiler.dsl.declarations import IndexDecl
from compiler.passes.context import PassContext, source_ref
from compiler.passes.exprs import lower_expr
from compiler.typecheck import Purpose, typecheck

METHODS = ("btree", "hash", "gin", "gist", "brin")


def lower_indexes(project: ir.Project, ctx: PassContext) -> ir.Project:
    return project.replace(entities=ctx.each_entity("indexes", project, _entity_indexes))


def _entity_indexes(project: ir.Project, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    declared = [
        lowered
        for decl in ctx.entities[entity.name].indexes
        if (lowered := _declared_index(project, entity, decl, ctx))
    ]
    from_fields = [_field_index(entity, f) for f in entity.fields if f.unique or f.indexed]
    covered = {i.columns[0] for i in declared + from_fields}
    implicit = [
        _implicit_fk_index(entity, f)
        for f in entity.fields
        if isinstance(f.type, ir.RefType | ir.PolyRefType) and f.column and f.column not in covered
    ]
    indexes = _without_duplicates(entity, [*from_fields, *implicit, *declared], ctx)
    return entity.replace(indexes=tuple(indexes))


def _declared_index(
    project: ir.Project, entity: ir.Entity, decl: object, ctx: PassContext
) -> ir.Index | None:
    if not isinstance(decl, IndexDecl):
        ctx.error(
            entity.loc,
            "index-not-an-index",
            f"{entity.name}: indexes= holds {decl!r}, not an index.",
            'write indexes=[index("customer", "status")].',
        )
        return None
    where = f"{entity.name} index({', '.join(map(repr, decl.fields))})"
    if not decl.fields:
        ctx.error(decl.loc, "index-empty", f"{where} names no field.", 'write index("field", ...).')
        return None
    if decl.using not in METHODS:
        ctx.error(
            decl.loc,
            "index-method",
            f"{where}: using={decl.using!r} is not an index method.",
            f"choose one of {', '.join(METHODS)}.",
        )
        return None
    columns = []
    for name in decl.fields:
        field = entity.field(name)
        if field is None and ctx.is_broken(entity.name, name):
            return None  # declared, but wrong, and reported at its declaration
        if field is None or field.column is None:
            reason = "is not a field" if field is None else "has no column (not stored)"
            ctx.error(
                decl.loc,
                "index-field",
                f"{where}: {name!r} {reason}.",
                did_you_mean(name, [f.name for f in entity.fields if f.column])
                if field is None
                else "index stored fields only; a computed field can be .materialized() first.",
            )
            return None
        columns.append(field.column)
    if decl.is_unique and decl.using not in ("btree",):
        ctx.error(
            decl.loc,
            "index-unique-method",
            f"{where}: a unique index must use btree, not {decl.using}.",
            "drop using=, or drop .unique().",
        )
        return None
    predicate = _predicate(project, entity, where, decl, ctx)
    name = decl.name or naming.index_name(entity.table, tuple(columns), decl.is_unique)
    if decl.predicate is not None and decl.name is None:
        name = naming.fit_identifier(f"{name}_partial")
    return ir.Index(
        name=name,
        fields=decl.fields,
        columns=tuple(columns),
        unique=decl.is_unique,
        using=decl.using,
        where=predicate,
        origin="declared",
        loc=source_ref(decl.loc),
    )


def _predicate(
    project: ir.Project, entity: ir.Entity, where: str, decl: IndexDecl, ctx: PassContext
) -> ir.Expr | None:
    if decl.predicate is None:
        return None
    purpose = Purpose(what=f"{where}.where(...)", aggregates=False, relations=False, clock=False)
    checked = typecheck(
        lower_expr(decl.predicate), project, entity, source_ref(decl.loc), purpose, ctx
    )
    if checked.vtype is not None and checked.vtype.name != "boolean":
        ctx.error(
            decl.loc,
            "index-where-type",
            f"{where}.where(...) must be a condition, but gives {checked.vtype}.",
            "write .where(F('status') != 'void').",
        )
    return checked.expr


def _field_index(entity: ir.Entity, field: ir.FieldNode) -> ir.Index:
    column = field.column or field.name
    fields: tuple[str, ...] = (field.name,)
    columns: tuple[str, ...] = (column,)
    tenant = entity.field("tenant") if entity.tenant else None
    if field.unique and tenant is not None and tenant.column and field is not tenant:
        # Unique within a tenant: another tenant's value is no clash, and reveals nothing.
        fields, columns = ("tenant", field.name), (tenant.column, column)
    return ir.Index(
        name=naming.index_name(entity.table, (column,), field.unique),
        fields=fields,
        columns=columns,
        unique=field.unique,
        using="btree",
        origin="field",
        loc=field.loc,
    )


def _implicit_fk_index(entity: ir.Entity, field: ir.FieldNode) -> ir.Index:
    column = field.column or field.name
    return ir.Index(
        name=naming.index_name(entity.table, (column,), False),
        fields=(field.name,),
        columns=(column,),
        unique=False,
        using="btree",
        origin="implicit",
        loc=field.loc,
    )


def _without_duplicates(
    entity: ir.Entity, indexes: list[ir.Index], ctx: PassContext
) -> list[ir.Index]:
    by_name: dict[str, ir.Index] = {}
    for index in indexes:
        earlier = by_name.get(index.name)
        if earlier is None:
            by_name[index.name] = index
        elif index.origin == "declared" and earlier.origin == "declared":
            ctx.error(
                index.loc,
                "index-duplicate",
                f"{entity.name}: index {index.name} is declared twice (also at {earlier.loc}).",
                "remove one of them.",
            )
        elif index.origin == "declared":
            by_name[index.name] = index  # the user's declaration wins over the derived one
    return list(by_name.values())
