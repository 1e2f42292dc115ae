"""Pass `lower_views`: declared views, checked, plus a default list, detail and form.

A view's kind follows from its name (`list`, `detail`, `form`) or, for other
names, from the settings it uses. Every entity ends up with at least the
three standard views; declaring one replaces only that default.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from compiler import ir
from compiler.diagnostics import did_you_mean
from compiler.dsl.declarations import LayoutDecl, ViewDecl
from compiler.passes.context import PassContext, source_ref

KIND_SETTINGS = {
    "list": ("columns", "filters", "sort", "page_size"),
    "detail": ("layout",),
    "form": ("fields", "widgets"),
}
DEFAULT_PAGE_SIZE = 25
MAX_PAGE_SIZE = 500
DEFAULT_COLUMNS = 6
_TO_MANY = (ir.OneToManyType, ir.ManyToManyType)
_UNSORTABLE = (*_TO_MANY, ir.ArrayType)


def lower_views(project: ir.Project, ctx: PassContext) -> ir.Project:
    return project.replace(entities=ctx.each_entity("views", project, _entity_views))


def _entity_views(_: object, entity: ir.Entity, ctx: PassContext) -> ir.Entity:
    decl = ctx.entities[entity.name]
    views: list[ir.View] = []
    for name, view_decl in decl.views.items():
        lowered = _lower_view(entity, name, view_decl, ctx)
        if lowered is not None:
            views.append(lowered)
    declared = {v.name: v for v in views}
    standard = [declared.get(name, view) for name, view in _defaults(entity).items()]
    extra = [v for v in views if v.name not in KIND_SETTINGS]
    return entity.replace(views=(*standard, *extra))


def _kind_of(entity: ir.Entity, name: str, decl: ViewDecl, ctx: PassContext) -> str | None:
    used = {
        kind
        for kind, settings in KIND_SETTINGS.items()
        if any(s in decl.settings for s in settings)
    }
    if name in KIND_SETTINGS:
        wrong = used - {name}
        if wrong:
            setting = next(
                s for s in decl.settings if s not in KIND_SETTINGS[name] and s != "title"
            )
            ctx.error(
                decl.where(setting),
                "view-setting",
                f"{entity.name} view {name!r}: .{setting}() belongs to a {wrong.pop()} view.",
                f"a {name} view takes {', '.join('.' + s + '()' for s in KIND_SETTINGS[name])}.",
            )
            return None
        return name
    if len(used) == 1:
        return used.pop()
    ctx.error(
        decl.loc,
        "view-kind",
        f"{entity.name} view {name!r}: cannot tell whether it is a list, detail or form view.",
        "name it list, detail or form, or use the settings of exactly one kind "
        "(.columns() for a list, .layout() for a detail, .fields() for a form).",
    )
    return None


def _lower_view(entity: ir.Entity, name: Any, decl: Any, ctx: PassContext) -> ir.View | None:
    if not isinstance(decl, ViewDecl):
        ctx.error(
            ctx.entities[entity.name].loc,
            "view-not-a-view",
            f"{entity.name}: views[{name!r}] is {decl!r}, not a view.",
            "write view().columns([...]) and so on.",
        )
        return None
    kind = _kind_of(entity, name, decl, ctx)
    if kind is None:
        return None
    check = _FieldCheck(entity, name, decl, ctx)
    title = str(decl.settings.get("title") or _default_title(entity, kind))
    if kind == "list":
        return _list_view(entity, name, title, decl, check)
    if kind == "detail":
        return _detail_view(entity, name, title, decl, check)
    return _form_view(entity, name, title, decl, check)


class _FieldCheck:
    """Check field names of one view setting, reporting at that setting's line."""

    def __init__(self, entity: ir.Entity, view: str, decl: ViewDecl, ctx: PassContext) -> None:
        self.entity, self.view, self.decl, self.ctx = entity, view, decl, ctx

    def names(
        self, setting: str, names: Any, usable: Callable[[ir.FieldNode], bool] = lambda f: True
    ) -> tuple[str, ...]:
        good = []
        for name in names:
            field = self.entity.field(name) if isinstance(name, str) else None
            if field is None and self.ctx.is_broken(self.entity.name, name):
                continue  # declared, but wrong, and reported at its declaration
            if field is None:
                self.ctx.error(
                    self.decl.where(setting),
                    "view-unknown-field",
                    f"{self.entity.name} view {self.view!r}: .{setting}() names {name!r}, "
                    f"which is not a field of {self.entity.name}.",
                    did_you_mean(str(name), [f.name for f in self.entity.fields]),
                )
            elif not usable(field):
                self.ctx.error(
                    self.decl.where(setting),
                    "view-field-kind",
                    f"{self.entity.name} view {self.view!r}: {name!r} cannot be used in .{setting}() "
                    f"({_describe(field)}).",
                    _SETTING_HINTS[setting],
                )
            else:
                good.append(name)
        return tuple(good)


_SETTING_HINTS = {
    "columns": "list columns show one value per row; show related lists on the detail view.",
    "filters": "filter on plain values, enums, states, refs and dates.",
    "sort": "sort on plain values, enums, states and dates.",
    "fields": "a form edits fields users may write: not computed, state or read-only fields.",
    "widgets": "set a widget for a field the form shows.",
    "layout": "name fields of the entity.",
}


def _describe(field: ir.FieldNode) -> str:
    if field.computed is not None:
        return "computed"
    if isinstance(field.type, ir.StateType):
        return "a state, changed only by actions"
    if field.read_only:
        return "read-only"
    if isinstance(field.type, ir.ScalarType):
        return f"a {field.type.name} field"
    return f"a {field.type.kind.replace('_', '-')} field"


