"""What the UI runtime is told about one entity: `ui/entities/<table>.ts`.

Pure functions of the IR. The module exports one `EntityMeta` value
(generators/ui/runtime/meta.ts): fields with their widget and the checks the
server makes, the list/detail/form views, actions with their guards, and the
policy mirror's checks (client/policies.ts `rules`) for hiding what the
server would refuse.
"""

from __future__ import annotations

import json
from typing import Any

from compiler import ir
from generators.api.shapes import required_on_create, writable_fields
from generators.client.shapes import camel, filter_entry, sortable

#: Scalar type -> the widget a field of that type gets.
SCALAR_WIDGETS = {
    "uuid": "uuid",
    "text": "text",
    "slug": "slug",
    "email": "email",
    "url": "url",
    "integer": "number",
    "decimal": "decimal",
    "money": "money",
    "boolean": "boolean",
    "date": "date",
    "datetime": "datetime",
    "json": "json",
}
#: Other kinds of field -> widget.
KIND_WIDGETS = {
    "enum": "select",
    "state": "state",
    "array": "array",
    "ref": "reference",
    "poly_ref": "poly_reference",
    "one_to_many": "children",
    "many_to_many": "many",
}
#: Text longer than this gets a textarea.
LONG_TEXT = 255
#: Fields that name a row, in order of preference.
DISPLAY_NAMES = ("name", "title", "number", "label", "code", "email", "slug")
#: Fields the server sets: never in a form.
SYSTEM_ORIGINS = frozenset({"primary_key", "timestamps", "created_by", "tenancy"})


def module_name(entity: ir.Entity) -> str:
    """`InvoiceLine` -> `invoiceLine`, the name its module exports."""
    return camel(entity.name)


def entity_module(project: ir.Project, entity: ir.Entity) -> str:
    """The TypeScript of `ui/entities/<table>.ts`."""
    form_widgets = _form_widgets(entity)
    writable = {f.name for f in writable_fields(entity)}
    fields = [_field(project, entity, f, writable, form_widgets) for f in entity.fields]
    meta: dict[str, Any] = {
        "name": entity.name,
        "label": entity.label,
        "labelPlural": entity.label_plural,
        **({"doc": entity.doc} if entity.doc else {}),
        "path": entity.path,
        "route": entity.route,
        "key": entity.primary_key,
        "display": display_field(entity),
        "tenant": entity.tenant,
        "builtin": entity.builtin,
    }
    lines = [
        'import { rules } from "../../client/policies";',
        'import { guardOf } from "../runtime/all.bundle";',
        'import type { Check, EntityMeta } from "../runtime/meta";',
        "",
        "// A rule the policy mirror could not express is left to the server: allowed here.",
        "const rule = (id: string): Check =>",
        "  (rules as { readonly [id: string]: Check | undefined })[id] ?? (() => true);",
        "",
        f"/** {entity.name}: {_comment(entity.doc or entity.label)} */",
        f"export const {module_name(entity)}: EntityMeta = {{",
    ]
    lines += [f"  {key}: {json.dumps(value, ensure_ascii=False)}," for key, value in meta.items()]
    lines.append("  fields: [")
    lines += [f"    {_object(field)}," for field in fields]
    lines.append("  ],")
    lines.append(f"  lists: {json.dumps(_lists(entity), ensure_ascii=False)},")
    lines.append(f"  detail: {json.dumps(_detail(entity), ensure_ascii=False)},")
    lines.append(f"  form: {json.dumps(_form(entity), ensure_ascii=False)},")
    lines.append("  actions: [")
    lines += [f"    {_action(project, entity, a, writable)}," for a in entity.actions]
    lines.append("  ],")
    lines.append(f"  can: {_can(entity)},")
    lines.append("};")
    return "\n".join(lines) + "\n"


def list_source(entity: ir.Entity) -> dict[str, Any]:
    """What lists.ts needs to ask for a list of `entity` (a `ListSource`): ui/prefetch.ts
    holds one per entity, so that the page's first list is asked before the views load."""
    lists = _lists(entity)
    used = {name for view in lists for name in (*view["columns"], *view["filters"])}
    fields = [{"name": f.name, "type": _type_name(f.type)} for f in entity.fields if f.name in used]
    return {"name": entity.name, "path": entity.path, "lists": lists, "fields": fields}


def display_field(entity: ir.Entity) -> str:
    """The field naming a row: a conventional name that is always set, else the first required
    text, else a conventional name that may be empty, else the key."""
    named = [f for n in DISPLAY_NAMES if (f := entity.field(n)) and _is_text(f) and not f.private]
    for field in named:
        if not field.nullable:
            return field.name
    for field in entity.fields:
        if _is_text(field) and not field.nullable and field.origin == "declared":
            return field.name
    return named[0].name if named else entity.primary_key


def widget_of(field: ir.FieldNode) -> str:
    t = field.type
    if isinstance(t, ir.ScalarType):
        long = field.max_length is None or field.max_length > LONG_TEXT
        if t.name == "text" and long and field.pattern is None:
            return "textarea"
        return SCALAR_WIDGETS[t.name]
    return KIND_WIDGETS[t.kind]


