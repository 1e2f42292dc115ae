"""The query string of a list request, parsed and checked against the model.

`GET /api/invoices?filter[customer.name][contains]=acme&sort=-due_date&page[size]=10`
becomes a frozen `ListQuery` (see /work/shared/spec/API.md). Anything the
engine would not use is a 400 naming the parameter, with a suggestion when
one is close: an unknown parameter, field, operator or include, a value of
the wrong type, an enum value that does not exist, a field that cannot be
sorted, both `page[after]` and `page[number]`, a cursor made for another
sort or tampered with. Nothing is silently ignored.

Values are parsed by the type of the field they are compared with: uuid,
integer, decimal and money, boolean (`true`/`false`), date, datetime (ISO
8601; without an offset it is UTC), enum and state values, the referenced
key for a ref. `in` takes a comma-separated list; `is_null` takes
`true`/`false`.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any
from uuid import UUID

from compiler import ir
from compiler.diagnostics import did_you_mean
from runtime.api.model import AppModel
from runtime.api.problems import FieldError, Problem

#: The largest `page[size]`; the default comes from the entity's list view.
MAX_PAGE_SIZE = 100
#: The range of an `integer` field (a PostgreSQL integer), and so of `page[number]`.
INT_MIN, INT_MAX = -(2**31), 2**31 - 1
DEFAULT_PAGE_SIZE = 25
OPERATORS = ("eq", "ne", "lt", "lte", "gt", "gte", "in", "contains", "is_null")
_ORDERED = ("lt", "lte", "gt", "gte")
_TEXT_LIKE = frozenset({"text", "slug", "email", "url"})
_ORDERABLE = _TEXT_LIKE | {"integer", "decimal", "money", "date", "datetime"}
_PARAMS = ("filter[...]", "sort", "page[size]", "page[after]", "page[number]", "count", "include")
_FILTER = re.compile(r"^filter\[([^\[\]]+)\](?:\[([^\[\]]*)\])?$")


@dataclass(frozen=True)
class Filter:
    #: Field names from the entity: ("status",) or ("customer", "name").
    path: tuple[str, ...]
    op: str
    #: The parsed value; a tuple for `in`, a bool for `is_null`.
    value: Any
    #: The query parameter it came from, for messages.
    param: str


@dataclass(frozen=True)
class Sort:
    path: tuple[str, ...]
    descending: bool = False

    @property
    def text(self) -> str:
        return ("-" if self.descending else "") + ".".join(self.path)


@dataclass(frozen=True)
class ListQuery:
    filters: tuple[Filter, ...] = ()
    #: The requested sort (or the list view's); the primary key always breaks ties after it.
    sort: tuple[Sort, ...] = ()
    size: int = DEFAULT_PAGE_SIZE
    #: Decoded `page[after]`: one value per sort term, then the primary key.
    after: tuple[Any, ...] | None = None
    #: `page[number]`, from 1.
    number: int | None = None
    count: bool = False
    include: tuple[str, ...] = ()


def bad(param: str, message: str) -> Problem:
    return Problem(
        400, f"Invalid query parameter {param}: {message}", (FieldError(param, message),)
    )


def parse_list_query(
    model: AppModel, entity: ir.Entity, params: Sequence[tuple[str, str]]
) -> ListQuery:
    """Check every parameter of a list request against `entity`; raise a 400 `Problem`."""
    seen: set[str] = set()
    filters: list[Filter] = []
    single: dict[str, str] = {}
    for name, value in params:
        if name in seen:
            raise bad(name, "given more than once.")
        seen.add(name)
        if name.startswith("filter"):
            filters.append(_filter(model, entity, name, value))
        elif name in _PARAMS:
            single[name] = value
        else:
            raise bad(name, f"unknown parameter; {did_you_mean(name, _PARAMS)}")
    sort = _sort(model, entity, single["sort"]) if "sort" in single else default_sort(entity)
    if "page[after]" in single and "page[number]" in single:
        raise bad("page[after]", "give either page[after] (keyset) or page[number], not both.")
    after = None
    if "page[after]" in single:
        after = decode_cursor(model, entity, sort, single["page[after]"])
    number = None
    if "page[number]" in single:
        number = _integer("page[number]", single["page[number]"], 1, INT_MAX)
    size = default_page_size(entity)
    if "page[size]" in single:
        size = _integer("page[size]", single["page[size]"], 1, MAX_PAGE_SIZE)
    count = _boolean("count", single["count"]) if "count" in single else False
    include = parse_include(model, entity, single.get("include", ""))
    return ListQuery(tuple(filters), sort, size, after, number, count, include)


def default_page_size(entity: ir.Entity) -> int:
    view = entity.view("list")
    size = view.page_size if isinstance(view, ir.ListView) else DEFAULT_PAGE_SIZE
    return min(size, MAX_PAGE_SIZE)


def default_sort(entity: ir.Entity) -> tuple[Sort, ...]:
    view = entity.view("list")
    if not isinstance(view, ir.ListView):
        return ()
    return tuple(Sort(tuple(key.field.split(".")), key.descending) for key in view.sort)


# Fields and paths -------------------------------------------------------------------------


def resolve_path(
    model: AppModel, entity: ir.Entity, path: str, param: str
) -> list[tuple[ir.Entity, ir.FieldNode]]:
    """The (entity, field) of each segment of `customer.name`: every one but the last a ref."""
    hops: list[tuple[ir.Entity, ir.FieldNode]] = []
    segments = path.split(".")
    for position, name in enumerate(segments):
        field = entity.field(name)
        if field is None:
            suggestion = did_you_mean(name, [f.name for f in entity.fields])
            raise bad(param, f"{entity.label} has no field {name!r}; {suggestion}")
        hops.append((entity, field))
        if position < len(segments) - 1:
            if not isinstance(field.type, ir.RefType):
                raise bad(param, f"{entity.name}.{name} is not a ref; only refs can be followed.")
            entity = model.entity(field.type.target)
    return hops


def field_kind(field: ir.FieldNode) -> str:
    """The scalar name ("date", "money"), or "enum", "ref", "poly_ref", "array", "many"."""
    kind = field.type
    if isinstance(kind, ir.ScalarType):
        return kind.name
    if isinstance(kind, ir.EnumType | ir.StateType):
        return "enum"
    if isinstance(kind, ir.OneToManyType | ir.ManyToManyType):
        return "many"
    return kind.kind


def _operators(kind: str) -> tuple[str, ...]:
    if kind == "many":
        return ()
    if kind in ("json", "array", "poly_ref"):
        return ("contains", "is_null") if kind == "array" else ("is_null",)
    ops = ["eq", "ne", "in", "is_null"]
    if kind in _ORDERABLE:
        ops += _ORDERED
    if kind in _TEXT_LIKE:
        ops.append("contains")
    return tuple(op for op in OPERATORS if op in ops)


def _filter(model: AppModel, entity: ir.Entity, param: str, raw: str) -> Filter:
    match = _FILTER.match(param)
    if match is None:
        raise bad(param, "write filter[field]=value or filter[field][operator]=value.")
    path, op = match.group(1), match.group(2) or "eq"
    hops = resolve_path(model, entity, path, param)
    owner, field = hops[-1]
    allowed = _operators(field_kind(field))
    if not allowed:
        raise bad(param, f"{owner.name}.{field.name} is a list of rows; it cannot be filtered.")
    if op not in allowed:
        if op in OPERATORS:
            message = f"{op} does not apply to {owner.name}.{field.name}; use one of {', '.join(allowed)}."
        else:
            message = f"unknown operator {op!r}; {did_you_mean(op, allowed)}"
        raise bad(param, message)
    value: Any
    if op == "is_null":
        value = _boolean(param, raw)
    elif op == "in":
        value = tuple(parse_value(model, field, item, param) for item in raw.split(","))
    elif op == "contains" and field_kind(field) in _TEXT_LIKE:
        value = _no_nul(raw, param)
    else:
        value = parse_value(model, field, raw, param)
    return Filter(tuple(path.split(".")), op, value, param)


def _sort(model: AppModel, entity: ir.Entity, raw: str) -> tuple[Sort, ...]:
    terms: list[Sort] = []
    for item in raw.split(","):
        descending = item.startswith("-")
        path = item[1:] if descending else item
        if not path:
            raise bad("sort", "an empty sort field; write sort=-created_at,number.")
        _, field = resolve_path(model, entity, path, "sort")[-1]
        kind = field_kind(field)
        if kind in ("many", "json", "array", "poly_ref"):
            raise bad("sort", f"{path} cannot be sorted by (it is {_kind_words(kind)}).")
        if any(term.path == tuple(path.split(".")) for term in terms):
            raise bad("sort", f"{path} is given twice.")
        terms.append(Sort(tuple(path.split(".")), descending))
    return tuple(terms)


def _kind_words(kind: str) -> str:
    return {
        "many": "a list of rows",
        "json": "a JSON document",
        "array": "a list of values",
        "poly_ref": "a reference to one of several entities",
    }[kind]


def parse_include(model: AppModel, entity: ir.Entity, raw: str) -> tuple[str, ...]:
    """`customer,lines` -> ("customer", "lines"); refs, one-to-many and many-to-many only."""
    names: list[str] = []
    for name in raw.split(",") if raw else ():
        field = entity.field(name)
        if field is None:
            suggestion = did_you_mean(name, includable(entity))
            raise bad("include", f"{entity.label} has no field {name!r} to include; {suggestion}")
        if name not in includable(entity):
            raise bad(
                "include", f"{name} is not a relation; {did_you_mean(name, includable(entity))}"
            )
        if name not in names:
            names.append(name)
    return tuple(names)


def includable(entity: ir.Entity) -> list[str]:
    return [
        f.name
        for f in entity.fields
        if isinstance(f.type, ir.RefType | ir.OneToManyType | ir.ManyToManyType)
    ]


# Values -------------------------------------------------------------------------------------


def parse_value(model: AppModel, field: ir.FieldNode, raw: str, param: str) -> Any:
    """`raw` read as a value of `field` (a ref: the referenced key); a 400 when it is not one."""
    _no_nul(raw, param)
    kind = field.type
    if isinstance(kind, ir.RefType):
        target = model.entity(kind.target)
        key = target.field(target.primary_key)
        assert key is not None
        return parse_value(model, key, raw, param)
    if isinstance(kind, ir.ArrayType):
        kind = kind.of
    if isinstance(kind, ir.EnumType | ir.StateType):
        if raw not in kind.values:
            raise bad(
                param,
                f"{raw!r} is not one of {', '.join(kind.values)}; "
                + did_you_mean(raw, kind.values),
            )
        return raw
    assert isinstance(kind, ir.ScalarType), f"no values for {kind.kind}"
    parser = _PARSERS.get(kind.name)
    if parser is None:
        return raw
    try:
        return parser(raw)
    except (ValueError, InvalidOperation, OverflowError):
        raise bad(param, f"{raw!r} is not {_WORDS[kind.name]}.") from None


def _no_nul(raw: str, param: str) -> str:
    # PostgreSQL text cannot hold one: no stored value has it, and comparing with one fails.
    if "\x00" in raw:
        raise bad(param, "a NUL character (\\u0000) is never a value.")
    return raw


def _decimal(raw: str) -> Decimal:
    value = Decimal(raw.strip())
    if not value.is_finite() or raw.strip() != raw:
        raise ValueError(raw)
    return value


def _int(raw: str) -> int:
    # An `integer` column is a PostgreSQL integer (4 bytes): a larger value is not one.
    if not re.fullmatch(r"-?\d{1,10}", raw) or not INT_MIN <= int(raw) <= INT_MAX:
        raise ValueError(raw)
    return int(raw)


def _bool(raw: str) -> bool:
    if raw not in ("true", "false"):
        raise ValueError(raw)
    return raw == "true"


def _datetime(raw: str) -> dt.datetime:
    value = dt.datetime.fromisoformat(raw)
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


_PARSERS: dict[str, Callable[[str], Any]] = {
    "uuid": UUID,
    "integer": _int,
    "decimal": _decimal,
    "money": _decimal,
    "boolean": _bool,
    "date": dt.date.fromisoformat,
    "datetime": _datetime,
}
_WORDS = {
    "uuid": "a UUID",
    "integer": f"an integer from {INT_MIN} to {INT_MAX}",
    "decimal": "a decimal number",
    "money": "an amount (a decimal number)",
    "boolean": "true or false",
    "date": "a date (YYYY-MM-DD)",
    "datetime": "a date and time (ISO 8601)",
}


def _integer(param: str, raw: str, low: int, high: int | None) -> int:
    try:
        value = _int(raw)
    except ValueError:
        raise bad(param, f"{raw!r} is not an integer.") from None
    if value < low or (high is not None and value > high):
        bounds = f"from {low} to {high}" if high is not None else f"at least {low}"
        raise bad(param, f"{value} is out of range: {bounds}.")
    return value


def _boolean(param: str, raw: str) -> bool:
    if raw not in ("true", "false"):
        raise bad(param, f"{raw!r} is not true or false.")
    return raw == "true"


# Cursors ------------------------------------------------------------------------------------


def encode_cursor(sort: Sequence[Sort], values: Sequence[Any]) -> str:
    """An opaque keyset cursor: the JSON-ready sort values and key of the last row, and the
    sort they belong to, as base64url JSON."""
    body = {"s": ",".join(term.text for term in sort), "v": list(values)}
    text = json.dumps(body, separators=(",", ":"), sort_keys=True)
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


def decode_cursor(
    model: AppModel, entity: ir.Entity, sort: Sequence[Sort], cursor: str
) -> tuple[Any, ...]:
    """The values of `cursor`, parsed by the types of the sort fields and the key."""
    param = "page[after]"
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        body = json.loads(text)
    except (binascii.Error, ValueError):
        raise bad(param, "not a cursor this API made; use the `next` of a previous page.") from None
    expected = ",".join(term.text for term in sort)
    if not isinstance(body, dict) or set(body) != {"s", "v"} or not isinstance(body["v"], list):
        raise bad(param, "not a cursor this API made; use the `next` of a previous page.")
    if body["s"] != expected:
        raise bad(param, "this cursor was made for another sort; start again from the first page.")
    fields = [resolve_path(model, entity, ".".join(term.path), param)[-1][1] for term in sort]
    key = entity.field(entity.primary_key)
    assert key is not None
    fields.append(key)
    if len(body["v"]) != len(fields) or body["v"][-1] is None:
        raise bad(param, "not a cursor this API made; use the `next` of a previous page.")
    return tuple(
        _cursor_value(model, field, value, param)
        for field, value in zip(fields, body["v"], strict=True)
    )


def _cursor_value(model: AppModel, field: ir.FieldNode, value: Any, param: str) -> Any:
    if value is None:
        return None
    if isinstance(value, bool):
        value = "true" if value else "false"
    elif isinstance(value, int):
        value = str(value)
    if not isinstance(value, str):
        raise bad(param, "not a cursor this API made; use the `next` of a previous page.")
    return parse_value(model, field, value, param)
