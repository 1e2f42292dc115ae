"""A Reframe IR as a Django project: settings, manage.py and one app whose models.py holds the schema.

`write_django_project` writes what a Django user has before `makemigrations`:
a model per entity with the same table, columns, types, nullability, keys,
uniques, indexes, checks, database defaults, generated columns and comments,
and a `through` model per join table (so its columns and composite primary
key are Reframe's). Where Django cannot say what Reframe's schema says, the
translator comes as close as Django allows and lists the difference in its
notes:

- enum and state fields are `varchar` with `choices` and a CHECK, not a
  Postgres enum type (Django has none);
- a foreign key's ON DELETE is Django's, run in Python; the database
  constraint is `NO ACTION DEFERRABLE`, and its name is Django's, as is the
  primary key's;
- a unique index is a UNIQUE constraint of the same name (same effect);
- `now()` defaults are Django's `Now()`, i.e. `statement_timestamp()`;
- index names longer than Django's 30-character limit are kept (Postgres
  allows 63): `models.E034` is silenced in the settings;
- a trigram index needs the `pg_trgm` extension, which models cannot declare;
- an unbounded `decimal()` becomes numeric(65, 30): DecimalField needs digits.

    python -m bench.comparators.django_models PROJECT_DIR OUT_DIR [--url URL]
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field
from pathlib import Path

from bench.comparators.common import (
    TEXT_LIKE,
    Check,
    Unsupported,
    column_checks,
    constraint_name,
    decimal_digits,
    entity_named,
    is_generated,
    key_field,
    load_ir,
    stored_fields,
)
from bench.comparators.postgres import django_database
from compiler import ir

APP = "bench_app"
SETTINGS_MODULE = "bench_project.settings"
#: `makemigrations` minus the optimizer: untimed setup, where the real one takes too long.
UNOPTIMIZED_COMMAND = "makemigrations_unoptimized"
UNBOUNDED_DECIMAL = (65, 30)
ON_DELETE = {
    "cascade": "models.CASCADE",
    "restrict": "models.RESTRICT",
    "set_null": "models.SET_NULL",
}
INDEX_CLASSES = {
    "btree": "models.Index",
    "hash": "HashIndex",
    "gin": "GinIndex",
    "gist": "GistIndex",
    "brin": "BrinIndex",
}
COMPARE_LOOKUPS = {"<": "lt", "<=": "lte", ">": "gt", ">=": "gte"}

MODELS_HEADER = '''"""A Reframe model as Django models (written by bench.comparators)."""

from decimal import Decimal

from django.contrib.postgres.fields import ArrayField
from django.contrib.postgres.functions import RandomUUID
from django.contrib.postgres.indexes import BrinIndex, GinIndex, GistIndex, HashIndex
from django.db import models
from django.db.models.functions import Length, Now, NullIf
from django.db.models.lookups import GreaterThanOrEqual
'''

UNOPTIMIZED_SOURCE = '''"""makemigrations without the optimizer (benchmark setup only, never timed)."""

from django.core.management.commands.makemigrations import Command as MakeMigrations
from django.db.migrations.optimizer import MigrationOptimizer


class Command(MakeMigrations):
    help = "makemigrations, leaving the operations as the autodetector found them."

    def handle(self, *args, **options):
        MigrationOptimizer.optimize = lambda self, operations, app_label: operations
        return super().handle(*args, **options)
'''

MANAGE_PY = f'''#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "{SETTINGS_MODULE}")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
'''


@dataclass
class Translation:
    """models.py being written, and what Django could not say as Reframe would."""

    project: ir.Project
    #: (entity, ref field) -> the one-to-many field of the target that lists it back.
    inverses: dict[tuple[str, str], str]
    #: Join table -> the related_name of its many-to-many field (the other side's name).
    m2m_related: dict[str, str]
    #: Many-to-many fields ("Tag.invoices") that are the reverse of one declared first.
    m2m_reverse: set[str]
    #: join table -> the through model class written for it.
    join_models: dict[str, str]
    lines: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# Fields -------------------------------------------------------------------------------


def call(name: str, args: list[str], kwargs: dict[str, str]) -> str:
    return f"{name}({', '.join([*args, *(f'{k}={v}' for k, v in kwargs.items())])})"


@dataclass(frozen=True)
class FieldCall:
    """A Django field's constructor call, kept apart so options can be added to it."""

    name: str
    kwargs: dict[str, str] = field(default_factory=dict)
    args: tuple[str, ...] = ()

    def source(self, **more: str) -> str:
        return call(self.name, list(self.args), self.kwargs | more)


