"""Passes `resolve_refs`, `resolve_inverses` and `build_join_tables`."""

from __future__ import annotations

from compiler import ir, naming
from compiler.diagnostics import did_you_mean
from compiler.passes.context import PassContext

RELATION_TYPES = (ir.RefType, ir.PolyRefType, ir.OneToManyType, ir.ManyToManyType)


def _targets(field_type: ir.FieldType) -> tuple[str, ...]:
    if isinstance(field_type, ir.PolyRefType):
        return field_type.targets
    if isinstance(field_type, ir.RefType | ir.OneToManyType | ir.ManyToManyType):
        return (field_type.target,)
    return ()


def resolve_refs(project: ir.Project, ctx: PassContext) -> ir.Project:
    """Every relation names an existing entity (forward references by name are fine)."""
    ctx.each_entity("refs", project, _check_refs)
    return project


def _check_refs(project: ir.Project, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    for field in entity.fields:
        for target in _targets(field.type):
            if project.entity(target) is None and not ctx.is_broken(target):
                ctx.error(
                    field.loc,
                    "unknown-entity",
                    f"{entity.name}.{field.name} refers to an unknown entity {target!r}.",
                    f"{did_you_mean(target, _names(project))} Entity names are case-sensitive.",
                )
        through = getattr(field.type, "through", None)
        if through and project.entity(through) is None and not ctx.is_broken(through):
            ctx.error(
                field.loc,
                "unknown-entity",
                f"{entity.name}.{field.name}: through={through!r} is not an entity.",
                did_you_mean(through, _names(project)),
            )
    return entity


def _names(project: ir.Project) -> list[str]:
    return [e.name for e in project.entities]


def _refs_to(fields: tuple[ir.FieldNode, ...], target: str) -> list[ir.FieldNode]:
    return [f for f in fields if isinstance(f.type, ir.RefType) and f.type.target == target]


def resolve_inverses(project: ir.Project, ctx: PassContext) -> ir.Project:
    """Each one-to-many names the ref on the other side that points back here."""
    return project.replace(entities=ctx.each_entity("inverses", project, _with_inverses))


def _with_inverses(project: ir.Project, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    if not any(isinstance(f.type, ir.OneToManyType) for f in entity.fields):
        return entity
    fields = tuple(
        _resolve_inverse(project, entity, f, ctx) if isinstance(f.type, ir.OneToManyType) else f
        for f in entity.fields
    )
    return entity.replace(fields=fields)


def _resolve_inverse(
    project: ir.Project, entity: ir.Entity, field: ir.FieldNode, ctx: PassContext
) -> ir.FieldNode:
    assert isinstance(field.type, ir.OneToManyType)
    other = project.entity(field.type.target)
    if other is None:
        return field  # already reported by resolve_refs
    where = f"{entity.name}.{field.name}"
    candidates = _refs_to(other.fields, entity.name)
    via = field.type.via
    if via:
        if any(c.name == via for c in candidates) or ctx.is_broken(other.name, via):
            return field
        ctx.error(
            field.loc,
            "inverse-via",
            f"{where}: via={via!r} is not a ref from {other.name} to {entity.name}.",
            did_you_mean(via, [c.name for c in candidates])
            if candidates
            else f'add "{via}": ref("{entity.name}") to {other.name}.',
        )
        return field
    if len(candidates) == 1:
        return field.replace(type=field.type.replace(via=candidates[0].name))
    if not candidates and _broken_ref_back(other, entity, ctx):
        return field  # the ref back is declared but broken, and reported as such
    if not candidates:
        ctx.error(
            field.loc,
            "inverse-missing",
            f"{where} is a one-to-many to {other.name}, but {other.name} has no ref back to {entity.name}.",
            f'add "{naming.snake(entity.name)}": ref("{entity.name}").required() to {other.name}\'s fields.',
        )
    else:
        names = ", ".join(c.name for c in candidates)
        ctx.error(
            field.loc,
            "inverse-ambiguous",
            f"{where}: {other.name} has {len(candidates)} refs to {entity.name} ({names}); which one is the inverse?",
            f'name it: array(ref("{other.name}"), via="{candidates[0].name}").',
        )
    return field


def _broken_ref_back(other: ir.Entity, entity: ir.Entity, ctx: PassContext) -> bool:
    """Whether `other` declares a ref to `entity` that failed to lower."""
    return any(
        ctx.is_broken(other.name, name)
        and getattr(decl, "kind", None) in ("ref", "one")
        and decl.params.get("target") == entity.name
        for name, decl in ctx.entities[other.name].fields.items()
    )


def build_join_tables(project: ir.Project, ctx: PassContext) -> ir.Project:
    """One join table per many-to-many; two sides declaring each other share one."""
    tables: dict[str, ir.JoinTable] = {}
    for entity in project.entities:
        for field in entity.many_to_many_fields:
            made = None if _through(field) else _join_table(project, entity, field)
            if made is not None:
                tables.setdefault(made[0].name, made[0])
    _check_table_names(project, tables, ctx)
    entities = ctx.each_entity("join_tables", project, _with_join_tables)
    return project.replace(entities=entities, join_tables=tuple(tables.values()))


def _through(field: ir.FieldNode) -> str | None:
    assert isinstance(field.type, ir.ManyToManyType)
    return field.type.through


def _with_join_tables(project: ir.Project, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    """`entity` with each many-to-many naming its join table and columns."""
    if not entity.many_to_many_fields:
        return entity  # the same object: what reads it is reused (compiler/passes/reuse.py)
    updated: dict[str, ir.FieldNode] = {}
    for field in entity.many_to_many_fields:
        if _through(field):
            new_type = _through_type(project, entity, field, ctx)
        else:
            made = _join_table(project, entity, field)
            new_type = made[1] if made is not None else None
        if new_type is not None:
            updated[field.name] = field.replace(type=new_type)
    if not updated:
        return entity
    return entity.replace(fields=tuple(updated.get(f.name, f) for f in entity.fields))


def _mutual_partner(project: ir.Project, entity: ir.Entity, field: ir.FieldNode) -> str | None:
    assert isinstance(field.type, ir.ManyToManyType)
    other = project.entity(field.type.target)
    if other is None or other.name == entity.name:
        return None
    partners = [
        f.name
        for f in other.fields
        if isinstance(f.type, ir.ManyToManyType)
        and f.type.target == entity.name
        and not f.type.through
    ]
    return partners[0] if len(partners) == 1 else None


def _join_table(
    project: ir.Project, entity: ir.Entity, field: ir.FieldNode
) -> tuple[ir.JoinTable, ir.ManyToManyType] | None:
    """The join table of a many-to-many without `through`, and its type naming the table."""
    m2m = field.type
    assert isinstance(m2m, ir.ManyToManyType)
    if project.entity(m2m.target) is None:
        return None
    qualified = f"{entity.name}.{field.name}"
    partner = _mutual_partner(project, entity, field)
    if partner is not None:
        left, right = sorted((entity.name, m2m.target))
        name = naming.fit_identifier(f"{naming.table_name(left)}_{naming.table_name(right)}")
        serves = tuple(sorted((qualified, f"{m2m.target}.{partner}")))
        left_column, right_column = f"{naming.snake(left)}_id", f"{naming.snake(right)}_id"
        source, target = (
            (left_column, right_column) if entity.name == left else (right_column, left_column)
        )
    else:
        name = naming.fit_identifier(m2m.join_table)
        serves = (qualified,)
        left, right = entity.name, m2m.target
        left_column, right_column = source, target = m2m.source_column, m2m.target_column
    table = ir.JoinTable(
        name=name,
        left_entity=left,
        left_column=left_column,
        right_entity=right,
        right_column=right_column,
        serves=serves,
        loc=field.loc,
    )
    return table, m2m.replace(join_table=name, source_column=source, target_column=target)


def _through_type(
    project: ir.Project, entity: ir.Entity, field: ir.FieldNode, ctx: PassContext
) -> ir.ManyToManyType | None:
    m2m = field.type
    assert isinstance(m2m, ir.ManyToManyType) and m2m.through
    through = project.entity(m2m.through)
    if through is None:
        return None
    # Only declared refs count: the implicit created_by is also a ref to User.
    declared = tuple(f for f in through.fields if f.origin == "declared")
    to_source, to_target = _refs_to(declared, entity.name), _refs_to(declared, m2m.target)
    if m2m.target == entity.name:
        to_source, to_target = to_source[:1], to_source[1:2]
    if len(to_source) != 1 or len(to_target) != 1:
        ctx.error(
            field.loc,
            "m2m-through-refs",
            f"{entity.name}.{field.name}: through entity {through.name} needs exactly one ref "
            f"to {entity.name} and one to {m2m.target}.",
            f'give {through.name} fields like "{naming.snake(entity.name)}": ref("{entity.name}").required() '
            f'and "{naming.snake(m2m.target)}": ref("{m2m.target}").required().',
        )
        return None
    return m2m.replace(
        join_table=through.table,
        source_column=to_source[0].column or "",
        target_column=to_target[0].column or "",
    )


def _check_table_names(
    project: ir.Project, tables: dict[str, ir.JoinTable], ctx: PassContext
) -> None:
    entity_tables = {e.table: e for e in project.entities}
    for table in tables.values():
        clash = entity_tables.get(table.name)
        if clash is not None:
            ctx.error(
                table.loc,
                "join-table-clash",
                f"the join table {table.name} of {', '.join(table.serves)} has the same name as "
                f"entity {clash.name}'s table.",
                f'make {clash.name} the join entity with through="{clash.name}", or rename the entity.',
            )
