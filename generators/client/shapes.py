"""The TypeScript shape of each entity: the same fields as generators/api/shapes.py, in TS.

Pure functions of the IR. Each `TsField` says what the golden test compares
with the OpenAPI schema: the name, whether it may be absent (`?`), whether
it may be null, and the enum values.

- `Invoice`: a row as the API returns it without `include`: a ref is the
  target's key, a one-to-many or many-to-many is absent.
- `InvoiceRead`: the OpenAPI `InvoiceRead`, whatever was included: a ref is
  `key | Customer`, a list is present only when included.
- `InvoiceCreate` / `InvoiceUpdate`: the writable fields, as the Python
  schemas take them (an optional create field may be null; an update field
  is optional and nullable). A many-to-many with its own join table is the
  list of the linked rows' keys (`tags?: UUID[] | null`), replacing the links.

Values: text, uuids and keys are `string`; money and decimals are strings
(`Money`, `DecimalString`: no float rounding); dates and datetimes ISO 8601
strings (`ISODate`, `ISODateTime`); integers `number`; JSON `Json`.
"""

from __future__ import annotations

import json
from typing import NamedTuple

from compiler import ir
from generators.api.shapes import pascal, required_on_create, writable_fields, write_doc

#: Scalar IR type -> TypeScript type (aliases declared at the top of types.ts).
SCALARS = {
    "uuid": "UUID",
    "text": "string",
    "slug": "string",
    "email": "string",
    "url": "string",
    "integer": "number",
    "decimal": "DecimalString",
    "money": "Money",
    "boolean": "boolean",
    "date": "ISODate",
    "datetime": "ISODateTime",
    "json": "Json",
}
RELATIONS = (ir.RefType, ir.OneToManyType, ir.ManyToManyType)
#: Class tuples, built once: `isinstance(t, A | B)` builds a union on every call.
_ENUMS = (ir.EnumType, ir.StateType)
_LISTS = (ir.OneToManyType, ir.ManyToManyType)
_UNSORTABLE = (ir.OneToManyType, ir.ManyToManyType, ir.ArrayType, ir.PolyRefType)
_TEXT_LIKE = frozenset({"text", "slug", "email", "url"})
_ORDERABLE = _TEXT_LIKE | {"integer", "decimal", "money", "date", "datetime"}


class TsField(NamedTuple):  # a tuple: built thousands of times, faster than a frozen dataclass
    name: str
    #: The TypeScript type, without `| null`.
    type: str
    optional: bool
    nullable: bool
    enum: tuple[str, ...] | None = None
    doc: str | None = None

    def render(self) -> str:
        doc = f"  /** {_comment(self.doc)} */\n" if self.doc else ""
        key = self.name if _identifier(self.name) else json.dumps(self.name)
        mark = "?" if self.optional else ""
        return f"{doc}  {key}{mark}: {self.type}{' | null' if self.nullable else ''};"


def camel(name: str) -> str:
    text = pascal(name)
    return text[:1].lower() + text[1:]


def enum_alias(entity: ir.Entity | ir.RefTarget, field: ir.FieldNode) -> str:
    """`Invoice.status` -> `InvoiceStatus`."""
    return f"{entity.name}{pascal(field.name)}"


def literal(values: tuple[str, ...]) -> str:
    return " | ".join(json.dumps(v, ensure_ascii=False) for v in values)


def key_type(project: ir.Project, entity: ir.Entity) -> str:
    key = entity.field(entity.primary_key)
    assert key is not None
    return value_type(project, entity, key)


def target_key_type(project: ir.Project, name: str) -> str:
    """The type of a key of entity `name`, as a reference to it holds it (reading only
    what a reference needs of it: hookfs/graph.py)."""
    target = project.ref_target(name)
    assert target is not None, name
    return value_type(project, target, target.key)


def value_type(project: ir.Project, entity: ir.Entity | ir.RefTarget, field: ir.FieldNode) -> str:
    """The TypeScript type of a stored value: no null, refs as the target's key."""
    t = field.type
    if isinstance(t, ir.ScalarType):
        return SCALARS[t.name]
    if isinstance(t, _ENUMS):
        return enum_alias(entity, field)
    if isinstance(t, ir.ArrayType):
        inner = t.of
        if isinstance(inner, ir.ScalarType):
            return f"{SCALARS[inner.name]}[]"
        return f"{enum_alias(entity, field)}[]"
    if isinstance(t, ir.RefType):
        return target_key_type(project, t.target)
    if isinstance(t, ir.PolyRefType):
        return "PolyRef"
    if isinstance(t, ir.ManyToManyType):  # written as the linked rows' keys
        return f"{target_key_type(project, t.target)}[]"
    raise ValueError(f"{entity.name}.{field.name}: a {t.kind} has no single value")


