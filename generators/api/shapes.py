"""What each entity looks like over HTTP: the fields of its Read, Create and Update schemas.

Pure functions of the IR, shared by the schema and route renderers:

- Read: every field the API returns. A ref is the target's key, or the
  target's Read object when included (the key stays when the caller may not
  read the target); a one-to-many or many-to-many is a list, present only
  when included. A field with `visible_to` may be absent (hidden from the
  caller), so it is not required. Text is plain `str` and JSON `Any`: the
  API validates what it reads from its own database without the input
  checks below.
- Create: the fields a client sets: declared, not computed, not read-only,
  not a state (states move through actions). Required when the model says so
  and there is no default. A many-to-many with its own join table (no
  `through=` entity) is a list of the target rows' keys, optional: the links
  it replaces (runtime/api/writing.py); `through=` links are rows of that
  entity, written through its own endpoints.
- Update: the same fields, all optional (a partial update).

Values are what the columns can hold, so that the database never refuses
one: text is `Text` and JSON `Json` (runtime/api/shapes.py: no NUL
character), an email `Email` and a url `Url` (the shape of their OpenAPI
format), an integer is bounded to a PostgreSQL integer, a sized decimal
has its digits.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from compiler import ir

_SCALARS = {
    "uuid": "UUID",
    "text": "Text",
    "slug": "Text",
    "email": "Email",
    "url": "Url",
    "integer": "int",
    "decimal": "Decimal",
    "money": "Decimal",
    "boolean": "bool",
    "date": "date",
    "datetime": "datetime",
    "json": "Json",
}
#: What the API reads back from its own columns needs no input check: plain types, so the
#: response model validates them without a Python call per value (same JSON Schema).
_READ_SCALARS = {
    **_SCALARS,
    "text": "str",
    "slug": "str",
    "email": "str",
    "url": "str",
    "json": "Any",
}
#: An `integer` is a PostgreSQL `integer`: a value outside is a 422, not a database error.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
_FORMATS = {"email": "email", "url": "uri", "slug": None}


@dataclass(frozen=True)
class Attribute:
    """One attribute of a generated pydantic model."""

    name: str
    annotation: str
    #: Keyword arguments of `Field(...)`, already rendered: `max_length=200`.
    constraints: tuple[str, ...]
    required: bool
    doc: str | None


def class_name(entity: ir.Entity | ir.RefTarget, kind: str) -> str:
    return f"{entity.name}{kind}"


def action_input_name(entity: ir.Entity, action: ir.Action) -> str:
    return f"{entity.name}{pascal(action.name)}Input"


def pascal(name: str) -> str:
    return "".join(part[:1].upper() + part[1:] for part in name.split("_"))


def value_type(project: ir.Project, field: ir.FieldNode, read: bool = False) -> str:
    """The Python annotation of a stored value (no null, no include); `read`: as the API
    returns it (text without the checks of `Text`)."""
    scalars = _READ_SCALARS if read else _SCALARS
    t = field.type
    if isinstance(t, ir.ScalarType):
        return scalars[t.name]
    if isinstance(t, ir.EnumType | ir.StateType):
        return _literal(t.values)
    if isinstance(t, ir.ArrayType):
        inner = t.of
        item = scalars[inner.name] if isinstance(inner, ir.ScalarType) else _literal(inner.values)
        return f"list[{item}]"
    if isinstance(t, ir.RefType):
        return value_type(project, _target(project, t.target).key, read)
    if isinstance(t, ir.PolyRefType):
        return "PolyRef"
    if isinstance(t, ir.ManyToManyType):
        # What a write sends: the keys of the linked rows.
        return f"list[{value_type(project, _target(project, t.target).key, read)}]"
    raise ValueError(f"{field.name}: a {t.kind} has no single value")


def constraints(field: ir.FieldNode) -> tuple[str, ...]:
    found = []
    if field.min_length is not None:
        found.append(f"min_length={field.min_length}")
    if field.max_length is not None:
        found.append(f"max_length={field.max_length}")
    if field.pattern is not None:
        found.append(f"pattern={py_str(field.pattern)}")
    low: object = field.min
    high: object = field.max
    if isinstance(field.type, ir.ScalarType) and field.type.name == "integer":
        low = INT_MIN if low is None else low
        high = INT_MAX if high is None else high
    if low is not None:
        found.append(f"ge={_number(low)}")
    if high is not None:
        found.append(f"le={_number(high)}")
    if isinstance(field.type, ir.ScalarType):
        fmt = _FORMATS.get(field.type.name)
        if fmt:
            found.append(f'json_schema_extra={{"format": "{fmt}"}}')
        if field.type.name == "money":
            found += ["max_digits=19", "decimal_places=4"]
        elif field.type.name == "decimal" and field.type.precision is not None:
            # numeric(p, s): what would round or overflow in the column is refused.
            found += [
                f"max_digits={field.type.precision}",
                f"decimal_places={field.type.scale or 0}",
            ]
    return tuple(found)


def py_str(text: str) -> str:
    """A double-quoted Python string literal, as ruff formats one."""
    return json.dumps(text, ensure_ascii=False)


def _literal(values: tuple[str, ...]) -> str:
    return "Literal[" + ", ".join(py_str(v) for v in values) + "]"


def _number(value: object) -> str:
    text = str(value)
    return f'Decimal("{text}")' if "." in text else text


def read_attributes(
    project: ir.Project, entity: ir.Entity, embedded: bool = False
) -> list[Attribute]:
    """A row's attributes: a ref is its key or, included, the target's Row; a list of related
    rows is there when included.

    `embedded`: as a row is when included in another (`<Entity>Row`): includes go one level
    deep, so its refs are keys and it has no lists. Typing includes with these flat rows
    keeps each schema to the entity and its neighbours, not the whole model.
    """
    found = []
    for field in entity.fields:
        t = field.type
        required = field.visible_to is None
        if isinstance(t, ir.OneToManyType | ir.ManyToManyType):
            if not embedded:
                annotation = f"list[{class_name(_target(project, t.target), 'Row')}]"
                found.append(Attribute(field.name, annotation, (), False, field.help))
            continue
        annotation = value_type(project, field, read=True)
        if isinstance(t, ir.RefType) and not embedded:
            annotation += f" | {class_name(_target(project, t.target), 'Row')}"
        if field.nullable:
            annotation += " | None"
        found.append(Attribute(field.name, annotation, (), required, field.help))
    return found


def is_link_set(field: ir.FieldNode) -> bool:
    """A many-to-many a write sets as a list of keys: one with a generated join table."""
    return isinstance(field.type, ir.ManyToManyType) and field.type.through is None


def writable_fields(entity: ir.Entity) -> list[ir.FieldNode]:
    return [
        f
        for f in entity.fields
        if f.origin == "declared"
        and f.computed is None
        and not f.read_only
        and not isinstance(f.type, ir.StateType | ir.OneToManyType)
        and (not isinstance(f.type, ir.ManyToManyType) or is_link_set(f))
    ]


def required_on_create(field: ir.FieldNode) -> bool:
    """A create must send it: not nullable, no default, not a list of rows (none: no links)."""
    lists = isinstance(field.type, ir.OneToManyType | ir.ManyToManyType)
    return not field.nullable and field.default is None and not lists


def write_doc(field: ir.FieldNode) -> str | None:
    """The description of a field in Create and Update: its help; a link set says what it does."""
    if field.help is None and is_link_set(field):
        return "The keys of the rows to link: they replace the links ([] or null: none)."
    return field.help


def create_attributes(project: ir.Project, entity: ir.Entity) -> list[Attribute]:
    found = []
    for field in writable_fields(entity):
        required = required_on_create(field)
        annotation = value_type(project, field) + ("" if required else " | None")
        doc = write_doc(field)
        found.append(Attribute(field.name, annotation, constraints(field), required, doc))
    return found


def update_attributes(project: ir.Project, entity: ir.Entity) -> list[Attribute]:
    return [
        Attribute(
            f.name,
            value_type(project, f) + " | None",
            constraints(f),
            False,
            write_doc(f),
        )
        for f in writable_fields(entity)
    ]


def input_attributes(project: ir.Project, action: ir.Action) -> list[Attribute]:
    return [
        Attribute(
            f.name,
            value_type(project, f) + ("" if not f.nullable else " | None"),
            constraints(f),
            not f.nullable and f.default is None,
            f.help,
        )
        for f in action.inputs
    ]


def _target(project: ir.Project, name: str) -> ir.RefTarget:
    """What a reference needs of entity `name` (not all of it: hookfs/graph.py)."""
    found = project.ref_target(name)
    assert found is not None, name
    return found
