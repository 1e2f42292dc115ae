"""Diff two relational schemas into migration operations.

Order of detection: renames first (stable identity from the IR, then same
name, then a rename the user confirmed), then creates, drops and alters,
then constraints and indexes compared by what they enforce. What cannot be
decided from the models (a drop and an add that may be a rename, a value for
existing rows, where rows of a removed enum value go) becomes a `Question`;
the command asks it on a terminal and refuses to guess anywhere else.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from generators.db import ddl
from generators.db import operations as ops
from generators.db.operations import Operation, Uses
from generators.db.schema import (
    Check,
    Column,
    EnumType,
    ForeignKey,
    Index,
    Schema,
    SqlExpr,
    Table,
    literal,
)

Keyed = TypeVar("Keyed", Check, ForeignKey, Index)
Matched = TypeVar("Matched", Table, Column, EnumType)
Renamable = TypeVar("Renamable", Table, Column)


class PlanError(ValueError):
    """A change migrations cannot make; the message says what to do instead."""


@dataclass(frozen=True)
class Answers:
    """What the user decided: from a terminal, or from command-line flags."""

    #: ("Label", "Tag") or ("Invoice.note", "Invoice.notes") -> is it a rename?
    renames: Mapping[tuple[str, str], bool] = field(default_factory=dict)
    #: "Invoice.due_date" -> value for existing rows (typed as the user typed it).
    backfills: Mapping[str, str] = field(default_factory=dict)
    #: "Invoice.status" -> {removed value: value its rows move to}.
    enum_maps: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


@dataclass(frozen=True)
class Question:
    kind: Literal["rename", "backfill", "enum_values"]
    #: The answer's key: a rename pair, a field, or an enum's field.
    key: tuple[str, str] | str
    prompt: str
    #: How to answer without a terminal.
    flag: str


@dataclass(frozen=True)
class Plan:
    operations: tuple[Operation, ...]
    questions: tuple[Question, ...]

    @property
    def destructive(self) -> tuple[Operation, ...]:
        return tuple(op for op in self.operations if op.destructive)


def plan_migration(old: Schema, new: Schema, answers: Answers | None = None) -> Plan:
    differ = _Differ(old, new, answers or Answers())
    differ.run()
    ordered = sorted(enumerate(differ.operations), key=lambda item: (item[1].stage, item[0]))
    return Plan(tuple(op for _, op in ordered), tuple(differ.questions))


def _field_of(origin: str) -> str:
    return origin.rpartition(".")[2]


def _base_type(column_type: str) -> str:
    return column_type.removesuffix("[]")


class _Differ:
    def __init__(self, old: Schema, new: Schema, answers: Answers) -> None:
        self.old, self.new, self.answers = old, new, answers
        self.operations: list[Operation] = []
        self.questions: list[Question] = []
        #: old uid -> new uid, for tables, columns and enums found on both sides.
        self.uid: dict[str, str] = {}
        #: old enum type name -> new one.
        self.enum_names: dict[str, str] = {}
        self.tables: list[tuple[Table, Table]] = []
        self.created_tables: list[Table] = []
        #: new column uid -> old column, for columns on both sides.
        self.kept_columns: dict[str, Column] = {}

    def run(self) -> None:
        self._match_tables()
        for old, new in self.tables:
            self._match_columns(old, new)
        self._diff_enums()
        self._diff_tables()
        self._diff_constraints()
        self._diff_indexes()

    # Matching ----------------------------------------------------------------------------

    def _match_tables(self) -> None:
        pairs, dropped, created = _match(
            self.old.tables, self.new.tables, lambda t: t.uid, lambda t: t.name
        )
        for old, new in _ask_renames(
            self, dropped, created, lambda t: t.origin, lambda t: t.origin, _same_shape
        ):
            pairs.append((old, new))
        matched_old = {o.uid for o, _ in pairs}
        matched_new = {n.uid for _, n in pairs}
        self.tables = pairs
        self.dropped_tables = [t for t in self.old.tables if t.uid not in matched_old]
        self.created_tables = [t for t in self.new.tables if t.uid not in matched_new]
        self.uid.update({o.uid: n.uid for o, n in pairs})

    def _match_columns(self, old: Table, new: Table) -> None:
        pairs, dropped, created = _match(
            old.columns, new.columns, lambda c: c.uid, lambda c: c.name
        )
        candidates = [c for c in dropped if c.generated is None]
        added = [c for c in created if c.generated is None]
        renamed = _ask_renames(
            self,
            candidates,
            added,
            lambda c: f"{new.origin}.{_field_of(c.origin)}",
            lambda c: f"{new.origin}.{_field_of(c.origin)}",
            lambda a, b: a.type == b.type,
        )
        for old_column, new_column in [*pairs, *renamed]:
            self.uid[old_column.uid] = new_column.uid
            self.kept_columns[new_column.uid] = old_column

    # Enums -------------------------------------------------------------

    def _diff_enums(self) -> None:
        def old_key(enum: EnumType) -> str:
            owner = enum.uid.removesuffix(".enum")
            return f"{self.uid.get(owner, owner)}.enum"

        pairs, dropped, created = _match(
            self.old.enums, self.new.enums, old_key, lambda e: e.name, new_key=lambda e: e.uid
        )
        self.operations += [ops.create_enum(e) for e in created]
        self.operations += [ops.drop_enum(e) for e in dropped]
        for old, new in pairs:
            self.enum_names[old.name] = new.name
            if old.name != new.name:
                self.operations.append(ops.rename_enum(old, new))
            if old.values != new.values:
                self._diff_enum_values(old, new)

    def _diff_enum_values(self, old: EnumType, new: EnumType) -> None:
        removed = [v for v in old.values if v not in new.values]
        added = [v for v in new.values if v not in old.values]
        mapping = dict(self.answers.enum_maps.get(new.origin, {}))
        unmapped = [v for v in removed if v not in mapping]
        if unmapped:
            self._ask_enum_mapping(new, unmapped, added)
            return
        renames = {v: mapping[v] for v in removed if mapping[v] in added}
        moved = {v: target for v, target in mapping.items() if v in removed and v not in renames}
        if renames:
            self.operations.append(ops.rename_enum_values(new, renames))
        after_renames = tuple(renames.get(v, v) for v in old.values)
        still_added = [v for v in added if v not in renames.values()]
        kept_order = [v for v in new.values if v not in still_added]
        if not moved and list(after_renames) == kept_order:
            if still_added:
                current = old.replace(name=new.name, values=after_renames)
                uses = self._enum_uses(self.new, new)
                self.operations.append(ops.add_enum_values(current, new, still_added, uses))
            return
        current = old.replace(name=new.name, values=after_renames)
        self.operations.append(
            ops.replace_enum(current, new, moved, self._enum_uses(self.new, new))
        )

    def _ask_enum_mapping(self, enum: EnumType, unmapped: list[str], added: list[str]) -> None:
        for value in unmapped:
            choices = list(enum.values)
            hint = f" (maybe renamed to {' or '.join(repr(a) for a in added)})" if added else ""
            self.questions.append(
                Question(
                    kind="enum_values",
                    key=enum.origin,
                    prompt=f"{enum.origin} no longer has the value {value!r}{hint}. Rows holding "
                    f"it must move to one of {', '.join(choices)}: which one?",
                    flag=f"--enum-map {enum.origin}:{value}=<one of {'|'.join(choices)}>",
                )
            )

    def _enum_uses(self, schema: Schema, enum: EnumType) -> list[Uses]:
        """Columns of `enum`'s type in `schema`, with what blocks changing their type.

        Limitation: a column of the type that this same migration drops is not
        converted (drop it in a migration of its own first).
        """
        found = []
        for table in schema.tables:
            for column in table.columns:
                if _base_type(column.type) == enum.name:
                    found.append(self._use(schema, table, column))
        return found

    def _use(self, schema: Schema, table: Table, column: Column) -> Uses:
        release: list[str] = []
        restore: list[str] = []
        for index in schema.indexes:
            if index.table == table.uid and index.where and column.uid in index.where.columns:
                release.append(ddl.drop_index(index))
                restore.append(ddl.create_index(schema, index))
        for other in table.columns:
            if other.generated is not None and column.uid in other.generated.columns:
                release.append(f"ALTER TABLE {table.name} DROP COLUMN {other.name}")
                restore.append(
                    f"ALTER TABLE {table.name} ADD COLUMN {ddl.column_definition(table, other)}"
                )
        return Uses(table, column, tuple(release), tuple(restore))

    # Tables and columns -----------------------------------------------------------------

    def _diff_tables(self) -> None:
        self.operations += [ops.create_table(t) for t in self.created_tables]
        self.operations += [ops.drop_table(self.old, t) for t in self.dropped_tables]
        for old, new in self.tables:
            if old.name != new.name:
                self.operations.append(ops.rename_table(old, new))
            if old.comment != new.comment:
                self.operations.append(ops.comment_table(old, new))
            if [self.uid.get(u, u) for u in old.primary_key.columns] != list(
                new.primary_key.columns
            ):
                raise PlanError(
                    f"the primary key of {new.origin} changed; migrations cannot move a primary "
                    "key. Keep the old key and add the new field with .unique(), or create a new "
                    "entity and copy the rows."
                )
            self._diff_columns(old, new)

    def _diff_columns(self, old: Table, new: Table) -> None:
        new_uids = {c.uid for c in new.columns}
        for column in old.columns:
            if self.uid.get(column.uid) not in new_uids:
                self.operations.append(ops.drop_column(old, column))
        for column in new.columns:
            before = self.kept_columns.get(column.uid)
            if before is None:
                self.operations.append(
                    ops.add_column(new, column, self._backfill(new, column, adding=True))
                )
            else:
                self._diff_column(new, before, column)

    def _diff_column(self, table: Table, old: Column, new: Column) -> None:
        if old.name != new.name:
            self.operations.append(ops.rename_column(table, old, new))
        if old.generated is not None or new.generated is not None:
            self._diff_generated(table, old, new)
            return
        old_type = self._translated_type(old.type)
        if old_type != new.type and not self._enum_type_handled(old_type, new.type):
            widening = is_widening(old_type, new.type)
            self.operations.append(
                ops.alter_column_type(table, old.replace(type=old_type), new, widening)
            )
            self._regenerate_dependents(table, new)
        if old.default != new.default:
            self.operations.append(ops.set_default(table, old, new))
        if old.nullable != new.nullable:
            backfill = None if new.nullable else self._backfill(table, new, adding=False)
            self.operations.append(ops.set_nullable(table, new, new.nullable, backfill))
        if old.comment != new.comment:
            self.operations.append(ops.comment_column(table, old, new))

    def _diff_generated(self, table: Table, old: Column, new: Column) -> None:
        if new.generated is None:
            self.operations.append(ops.drop_expression(table, new))
            return
        same = (
            old.generated is not None
            and self._translated(old.generated) == new.generated
            and self._translated_type(old.type) == new.type
        )
        if same:
            return
        # A generated column holds no data of its own: drop it and add it again.
        dropped = ops.drop_column(table, old)
        if old.generated is None:
            dropped = dataclasses.replace(dropped, destructive=True)
        self.operations.append(dataclasses.replace(dropped, stage=ops.DROP_DEPENDENT))
        self.operations.append(ops.add_column(table, new, None))

    def _regenerate_dependents(self, table: Table, changed: Column) -> None:
        """Postgres cannot change the type of a column a generated column reads."""
        for other in table.columns:
            if other.generated is None or changed.uid not in other.generated.columns:
                continue
            if other.uid not in self.kept_columns:
                continue
            drop = dataclasses.replace(ops.drop_column(table, other), stage=ops.DROP_DEPENDENT)
            add = dataclasses.replace(
                ops.add_column(table, other, None), stage=ops.ALTER_COLUMN + 5
            )
            self.operations += [drop, add]

    def _translated_type(self, column_type: str) -> str:
        base = _base_type(column_type)
        renamed = self.enum_names.get(base, base)
        return renamed + column_type[len(base) :]

    def _enum_type_handled(self, old_type: str, new_type: str) -> bool:
        """An enum column whose type only changed values: the enum operations cover it."""
        new_names = {e.name for e in self.new.enums}
        return _base_type(old_type) == _base_type(new_type) and _base_type(new_type) in new_names

    def _translated(self, expr: SqlExpr) -> SqlExpr:
        if all(isinstance(p, str) or self.uid.get(p.uid, p.uid) == p.uid for p in expr.parts):
            return expr  # no column it reads was renamed (most): no copy of its parts
        return SqlExpr(
            parts=tuple(
                part
                if isinstance(part, str)
                else part.replace(uid=self.uid.get(part.uid, part.uid))
                for part in expr.parts
            )
        )

    def _backfill(self, table: Table, column: Column, adding: bool) -> str | None:
        """The SQL value for existing rows of a column that became required, if one is needed."""
        if column.nullable or column.generated is not None:
            return None
        if column.default is not None:
            return None if adding else column.default
        if table in self.created_tables:
            return None
        value = self.answers.backfills.get(column.origin)
        if value is not None:
            return f"CAST({literal(value)} AS {column.type})"
        what = "a new required field" if adding else "now required"
        self.questions.append(
            Question(
                kind="backfill",
                key=column.origin,
                prompt=f"{column.origin} is {what} with no default. Existing rows of "
                f"{table.name} need a value ({column.type}); which one?",
                flag=f"--backfill {column.origin}=<value>, or add .default(...) to the field",
            )
        )
        return None

    # Constraints and indexes ------------------------------------------------------------

    def _diff_constraints(self) -> None:
        new_by_uid = {t.uid: t for t in self.new.tables}
        for old_table in self.old.tables:
            new_table = new_by_uid.get(self.uid.get(old_table.uid, ""))
            if new_table is not None:  # else dropped with its table
                self._diff_table_constraints(old_table, new_table)
        for table in self.created_tables:
            self.operations += [
                ops.add_foreign_key(self.new, table, key, existing=False)
                for key in table.foreign_keys
            ]

    def _diff_table_constraints(self, old: Table, new: Table) -> None:
        existing = new not in self.created_tables

        def rename(before: Check | ForeignKey, after: Check | ForeignKey) -> Operation:
            return ops.rename_constraint(new, before.name, after.name, after.origin)

        def old_check(check: Check) -> object:
            return self._translated(check.expr)

        def new_check(check: Check) -> object:
            return check.expr

        def drop_check(check: Check) -> Operation:
            return ops.drop_check(old, check)

        def add_check(check: Check) -> Operation:
            return ops.add_check(new, check, existing)

        def drop_key(key: ForeignKey) -> Operation:
            return ops.drop_foreign_key(self.old, old, key)

        def add_key(key: ForeignKey) -> Operation:
            return ops.add_foreign_key(self.new, new, key, existing=True)

        self._diff_keyed(
            old.checks, new.checks, old_check, new_check, drop_check, add_check, rename
        )
        self._diff_keyed(
            old.foreign_keys,
            new.foreign_keys,
            self._old_key_signature,
            _key_signature,
            drop_key,
            add_key,
            rename,
        )
        if old.primary_key.name != new.primary_key.name:
            self.operations.append(
                ops.rename_constraint(new, old.primary_key.name, new.primary_key.name, new.origin)
            )

    def _old_key_signature(self, key: ForeignKey) -> tuple[object, ...]:
        return (
            tuple(self.uid.get(c, c) for c in key.columns),
            self.uid.get(key.target_table, key.target_table),
            tuple(self.uid.get(c, c) for c in key.target_columns),
            key.on_delete,
        )

    def _diff_indexes(self) -> None:
        created = {t.uid for t in self.created_tables}
        dropped_tables = {t.uid for t in self.dropped_tables}
        old_indexes = [i for i in self.old.indexes if i.table not in dropped_tables]
        self._diff_keyed(
            old_indexes,
            self.new.indexes,
            self._old_index_signature,
            _index_signature,
            lambda i: ops.drop_index(self.old, i),
            lambda i: ops.create_index(self.new, i, existing_table=i.table not in created),
            ops.rename_index,
        )

    def _old_index_signature(self, index: Index) -> tuple[object, ...]:
        return (
            self.uid.get(index.table, index.table),
            tuple(
                e
                if self.uid.get(e.column, e.column) == e.column
                else e.replace(column=self.uid[e.column])
                for e in index.elements
            ),
            index.unique,
            index.using,
            self._translated(index.where) if index.where is not None else None,
        )

    def _diff_keyed(
        self,
        old: Iterable[Keyed],
        new: Iterable[Keyed],
        old_signature: Callable[[Keyed], object],
        new_signature: Callable[[Keyed], object],
        drop: Callable[[Keyed], Operation],
        add: Callable[[Keyed], Operation],
        rename: Callable[[Keyed, Keyed], Operation],
    ) -> None:
        """Compare by what an object enforces; an equal one under another name is renamed."""
        remaining: dict[object, list[Keyed]] = {}
        for item in new:
            remaining.setdefault(new_signature(item), []).append(item)
        for item in old:
            twins = remaining.get(old_signature(item))
            if twins:
                twin = twins.pop(0)
                if twin.name != item.name:
                    self.operations.append(rename(item, twin))
            else:
                self.operations.append(drop(item))
        for items in remaining.values():
            self.operations += [add(item) for item in items]


# Helpers ------------------------------------------------------------------------------------


def _match(
    old: Iterable[Matched],
    new: Iterable[Matched],
    old_key: Callable[[Matched], str],
    name: Callable[[Matched], str],
    new_key: Callable[[Matched], str] | None = None,
) -> tuple[list[tuple[Matched, Matched]], list[Matched], list[Matched]]:
    """Pairs by identity, then by name; returns (pairs, only in old, only in new)."""
    new_list = list(new)
    by_key = {(new_key or old_key)(item): item for item in new_list}
    pairs: list[tuple[Matched, Matched]] = []
    unmatched_old: list[Matched] = []
    taken: set[int] = set()
    for item in old:
        twin = by_key.get(old_key(item))
        if twin is not None and id(twin) not in taken:
            pairs.append((item, twin))
            taken.add(id(twin))
        else:
            unmatched_old.append(item)
    by_name = {name(item): item for item in new_list if id(item) not in taken}
    dropped = []
    for item in unmatched_old:
        twin = by_name.pop(name(item), None)
        if twin is not None:
            pairs.append((item, twin))
            taken.add(id(twin))
        else:
            dropped.append(item)
    created = [item for item in new_list if id(item) not in taken]
    return pairs, dropped, created


def _ask_renames(
    differ: _Differ,
    dropped: list[Renamable],
    created: list[Renamable],
    old_label: Callable[[Renamable], str],
    new_label: Callable[[Renamable], str],
    alike: Callable[[Renamable, Renamable], bool],
) -> list[tuple[Renamable, Renamable]]:
    """Dropped and created objects that look alike: renames when the user says so."""
    confirmed = []
    for old in list(dropped):
        for new in list(created):
            if not alike(old, new):
                continue
            key = (old_label(old), new_label(new))
            if isinstance(old, Column):
                key = (f"{key[0].rpartition('.')[0]}.{_field_of(old.origin)}", key[1])
            answer = differ.answers.renames.get(key)
            if answer is None:
                differ.questions.append(
                    Question(
                        kind="rename",
                        key=key,
                        prompt=f"Was {key[0]} renamed to {key[1]}? (No: it is dropped, with its "
                        "data, and a new one is created.)",
                        flag=f"--rename {key[0]}={key[1].rpartition('.')[2]}"
                        f" or --no-rename {key[0]}={key[1].rpartition('.')[2]}; or declare "
                        f'.renamed_from("{key[0].rpartition(".")[2]}") in the model',
                    )
                )
            elif answer:
                confirmed.append((old, new))
                dropped.remove(old)
                created.remove(new)
                break
    return confirmed


def _same_shape(old: Table, new: Table) -> bool:
    return sorted((c.name, c.type) for c in old.columns) == sorted(
        (c.name, c.type) for c in new.columns
    )


def _key_signature(key: ForeignKey) -> tuple[object, ...]:
    return (key.columns, key.target_table, key.target_columns, key.on_delete)


def _index_signature(index: Index) -> tuple[object, ...]:
    return (index.table, index.elements, index.unique, index.using, index.where)


_INTEGERS = ("smallint", "integer", "bigint")


def is_widening(old: str, new: str) -> bool:
    """True when every value of `old` fits `new` unchanged."""
    if new == "text":
        return old == "text" or old.startswith("varchar") or old in ("uuid", *_INTEGERS)
    if old.startswith("varchar(") and new.startswith("varchar("):
        return _args(new)[0] >= _args(old)[0]
    if old in _INTEGERS and new in _INTEGERS:
        return _INTEGERS.index(new) >= _INTEGERS.index(old)
    if old in _INTEGERS and new.startswith("numeric"):
        digits = {"smallint": 5, "integer": 10, "bigint": 19}[old]
        return new == "numeric" or _args(new)[0] - _args(new)[1] >= digits
    if old.startswith("numeric") and new.startswith("numeric"):
        if new == "numeric":
            return True
        if old == "numeric":
            return False
        (p1, s1), (p2, s2) = _args(old), _args(new)
        return s2 >= s1 and p2 - s2 >= p1 - s1
    return old == "date" and new == "timestamptz"


def _args(sql_type: str) -> tuple[int, int]:
    inside = sql_type[sql_type.index("(") + 1 : sql_type.index(")")]
    numbers = [int(n) for n in inside.split(",")]
    return numbers[0], numbers[1] if len(numbers) > 1 else 0
