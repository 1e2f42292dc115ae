"""Write a synthetic Reframe project of N entities, for benchmarks and tests.

The model is meant to look like a real one to the compiler: every entity has
about ten fields of mixed types, most are tenant-scoped with role policies,
many refer to earlier entities (optionally or required), some parents list
their children through a one-to-many with aggregates over them, and about a
third carry a state machine with actions. Output is deterministic per seed.

    python -m bench.synthetic DIR --entities 500 [--seed 0]
"""

from __future__ import annotations

import argparse
import random
from dataclasses import dataclass, field
from pathlib import Path

ENTITIES_PER_FILE = 20
#: At most this many one-to-many inverses per parent, so field counts stay near ten.
MAX_INVERSES = 2
ROLES = ("admin", "member", "billing")
NOUNS = (
    "Account",
    "Asset",
    "Booking",
    "Contract",
    "Customer",
    "Delivery",
    "Invoice",
    "Order",
    "Payment",
    "Project",
    "Quote",
    "Shipment",
    "Supplier",
    "Task",
    "Ticket",
    "Vendor",
)
PRIORITIES = (
    ("low", "normal", "high"),
    ("minor", "major", "critical"),
    ("bronze", "silver", "gold"),
)
DSL_NAMES = (
    "F",
    "action",
    "allow",
    "array",
    "authenticated",
    "boolean",
    "count_",
    "date",
    "datetime",
    "decimal",
    "email",
    "entity",
    "enum",
    "index",
    "integer",
    "money",
    "owner",
    "ref",
    "role",
    "slug",
    "state",
    "sum_",
    "tenant_member",
    "text",
)


@dataclass
class EntityPlan:
    """What one synthetic entity holds; rendered to source by `_render_entity`."""

    index: int
    name: str
    tenant: bool
    max_length: int
    priorities: tuple[str, ...]
    has_code: bool
    has_rate: bool
    has_due_date: bool
    has_timestamp: bool
    has_contact: bool
    has_assignee: bool
    has_state: bool
    has_index: bool
    has_count: bool
    parent: str | None = None
    required_ref: str | None = None
    #: Children (later entities) holding exactly one ref back to this one.
    inverses: list[str] = field(default_factory=list)


def plan_entities(count: int, seed: int = 0) -> list[EntityPlan]:
    """Decide every entity's shape; refs only point back, so there are no cycles."""
    rng = random.Random(seed)
    plans: list[EntityPlan] = []
    for i in range(count):
        plan = EntityPlan(
            index=i,
            name=f"{rng.choice(NOUNS)}{i:04d}",
            tenant=rng.random() < 0.9,
            max_length=rng.choice((80, 120, 200)),
            priorities=rng.choice(PRIORITIES),
            has_code=rng.random() < 0.3,
            has_rate=rng.random() < 0.6,
            has_due_date=rng.random() < 0.6,
            has_timestamp=rng.random() < 0.6,
            has_contact=rng.random() < 0.2,
            has_assignee=rng.random() < 0.3,
            has_state=rng.random() < 0.35,
            has_index=rng.random() < 0.3,
            has_count=rng.random() < 0.5,
        )
        _plan_refs(plan, plans, rng)
        plans.append(plan)
    return plans


def _plan_refs(plan: EntityPlan, earlier: list[EntityPlan], rng: random.Random) -> None:
    """Pick an optional and maybe a required ref to two different earlier entities."""
    parent = rng.choice(earlier) if earlier and rng.random() < 0.7 else None
    others = [e for e in earlier if e is not parent]
    required = rng.choice(others) if others and rng.random() < 0.4 else None
    plan.parent = parent.name if parent else None
    plan.required_ref = required.name if required else None
    # Each target gets exactly one ref from this entity, so its inverse is unambiguous.
    for target in (parent, required):
        if target is not None and len(target.inverses) < MAX_INVERSES:
            target.inverses.append(plan.name)


# Rendering --------------------------------------------------------------------------


def _quoted(values: tuple[str, ...]) -> str:
    return "[" + ", ".join(f'"{v}"' for v in values) + "]"


def _fields(plan: EntityPlan) -> list[str]:
    """Field lines in declaration order."""
    lines = [f'"title": text().required().max_length({plan.max_length}),']
    if plan.has_code:
        lines.append('"code": slug().unique(),')
    lines += [
        '"quantity": integer().min(0).default(1),',
        '"unit_price": money().required().min(0),',
    ]
    if plan.has_rate:
        lines.append('"discount_rate": decimal(5, 2).min(0).max(100),')
    lines.append('"is_active": boolean().required().default(True),')
    if plan.has_due_date:
        lines.append('"due_on": date(),')
    if plan.has_timestamp:
        lines.append('"occurred_at": datetime(),')
    default = plan.priorities[1]
    lines.append(f'"priority": enum({_quoted(plan.priorities)}).default("{default}"),')
    if plan.has_contact:
        lines.append('"contact": email().max_length(254),')
    lines.append('"total": money().computed(F("quantity") * F("unit_price")),')
    lines += _relation_fields(plan)
    if plan.has_state:
        lines.append(
            '"status": state(["draft", "active", "archived"], initial="draft", transitions={'
            '"activate": ("draft", "active"), "archive": (["draft", "active"], "archived")}),'
        )
    return lines


