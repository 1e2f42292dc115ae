"""Passes `check_state_machines` and `lower_actions`.

A state field's transitions are performed by actions of the same name; an
action that is not a transition must say `custom=True`.
"""

from __future__ import annotations

import re

from compiler import ir, naming
from compiler.dsl.declarations import ActionDecl, EntityDecl
from compiler.dsl.fields import SCALAR_KINDS, FieldDecl
from compiler.passes.context import PassContext, source_ref
from compiler.passes.exprs import lower_expr
from compiler.passes.lower import lower_field

_EFFECT = re.compile(r"^[A-Za-z_][\w.]*:[A-Za-z_]\w*$")
_ACTION_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
_INPUT_KINDS = (*SCALAR_KINDS, "enum", "array", "ref")
_CRUD = ("read", "create", "update", "delete")


def check_state_machines(project: ir.Project, ctx: PassContext) -> ir.Project:
    """Transition names are unique per entity and each has its action."""
    ctx.each_entity("state machines", project, _check_state_machine)
    return project


def _check_state_machine(_: object, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    decl = ctx.entities[entity.name]
    seen: dict[str, str] = {}
    for field in entity.state_fields:
        assert isinstance(field.type, ir.StateType)
        for transition in field.type.transitions:
            if transition.name in seen:
                ctx.error(
                    field.loc,
                    "transition-duplicate",
                    f"{entity.name}: transition {transition.name!r} is declared by both "
                    f"{seen[transition.name]} and {field.name}.",
                    "give transitions of different state fields different names.",
                )
            seen[transition.name] = field.name
            if transition.name not in decl.actions:
                ctx.error(
                    field.loc,
                    "transition-without-action",
                    f"{entity.name}.{field.name}: transition {transition.name!r} has no action.",
                    f'add "{transition.name}": action() to the actions of {entity.name} '
                    "(and say who may run it with .allow(...)).",
                )
    return entity


def lower_actions(project: ir.Project, ctx: PassContext) -> ir.Project:
    return project.replace(entities=ctx.each_entity("actions", project, _with_actions))


def _with_actions(_: object, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    decl = ctx.entities[entity.name]
    transitions = {
        t.name: (f.name, t)
        for f in entity.state_fields
        for t in f.type.transitions  # type: ignore[union-attr]
    }
    actions = [
        lowered
        for name, action in decl.actions.items()
        if (lowered := _lower_action(entity, name, action, transitions, ctx))
    ]
    return entity.replace(actions=tuple(actions))


def _lower_action(
    entity: ir.Entity,
    name: object,
    decl: object,
    transitions: dict[str, tuple[str, ir.Transition]],
    ctx: PassContext,
) -> ir.Action | None:
    if not isinstance(decl, ActionDecl):
        ctx.error(
            entity.loc,
            "action-not-an-action",
            f"{entity.name}: actions[{name!r}] is {decl!r}, not an action.",
            'write "send": action() (chain .guard(), .effect(), .input(), .allow()).',
        )
        return None
    where = f"{entity.name}.{name}"
    if not isinstance(name, str) or not _ACTION_NAME.match(name) or name in _CRUD:
        ctx.error(
            decl.loc,
            "action-name",
            f"action name {name!r} of {entity.name} is not usable.",
            "name actions in lowercase snake_case, other than read, create, update and delete.",
        )
        return None
    transition = transitions.get(name)
    if transition is None and name in _declared_transitions(ctx.entities[entity.name]):
        return None  # its state field or transition is wrong, and reported there
    if transition is None and not decl.custom:
        known = ", ".join(sorted(transitions)) or "none"
        ctx.error(
            decl.loc,
            "action-not-a-transition",
            f"{where} is not a transition of {entity.name} (transitions: {known}).",
            f'add "{name}": (from, to) to the state\'s transitions, or declare action(custom=True).',
        )
        return None
    if transition is not None and decl.custom:
        ctx.error(
            decl.loc,
            "action-custom-transition",
            f"{where} is declared custom=True but is also a transition of {transition[0]}.",
            "drop custom=True (it performs the transition), or rename one of them.",
        )
        return None
    if decl.effect_path is not None and not _EFFECT.match(str(decl.effect_path)):
        ctx.error(
            decl.loc,
            "action-effect",
            f"{where}: effect {decl.effect_path!r} is not a 'module:function' path.",
            'write .effect("invoices.effects:send_email").',
        )
    state_field, target = transition if transition else (None, None)
    return ir.Action(
        name=name,
        kind="transition" if transition else "custom",
        label=decl.label_text or naming.humanize(name),
        state_field=state_field,
        sources=target.sources if target else (),
        target=target.target if target else None,
        guard=lower_expr(decl.guard_expr) if decl.guard_expr is not None else None,
        effect=decl.effect_path,
        inputs=_lower_inputs(entity, name, decl, ctx),
        loc=source_ref(decl.loc),
    )


def _declared_transitions(entity: EntityDecl) -> set[object]:
    """Transition names as declared, including those of states that failed to lower."""
    return {
        name
        for decl in entity.fields.values()
        if isinstance(decl, FieldDecl) and decl.kind == "state"
        for name in dict(decl.params.get("transitions") or {})
    }


def _lower_inputs(
    entity: ir.Entity, action: str, decl: ActionDecl, ctx: PassContext
) -> tuple[ir.FieldNode, ...]:
    entity_decl = ctx.entities[entity.name]
    inputs = []
    for name, field in decl.inputs.items():
        # `is not None`: an expression has no truth value (Expr.__bool__ raises).
        computed = isinstance(field, FieldDecl) and field.computed_expr is not None
        if isinstance(field, FieldDecl) and (field.kind not in _INPUT_KINDS or computed):
            ctx.error(
                field.loc,
                "action-input-type",
                f"{entity.name}.{action}: input {name!r} cannot be "
                f"{'computed' if computed else f'a {field.kind} field'}.",
                "action inputs are plain values or refs, e.g. amount=money().required().",
            )
            continue
        origin = f"{entity_decl.renamed_from or entity.name}.{action}"
        lowered = lower_field(
            entity_decl, origin, name, field, ctx, where=f"{entity.name}.{action} input {name}"
        )
        if lowered is not None:
            inputs.append(lowered)
    return tuple(inputs)
