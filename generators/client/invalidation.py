"""Which cached queries a write can change, from the relation graph and computed fields.

A write is `create`, `update` (actions too: they change the row) or `delete`
of one entity's row. It can change:

- that entity's queries: its lists on create; every query on update and delete;
- every query of an entity with a computed field that reads what changed, found
  by following `Computed.depends_on` to a fixed point: a new `InvoiceLine`
  changes `Invoice.subtotal` (`InvoiceLine.total`), hence `Invoice.total`
  (`Invoice.subtotal`); a new `Invoice` changes `Customer.invoice_count`
  (`Customer.invoices`). A dependency on a relation (`Customer.invoices`) counts
  when rows of its target appear, disappear or change; one on a field
  (`InvoiceLine.total`) when that field may have changed;
- on delete, rows that `on_delete` cascades to (deleted too) or sets null
  (updated);
- the queries of other entities that reach a changed entity's rows through a
  relation: an `include` of it, or a filter or sort through it
  (`filter[customer.name]`). Only those: `{"entity": "Invoice", "via": ["customer"]}`.
  A new row is in no ref yet: only one-to-many lists reach it, and the other
  side of a many-to-many its create may set (`Tag.invoices` when an `Invoice`
  is created with `tags`).
"""

from __future__ import annotations

from dataclasses import dataclass

from compiler import ir
from generators.client.shapes import RELATIONS

CHANGES = ("create", "update", "delete")
#: Every field of an entity: its rows appear, disappear or change as a whole.
ROWS = "*"


@dataclass(frozen=True)
class Target:
    """Queries of `entity`: all, only of one `op` ("list"), or only those going `via` fields."""

    entity: str
    op: str | None = None
    via: tuple[str, ...] = ()

    def json(self) -> dict[str, object]:
        found: dict[str, object] = {"entity": self.entity}
        if self.op is not None:
            found["op"] = self.op
        if self.via:
            found["via"] = list(self.via)
        return found


def invalidation_map(project: ir.Project) -> dict[str, dict[str, tuple[Target, ...]]]:
    """For each entity and change, the queries it can affect, in a stable order."""
    graph = _Graph(project)
    return {
        e.name: {change: graph.targets(e, change) for change in CHANGES} for e in project.entities
    }