def _relation_fields(plan: EntityPlan) -> list[str]:
    """Refs to earlier entities and to User, then one-to-many lists of later ones."""
    lines = []
    if plan.parent:
        lines.append(f'"parent": ref("{plan.parent}").on_delete("set_null"),')
    if plan.required_ref:
        target = plan.required_ref.lower()
        lines.append(f'"{target}": ref("{plan.required_ref}").required().on_delete("cascade"),')
    if plan.has_assignee:
        lines.append('"assignee": ref("User").on_delete("set_null"),')
    for position, child in enumerate(plan.inverses):
        items = f"{child.lower()}_items"
        lines.append(f'"{items}": array(ref("{child}")),')
        if position == 0:  # aggregates over the first list only, like an invoice's lines
            lines.append(f'"{items}_total": money().computed(sum_("{items}.total")),')
            if plan.has_count:
                lines.append(f'"{items}_count": integer().computed(count_("{items}")),')
    return lines


def _policies(plan: EntityPlan) -> str:
    editor = 'owner("assignee") | role("admin")' if plan.has_assignee else 'owner() | role("admin")'
    if plan.tenant:
        rules = [
            "read=tenant_member()",
            'create=role("admin") | role("member")',
            f"update={editor}",
            'delete=role("admin")',
        ]
    else:
        rules = [
            "read=authenticated()",
            'create=role("admin")',
            f"update={editor}",
            'delete=role("admin")',
        ]
    if plan.has_state:
        rules += ['activate=role("admin") | role("billing")', 'archive=owner() | role("admin")']
    return f"allow({', '.join(rules)})"


def _render_entity(plan: EntityPlan, total: int) -> str:
    body = [
        f'    "{plan.name}",',
        f'    doc="Synthetic entity {plan.index + 1} of {total}.",',
    ]
    if plan.tenant:
        body.append("    tenant=True,")
    body.append("    fields={")
    body += [f"        {line}" for line in _fields(plan)]
    body.append("    },")
    if plan.has_state:
        body.append(
            '    actions={"activate": action(), "archive": action().guard(F("quantity") > 0)},'
        )
    body.append(f"    policies={_policies(plan)},")
    if plan.has_index:
        body.append('    indexes=[index("is_active", "priority")],')
    return "entity(\n" + "\n".join(body) + "\n)\n"


def render_file(plans: list[EntityPlan], total: int) -> str:
    """One model file declaring `plans`."""
    header = (
        '"""Synthetic entities (generated by bench.synthetic; do not edit)."""\n\n'
        f"from compiler.dsl import {', '.join(DSL_NAMES)}\n"
    )
    return header + "".join(f"\n\n{_render_entity(p, total)}" for p in plans)


def render_config() -> str:
    roles = ", ".join(f'"{r}"' for r in ROLES)
    return f'[app]\nname = "synthetic"\nroles = [{roles}]\ntenancy = "org"\n'


def write_synthetic_project(root: Path, entities: int, seed: int = 0) -> Path:
    """Write gen.toml and domain/part_NNN.model.py files for `entities` entities."""
    if entities < 1:
        raise ValueError(f"entities must be at least 1, got {entities}")
    domain = root / "domain"
    domain.mkdir(parents=True, exist_ok=True)
    # Files of an earlier, larger run would add entities (or refer to missing ones).
    for stale in domain.glob("part_*.model.py"):
        stale.unlink()
    (root / "gen.toml").write_text(render_config(), encoding="utf-8")
    plans = plan_entities(entities, seed)
    for start in range(0, entities, ENTITIES_PER_FILE):
        chunk = plans[start : start + ENTITIES_PER_FILE]
        path = domain / f"part_{start // ENTITIES_PER_FILE:03d}.model.py"
        path.write_text(render_file(chunk, entities), encoding="utf-8")
    return root


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dir", type=Path, help="project folder to write (created if missing)")
    parser.add_argument("--entities", type=int, default=50, help="how many entities (default 50)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    root = write_synthetic_project(args.dir, args.entities, args.seed)
    files = len(list((root / "domain").glob("part_*.model.py")))
    print(f"wrote {args.entities} entities in {files} files to {root}")


if __name__ == "__main__":
    main()