def scalar_field(
    out: Translation, where: str, scalar: ir.ScalarType, max_length: int | None
) -> FieldCall:
    """The Django field class and its type arguments for a scalar column (no options)."""
    name = scalar.name
    if name in TEXT_LIKE:
        if max_length:
            return FieldCall("models.CharField", {"max_length": str(max_length)})
        return FieldCall("models.TextField")
    if name in ("decimal", "money"):
        digits = decimal_digits(scalar)
        if digits is None:
            out.notes.append(f"{where}: unbounded numeric as numeric{UNBOUNDED_DECIMAL}")
            digits = UNBOUNDED_DECIMAL
        return FieldCall(
            "models.DecimalField", {"max_digits": str(digits[0]), "decimal_places": str(digits[1])}
        )
    classes = {
        "uuid": "UUIDField",
        "integer": "IntegerField",
        "boolean": "BooleanField",
        "date": "DateField",
        "datetime": "DateTimeField",
        "json": "JSONField",
    }
    return FieldCall(f"models.{classes[name]}")


def enum_field(values: tuple[str, ...]) -> FieldCall:
    choices = ", ".join(f"({v!r}, {v!r})" for v in values)
    longest = max(len(v) for v in values)
    return FieldCall("models.CharField", {"max_length": str(longest), "choices": f"[{choices}]"})


def value_type(out: Translation, entity: ir.Entity, field_: ir.FieldNode) -> FieldCall:
    """The Django field (type only) for a column-holding field that is not a relation."""
    where = f"{entity.name}.{field_.name}"
    type_ = field_.type
    if isinstance(type_, ir.ScalarType):
        return scalar_field(out, where, type_, field_.max_length)
    if isinstance(type_, ir.EnumType | ir.StateType):
        out.notes.append("enum and state fields: varchar with choices and a CHECK, no enum type")
        return enum_field(type_.values)
    if isinstance(type_, ir.ArrayType):
        element = (
            enum_field(type_.of.values)
            if isinstance(type_.of, ir.EnumType)
            else scalar_field(out, where, type_.of, None)
        )
        return FieldCall("ArrayField", args=(element.source(),))
    raise Unsupported(f"{where}: no Django field for {type_.kind}")


def db_default(out: Translation, field_: ir.FieldNode) -> str | None:
    """The field's database default as Django source (`db_default=`)."""
    if isinstance(field_.type, ir.StateType):
        return repr(field_.type.initial)
    default = field_.default
    if default is None:
        return None
    calls = {
        "uuid": "RandomUUID()",
        "now": "Now()",
        "today": 'models.Func(template="CURRENT_DATE", output_field=models.DateField())',
    }
    if default.kind == "now":
        out.notes.append("now() defaults: Django's Now(), statement_timestamp() on Postgres")
    if default.kind in calls:
        return calls[default.kind]
    value = default.value
    if value is None:
        return None
    scalar = field_.type if isinstance(field_.type, ir.ScalarType) else None
    if scalar is not None and scalar.name in ("decimal", "money"):
        return f"Decimal({str(value)!r})"
    return repr(value)


def options(out: Translation, field_: ir.FieldNode, attr: str) -> dict[str, str]:
    """null, db_column, db_default and db_comment, when they differ from Django's defaults."""
    found: dict[str, str] = {}
    if field_.primary:
        found["primary_key"] = "True"
    elif field_.nullable:
        found["null"] = "True"
    if field_.column is not None and field_.column != attr:
        found["db_column"] = repr(field_.column)
    default = db_default(out, field_)
    if default is not None:
        found["db_default"] = default
    if field_.help:
        found["db_comment"] = repr(field_.help)
    return found


