"""The resolution and lowering passes, in the order they run.

Each pass is a small named function `(Project, PassContext) -> Project`.
Passes report problems into the context and keep going, so that one run
reports every error; the IR is only handed on when there were none.
"""

from __future__ import annotations

from compiler.passes.context import Pass
from compiler.passes.expressions import typecheck_expressions
from compiler.passes.implicit import add_implicit_fields, add_tenancy_columns
from compiler.passes.indexes import lower_indexes
from compiler.passes.lower import lower_entities
from compiler.passes.policies import isolate_tenants, normalise_policies
from compiler.passes.relations import build_join_tables, resolve_inverses, resolve_refs
from compiler.passes.states import check_state_machines, lower_actions
from compiler.passes.views import lower_views

PASSES: tuple[Pass, ...] = (
    lower_entities,
    add_implicit_fields,
    add_tenancy_columns,
    resolve_refs,
    resolve_inverses,
    build_join_tables,
    check_state_machines,
    lower_actions,
    typecheck_expressions,
    normalise_policies,
    isolate_tenants,
    lower_views,
    lower_indexes,
)

__all__ = ["PASSES"]