def _writable(field: ir.FieldNode) -> bool:
    return not (
        field.read_only
        or field.computed is not None
        or isinstance(field.type, ir.StateType)
        or field.origin != "declared"
    )


def _one_value(field: ir.FieldNode) -> bool:
    return not isinstance(field.type, _TO_MANY)


def _filterable(field: ir.FieldNode) -> bool:
    json = isinstance(field.type, ir.ScalarType) and field.type.name == "json"
    return _one_value(field) and not json


def _sortable(field: ir.FieldNode) -> bool:
    return not isinstance(field.type, _UNSORTABLE)


def _list_view(
    entity: ir.Entity, name: str, title: str, decl: ViewDecl, check: _FieldCheck
) -> ir.ListView:
    settings = decl.settings
    default = _default_list(entity)
    columns = check.names("columns", settings.get("columns", default.columns), _one_value)
    filters = check.names("filters", settings.get("filters", default.filters), _filterable)
    sort = _sort_keys(entity, name, decl, check) if "sort" in settings else default.sort
    page_size = settings.get("page_size", DEFAULT_PAGE_SIZE)
    if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
        check.ctx.error(
            decl.where("page_size"),
            "view-page-size",
            f"{entity.name} view {name!r}: page_size({page_size!r}) is out of range.",
            f"choose a whole number from 1 to {MAX_PAGE_SIZE}.",
        )
        page_size = DEFAULT_PAGE_SIZE
    return ir.ListView(
        name=name,
        title=title,
        columns=columns,
        filters=filters,
        sort=sort,
        page_size=page_size,
        implicit=False,
        loc=source_ref(decl.loc),
    )


def _sort_keys(
    entity: ir.Entity, name: str, decl: ViewDecl, check: _FieldCheck
) -> tuple[ir.SortKey, ...]:
    keys = []
    for key in decl.settings["sort"]:
        text = str(key)
        field_name = text.removeprefix("-")
        if check.names("sort", [field_name], _sortable):
            keys.append(ir.SortKey(field=field_name, descending=text.startswith("-")))
    return tuple(keys)


def _detail_view(
    entity: ir.Entity, name: str, title: str, decl: ViewDecl, check: _FieldCheck
) -> ir.DetailView:
    layout = decl.settings.get("layout")
    if layout is None:
        tabs = _default_detail(entity).tabs
    elif not isinstance(layout, LayoutDecl):
        check.ctx.error(
            decl.where("layout"),
            "view-layout",
            f"{entity.name} view {name!r}: .layout() takes tabs(...), got {layout!r}.",
            "write .layout(tabs(tab('Details', ['number']), tab('Timeline'))).",
        )
        tabs = ()
    else:
        tabs = tuple(
            ir.Tab(title=tab.title, fields=check.names("layout", tab.fields)) for tab in layout.tabs
        )
    return ir.DetailView(
        name=name, title=title, tabs=tabs, implicit=False, loc=source_ref(decl.loc)
    )


def _form_view(
    entity: ir.Entity, name: str, title: str, decl: ViewDecl, check: _FieldCheck
) -> ir.FormView:
    settings = decl.settings
    fields = check.names("fields", settings.get("fields", _default_form(entity).fields), _writable)
    widgets = []
    for field_name, widget in dict(settings.get("widgets", {})).items():
        if check.names("widgets", [field_name]):
            widgets.append(ir.Widget(field=field_name, widget=str(widget)))
    return ir.FormView(
        name=name,
        title=title,
        fields=fields,
        widgets=tuple(widgets),
        implicit=False,
        loc=source_ref(decl.loc),
    )


# Defaults ----------------------------------------------------------------------------------


def _default_title(entity: ir.Entity, kind: str) -> str:
    return {
        "list": entity.label_plural,
        "detail": entity.label,
        "form": f"Edit {entity.label.lower()}",
    }[kind]


def _shown(entity: ir.Entity) -> list[ir.FieldNode]:
    return [f for f in entity.fields if f.origin == "declared"]


def _default_list(entity: ir.Entity) -> ir.ListView:
    columns = [f.name for f in _shown(entity) if not isinstance(f.type, _UNSORTABLE)]
    filterable = (ir.EnumType, ir.StateType, ir.RefType)
    filters = [
        f.name
        for f in _shown(entity)
        if isinstance(f.type, filterable)
        or (isinstance(f.type, ir.ScalarType) and f.type.name == "boolean")
    ]
    sort_field = "created_at" if entity.timestamps else entity.primary_key
    return ir.ListView(
        name="list",
        title=_default_title(entity, "list"),
        columns=tuple(columns[:DEFAULT_COLUMNS]),
        filters=tuple(filters),
        sort=(ir.SortKey(field=sort_field, descending=entity.timestamps),),
        page_size=DEFAULT_PAGE_SIZE,
        implicit=True,
        loc=entity.loc,
    )


def _default_detail(entity: ir.Entity) -> ir.DetailView:
    fields = tuple(f.name for f in _shown(entity) if not f.private)
    return ir.DetailView(
        name="detail",
        title=_default_title(entity, "detail"),
        tabs=(ir.Tab(title="Details", fields=fields),),
        implicit=True,
        loc=entity.loc,
    )


def _default_form(entity: ir.Entity) -> ir.FormView:
    return ir.FormView(
        name="form",
        title=_default_title(entity, "form"),
        fields=tuple(f.name for f in entity.fields if _writable(f)),
        widgets=(),
        implicit=True,
        loc=entity.loc,
    )


def _defaults(entity: ir.Entity) -> dict[str, ir.View]:
    return {
        "list": _default_list(entity),
        "detail": _default_detail(entity),
        "form": _default_form(entity),
    }