def ref_field(out: Translation, entity: ir.Entity, field_: ir.FieldNode, ref: ir.RefType) -> str:
    out.notes.append(
        "foreign keys: ON DELETE runs in Python (the constraint is NO ACTION DEFERRABLE); "
        "key and foreign key names are Django's"
    )
    kind = "models.OneToOneField" if ref.one_to_one else "models.ForeignKey"
    related = out.inverses.get((entity.name, field_.name), "+")
    kwargs = {"related_name": repr(related)}
    if not ref.one_to_one:
        kwargs["db_index"] = "False"  # the IR lists every index, implicit ones included
    # Django's own attname for a ref `parent` is parent_id: the same column as Reframe's.
    kwargs |= options(out, field_, f"{field_.name}_id")
    return call(kind, [repr(ref.target), ON_DELETE[ref.on_delete]], kwargs)


def m2m_field(out: Translation, entity: ir.Entity, m2m: ir.ManyToManyType) -> str:
    if m2m.through is not None:
        through = entity_named(out.project, m2m.through)
        by_column = {f.column: f.name for f in stored_fields(through)}
        sides = (by_column[m2m.source_column], by_column[m2m.target_column])
        model = m2m.through
    else:
        sides = (ref_attr(m2m.source_column), ref_attr(m2m.target_column))
        model = out.join_models[m2m.join_table]
    related = out.m2m_related.get(m2m.join_table, "+")
    kwargs = {"through": repr(model), "through_fields": repr(sides), "related_name": repr(related)}
    return call("models.ManyToManyField", [repr(m2m.target)], kwargs)


def ref_attr(column: str) -> str:
    """A join model's attribute for a column: `invoice_id` -> `invoice`."""
    return column.removesuffix("_id") if column.endswith("_id") else f"{column}_ref"


def generated_field(out: Translation, entity: ir.Entity, field_: ir.FieldNode) -> str | None:
    """A stored GeneratedField, or None when Django cannot say its expression."""
    assert field_.computed is not None
    try:
        expression = expression_source(field_.computed.expr)
    except Unsupported as error:
        out.notes.append(f"{entity.name}.{field_.name}: plain column, not generated ({error})")
        return None
    kwargs = {
        "expression": expression,
        "output_field": value_type(out, entity, field_).source(),
        "db_persist": "True",
    }
    if field_.help:
        kwargs["db_comment"] = repr(field_.help)
    return call("models.GeneratedField", [], kwargs)


def field_lines(out: Translation, entity: ir.Entity, field_: ir.FieldNode) -> list[str]:
    """`name = models.X(...)` lines for one field (two for a polymorphic ref, none for a list)."""
    type_ = field_.type
    if isinstance(type_, ir.OneToManyType) or f"{entity.name}.{field_.name}" in out.m2m_reverse:
        return []  # a related_name on the other side
    if isinstance(type_, ir.ManyToManyType):
        return [f"    {field_.name} = {m2m_field(out, entity, type_)}"]
    if field_.column is None:
        return []  # computed on read
    if isinstance(type_, ir.RefType):
        return [f"    {field_.name} = {ref_field(out, entity, field_, type_)}"]
    if isinstance(type_, ir.PolyRefType):
        return poly_lines(out, field_, type_)
    if is_generated(field_):
        generated = generated_field(out, entity, field_)
        if generated is not None:
            return [f"    {field_.name} = {generated}"]
    source = value_type(out, entity, field_).source(**options(out, field_, field_.name))
    return [f"    {field_.name} = {source}"]


def poly_lines(out: Translation, field_: ir.FieldNode, poly: ir.PolyRefType) -> list[str]:
    """A type column and an id column, as Reframe stores them (no GenericForeignKey)."""
    keys = {key.source(): key for key in (key_source(out, t) for t in poly.targets)}
    id_field = next(iter(keys.values())) if len(keys) == 1 else FieldCall("models.TextField")
    null = {"null": "True"} if field_.nullable else {}
    targets = ", ".join(poly.targets)
    comment = repr(f"Which entity {poly.id_column} points at: {targets}.")
    return [
        f"    {poly.type_column} = {FieldCall('models.TextField').source(**null, db_comment=comment)}",
        f"    {poly.id_column} = {id_field.source(**null)}",
    ]