def _field(
    project: ir.Project,
    entity: ir.Entity,
    field: ir.FieldNode,
    writable: set[str],
    form_widgets: dict[str, str],
) -> dict[str, Any]:
    t = field.type
    found: dict[str, Any] = {
        "name": field.name,
        "label": field.label,
        "help": field.help,
        "type": _type_name(t),
        "widget": form_widgets.get(field.name, widget_of(field)),
        "nullable": field.nullable,
        "required": required_on_create(field),
        "creatable": field.name in writable,
        "updatable": field.name in writable,
        "computed": field.computed is not None,
        "private": field.private or None,
        "default": field.default.value if field.default and field.default.kind == "value" else None,
        "min": _decimal(field.min),
        "max": _decimal(field.max),
        "minLength": field.min_length,
        "maxLength": field.max_length,
        "pattern": field.pattern,
        "scale": _scale(t),
        "values": list(t.values) if isinstance(t, ir.EnumType | ir.StateType) else None,
        "sortable": sortable(field),
        "filterable": filter_entry(project, entity, field) is not None,
    }
    if isinstance(t, ir.ArrayType):
        found["of"] = _type_name(t.of)
        if isinstance(t.of, ir.EnumType):
            found["values"] = list(t.of.values)
    if isinstance(t, ir.RefType | ir.OneToManyType | ir.ManyToManyType):
        found["target"] = t.target
    if isinstance(t, ir.OneToManyType):
        found["via"] = t.via
    if isinstance(t, ir.PolyRefType):
        found["targets"] = list(t.targets)
    return {key: value for key, value in found.items() if value is not None}


def _type_name(t: ir.ScalarType | ir.EnumType | object) -> str:
    if isinstance(t, ir.ScalarType):
        return t.name
    kind = getattr(t, "kind", None)
    assert isinstance(kind, str), t
    return kind


def _scale(t: object) -> int | None:
    if isinstance(t, ir.ScalarType) and t.name == "money":
        return 2
    if isinstance(t, ir.ScalarType) and t.name == "decimal":
        return t.scale
    return None


def _decimal(value: object) -> str | None:
    return None if value is None else str(value)


def _is_text(field: ir.FieldNode) -> bool:
    t = field.type
    return isinstance(t, ir.ScalarType) and t.name in {"text", "slug", "email"}


def _form_widgets(entity: ir.Entity) -> dict[str, str]:
    form = entity.view("form")
    return {w.field: w.widget for w in form.widgets} if isinstance(form, ir.FormView) else {}


def _lists(entity: ir.Entity) -> list[dict[str, Any]]:
    lists = [v for v in entity.views if isinstance(v, ir.ListView)]
    lists.sort(key=lambda v: v.name != "list")  # the default list first, then the model's order
    return [
        {
            "name": v.name,
            "title": v.title,
            "columns": list(v.columns),
            "filters": list(v.filters),
            "sort": [("-" if k.descending else "") + k.field for k in v.sort],
            "pageSize": v.page_size,
        }
        for v in lists
    ]


def _detail(entity: ir.Entity) -> dict[str, Any]:
    view = entity.view("detail")
    assert isinstance(view, ir.DetailView), f"{entity.name} has no detail view"
    return {
        "title": view.title,
        "tabs": [{"title": t.title, "fields": list(t.fields)} for t in view.tabs],
    }


def _form(entity: ir.Entity) -> dict[str, Any]:
    view = entity.view("form")
    assert isinstance(view, ir.FormView), f"{entity.name} has no form view"
    fields = [
        name
        for name in view.fields
        if (f := entity.field(name)) is not None and f.origin not in SYSTEM_ORIGINS
    ]
    return {"title": view.title, "fields": fields}


def _action(project: ir.Project, entity: ir.Entity, action: ir.Action, writable: set[str]) -> str:
    inputs = [_field(project, entity, f, {f.name}, {}) for f in action.inputs]
    parts = [
        f"name: {json.dumps(action.name)}",
        f"label: {json.dumps(action.label, ensure_ascii=False)}",
        f"kind: {json.dumps(action.kind)}",
    ]
    if action.state_field:
        parts.append(f"stateField: {json.dumps(action.state_field)}")
    parts.append(f"sources: {json.dumps(list(action.sources))}")
    if action.target:
        parts.append(f"target: {json.dumps(action.target)}")
    parts.append(f"inputs: [{', '.join(_object(i) for i in inputs)}]")
    if action.guard is not None:
        guard = json.dumps(action.guard.model_dump(mode="json"), ensure_ascii=False)
        parts.append(f"guard: guardOf({guard})")
    if action.rule is not None:
        parts.append(f"can: rule({json.dumps(action.rule)})")
    return "{ " + ", ".join(parts) + " }"


def _can(entity: ir.Entity) -> str:
    parts = [
        f"{operation}: rule({json.dumps(rule.id)})"
        for operation in ("read", "create", "update", "delete")
        if (rule := entity.rule(operation)) is not None
    ]
    edit = [(f.name, f.editable_by.id) for f in entity.fields if f.editable_by]
    see = [(f.name, f.visible_to.id) for f in entity.fields if f.visible_to]
    for key, pairs in (("edit", edit), ("see", see)):
        if pairs:
            members = ", ".join(f"{json.dumps(n)}: rule({json.dumps(r)})" for n, r in pairs)
            parts.append(f"{key}: {{ {members} }}")
    return "{ " + ", ".join(parts) + " }"


def _object(value: dict[str, Any]) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(", ", ": "))


def _comment(text: str) -> str:
    return text.replace("*/", "* /").replace("\n", " ")
