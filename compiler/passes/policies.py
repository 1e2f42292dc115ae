"""Passes `normalise_policies` and `isolate_tenants`.

Rules come from `allow(...)` on the entity, `policy("Entity", ...)` in
policy files, `action().allow(...)`, and field-level `visible_to` /
`editable_by`. Each becomes a `Rule` with an id (`Invoice.read`,
`Invoice.pay`, `Invoice.notes.visible_to`) and a readable text. Deny by
default: an operation without a rule has no `Rule` at all.
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler import ir
from compiler.diagnostics import did_you_mean
from compiler.passes.context import PassContext, source_ref
from compiler.passes.exprs import lower_policy
from compiler.source import SourceLoc
from compiler.typecheck import Purpose, typecheck
from policy import tree
from policy.render import render_policy

CRUD = ("read", "create", "update", "delete")


@dataclass(frozen=True)
class _Declared:
    operation: str
    policy: tree.PolicyNode
    loc: SourceLoc
    source: str


def normalise_policies(project: ir.Project, ctx: PassContext) -> ir.Project:
    _report_unknown_policy_entities(project, ctx)
    return project.replace(entities=ctx.each_entity("policies", project, _entity_rules))


def _report_unknown_policy_entities(project: ir.Project, ctx: PassContext) -> None:
    names = [e.name for e in project.entities]
    for decl in ctx.policy_files:
        if project.entity(decl.entity) is None and not ctx.is_broken(decl.entity):
            ctx.error(
                decl.loc,
                "policy-unknown-entity",
                f"policy({decl.entity!r}, ...) names no entity.",
                did_you_mean(decl.entity, names),
            )


def _declared_rules(entity: ir.Entity, ctx: PassContext) -> list[_Declared]:
    decl = ctx.entities[entity.name]
    found: list[_Declared] = []
    if decl.policies is not None:
        found += [
            _Declared(op, node, decl.policies.loc, "allow(...)")
            for op, node in decl.policies.rules.items()
        ]
    for file_decl in ctx.policy_files:
        if file_decl.entity == entity.name:
            found += [
                _Declared(op, node, file_decl.loc, f"policy({entity.name!r}, ...)")
                for op, node in file_decl.allow.rules.items()
            ]
    for name, action in decl.actions.items():
        policy = getattr(action, "policy", None)
        if policy is not None:
            found.append(_Declared(name, policy, action.loc, f"action().allow(...) of {name}"))
    return found


def _rule_loc(declared: _Declared) -> SourceLoc:
    """The line of the rule itself (`update=role(...)` inside a multi-line allow)."""
    node_loc = declared.policy.loc
    return node_loc if node_loc.file == declared.loc.file else declared.loc


def _entity_rules(project: ir.Project, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    decl = ctx.entities[entity.name]
    valid = (*CRUD, *decl.actions)
    by_operation: dict[str, _Declared] = {}
    for declared in _declared_rules(entity, ctx):
        if declared.operation not in valid:
            ctx.error(
                _rule_loc(declared),
                "policy-unknown-operation",
                f"{declared.source} on {entity.name} gives a rule for {declared.operation!r}, "
                "which is neither an operation nor an action.",
                f"{did_you_mean(declared.operation, valid)} Operations: {', '.join(valid)}.",
            )
            continue
        earlier = by_operation.get(declared.operation)
        if earlier is not None:
            ctx.error(
                _rule_loc(declared),
                "policy-duplicate",
                f"{entity.name}.{declared.operation} has two rules: {earlier.source} at "
                f"{_rule_loc(earlier)} and {declared.source}.",
                "keep one; combine conditions with | or & inside it.",
            )
            continue
        by_operation[declared.operation] = declared
    ordered = [op for op in valid if op in by_operation]
    rules = tuple(
        _rule(project, entity, f"{entity.name}.{op}", op, by_operation[op], ctx) for op in ordered
    )
    actions = tuple(
        a.replace(rule=f"{entity.name}.{a.name}" if a.name in by_operation else None)
        for a in entity.actions
    )
    fields = tuple(_field_rules(project, entity, f, ctx) for f in entity.fields)
    return entity.replace(rules=rules, actions=actions, fields=fields)


def _creator_shown_to_creator(entity: ir.Entity, field: ir.FieldNode) -> ir.FieldNode:
    """Rows of an entity without tenancy are shared by every tenant; who made one is a
    user of some tenant, so only that user sees it (a system rule, like same_tenant())."""
    rule = ir.Rule(
        id=f"{entity.name}.created_by.visible_to",
        operation="visible_to",
        expr=ir.OwnerPolicy(field="created_by"),
        text="owner()",
        loc=field.loc,
    )
    return field.replace(visible_to=rule)


def _field_rules(
    project: ir.Project, entity: ir.Entity, field: ir.FieldNode, ctx: PassContext
) -> ir.FieldNode:
    if field.origin == "created_by" and not entity.tenant:
        return _creator_shown_to_creator(entity, field)
    decl = ctx.entities[entity.name].fields.get(field.name)
    if decl is None or field.origin != "declared":
        return field
    changes = {}
    for kind, node in (("visible_to", decl.visible_rule), ("editable_by", decl.editable_rule)):
        if node is not None:
            declared = _Declared(kind, node, decl.where(kind), f".{kind}(...)")
            rule_id = f"{entity.name}.{field.name}.{kind}"
            changes[kind] = _rule(project, entity, rule_id, kind, declared, ctx)
    return field.replace(**changes) if changes else field


def _rule(
    project: ir.Project,
    entity: ir.Entity,
    rule_id: str,
    operation: str,
    declared: _Declared,
    ctx: PassContext,
) -> ir.Rule:
    _check_policy(project, entity, rule_id, declared.policy, ctx)
    expr = _typed(project, entity, rule_id, lower_policy(declared.policy), declared, ctx)
    return ir.Rule(
        id=rule_id,
        operation=operation,
        expr=expr,
        text=render_policy(expr),
        loc=source_ref(declared.loc),
    )


def _typed(
    project: ir.Project,
    entity: ir.Entity,
    rule_id: str,
    node: ir.PolicyExpr,
    declared: _Declared,
    ctx: PassContext,
) -> ir.PolicyExpr:
    """Type-check conditions inside a rule; they must be conditions on the row."""
    if isinstance(node, ir.ConditionPolicy):
        purpose = Purpose(what=f"rule {rule_id}", aggregates=False)
        loc = _rule_loc(declared)
        checked = typecheck(node.expr, project, entity, source_ref(loc), purpose, ctx)
        if checked.vtype is not None and checked.vtype.name != "boolean":
            ctx.error(
                loc,
                "policy-condition-type",
                f"rule {rule_id}: a condition must be true or false, but this gives {checked.vtype}.",
                "compare the field, e.g. F('status') == 'draft'.",
            )
        return node.replace(expr=checked.expr)
    if isinstance(node, ir.AllOfPolicy | ir.AnyOfPolicy):
        return node.replace(
            items=tuple(_typed(project, entity, rule_id, i, declared, ctx) for i in node.items)
        )
    if isinstance(node, ir.NotPolicy):
        return node.replace(item=_typed(project, entity, rule_id, node.item, declared, ctx))
    return node


def _check_policy(
    project: ir.Project, entity: ir.Entity, rule_id: str, node: tree.PolicyNode, ctx: PassContext
) -> None:
    """Check the building blocks, each at the line where it was written."""
    roles = ctx.config.app.roles
    if isinstance(node, tree.Role) and node.name not in roles:
        ctx.error(
            node.loc,
            "policy-unknown-role",
            f'rule {rule_id}: role("{node.name}") is not a role of this app.',
            f"{did_you_mean(node.name, roles)} Roles are listed in gen.toml under [app] roles.",
        )
    elif isinstance(node, tree.Owner):
        _check_owner(entity, rule_id, node, ctx)
    elif isinstance(node, tree.TenantMember) and not entity.tenant and entity.name != "Tenant":
        ctx.error(
            node.loc,
            "policy-tenant-member",
            f"rule {rule_id}: tenant_member() needs a tenant, and {entity.name} is not tenant=True.",
            f"add tenant=True to entity({entity.name!r}, ...), or use authenticated().",
        )
    elif isinstance(node, tree.Rel):
        _check_rel(project, entity, rule_id, node, ctx)
    elif isinstance(node, tree.AllOf | tree.AnyOf):
        for item in node.items:
            _check_policy(project, entity, rule_id, item, ctx)
    elif isinstance(node, tree.Negation):
        _check_policy(project, entity, rule_id, node.item, ctx)


def _points_to_user(field: ir.FieldNode | None) -> bool:
    return field is not None and isinstance(field.type, ir.RefType) and field.type.target == "User"


def _check_owner(entity: ir.Entity, rule_id: str, node: tree.Owner, ctx: PassContext) -> None:
    found = entity.field(node.field)
    if _points_to_user(found) or (entity.name == "User" and node.field == "id"):
        return
    if found is None and ctx.is_broken(entity.name, node.field):
        return
    users = [f.name for f in entity.fields if _points_to_user(f) and f.name != "created_by"]
    ctx.error(
        node.loc,
        "policy-owner-field",
        f"rule {rule_id}: owner({node.field!r}) needs a ref to User, and "
        f"{entity.name}.{node.field} {'does not exist' if found is None else 'is not one'}.",
        f"write owner() for the row's creator (created_by), or owner(...) naming one of: "
        f"{', '.join(users)}."
        if users
        else "write owner() for the row's creator (created_by), or add a field such as "
        '"owner": ref("User") and write owner("owner").',
    )


def _check_rel(
    project: ir.Project, entity: ir.Entity, rule_id: str, node: tree.Rel, ctx: PassContext
) -> None:
    current: ir.Entity | None = entity
    segments = node.path.split(".")
    for position, segment in enumerate(segments):
        assert current is not None
        found = current.field(segment)
        last = position == len(segments) - 1
        if found is None and ctx.is_broken(current.name, segment):
            return
        if found is None or not isinstance(found.type, ir.RefType):
            problem = "has no field" if found is None else "is not a ref:"
            ctx.error(
                node.loc,
                "policy-rel-path",
                f'rule {rule_id}: rel("{node.path}"): {current.name} {problem} {segment!r}.',
                "a rel() path follows refs from this row and ends at a ref to User, "
                'e.g. rel("customer.account_manager").',
            )
            return
        if last and found.type.target != "User":
            ctx.error(
                node.loc,
                "policy-rel-user",
                f'rule {rule_id}: rel("{node.path}") ends at {found.type.target}, not at a User.',
                _rel_user_hint(project, node.path, found.type.target),
            )
            return
        current = project.entity(found.type.target)
        if current is None:
            return


def _rel_user_hint(project: ir.Project, path: str, target: str) -> str:
    """Suggest extending the path by a ref to User that the end entity has."""
    end = project.entity(target)
    users = [f.name for f in end.fields if _points_to_user(f)] if end else []
    users.sort(key=lambda name: name == "created_by")  # declared refs first
    if users:
        return f'end the path with a ref to User, e.g. rel("{path}.{users[0]}").'
    return f'end the path with a ref to User: give {target} a field such as "manager": ref("User").'


def isolate_tenants(project: ir.Project, ctx: PassContext) -> ir.Project:
    """AND tenant isolation into every rule of a tenant entity; no rule can drop it."""
    return project.replace(entities=ctx.each_entity("tenant isolation", project, _isolated_entity))


def _isolated_entity(_: object, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    if not entity.tenant:
        return entity
    return entity.replace(rules=tuple(_isolated(rule) for rule in entity.rules))


def _isolated(rule: ir.Rule) -> ir.Rule:
    inner = rule.expr.items if isinstance(rule.expr, ir.AllOfPolicy) else (rule.expr,)
    expr = ir.AllOfPolicy(items=(ir.SameTenantPolicy(), *inner))
    # Compose the text rather than render again: an | at the top needs brackets.
    text = f"({rule.text})" if isinstance(rule.expr, ir.AnyOfPolicy) else rule.text
    return rule.replace(expr=expr, text=f"same_tenant() & {text}")