def key_source(out: Translation, entity_name: str) -> FieldCall:
    key = key_field(out.project, entity_name)
    assert isinstance(key.type, ir.ScalarType), f"{entity_name}: the key must be a scalar"
    return scalar_field(out, entity_name, key.type, key.max_length)


# Expressions ------------------------------------------------------------------------


def expression_source(expr: ir.Expr) -> str:
    """A same-row arithmetic expression as Django expressions (for GeneratedField)."""
    if isinstance(expr, ir.FieldExpr):
        return f"models.F({expr.path!r})"
    if isinstance(expr, ir.LiteralExpr) and expr.literal_type in ("integer", "decimal"):
        value = (
            f"Decimal({str(expr.value)!r})" if expr.literal_type == "decimal" else repr(expr.value)
        )
        return f"models.Value({value})"
    if isinstance(expr, ir.BinaryExpr) and not (expr.op == "+" and expr.type == "text"):
        left, right = expression_source(expr.left), expression_source(expr.right)
        if expr.op == "/":  # the model's x / 0 is NULL, not an error
            right = f"NullIf({right}, models.Value(0))"
        return f"({left} {expr.op} {right})"
    raise Unsupported(f"a {expr.kind} expression has no Django rendering here")


def q_source(expr: ir.Expr, attrs: dict[str, str]) -> str:
    """A row condition as a Q object (for a partial index)."""
    if isinstance(expr, ir.LogicalExpr):
        joiner = " & " if expr.op == "and" else " | "
        return "(" + joiner.join(q_source(o, attrs) for o in expr.operands) + ")"
    if isinstance(expr, ir.NotExpr):
        return f"~{q_source(expr.operand, attrs)}"
    if isinstance(expr, ir.IsNullExpr) and isinstance(expr.operand, ir.FieldExpr):
        return f"models.Q({attrs[expr.operand.path]}__isnull={not expr.negated})"
    if isinstance(expr, ir.InExpr) and isinstance(expr.operand, ir.FieldExpr):
        values = [operand_source(v) for v in expr.values]
        return f"models.Q({attrs[expr.operand.path]}__in=[{', '.join(values)}])"
    if isinstance(expr, ir.CompareExpr) and isinstance(expr.left, ir.FieldExpr):
        attr, value = attrs[expr.left.path], operand_source(expr.right)
        if expr.op in ("==", "!="):
            prefix = "~" if expr.op == "!=" else ""
            return f"{prefix}models.Q({attr}={value})"
        return f"models.Q({attr}__{COMPARE_LOOKUPS[expr.op]}={value})"
    raise Unsupported(f"a {expr.kind} condition has no Q rendering here")


def operand_source(expr: ir.Expr) -> str:
    if isinstance(expr, ir.FieldExpr):
        return f"models.F({expr.path!r})"
    if isinstance(expr, ir.LiteralExpr):
        return repr(expr.value)
    raise Unsupported(f"a {expr.kind} operand has no Q rendering here")


# Meta: checks, uniques, indexes --------------------------------------------------------


def check_source(check: Check, attr: str) -> str:
    value = check.value
    if isinstance(value, tuple):  # the targets of a polymorphic ref's type column
        condition = f"models.Q({attr}__in={list(value)!r})"
    elif check.rule == "min_length":
        condition = f"GreaterThanOrEqual(Length({attr!r}), {value})"
    elif check.rule == "pattern":
        condition = f"models.Q({attr}__regex={value!r})"
    else:
        lookup = "gte" if check.rule == "min" else "lte"
        condition = f"models.Q({attr}__{lookup}=Decimal({str(value)!r}))"
    return f"models.CheckConstraint(condition={condition}, name={check.name!r})"


