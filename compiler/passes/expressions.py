"""Pass `typecheck_expressions`: computed fields and action guards.

A computed field's expression must produce its declared type; its
dependencies are recorded (for refresh on write and cache invalidation) and
computed fields may not depend on themselves, directly or not. One that
reads only stored, non-computed columns of its own row, and no clock, is
`same_row`: the database keeps it as a generated column.
"""

from __future__ import annotations

from compiler import ir
from compiler.passes.context import PassContext
from compiler.typecheck import Purpose, assignable, field_vtype, typecheck


def typecheck_expressions(project: ir.Project, ctx: PassContext) -> ir.Project:
    project = project.replace(entities=ctx.each_entity("expressions", project, _typed_entity))
    _check_cycles(project, ctx)
    return project


def _typed_entity(project: ir.Project, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    if not any(f.computed for f in entity.fields) and not any(a.guard for a in entity.actions):
        return entity
    return entity.replace(
        fields=tuple(_typed_field(project, entity, f, ctx) for f in entity.fields),
        actions=tuple(_typed_action(project, entity, a, ctx) for a in entity.actions),
    )


def _typed_field(
    project: ir.Project, entity: ir.Entity, field: ir.FieldNode, ctx: PassContext
) -> ir.FieldNode:
    if field.computed is None:
        return field
    where = f"{entity.name}.{field.name}"
    purpose = Purpose(what=f"computed field {where}", clock=not field.materialized)
    checked = typecheck(field.computed.expr, project, entity, field.loc, purpose, ctx)
    if checked.vtype is not None and not assignable(checked.vtype, field):
        ctx.error(
            field.loc,
            "computed-type-mismatch",
            f"computed field {where}: the expression gives {checked.vtype}, "
            f"but the field is declared {field_vtype(field)}.",
            f"declare the field as {checked.vtype.name}() or change the expression.",
        )
    same_row = not (
        checked.crosses_rows
        or checked.uses_clock
        or any(_is_computed(project, dependency) for dependency in checked.depends_on)
    )
    computed = ir.Computed(
        expr=checked.expr,
        type=checked.vtype.name if checked.vtype else "",
        depends_on=tuple(sorted(checked.depends_on)),
        same_row=same_row,
    )
    if same_row and not field.materialized:
        # Stored by the database as a generated column, named like the field.
        return field.replace(computed=computed, column=field.name)
    return field.replace(computed=computed)


def _is_computed(project: ir.Project, qualified: str) -> bool:
    # A generated column cannot read another computed value (Postgres refuses it).
    found = project.field(qualified)
    return found is not None and found.computed is not None


def _typed_action(
    project: ir.Project, entity: ir.Entity, action: ir.Action, ctx: PassContext
) -> ir.Action:
    if action.guard is None:
        return action
    purpose = Purpose(what=f"guard of action {entity.name}.{action.name}")
    checked = typecheck(action.guard, project, entity, action.loc, purpose, ctx)
    if checked.vtype is not None and checked.vtype.name != "boolean":
        ctx.error(
            action.loc,
            "guard-not-boolean",
            f"guard of action {entity.name}.{action.name} gives {checked.vtype}, not a condition.",
            "write a comparison, e.g. .guard(count_('lines') > 0).",
        )
    return action.replace(guard=checked.expr)


def _check_cycles(project: ir.Project, ctx: PassContext) -> None:
    computed = {f"{e.name}.{f.name}": f for e in project.entities for f in e.computed_fields}
    graph = {
        name: [d for d in field.computed.depends_on if d in computed]  # type: ignore[union-attr]
        for name, field in computed.items()
    }
    if ctx.reuse is not None and ctx.reuse.as_last("computed dependencies", graph):
        return  # the last good compile found no cycle in these very dependencies
    reported: set[str] = set()
    for start in graph:
        cycle = _find_cycle(start, graph)
        if cycle and not reported.intersection(cycle):
            reported.update(cycle)
            ctx.error(
                computed[start].loc,
                "computed-cycle",
                f"computed field {start} depends on itself: {' -> '.join([*cycle, cycle[0]])}.",
                "break the loop: one of these fields must be stored, not computed.",
            )


def _find_cycle(start: str, graph: dict[str, list[str]]) -> list[str] | None:
    """A path from `start` back to itself, if any (depth-first)."""
    stack = [(start, [start])]
    seen: set[str] = set()
    while stack:
        node, path = stack.pop()
        for nxt in graph.get(node, ()):
            if nxt == start:
                return path
            if nxt not in seen:
                seen.add(nxt)
                stack.append((nxt, [*path, nxt]))
    return None