class _Graph:
    def __init__(self, project: ir.Project) -> None:
        self.project = project
        #: Computed fields, (entity, field), by what they read: a field ("Invoice.subtotal"),
        #: any field of another entity ("InvoiceLine.total" reads InvoiceLine's rows), or the
        #: rows of a relation's target ("Customer.invoices": Invoice rows).
        self.reads_field: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.reads_rows: dict[str, list[tuple[str, str]]] = {}
        self.reads_relation: dict[str, list[tuple[str, str]]] = {}
        for e in project.entities:
            for f in e.fields:
                for dependency in f.computed.depends_on if f.computed else ():
                    self._index(e, f.name, dependency)
        #: Relation fields pointing at each entity: target -> [(entity, field)].
        self.inbound: dict[str, list[tuple[ir.Entity, ir.FieldNode]]] = {}
        for e in project.entities:
            for f in e.fields:
                if isinstance(f.type, RELATIONS):
                    self.inbound.setdefault(f.type.target, []).append((e, f))
        #: Each entity's place in the model: sorting by it gives declaration order.
        self.position = {e.name: i for i, e in enumerate(project.entities)}
        #: (target, lists only) -> the relations reaching it, grouped by source in model order.
        self.reaching: dict[tuple[str, bool], list[tuple[str, tuple[str, ...]]]] = {}

    def _index(self, entity: ir.Entity, field: str, dependency: str) -> None:
        owner, _, name = dependency.partition(".")
        reader = (entity.name, field)
        self.reads_field.setdefault((owner, name), []).append(reader)
        if owner != entity.name:
            self.reads_rows.setdefault(owner, []).append(reader)
            return
        read = entity.field(name)
        if read is not None and isinstance(read.type, RELATIONS):
            self.reads_relation.setdefault(read.type.target, []).append(reader)

    def targets(self, entity: ir.Entity, change: str) -> tuple[Target, ...]:
        changed: dict[str, set[str]] = {}  # entity -> changed fields (ROWS: any, or rows)
        whole: set[str] = set()  # entities whose every query is affected
        self._write(entity, change, changed, whole, seen=set())
        self._computed(changed, whole)
        found = [
            Target(entity.name, op="list")
            if change == "create" and entity.name not in whole
            else Target(entity.name)
        ]
        found += [Target(name) for name in self._ordered(whole - {entity.name})]
        for target in self._ordered(set(changed)):
            # A new row is in no ref yet: only in one-to-many lists and many-to-many it sets.
            new = target == entity.name and change == "create" and target not in whole
            for source, via in self._via(target, whole | {entity.name}, lists_only=new):
                found.append(Target(source, via=via))
        return _merge(found)

    def _write(
        self,
        entity: ir.Entity,
        change: str,
        changed: dict[str, set[str]],
        whole: set[str],
        seen: set[tuple[str, str]],
    ) -> None:
        if (entity.name, change) in seen:
            return
        seen.add((entity.name, change))
        changed.setdefault(entity.name, set()).add(ROWS)
        if change != "create":
            whole.add(entity.name)
        if change != "delete":
            return
        for source, field in self.inbound.get(entity.name, []):
            t = field.type
            if isinstance(t, ir.RefType) and t.on_delete != "restrict":
                follow = "delete" if t.on_delete == "cascade" else "update"
                self._write(source, follow, changed, whole, seen)

    def _computed(self, changed: dict[str, set[str]], whole: set[str]) -> None:
        """Add the computed fields that read something changed, and what reads those."""
        queue = [(owner, name) for owner, names in changed.items() for name in names]
        while queue:
            owner, name = queue.pop()
            if name == ROWS:
                readers = self.reads_rows.get(owner, []) + self.reads_relation.get(owner, [])
            else:
                readers = self.reads_field.get((owner, name), [])
            for entity, field in readers:
                fields = changed.setdefault(entity, set())
                if field not in fields:
                    fields.add(field)
                    whole.add(entity)
                    queue.append((entity, field))

    def _via(
        self, target: str, skip: set[str], lists_only: bool
    ) -> list[tuple[str, tuple[str, ...]]]:
        """(entity, relation fields) of queries that reach `target`'s rows, but for `skip`."""
        reaching = self.reaching.get((target, lists_only))
        if reaching is None:
            by_source: dict[str, list[str]] = {}
            for source, field in self.inbound.get(target, []):
                if lists_only and not self._lists_new_rows(target, field):
                    continue
                by_source.setdefault(source.name, []).append(field.name)
            reaching = [(name, tuple(by_source[name])) for name in self._ordered(set(by_source))]
            self.reaching[(target, lists_only)] = reaching
        return [(name, fields) for name, fields in reaching if name not in skip]

    def _lists_new_rows(self, target: str, field: ir.FieldNode) -> bool:
        """Whether a new row of `target` may already be in `field`: a one-to-many (the row
        points at its parent), or a many-to-many whose join table `target`'s create sets
        (its own many-to-many sharing the table: `Invoice.tags` and `Tag.invoices`)."""
        t = field.type
        if isinstance(t, ir.OneToManyType):
            return True
        if not isinstance(t, ir.ManyToManyType) or t.through:
            return False
        created = self.project.entity(target)
        return created is not None and any(
            isinstance(f.type, ir.ManyToManyType)
            and not f.type.through
            and f.type.join_table == t.join_table
            for f in created.fields
        )

    def _ordered(self, names: set[str]) -> list[str]:
        """`names` that are entities, in the model's order."""
        position = self.position
        return sorted((n for n in names if n in position), key=position.__getitem__)


def _merge(targets: list[Target]) -> tuple[Target, ...]:
    """In first-seen order: all of an entity's queries replace some of them; `via` unioned."""
    everything = {t.entity for t in targets if t.op is None and not t.via}
    merged: dict[tuple[str, str], Target] = {}
    for target in targets:
        if target.entity in everything and (target.op or target.via):
            continue
        kind = "via" if target.via else target.op or "all"
        earlier = merged.get((target.entity, kind))
        if earlier is not None and target.via:
            extra = tuple(f for f in target.via if f not in earlier.via)
            target = Target(target.entity, via=earlier.via + extra)
        merged[(target.entity, kind)] = target
    return tuple(merged.values())