def enum_check(entity: ir.Entity, field_: ir.FieldNode) -> str | None:
    """The CHECK that stands in for a Postgres enum type."""
    type_ = field_.type
    assert field_.column is not None
    name = repr(constraint_name("ck", entity.table, field_.column, "values"))
    if isinstance(type_, ir.EnumType | ir.StateType):
        return f"models.CheckConstraint(condition=models.Q({field_.name}__in={list(type_.values)!r}), name={name})"
    if isinstance(type_, ir.ArrayType) and isinstance(type_.of, ir.EnumType):
        values = list(type_.of.values)
        return f"models.CheckConstraint(condition=models.Q({field_.name}__contained_by={values!r}), name={name})"
    return None


def column_attrs(entity: ir.Entity) -> dict[str, str]:
    """Column name -> model attribute, and field name -> attribute for expressions."""
    attrs: dict[str, str] = {}
    for field_ in stored_fields(entity):
        if isinstance(field_.type, ir.PolyRefType):
            attrs[field_.type.type_column] = field_.type.type_column
            attrs[field_.type.id_column] = field_.type.id_column
            continue
        assert field_.column is not None
        attrs[field_.column] = field_.name
        attrs[field_.name] = field_.name
    return attrs


def constraints(entity: ir.Entity) -> list[str]:
    attrs = column_attrs(entity)
    found = []
    for field_ in stored_fields(entity):
        found += [check_source(c, attrs[c.column]) for c in column_checks(entity, field_)]
        enum = enum_check(entity, field_)
        if enum is not None:
            found.append(enum)
    return found


def index_source(out: Translation, entity: ir.Entity, index: ir.Index) -> str | None:
    """A Meta index or unique constraint; None for the unique key a OneToOneField makes itself."""
    attrs = column_attrs(entity)
    fields = [attrs[c] for c in index.columns]
    if index.unique and len(fields) == 1 and is_one_to_one(entity, fields[0]):
        out.notes.append("one-to-one refs: the unique constraint is Django's, with its name")
        return None
    kwargs = {"fields": repr(fields), "name": repr(index.name)}
    if index.where is not None:
        try:
            kwargs["condition"] = q_source(index.where, attrs)
        except Unsupported as error:
            out.notes.append(f"{index.name}: not partial ({error})")
    if index.unique:
        out.notes.append("unique indexes: UNIQUE constraints of the same names (same effect)")
        return call("models.UniqueConstraint", [], kwargs)
    if index.using == "gin" and any(is_text(entity, c) for c in index.columns):
        kwargs["opclasses"] = repr(["gin_trgm_ops" for _ in fields])
        out.notes.append(f"{index.name}: needs the pg_trgm extension, which models cannot declare")
    return call(INDEX_CLASSES[index.using], [], kwargs)


def is_one_to_one(entity: ir.Entity, attr: str) -> bool:
    found = entity.field(attr)
    return found is not None and isinstance(found.type, ir.RefType) and found.type.one_to_one


def is_text(entity: ir.Entity, column: str) -> bool:
    found = next((f for f in stored_fields(entity) if f.column == column), None)
    return (
        found is not None and isinstance(found.type, ir.ScalarType) and found.type.name in TEXT_LIKE
    )


def meta_lines(table: str, comment: str | None, indexes: list[str], checks: list[str]) -> list[str]:
    lines = ["", "    class Meta:", f"        db_table = {table!r}"]
    if comment:
        lines.append(f"        db_table_comment = {comment!r}")
    for name, items in (("indexes", indexes), ("constraints", checks)):
        if items:
            lines += [f"        {name} = [", *(f"            {i}," for i in items), "        ]"]
    return lines


# Models ---------------------------------------------------------------------------------


def entity_model(out: Translation, entity: ir.Entity) -> list[str]:
    lines = ["", "", f"class {entity.name}(models.Model):"]
    for field_ in entity.fields:
        lines += field_lines(out, entity, field_)
    built = [index_source(out, entity, index) for index in entity.indexes]
    uniques = [s for s in built if s is not None and s.startswith("models.UniqueConstraint")]
    indexes = [s for s in built if s is not None and not s.startswith("models.UniqueConstraint")]
    return lines + meta_lines(entity.table, entity.doc, indexes, constraints(entity) + uniques)


