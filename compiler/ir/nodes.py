"""The IR: the compiled, resolved, versioned model every generator reads.

Conventions: sequences are tuples in declaration order; every entity and
field has a stable `uid` derived from its original name (following
`renamed_from`), so diffs see renames; `loc` points at the declaration.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property
from typing import Annotated, Literal, NamedTuple

from pydantic import Field

from compiler.ir.base import Node, SourceRef
from compiler.ir.expr import Expr, PolicyExpr

#: Bump when the IR's shape changes; stored IR of another version is migrated or refused.
SCHEMA_VERSION: Literal[1] = 1

ScalarName = Literal[
    "uuid",
    "text",
    "slug",
    "email",
    "url",
    "integer",
    "decimal",
    "money",
    "boolean",
    "date",
    "datetime",
    "json",
]
OnDelete = Literal["cascade", "restrict", "set_null"]

# Field types -------------------------------------------------------------------


class ScalarType(Node):
    kind: Literal["scalar"] = "scalar"
    name: ScalarName
    precision: int | None = None
    scale: int | None = None
    currency: str | None = None


class EnumType(Node):
    kind: Literal["enum"] = "enum"
    values: tuple[str, ...]


class Transition(Node):
    name: str
    sources: tuple[str, ...]
    target: str


class StateType(Node):
    kind: Literal["state"] = "state"
    values: tuple[str, ...]
    initial: str
    transitions: tuple[Transition, ...]


class ArrayType(Node):
    kind: Literal["array"] = "array"
    of: ScalarType | EnumType


class RefType(Node):
    """Many-to-one (or one-to-one when `one_to_one`): a foreign key column."""

    kind: Literal["ref"] = "ref"
    target: str
    on_delete: OnDelete
    one_to_one: bool = False


class PolyRefType(Node):
    """A reference to one of several entities: a type column plus an id column."""

    kind: Literal["poly_ref"] = "poly_ref"
    targets: tuple[str, ...]
    on_delete: OnDelete
    type_column: str
    id_column: str


class OneToManyType(Node):
    """The inverse of `target.via`, a ref back to this entity. No column here."""

    kind: Literal["one_to_many"] = "one_to_many"
    target: str
    via: str


class ManyToManyType(Node):
    kind: Literal["many_to_many"] = "many_to_many"
    target: str
    join_table: str
    through: str | None = None
    #: Column of the join table pointing at this entity, and at the target.
    source_column: str
    target_column: str


FieldType = Annotated[
    ScalarType
    | EnumType
    | StateType
    | ArrayType
    | RefType
    | PolyRefType
    | OneToManyType
    | ManyToManyType,
    Field(discriminator="kind"),
]
FIELD_TYPE_KINDS = (
    ScalarType,
    EnumType,
    StateType,
    ArrayType,
    RefType,
    PolyRefType,
    OneToManyType,
    ManyToManyType,
)

# Fields ------------------------------------------------------------------------


class Default(Node):
    """A default value: a literal, or a value the database computes."""

    kind: Literal["value", "now", "today", "uuid"]
    value: str | int | bool | float | list[str] | dict[str, object] | None = None


class Rule(Node):
    """One normalised policy rule. Deny by default: no rule means refused."""

    id: str
    operation: str
    expr: PolicyExpr
    #: A readable rendering, e.g. `same_tenant() & (owner() | role("billing"))`.
    text: str
    loc: SourceRef


class Computed(Node):
    expr: Expr
    type: str
    #: Qualified fields the value reads ("InvoiceLine.total"), for refresh and invalidation.
    depends_on: tuple[str, ...]
    #: Reads only this row's stored, non-computed columns and no clock. Unless
    #: materialized, such a field is a generated column (its `column` is set).
    same_row: bool


class FieldNode(Node):
    uid: str
    name: str
    type: FieldType
    #: The column holding it, or None (one-to-many, many-to-many, computed on read).
    #: Computed fields have one when materialized or same-row (a generated column).
    column: str | None = None
    nullable: bool
    primary: bool = False
    unique: bool = False
    indexed: bool = False
    default: Default | None = None
    min: Decimal | None = None
    max: Decimal | None = None
    min_length: int | None = None
    max_length: int | None = None
    pattern: str | None = None
    label: str
    help: str | None = None
    read_only: bool = False
    private: bool = False
    visible_to: Rule | None = None
    editable_by: Rule | None = None
    renamed_from: str | None = None
    computed: Computed | None = None
    materialized: bool = False
    #: "declared" by the user, or why the compiler added it.
    origin: Literal["declared", "primary_key", "timestamps", "created_by", "tenancy"] = "declared"
    loc: SourceRef

    @property
    def stored(self) -> bool:
        return self.column is not None


# Actions and views ---------------------------------------------------------------


class Action(Node):
    name: str
    kind: Literal["transition", "custom"]
    label: str
    #: For transitions: the state field, the states it leaves from and goes to.
    state_field: str | None = None
    sources: tuple[str, ...] = ()
    target: str | None = None
    guard: Expr | None = None
    effect: str | None = None
    inputs: tuple[FieldNode, ...] = ()
    #: Id of the rule in the entity's `rules` deciding who may run it (None: deny).
    rule: str | None = None
    loc: SourceRef


class SortKey(Node):
    field: str
    descending: bool = False


class ListView(Node):
    kind: Literal["list"] = "list"
    name: str
    title: str
    columns: tuple[str, ...]
    filters: tuple[str, ...]
    sort: tuple[SortKey, ...]
    page_size: int
    implicit: bool
    loc: SourceRef


class Tab(Node):
    title: str
    fields: tuple[str, ...]


class DetailView(Node):
    kind: Literal["detail"] = "detail"
    name: str
    title: str
    tabs: tuple[Tab, ...]
    implicit: bool
    loc: SourceRef


class Widget(Node):
    field: str
    widget: str


class FormView(Node):
    kind: Literal["form"] = "form"
    name: str
    title: str
    fields: tuple[str, ...]
    widgets: tuple[Widget, ...]
    implicit: bool
    loc: SourceRef


View = Annotated[ListView | DetailView | FormView, Field(discriminator="kind")]


class Index(Node):
    name: str
    fields: tuple[str, ...]
    columns: tuple[str, ...]
    unique: bool
    using: Literal["btree", "hash", "gin", "gist", "brin"]
    where: Expr | None = None
    origin: Literal["declared", "field", "implicit"]
    loc: SourceRef


# Entities and the project -----------------------------------------------------------


class Entity(Node):
    uid: str
    name: str
    table: str
    #: Plural kebab-case path segment: "invoice-lines".
    path: str
    api_path: str
    route: str
    label: str
    label_plural: str
    doc: str | None = None
    tenant: bool
    timestamps: bool
    builtin: bool
    renamed_from: str | None = None
    primary_key: str
    fields: tuple[FieldNode, ...]
    actions: tuple[Action, ...] = ()
    rules: tuple[Rule, ...] = ()
    views: tuple[View, ...] = ()
    indexes: tuple[Index, ...] = ()
    loc: SourceRef

    @cached_property
    def _fields_by_name(self) -> dict[str, FieldNode]:
        return {f.name: f for f in self.fields}

    def field(self, name: str) -> FieldNode | None:
        return self._fields_by_name.get(name)

    def action(self, name: str) -> Action | None:
        return next((a for a in self.actions if a.name == name), None)

    def rule(self, operation: str) -> Rule | None:
        return next((r for r in self.rules if r.operation == operation), None)

    def view(self, name: str) -> ListView | DetailView | FormView | None:
        return next((v for v in self.views if v.name == name), None)

    @property
    def state_fields(self) -> tuple[FieldNode, ...]:
        return tuple(f for f in self.fields if isinstance(f.type, StateType))

    # Cached: whole-project passes ask every entity on every compile (`gen dev`).
    @cached_property
    def many_to_many_fields(self) -> tuple[FieldNode, ...]:
        return tuple(f for f in self.fields if isinstance(f.type, ManyToManyType))

    @cached_property
    def computed_fields(self) -> tuple[FieldNode, ...]:
        return tuple(f for f in self.fields if f.computed is not None)


class JoinTable(Node):
    """The table behind a many-to-many (absent when `through` names an entity)."""

    name: str
    left_entity: str
    left_column: str
    right_entity: str
    right_column: str
    #: Qualified many-to-many fields it serves ("Invoice.tags", maybe "Tag.invoices").
    serves: tuple[str, ...]
    loc: SourceRef


class AppConfig(Node):
    name: str
    roles: tuple[str, ...]
    tenancy: str | None = None
    auth_providers: tuple[str, ...]


class Theme(Node):
    """Design tokens from `ui/theme.py`: (name, CSS value) per scheme, overriding the defaults."""

    light: tuple[tuple[str, str], ...]
    dark: tuple[tuple[str, str], ...]
    loc: SourceRef


class RefTarget(NamedTuple):
    """An entity as a reference to it sees it (`Project.ref_target`)."""

    name: str
    table: str
    uid: str
    key: FieldNode


class Project(Node):
    schema_version: Literal[1] = SCHEMA_VERSION
    app: AppConfig
    entities: tuple[Entity, ...]
    join_tables: tuple[JoinTable, ...] = ()
    theme: Theme | None = None

    @cached_property
    def _entities_by_name(self) -> dict[str, Entity]:
        return {e.name: e for e in self.entities}

    def entity(self, name: str) -> Entity | None:
        return self._entities_by_name.get(name)

    def ref_target(self, name: str) -> RefTarget | None:
        """What a reference to entity `name` needs of it (a column of its key's type, an
        import of its row): generators that read only this of another entity are not
        made again when the rest of it changes (hookfs/graph.py)."""
        found = self.entity(name)
        if found is None:
            return None
        key = found.field(found.primary_key)
        assert key is not None, f"{name} has no primary key field"
        return RefTarget(found.name, found.table, found.uid, key)

    def field(self, qualified: str) -> FieldNode | None:
        """Look up `"Invoice.status"`."""
        entity_name, _, field_name = qualified.partition(".")
        found = self.entity(entity_name)
        return found.field(field_name) if found else None

    def element(self, ref: str) -> Entity | FieldNode | None:
        """An entity (`"Invoice"`) or a field (`"Invoice.status"`)."""
        return self.field(ref) if "." in ref else self.entity(ref)
