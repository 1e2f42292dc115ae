"""Pass `lower_entities`: declarations -> IR entities and fields.

Applies the naming conventions and checks everything a single field can be
wrong about on its own (a modifier that does not fit its type, a default of
the wrong type). Cross-entity questions (does the ref target exist?) are
later passes.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from compiler import ir, naming
from compiler.dsl.declarations import EntityDecl
from compiler.dsl.fields import ON_DELETE, SCALAR_KINDS, UNSET, FieldDecl
from compiler.expr import Call, Expr
from compiler.passes.context import PassContext, source_ref
from compiler.passes.exprs import lower_expr

TEXT_KINDS = ("text", "slug", "email", "url")
NUMERIC_KINDS = ("integer", "decimal", "money")
KEY_KINDS = ("uuid", "integer", "text", "slug")
RELATION_KINDS = ("ref", "one", "poly_ref", "one_to_many", "many_to_many")
_CURRENCY = re.compile(r"^[A-Z]{3}$")
_ACTION_OR_STATE = re.compile(r"^[a-z][a-z0-9_]*$")
#: Where FieldDecl stores the value of each validation modifier.
_STORED = {"min": "min_value", "max": "max_value", "min_length": "min_len", "max_length": "max_len"}


def lower_entities(project: ir.Project, ctx: PassContext) -> ir.Project:
    """Turn every entity declaration into an IR entity (fields only)."""
    return project.replace(entities=ctx.each_declaration("lower", _lower_entity))


def _lower_entity(_: object, decl: EntityDecl, ctx: PassContext) -> ir.Entity | None:
    if not isinstance(decl.name, str) or not naming.ENTITY_NAME.match(decl.name):
        ctx.error(
            decl.loc,
            "entity-name",
            f"entity name {decl.name!r} is not PascalCase.",
            'name entities like "Invoice" or "InvoiceLine": a capital letter, then letters and digits.',
        )
        if isinstance(decl.name, str):
            ctx.broken.add(decl.name)
        return None
    origin = decl.renamed_from or decl.name
    fields = [
        lowered
        for name, field_decl in decl.fields.items()
        if (lowered := lower_field(decl, origin, name, field_decl, ctx))
    ]
    lowered_names = {f.name for f in fields}
    ctx.broken.update(f"{decl.name}.{name}" for name in decl.fields if name not in lowered_names)
    primary = [f.name for f in fields if f.primary]
    if len(primary) > 1:
        ctx.error(
            decl.loc,
            "primary-key",
            f"{decl.name} declares {len(primary)} primary keys ({', '.join(primary)}).",
            "keep .primary() on one field; use index(...).unique() for other keys.",
        )
    if decl.tenant and ctx.config.app.tenancy is None:
        ctx.error(
            decl.loc,
            "tenancy-off",
            f"{decl.name} is tenant=True but gen.toml turns tenancy off.",
            'add tenancy = "org" under [app] in gen.toml, or drop tenant=True.',
        )
    table = naming.table_name(decl.name)
    segment = naming.path_segment(decl.name)
    return ir.Entity(
        uid=naming.stable_uid("entity", origin),
        name=decl.name,
        table=table,
        path=segment,
        api_path=f"/api/{segment}",
        route=f"/app/{segment}",
        label=decl.label or naming.humanize(decl.name),
        label_plural=naming.humanize(naming.plural(naming.snake(decl.name))),
        doc=decl.doc,
        tenant=bool(decl.tenant),
        timestamps=bool(decl.timestamps),
        builtin=decl.builtin,
        renamed_from=decl.renamed_from,
        primary_key=primary[0] if primary else "id",
        fields=tuple(fields),
        loc=source_ref(decl.loc),
    )


# Fields -----------------------------------------------------------------------------


def lower_field(
    entity: EntityDecl,
    entity_origin: str,
    name: str,
    decl: Any,
    ctx: PassContext,
    where: str | None = None,
) -> ir.FieldNode | None:
    """Lower one declared field (or action input), or report why it cannot be."""
    where = where or f"{entity.name}.{name}"
    if not isinstance(decl, FieldDecl):
        ctx.error(
            entity.loc,
            "field-not-a-field",
            f"{where} is {decl!r}, not a field.",
            'use a field type such as text(), integer() or ref("Customer").',
        )
        return None
    if not isinstance(name, str) or not naming.FIELD_NAME.match(name):
        ctx.error(
            decl.loc,
            "field-name",
            f"field name {name!r} of {entity.name} is not snake_case.",
            'name fields like "due_date": lowercase letters, digits and underscores.',
        )
        return None
    if naming.is_reserved_word(name):
        ctx.error(
            decl.loc,
            "field-reserved",
            f"{where}: {name!r} is a reserved word in generated Python or TypeScript.",
            f'rename it, e.g. "{name}_value"; .label("{name.title()}") keeps the text users see.',
        )
        return None
    field_type = _lower_type(where, decl, ctx)
    if field_type is None:
        return None
    _check_modifiers(where, decl, field_type, ctx)
    computed = _computed_placeholder(decl)
    column = _column_for(name, decl, field_type)
    nullable = _nullable(decl, field_type)
    return ir.FieldNode(
        uid=naming.stable_uid("field", entity_origin, decl.old_name or name),
        name=name,
        type=field_type,
        column=column,
        nullable=nullable,
        primary=decl.is_primary,
        unique=decl.is_unique or (isinstance(field_type, ir.RefType) and field_type.one_to_one),
        indexed=decl.is_indexed,
        default=_lower_default(where, decl, field_type, ctx),
        min=_number(where, "min", decl, ctx),
        max=_number(where, "max", decl, ctx),
        min_length=_length(where, "min_length", decl, ctx),
        max_length=_length(where, "max_length", decl, ctx),
        pattern=decl.regex if isinstance(decl.regex, str) else None,  # else reported
        label=decl.label_text or naming.humanize(name),
        help=decl.help_text,
        read_only=decl.is_read_only or decl.computed_expr is not None,
        private=decl.is_private,
        renamed_from=decl.old_name,
        computed=computed,
        materialized=decl.is_materialized,
        loc=source_ref(decl.loc),
    )


def _computed_placeholder(decl: FieldDecl) -> ir.Computed | None:
    """The expression, untyped; the type-checking pass fills type and dependencies."""
    if decl.computed_expr is None:
        return None
    return ir.Computed(expr=lower_expr(decl.computed_expr), type="", depends_on=(), same_row=False)


def _column_for(name: str, decl: FieldDecl, field_type: ir.FieldType) -> str | None:
    if isinstance(field_type, ir.OneToManyType | ir.ManyToManyType):
        return None
    if decl.computed_expr is not None and not decl.is_materialized:
        return None
    if isinstance(field_type, ir.RefType | ir.PolyRefType):
        return naming.ref_column(name)
    return name


def _nullable(decl: FieldDecl, field_type: ir.FieldType) -> bool:
    if decl.is_primary or isinstance(field_type, ir.StateType):
        return False
    if isinstance(field_type, ir.OneToManyType | ir.ManyToManyType):
        return False
    return decl.is_required is not True


def _lower_type(where: str, decl: FieldDecl, ctx: PassContext) -> ir.FieldType | None:
    kind, params = decl.kind, decl.params
    if kind in SCALAR_KINDS:
        return _scalar(where, decl, ctx)
    if kind == "enum":
        values = _names(where, "enum", params["values"], decl, ctx)
        return ir.EnumType(values=values) if values else None
    if kind == "state":
        return _state(where, decl, ctx)
    if kind == "array":
        return _array(where, decl, ctx)
    if kind in ("ref", "one"):
        target = _target(where, params["target"], decl, ctx)
        on_delete = _on_delete(where, decl, ctx)
        if target is None or on_delete is None:
            return None
        return ir.RefType(target=target, on_delete=on_delete, one_to_one=kind == "one")
    if kind == "poly_ref":
        return _poly_ref(where, decl, ctx)
    if kind == "one_to_many":
        target = _target(where, params["target"], decl, ctx)
        return ir.OneToManyType(target=target, via=params.get("via") or "") if target else None
    if kind == "many_to_many":
        return _many_to_many(where, decl, ctx)
    raise AssertionError(f"unknown field kind {kind}")


def _scalar(where: str, decl: FieldDecl, ctx: PassContext) -> ir.ScalarType | None:
    params = decl.params
    if decl.kind == "decimal":
        precision, scale = params.get("precision"), params.get("scale")
        if precision is None and scale is None:
            return ir.ScalarType(name="decimal")
        valid = (
            isinstance(precision, int)
            and isinstance(scale, int)
            and 1 <= precision <= 1000
            and 0 <= scale <= precision
        )
        if not valid:
            ctx.error(
                decl.loc,
                "decimal-precision",
                f"{where}: decimal({precision!r}, {scale!r}) is not a valid precision and scale.",
                "write decimal(p, s) with 1 <= p <= 1000 digits and 0 <= s <= p after the point, e.g. decimal(10, 2).",
            )
            return None
        return ir.ScalarType(name="decimal", precision=precision, scale=scale)
    if decl.kind == "money":
        currency = params.get("currency")
        if not isinstance(currency, str) or not _CURRENCY.match(currency):
            ctx.error(
                decl.loc,
                "money-currency",
                f"{where}: currency {currency!r} is not an ISO 4217 code.",
                'write money(currency="EUR"): three capital letters.',
            )
            return None
        return ir.ScalarType(name="money", currency=currency)
    return _plain_scalar(decl.kind)


@functools.lru_cache(maxsize=32)
def _plain_scalar(kind: str) -> ir.ScalarType:
    """Plain scalar types are frozen and alike: one shared node per kind."""
    return ir.ScalarType(name=kind)


def _names(
    where: str, what: str, values: Any, decl: FieldDecl, ctx: PassContext
) -> tuple[str, ...] | None:
    """Enum values and states: non-empty, unique, lowercase identifiers."""
    bad = [v for v in values if not isinstance(v, str) or not _ACTION_OR_STATE.match(v)]
    duplicates = sorted({v for v in values if isinstance(v, str) and list(values).count(v) > 1})
    if not values or bad or duplicates:
        problem = (
            "has no values"
            if not values
            else f"has repeated values {duplicates}"
            if duplicates
            else f"has values that are not lowercase identifiers: {bad}"
        )
        ctx.error(
            decl.loc,
            f"{what}-values",
            f"{where}: the {what} {problem}.",
            f"list distinct lowercase names, e.g. {what}(['draft', 'sent']).",
        )
        return None
    return tuple(values)


def _state(where: str, decl: FieldDecl, ctx: PassContext) -> ir.StateType | None:
    values = _names(where, "state", decl.params["values"], decl, ctx)
    if values is None:
        return None
    initial = decl.params.get("initial")
    if initial not in values:
        ctx.error(
            decl.loc,
            "state-initial",
            f"{where}: initial state {initial!r} is not one of {list(values)}.",
            f"write initial={values[0]!r} (or another listed state).",
        )
        return None
    transitions = []
    for name, spec in decl.params.get("transitions", {}).items():
        transition = _transition(where, name, spec, values, decl, ctx)
        if transition:
            transitions.append(transition)
    return ir.StateType(values=values, initial=initial, transitions=tuple(transitions))


def _transition(
    where: str, name: Any, spec: Any, states: tuple[str, ...], decl: FieldDecl, ctx: PassContext
) -> ir.Transition | None:
    if not isinstance(name, str) or not _ACTION_OR_STATE.match(name):
        ctx.error(
            decl.loc,
            "transition-name",
            f"{where}: transition name {name!r} is not a lowercase identifier.",
            'name transitions like actions: "send", "mark_paid".',
        )
        return None
    if not (isinstance(spec, tuple | list) and len(spec) == 2):
        ctx.error(
            decl.loc,
            "transition-shape",
            f"{where}: transition {name!r} is {spec!r}, not a (from, to) pair.",
            f'write "{name}": ("draft", "sent") or "{name}": (["draft", "sent"], "void").',
        )
        return None
    sources = tuple(spec[0]) if isinstance(spec[0], list | tuple) else (spec[0],)
    unknown = [s for s in (*sources, spec[1]) if s not in states]
    if unknown:
        ctx.error(
            decl.loc,
            "transition-state",
            f"{where}: transition {name!r} names {', '.join(map(repr, unknown))}, "
            f"which {'is not a state' if len(unknown) == 1 else 'are not states'}.",
            f"use states of {list(states)}, or add the missing state to the list.",
        )
        return None
    return ir.Transition(name=name, sources=sources, target=spec[1])


def _array(where: str, decl: FieldDecl, ctx: PassContext) -> ir.ArrayType | None:
    inner: FieldDecl = decl.params["of"]
    if inner.kind == "enum":
        values = _names(where, "enum", inner.params["values"], inner, ctx)
        return ir.ArrayType(of=ir.EnumType(values=values)) if values else None
    if inner.kind in SCALAR_KINDS and inner.kind != "json":
        element = _scalar(where, inner, ctx)
        return ir.ArrayType(of=element) if element else None
    ctx.error(
        decl.loc,
        "array-element",
        f"{where}: array({inner.kind}()) is not supported.",
        "arrays hold scalars or enums, e.g. array(text()); "
        "for a list of related rows use array(ref('Entity')), for free-form data json().",
    )
    return None


def _target(where: str, target: Any, decl: FieldDecl, ctx: PassContext) -> str | None:
    if isinstance(target, str) and target:
        return target
    ctx.error(
        decl.loc,
        "ref-target",
        f"{where}: the relation target {target!r} is neither an entity name nor an entity.",
        'write ref("Customer") or ref(Customer) with the handle entity() returned.',
    )
    return None


def _on_delete(where: str, decl: FieldDecl, ctx: PassContext) -> str | None:
    behaviour = decl.on_delete_rule or "restrict"
    if behaviour not in ON_DELETE:
        ctx.error(
            decl.where("on_delete"),
            "on-delete",
            f"{where}: on_delete({behaviour!r}) is not known.",
            f"choose one of {', '.join(ON_DELETE)}.",
        )
        return None
    if behaviour == "set_null" and decl.is_required:
        ctx.error(
            decl.where("on_delete"),
            "on-delete-required",
            f"{where} is required, so on_delete('set_null') could never succeed.",
            "use on_delete('cascade') or ('restrict'), or drop .required().",
        )
        return None
    return behaviour


def _poly_ref(where: str, decl: FieldDecl, ctx: PassContext) -> ir.PolyRefType | None:
    targets = tuple(decl.params["targets"])
    resolved = [_target(where, t, decl, ctx) for t in targets]
    if None in resolved:
        return None
    if len(set(targets)) < 2:
        ctx.error(
            decl.loc,
            "poly-ref-targets",
            f"{where}: a polymorphic ref needs at least two distinct entities, got {list(targets)}.",
            'write ref(["Invoice", "Customer"]), or ref("Invoice") for a single target.',
        )
        return None
    on_delete = _on_delete(where, decl, ctx)
    if on_delete is None:
        return None
    name = where.split(".", 1)[1]
    return ir.PolyRefType(
        targets=targets,
        on_delete=on_delete,
        type_column=f"{name}_type",
        id_column=naming.ref_column(name),
    )


def _many_to_many(where: str, decl: FieldDecl, ctx: PassContext) -> ir.ManyToManyType | None:
    target = _target(where, decl.params["target"], decl, ctx)
    if target is None:
        return None
    entity_name, field_name = where.split(".", 1)
    through = decl.params.get("through")
    if through is not None and not isinstance(through, str):
        ctx.error(
            decl.loc,
            "m2m-through",
            f"{where}: through={through!r} is not an entity.",
            'write many_to_many("Tag", through="InvoiceTag").',
        )
        return None
    source_column = f"{naming.snake(entity_name)}_id"
    target_column = f"{naming.snake(target)}_id"
    if target == entity_name:  # self-referential: friends -> person_id, friend_id
        target_column = f"{naming.singular(field_name)}_id"
    return ir.ManyToManyType(
        target=target,
        through=through,
        join_table=f"{naming.table_name(entity_name)}_{naming.table_name(target)}",
        source_column=source_column,
        target_column=target_column,
    )


# Modifiers ------------------------------------------------------------------------------


def _a(kind: str) -> str:
    """The kind with its article: "an integer", "a text"."""
    return f"{'an' if kind in ('integer', 'enum', 'email', 'array') else 'a'} {kind}"


def _check_modifiers(
    where: str, decl: FieldDecl, field_type: ir.FieldType, ctx: PassContext
) -> None:
    kind = decl.kind
    stored = not isinstance(field_type, ir.OneToManyType | ir.ManyToManyType)

    def refuse(modifier: str, code: str, message: str, hint: str) -> None:
        ctx.error(decl.where(modifier), code, f"{where}: {message}", hint)

    if (decl.min_value is not None or decl.max_value is not None) and kind not in NUMERIC_KINDS:
        modifier = "min" if decl.min_value is not None else "max"
        hint = (
            "use .min_length() / .max_length() for text."
            if kind in TEXT_KINDS
            else "only integer, decimal and money fields take .min() / .max()."
        )
        refuse(
            modifier, "modifier-type", f".{modifier}() does not apply to {_a(kind)} field.", hint
        )
    lengths = decl.min_len is not None or decl.max_len is not None
    if lengths and kind not in TEXT_KINDS:
        modifier = "min_length" if decl.min_len is not None else "max_length"
        refuse(
            modifier,
            "modifier-type",
            f".{modifier}() does not apply to {_a(kind)} field.",
            "only text, slug, email and url fields take lengths; numbers take .min() / .max().",
        )
    if decl.regex is not None:
        _check_pattern(where, decl, ctx)
    if decl.is_primary and kind not in KEY_KINDS:
        refuse(
            "primary",
            "primary-type",
            f"{_a(kind)} field cannot be the primary key.",
            f"use one of {', '.join(KEY_KINDS)}, or let the entity keep its implicit uuid `id`.",
        )
    if (decl.is_unique or decl.is_indexed) and (
        not stored or (decl.computed_expr is not None and not decl.is_materialized)
    ):
        modifier = "unique" if decl.is_unique else "index"
        refuse(
            modifier,
            "modifier-unstored",
            f".{modifier}() needs a column, and this field has none.",
            "remove it; relations to many rows and computed fields (unless .materialized()) are not stored.",
        )
    if decl.on_delete_rule is not None and kind not in ("ref", "one", "poly_ref"):
        refuse(
            "on_delete",
            "modifier-type",
            f".on_delete() only applies to refs, not to {_a(kind)} field.",
            "remove .on_delete(); on a one-to-many it belongs on the ref the other entity holds.",
        )
    if decl.is_materialized and decl.computed_expr is None:
        refuse(
            "materialized",
            "materialized-without-computed",
            ".materialized() without .computed(expr).",
            "add .computed(...) before .materialized(), or drop .materialized().",
        )
    if decl.computed_expr is not None:
        _check_computed_field(where, decl, field_type, refuse)
    if isinstance(field_type, ir.StateType) and decl.default_value is not UNSET:
        refuse(
            "default",
            "state-default",
            "a state field starts in its initial state and takes no .default().",
            "remove .default(); set initial= in state(...).",
        )
    if not stored and decl.is_required:
        refuse(
            "required",
            "modifier-unstored",
            ".required() does not apply to a relation to many rows.",
            "remove .required(); a one-to-many or many-to-many may always be empty.",
        )


def _check_computed_field(
    where: str, decl: FieldDecl, field_type: ir.FieldType, refuse: Any
) -> None:
    if not isinstance(field_type, ir.ScalarType | ir.EnumType):
        refuse(
            "computed",
            "computed-type",
            f"{_a(decl.kind)} field cannot be computed.",
            "declare the result as a scalar type, e.g. money().computed(...).",
        )
    if decl.default_value is not UNSET:
        refuse(
            "default",
            "computed-default",
            "a computed field cannot have a .default().",
            "remove .default(); use when(cond, value, fallback) inside the expression.",
        )


def _check_pattern(where: str, decl: FieldDecl, ctx: PassContext) -> None:
    if decl.kind not in TEXT_KINDS:
        ctx.error(
            decl.where("pattern"),
            "modifier-type",
            f"{where}: .pattern() does not apply to {_a(decl.kind)} field.",
            "only text, slug, email and url fields take a pattern.",
        )
        return
    try:
        re.compile(decl.regex)
    except (re.error, TypeError) as exc:
        ctx.error(
            decl.where("pattern"),
            "pattern-invalid",
            f"{where}: pattern {decl.regex!r} is not a valid regular expression ({exc}).",
            "fix the regular expression; remember to use a raw string r'...'.",
        )


def _number(where: str, modifier: str, decl: FieldDecl, ctx: PassContext) -> Decimal | None:
    value = getattr(decl, _STORED[modifier])
    if value is None or decl.kind not in NUMERIC_KINDS:
        return None
    try:
        if isinstance(value, bool):
            raise InvalidOperation
        number = Decimal(str(value))
        if not number.is_finite():  # nan / inf: no bound at all
            raise InvalidOperation
    except InvalidOperation:
        ctx.error(
            decl.where(modifier),
            "modifier-value",
            f"{where}: .{modifier}({value!r}) needs a number.",
            f"write .{modifier}(0) or .{modifier}(9.99).",
        )
        return None
    if modifier == "max" and decl.min_value is not None:
        try:
            if Decimal(str(decl.min_value)) > number:
                ctx.error(
                    decl.where("max"),
                    "modifier-range",
                    f"{where}: .min({decl.min_value}) is greater than .max({value}).",
                    "swap them, or widen the range so that some value is allowed.",
                )
        except InvalidOperation:
            pass
    return number


def _length(where: str, modifier: str, decl: FieldDecl, ctx: PassContext) -> int | None:
    value = getattr(decl, _STORED[modifier])
    if value is None or decl.kind not in TEXT_KINDS:
        return None
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        ctx.error(
            decl.where(modifier),
            "modifier-value",
            f"{where}: .{modifier}({value!r}) needs a whole number of characters (0 or more).",
            f"write .{modifier}(80).",
        )
        return None
    low = decl.min_len
    if modifier == "max_length" and isinstance(low, int) and low > value:
        ctx.error(
            decl.where("max_length"),
            "modifier-range",
            f"{where}: .min_length({low}) is greater than .max_length({value}).",
            "swap them, or raise the maximum.",
        )
    return value


# Defaults --------------------------------------------------------------------------------


def _lower_default(
    where: str, decl: FieldDecl, field_type: ir.FieldType, ctx: PassContext
) -> ir.Default | None:
    value = decl.default_value
    if value is UNSET or value is None:
        return None
    if isinstance(field_type, ir.StateType) or decl.computed_expr is not None:
        return None  # a default is refused outright there (state-default, computed-default)
    if isinstance(value, Call):
        allowed = {"date": "today", "datetime": "now"}
        if allowed.get(decl.kind) == value.fn:
            return ir.Default(kind=value.fn)
    elif isinstance(value, Expr):
        ctx.error(
            decl.where("default"),
            "default-type",
            f"{where}: a default must be a fixed value, not an expression.",
            "give a value such as .default(0); a value derived from other fields is "
            ".computed(expr) instead.",
        )
        return None
    problem = _default_problem(value, field_type)
    if problem is None:
        return ir.Default(kind="value", value=_json_value(value))
    shown = f"{value.fn}()" if isinstance(value, Call) else repr(value)
    ctx.error(
        decl.where("default"),
        "default-type",
        f"{where}: default {shown} {problem}.",
        "give a default of the field's type, or remove .default().",
    )
    return None


def _default_problem(value: Any, field_type: ir.FieldType) -> str | None:
    """Why `value` cannot be this field's default, or None when it can."""
    if isinstance(field_type, ir.EnumType):
        return None if value in field_type.values else f"is not one of {list(field_type.values)}"
    if isinstance(field_type, ir.ArrayType):
        if not isinstance(value, list | tuple):
            return "is not a list"
        bad = [v for v in value if _default_problem(v, field_type.of) is not None]
        return f"holds values of the wrong type: {bad}" if bad else None
    if not isinstance(field_type, ir.ScalarType):
        return f"cannot be the default of a {field_type.kind}"
    return _scalar_default_problem(value, field_type.name)


def _scalar_default_problem(value: Any, name: str) -> str | None:
    is_number = isinstance(value, int | float | Decimal) and not isinstance(value, bool)
    checks: dict[str, tuple[bool, str]] = {
        "integer": (
            isinstance(value, int) and not isinstance(value, bool),
            "is not a whole number",
        ),
        "decimal": (is_number or _is_decimal_text(value), "is not a number"),
        "money": (is_number or _is_decimal_text(value), "is not an amount"),
        "boolean": (isinstance(value, bool), "is not True or False"),
        "date": (
            isinstance(value, dt.date) and not isinstance(value, dt.datetime),
            "is not a date; use today() for the current date",
        ),
        "datetime": (
            isinstance(value, dt.datetime),
            "is not a datetime; use now() for the current time",
        ),
        "json": (isinstance(value, dict | list | str | int | float | bool), "is not JSON"),
    }
    ok, problem = checks.get(name, (isinstance(value, str), "is not text"))
    return None if ok else problem


def _is_decimal_text(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        Decimal(value)
    except InvalidOperation:
        return False
    return True


def _json_value(value: Any) -> Any:
    if isinstance(value, Decimal | float):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, tuple):
        return list(value)
    return value