def join_model(out: Translation, join: ir.JoinTable) -> list[str]:
    """A many-to-many's table: composite key, both sides cascading, an index from the right."""
    left, right = ref_attr(join.left_column), ref_attr(join.right_column)
    lines = ["", "", f"class {out.join_models[join.name]}(models.Model):"]
    lines.append(f"    pk = models.CompositePrimaryKey({left!r}, {right!r})")
    for attr, column, target in (
        (left, join.left_column, join.left_entity),
        (right, join.right_column, join.right_entity),
    ):
        kwargs = {"related_name": "'+'", "db_index": "False", "db_column": repr(column)}
        lines.append(
            f"    {attr} = {call('models.ForeignKey', [repr(target), 'models.CASCADE'], kwargs)}"
        )
    index = f"models.Index(fields=[{right!r}], name={constraint_name('ix', join.name, join.right_column)!r})"
    comment = f"Links {join.left_entity} and {join.right_entity} ({', '.join(join.serves)})."
    return lines + meta_lines(join.name, comment, [index], [])


def translation(project: ir.Project) -> Translation:
    """Who names which reverse relation, and the through models' class names."""
    inverses = {}
    for entity in project.entities:
        for field_ in entity.fields:
            if isinstance(field_.type, ir.OneToManyType):
                inverses[(field_.type.target, field_.type.via)] = field_.name
    # When both sides declare a many-to-many, the first owns the field, the second names its reverse.
    reverse = {j.serves[1] for j in project.join_tables if len(j.serves) > 1}
    related = {
        j.name: j.serves[1].split(".", 1)[1] for j in project.join_tables if len(j.serves) > 1
    }
    join_models = {
        j.name: "Join" + "".join(part.title() for part in j.name.split("_"))
        for j in project.join_tables
    }
    return Translation(project, inverses, related, reverse, join_models)


def render_models(project: ir.Project) -> tuple[str, list[str]]:
    """models.py for `project`, and notes on what Django could not express."""
    out = translation(project)
    out.lines.append(MODELS_HEADER.rstrip("\n"))
    for entity in project.entities:
        out.lines += entity_model(out, entity)
    for join in project.join_tables:
        out.lines += join_model(out, join)
    return "\n".join(out.lines) + "\n", sorted(set(out.notes))


# The project ------------------------------------------------------------------------------


def settings_source(url: str) -> str:
    return f'''"""Settings of the benchmark's Django project (written by bench.comparators)."""

SECRET_KEY = "bench-only"
INSTALLED_APPS = ["django.contrib.postgres", "{APP}"]
DATABASES = {{"default": {django_database(url)!r}}}
USE_TZ = True
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
# Reframe's index names use Postgres's 63 characters; Django's check wants 30.
SILENCED_SYSTEM_CHECKS = ["models.E034"]
'''


def write_models(project: ir.Project, root: Path) -> list[str]:
    """(Re)write the app's models.py only: what a user edits before `makemigrations`."""
    source, notes = render_models(project)
    (root / APP / "models.py").write_text(source, encoding="utf-8")
    return notes


def write_django_project(project: ir.Project, root: Path, url: str) -> list[str]:
    """manage.py, the settings package and the app, with no migrations yet."""
    commands = root / APP / "management" / "commands"
    for package in (root / "bench_project", root / APP, commands.parent, commands):
        package.mkdir(parents=True, exist_ok=True)
        (package / "__init__.py").write_text("", encoding="utf-8")
    (root / "manage.py").write_text(MANAGE_PY, encoding="utf-8")
    (root / "bench_project" / "settings.py").write_text(settings_source(url), encoding="utf-8")
    (commands / f"{UNOPTIMIZED_COMMAND}.py").write_text(UNOPTIMIZED_SOURCE, encoding="utf-8")
    return write_models(project, root)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("project", type=Path, help="a Reframe project after `gen generate`")
    parser.add_argument("out", type=Path, help="folder for the Django project")
    parser.add_argument("--url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args(argv)
    for note in write_django_project(load_ir(args.project), args.out, args.url):
        print(f"note: {note}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