def enum_values(field: ir.FieldNode) -> tuple[str, ...] | None:
    t = field.type
    if isinstance(t, ir.ArrayType):
        t = t.of
    return t.values if isinstance(t, _ENUMS) else None


def row_fields(project: ir.Project, entity: ir.Entity) -> list[TsField]:
    """`Invoice`: no include; refs are keys, lists absent."""
    return [
        TsField(
            f.name,
            value_type(project, entity, f),
            f.visible_to is not None,
            f.nullable,
            enum_values(f),
            f.help,
        )
        for f in entity.fields
        if not isinstance(f.type, _LISTS)
    ]


def included_type(project: ir.Project, entity: ir.Entity, field: ir.FieldNode) -> str:
    """What `include=<field>` puts there: a ref stays the key when the target is unreadable."""
    t = field.type
    assert isinstance(t, RELATIONS)
    if isinstance(t, ir.RefType):
        return f"{target_key_type(project, t.target)} | {t.target}"
    return f"{t.target}[]"


def read_fields(project: ir.Project, entity: ir.Entity) -> list[TsField]:
    """`InvoiceRead`: the OpenAPI Read schema, field by field."""
    found = []
    for f in entity.fields:
        many = isinstance(f.type, _LISTS)
        if isinstance(f.type, RELATIONS):
            type_ = included_type(project, entity, f)
        else:
            type_ = value_type(project, entity, f)
        optional = many or f.visible_to is not None
        found.append(
            TsField(f.name, type_, optional, f.nullable and not many, enum_values(f), f.help)
        )
    return found


def create_fields(project: ir.Project, entity: ir.Entity) -> list[TsField]:
    found = []
    for f in writable_fields(entity):
        required = required_on_create(f)
        found.append(
            TsField(
                f.name,
                value_type(project, entity, f),
                not required,
                not required,
                enum_values(f),
                write_doc(f),
            )
        )
    return found


def update_fields(project: ir.Project, entity: ir.Entity) -> list[TsField]:
    return [
        TsField(f.name, value_type(project, entity, f), True, True, enum_values(f), write_doc(f))
        for f in writable_fields(entity)
    ]


def input_fields(project: ir.Project, entity: ir.Entity, action: ir.Action) -> list[TsField]:
    found = []
    for f in action.inputs:
        values = enum_values(f)
        type_ = value_type(project, entity, f)
        if values is not None:  # inline: an input has no alias of its own
            type_ = f"({literal(values)})[]" if type_.endswith("[]") else literal(values)
        found.append(
            TsField(f.name, type_, f.nullable or f.default is not None, f.nullable, values, f.help)
        )
    return found


def includable(entity: ir.Entity) -> list[ir.FieldNode]:
    return [f for f in entity.fields if isinstance(f.type, RELATIONS)]


# Filters and sorts: the operators runtime/api/query.py accepts per kind ----------------


def filter_entry(project: ir.Project, entity: ir.Entity, field: ir.FieldNode) -> str | None:
    """The filter type of a field, or None when it cannot be filtered (a list of rows)."""
    t = field.type
    if isinstance(t, _LISTS):
        return None
    if isinstance(t, ir.PolyRefType) or (isinstance(t, ir.ScalarType) and t.name == "json"):
        return "NullOps"
    if isinstance(t, ir.ArrayType):
        return f"ListOps<{value_type(project, entity, field)[:-2]}>"
    value = value_type(project, entity, field)
    if isinstance(t, ir.ScalarType) and t.name in _TEXT_LIKE:
        return f"{value} | TextOps"
    if isinstance(t, ir.ScalarType) and t.name in _ORDERABLE:
        return f"{value} | OrderedOps<{value}>"
    return f"{value} | EqualityOps<{value}>"


def sortable(field: ir.FieldNode) -> bool:
    t = field.type
    if isinstance(t, _UNSORTABLE):
        return False
    return not (isinstance(t, ir.ScalarType) and t.name == "json")


def _identifier(name: str) -> bool:
    return name.isidentifier() and name.isascii()


def _comment(text: str) -> str:
    return " ".join(text.split()).replace("*/", "*\\/")
