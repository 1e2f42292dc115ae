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

The map reads each entity's `Links` only (`links_of`): its relations and what
its computed fields depend on. The client generator keeps it while those are
equal, so a save that added a text field does not make it again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

from compiler import ir

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


class Relation(NamedTuple):
    """A relation field, as the map reads it."""

    field: str
    target: str
    kind: str
    #: Of a ref: what deleting its target does.
    on_delete: str | None = None
    #: Of a many-to-many without `through`: the join table its writes set.
    join_table: str | None = None


class Links(NamedTuple):
    """What the map reads of one entity: its relations and what its computed fields read."""

    entity: str
    relations: tuple[Relation, ...]
    #: (computed field, what it depends on: "Entity.field").
    computed: tuple[tuple[str, tuple[str, ...]], ...]


def links_of(entity: ir.Entity) -> Links:
    """What the map reads of `entity`."""
    relations, computed = [], []
    for f in entity.fields:
        t = f.type
        if isinstance(t, ir.RefType):
            relations.append(Relation(f.name, t.target, t.kind, on_delete=t.on_delete))
        elif isinstance(t, ir.OneToManyType):
            relations.append(Relation(f.name, t.target, t.kind))
        elif isinstance(t, ir.ManyToManyType):
            table = None if t.through else t.join_table
            relations.append(Relation(f.name, t.target, t.kind, join_table=table))
        if f.computed is not None and f.computed.depends_on:
            computed.append((f.name, f.computed.depends_on))
    return Links(entity.name, tuple(relations), tuple(computed))


def invalidation_map(project: ir.Project) -> dict[str, dict[str, tuple[Target, ...]]]:
    """For each entity and change, the queries it can affect, in a stable order."""
    return map_of_links(tuple(links_of(e) for e in project.entities))


def map_of_links(links: tuple[Links, ...]) -> dict[str, dict[str, tuple[Target, ...]]]:
    """`invalidation_map` of the entities' links, in the model's order."""
    graph = _Graph(links)
    return {
        e.entity: {change: graph.targets(e.entity, change) for change in CHANGES} for e in links
    }


class _Graph:
    def __init__(self, links: tuple[Links, ...]) -> None:
        self.links = {e.entity: e for e in links}
        #: Computed fields, (entity, field), by what they read: a field ("Invoice.subtotal"),
        #: any field of another entity ("InvoiceLine.total" reads InvoiceLine's rows), or the
        #: rows of a relation's target ("Customer.invoices": Invoice rows).
        self.reads_field: dict[tuple[str, str], list[tuple[str, str]]] = {}
        self.reads_rows: dict[str, list[tuple[str, str]]] = {}
        self.reads_relation: dict[str, list[tuple[str, str]]] = {}
        for e in links:
            for field, depends_on in e.computed:
                for dependency in depends_on:
                    self._index(e, field, dependency)
        #: Relation fields pointing at each entity: target -> [(entity, field)].
        self.inbound: dict[str, list[tuple[str, Relation]]] = {}
        for e in links:
            for relation in e.relations:
                self.inbound.setdefault(relation.target, []).append((e.entity, relation))
        #: Each entity's place in the model: sorting by it gives declaration order.
        self.position = {e.entity: i for i, e in enumerate(links)}
        #: (target, lists only) -> the relations reaching it, grouped by source in model order.
        self.reaching: dict[tuple[str, bool], list[tuple[str, tuple[str, ...]]]] = {}

    def _index(self, entity: Links, field: str, dependency: str) -> None:
        owner, _, name = dependency.partition(".")
        reader = (entity.entity, field)
        self.reads_field.setdefault((owner, name), []).append(reader)
        if owner != entity.entity:
            self.reads_rows.setdefault(owner, []).append(reader)
            return
        read = next((r for r in entity.relations if r.field == name), None)
        if read is not None:
            self.reads_relation.setdefault(read.target, []).append(reader)

    def targets(self, entity: str, change: str) -> tuple[Target, ...]:
        changed: dict[str, set[str]] = {}  # entity -> changed fields (ROWS: any, or rows)
        whole: set[str] = set()  # entities whose every query is affected
        self._write(entity, change, changed, whole, seen=set())
        self._computed(changed, whole)
        found = [
            Target(entity, op="list")
            if change == "create" and entity not in whole
            else Target(entity)
        ]
        found += [Target(name) for name in self._ordered(whole - {entity})]
        for target in self._ordered(set(changed)):
            # A new row is in no ref yet: only in one-to-many lists and many-to-many it sets.
            new = target == entity and change == "create" and target not in whole
            for source, via in self._via(target, whole | {entity}, lists_only=new):
                found.append(Target(source, via=via))
        return _merge(found)

    def _write(
        self,
        entity: str,
        change: str,
        changed: dict[str, set[str]],
        whole: set[str],
        seen: set[tuple[str, str]],
    ) -> None:
        if (entity, change) in seen:
            return
        seen.add((entity, change))
        changed.setdefault(entity, set()).add(ROWS)
        if change != "create":
            whole.add(entity)
        if change != "delete":
            return
        for source, relation in self.inbound.get(entity, []):
            if relation.kind == "ref" and relation.on_delete != "restrict":
                follow = "delete" if relation.on_delete == "cascade" else "update"
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
            for source, relation in self.inbound.get(target, []):
                if lists_only and not self._lists_new_rows(target, relation):
                    continue
                by_source.setdefault(source, []).append(relation.field)
            reaching = [(name, tuple(by_source[name])) for name in self._ordered(set(by_source))]
            self.reaching[(target, lists_only)] = reaching
        return [(name, fields) for name, fields in reaching if name not in skip]

    def _lists_new_rows(self, target: str, relation: Relation) -> bool:
        """Whether a new row of `target` may already be in `relation`: a one-to-many (the row
        points at its parent), or a many-to-many whose join table `target`'s create sets
        (its own many-to-many sharing the table: `Invoice.tags` and `Tag.invoices`)."""
        if relation.kind == "one_to_many":
            return True
        if relation.join_table is None:  # a ref, or a many-to-many `through` an entity
            return False
        created = self.links.get(target)
        return created is not None and any(
            r.join_table == relation.join_table for r in created.relations
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
