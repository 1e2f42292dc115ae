"""Bad models: every mistake stops the compile with an actionable, located message.

The contract for a model that cannot compile: the message names the file and
line of the offending declaration, says what is wrong and how to fix it, all
errors of a run are reported together, and nothing at all is written.

Each case below is a small project. Model texts mark the offending line with a
`# <-` comment (or `# <-name` when a case expects several diagnostics); the
expected line number is computed from the marker, never hardcoded.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

from compiler.compile import compile_project
from compiler.diagnostics import CompileError, Diagnostic
from generators.pipeline import generate

MODEL = "domain/shop.model.py"
OTHER = "domain/zz_more.model.py"
POLICY = "policies/shop.policy.py"
TOML = "gen.toml"
THEME = "ui/theme.py"

DEFAULT_TOML = """\
[app]
name = "shop"
roles = ["admin", "billing", "member"]
tenancy = "org"
"""

#: A model that compiles; cases that break gen.toml or add files start from it.
GOOD_MODEL = """\
from compiler.dsl import *

Customer = entity(
    "Customer",
    tenant=True,
    fields={"name": text().required().max_length(80)},
    policies=allow(read=tenant_member()),
)
"""


def model(body: str) -> str:
    """A model file: the star import, then the (dedented) body."""
    return "from compiler.dsl import *\n\n" + textwrap.dedent(body).lstrip("\n")


@dataclass(frozen=True)
class Expect:
    """One expected diagnostic; the line is the one marked `# <-{mark}` in `file`."""

    code: str
    message: str
    hint: str
    mark: str = ""
    file: str = MODEL
    #: An explicit line, for files that cannot carry a marker (a missing gen.toml).
    line: int | None = None


@dataclass(frozen=True)
class Case:
    id: str
    #: Project files by relative path; a None value means "this file is absent".
    files: Mapping[str, str | None]
    expect: tuple[Expect, ...]
    #: Set (with a reason) when further diagnostics besides `expect` are accepted.
    extra_allowed: str = ""

    def project_files(self) -> dict[str, str]:
        files: dict[str, str | None] = {TOML: DEFAULT_TOML, **self.files}
        return {path: text for path, text in files.items() if text is not None}


def case(
    id: str,
    text: str | None,
    *expect: Expect,
    files: Mapping[str, str | None] | None = None,
    extra_allowed: str = "",
) -> Case:
    """A case whose main model file is `text` (None: no main model file)."""
    all_files: dict[str, str | None] = {MODEL: text} if text is not None else {}
    all_files.update(files or {})
    return Case(id, all_files, tuple(expect), extra_allowed)


def marked_line(text: str, mark: str) -> int:
    """The 1-based number of the only line ending in the marker `# <-{mark}`."""
    pattern = re.compile(rf"#\s*<-{re.escape(mark)}\s*$")
    found = [n for n, line in enumerate(text.splitlines(), start=1) if pattern.search(line)]
    assert len(found) == 1, f"marker '# <-{mark}' must occur exactly once, found on {found}"
    return found[0]


def expected_line(c: Case, e: Expect) -> int:
    if e.line is not None:
        return e.line
    text = c.project_files()[e.file]
    return marked_line(text, e.mark)


def write_project(root: Path, c: Case) -> Path:
    for rel, text in c.project_files().items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return root


def diagnostics_of(root: Path) -> tuple[Diagnostic, ...]:
    with pytest.raises(CompileError) as caught:
        compile_project(root)
    return caught.value.diagnostics


# The table ------------------------------------------------------------------------

DUPLICATE_FIRST = model(
    """
    Customer = entity("Customer", fields={"name": text()})  # <-first
    """
)
DUPLICATE_SECOND = model(
    """
    Tag = entity("Tag", fields={"name": text()})
    Customer = entity("Customer", fields={"email": email()})  # <-
    """
)

CASES: list[Case] = [
    # -- loading: Python itself ------------------------------------------------------
    case(
        "python-syntax-error",
        model(
            """
            Customer = entity(
                "Customer",
                fields={
                    "name": text().required()  # <-
                    "email": email(),
                },
            )
            """
        ),
        Expect("python-syntax", "Perhaps you forgot a comma?", "fix the syntax on that line"),
    ),
    case(
        "name-error-unimported-builder",
        model(
            """
            Customer = entity(
                "Customer",
                fields={
                    "name": text().required(),
                    "joined": dat(),  # <-
                },
            )
            """
        ),
        Expect("python-error", "NameError", "import the name from compiler.dsl"),
    ),
    case(
        "dsl-usage-enum-of-a-string",
        model(
            """
            Ticket = entity(
                "Ticket",
                fields={
                    "priority": enum("low"),  # <-
                },
            )
            """
        ),
        Expect("dsl-usage", "enum() takes a list of values", "enum(['low', 'high'])"),
    ),
    case(
        "dsl-usage-when-with-a-list",
        model(
            """
            Ticket = entity(
                "Ticket",
                fields={
                    "hours": integer(),
                    "sizes": text().computed(
                        when(F("hours") > 8, ["big"], "small")  # <-
                    ),
                },
            )
            """
        ),
        Expect("dsl-usage", "cannot be used in a model expression", "F('field')"),
    ),
    case(
        "dsl-usage-truthiness-of-an-expression",
        model(
            """
            LIMIT = F("hours") > 8
            if LIMIT:  # <-
                pass
            Ticket = entity("Ticket", fields={"hours": integer()})
            """
        ),
        Expect("dsl-usage", "no truth value", "& | ~"),
    ),
    case(
        "dsl-usage-python-and-on-policies",
        model(
            """
            Ticket = entity(
                "Ticket",
                fields={"hours": integer()},
                policies=allow(read=role("admin") and role("member")),  # <-
            )
            """
        ),
        Expect("dsl-usage", "a policy has no truth value", "instead of and / or / not"),
    ),
    # -- entities ----------------------------------------------------------------------
    case(
        "entity-not-pascal-case",
        model(
            """
            invoice = entity(  # <-
                "invoice_header",
                fields={"number": text().required()},
            )
            """
        ),
        Expect("entity-name", "'invoice_header' is not PascalCase", '"InvoiceLine"'),
    ),
    case(
        "entity-declared-in-two-files",
        DUPLICATE_FIRST,
        Expect(
            "entity-duplicate",
            f"'Customer' is declared twice: at {MODEL}:{marked_line(DUPLICATE_FIRST, 'first')} "
            f"and at {OTHER}:{marked_line(DUPLICATE_SECOND, '')}",
            "rename one of them",
            file=OTHER,
        ),
        files={OTHER: DUPLICATE_SECOND},
    ),
    case(
        "entity-redeclares-builtin-user",
        model(
            """
            User = entity("User", fields={"nickname": text()})  # <-
            """
        ),
        Expect("entity-builtin", "'User' is built in", 'ref("User")'),
    ),
    case(
        "entity-table-clash",
        model(
            """
            HttpLog = entity("HttpLog", fields={"path": text()})
            HTTPLog = entity("HTTPLog", fields={"status": integer()})  # <-
            """
        ),
        Expect("entity-table-clash", "would both use the table 'http_log'", "rename one"),
    ),
    case(
        "tenant-entity-with-tenancy-off",
        model(
            """
            Customer = entity(  # <-
                "Customer",
                tenant=True,
                fields={"name": text()},
            )
            """
        ),
        Expect("tenancy-off", "tenant=True but gen.toml turns tenancy off", 'tenancy = "org"'),
        files={TOML: '[app]\nname = "shop"\nroles = ["admin", "member"]\n'},
    ),
    # -- fields --------------------------------------------------------------------------
    case(
        "field-name-not-snake-case",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "DueDate": date(),  # <-
                },
            )
            """
        ),
        Expect("field-name", "'DueDate' of Invoice is not snake_case", '"due_date"'),
    ),
    case(
        "field-name-reserved-word",
        model(
            """
            Course = entity(
                "Course",
                fields={
                    "class": text(),  # <-
                },
            )
            """
        ),
        Expect("field-reserved", "'class' is a reserved word", '"class_value"'),
    ),
    case(
        "decimal-bad-precision",
        model(
            """
            Rate = entity(
                "Rate",
                fields={
                    "value": decimal(4, 6),  # <-
                },
            )
            """
        ),
        Expect("decimal-precision", "decimal(4, 6) is not a valid precision", "decimal(10, 2)"),
    ),
    case(
        "money-bad-currency",
        model(
            """
            Price = entity(
                "Price",
                fields={
                    "amount": money("euro"),  # <-
                },
            )
            """
        ),
        Expect("money-currency", "'euro' is not an ISO 4217 code", 'money(currency="EUR")'),
    ),
    case(
        "enum-empty",
        model(
            """
            Ticket = entity(
                "Ticket",
                fields={
                    "priority": enum([]),  # <-
                },
            )
            """
        ),
        Expect("enum-values", "the enum has no values", "list distinct lowercase names"),
    ),
    case(
        "enum-duplicate-values",
        model(
            """
            Ticket = entity(
                "Ticket",
                fields={
                    "priority": enum(["low", "high", "low"]),  # <-
                },
            )
            """
        ),
        Expect("enum-values", "repeated values ['low']", "list distinct lowercase names"),
    ),
    case(
        "text-with-min",
        model(
            """
            Customer = entity(
                "Customer",
                fields={
                    "name": text().min(3),  # <-
                },
            )
            """
        ),
        Expect("modifier-type", ".min() does not apply to a text field", ".min_length()"),
    ),
    case(
        "integer-with-max-length",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "quantity": integer().max_length(3),  # <-
                },
            )
            """
        ),
        Expect(
            "modifier-type",
            ".max_length() does not apply to an integer field",
            "numbers take .min() / .max()",
        ),
    ),
    case(
        "min-greater-than-max",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "quantity": integer().min(10).max(1),  # <-
                },
            )
            """
        ),
        Expect("modifier-range", ".min(10) is greater than .max(1)", "swap them"),
    ),
    case(
        "pattern-invalid-regex",
        model(
            """
            Product = entity(
                "Product",
                fields={
                    "sku": text().pattern(r"[A-Z{3}-(\\d+"),  # <-
                },
            )
            """
        ),
        Expect("pattern-invalid", "is not a valid regular expression", "raw string"),
    ),
    case(
        "unique-on-one-to-many",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "lines": array(ref("Line")).unique(),  # <-
                },
            )
            Line = entity("Line", fields={"invoice": ref("Invoice").required()})
            """
        ),
        Expect("modifier-unstored", ".unique() needs a column", "are not stored"),
    ),
    case(
        "set-null-on-required-ref",
        model(
            """
            Customer = entity("Customer", fields={"name": text()})
            Invoice = entity(
                "Invoice",
                fields={
                    "customer": ref("Customer").required().on_delete("set_null"),  # <-
                },
            )
            """
        ),
        Expect("on-delete-required", "on_delete('set_null') could never succeed", "cascade"),
    ),
    case(
        "default-of-the-wrong-type",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "quantity": integer().default("one"),  # <-
                },
            )
            """
        ),
        Expect("default-type", "default 'one' is not a whole number", "of the field's type"),
    ),
    case(
        "default-not-in-enum",
        model(
            """
            Ticket = entity(
                "Ticket",
                fields={
                    "priority": enum(["low", "high"]).default("urgent"),  # <-
                },
            )
            """
        ),
        Expect("default-type", "'urgent' is not one of ['low', 'high']", "of the field's type"),
    ),
    # -- relations ----------------------------------------------------------------------
    case(
        "ref-unknown-entity",
        model(
            """
            Customer = entity("Customer", fields={"name": text()})
            Invoice = entity(
                "Invoice",
                fields={
                    "customer": ref("Custmer"),  # <-
                },
            )
            """
        ),
        Expect("unknown-entity", "unknown entity 'Custmer'", 'did you mean "Customer"?'),
    ),
    case(
        "one-to-many-without-inverse",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "lines": array(ref("Line")),  # <-
                },
            )
            Line = entity("Line", fields={"amount": money()})
            """
        ),
        Expect("inverse-missing", "Line has no ref back to Invoice", '"invoice": ref("Invoice")'),
    ),
    case(
        "one-to-many-ambiguous-inverse",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "lines": array(ref("Line")),  # <-
                },
            )
            Line = entity(
                "Line",
                fields={"invoice": ref("Invoice"), "credited_by": ref("Invoice")},
            )
            """
        ),
        Expect("inverse-ambiguous", "Line has 2 refs to Invoice", 'via="invoice"'),
    ),
    case(
        "one-to-many-via-wrong-field",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "lines": array(ref("Line"), via="invoce"),  # <-
                },
            )
            Line = entity("Line", fields={"invoice": ref("Invoice").required()})
            """
        ),
        Expect("inverse-via", "via='invoce' is not a ref from Line to Invoice", '"invoice"'),
    ),
    # -- state machines and actions --------------------------------------------------------
    case(
        "state-initial-not-a-state",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "status": state(  # <-
                        ["draft", "sent"],
                        initial="new",
                        transitions={"send": ("draft", "sent")},
                    ),
                },
                actions={"send": action()},
            )
            """
        ),
        Expect("state-initial", "initial state 'new' is not one of", "initial='draft'"),
    ),
    case(
        "transition-unknown-state",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "status": state(  # <-
                        ["draft", "sent"],
                        initial="draft",
                        transitions={"send": ("draft", "snet")},
                    ),
                },
                actions={"send": action()},
            )
            """
        ),
        Expect(
            "transition-state",
            "transition 'send' names 'snet', which is not a state",
            "add the missing state",
        ),
    ),
    case(
        "transition-without-action",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "status": state(  # <-
                        ["draft", "sent", "paid"],
                        initial="draft",
                        transitions={"send": ("draft", "sent"), "pay": ("sent", "paid")},
                    ),
                },
                actions={"send": action()},
            )
            """
        ),
        Expect("transition-without-action", "transition 'pay' has no action", '"pay": action()'),
    ),
    case(
        "action-not-a-transition",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "status": state(
                        ["draft", "sent"],
                        initial="draft",
                        transitions={"send": ("draft", "sent")},
                    ),
                },
                actions={
                    "send": action(),
                    "remind": action(),  # <-
                },
            )
            """
        ),
        Expect(
            "action-not-a-transition", "Invoice.remind is not a transition", "action(custom=True)"
        ),
    ),
    case(
        "custom-action-that-is-a-transition",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "status": state(
                        ["draft", "sent"],
                        initial="draft",
                        transitions={"send": ("draft", "sent")},
                    ),
                },
                actions={
                    "send": action(custom=True),  # <-
                },
            )
            """
        ),
        Expect(
            "action-custom-transition", "custom=True but is also a transition", "drop custom=True"
        ),
    ),
    case(
        "action-bad-effect-path",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                actions={
                    "remind": action(custom=True).effect("send_email"),  # <-
                },
            )
            """
        ),
        Expect(
            "action-effect",
            "'send_email' is not a 'module:function' path",
            "invoices.effects:send_email",
        ),
    ),
    case(
        "state-with-default",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "status": state(
                        ["draft", "sent"],
                        initial="draft",
                        transitions={"send": ("draft", "sent")},
                    ).default("sent"),  # <-
                },
                actions={"send": action()},
            )
            """
        ),
        Expect("state-default", "takes no .default()", "set initial= in state"),
    ),
    # -- expressions ----------------------------------------------------------------------
    case(
        "computed-type-mismatch",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "price": money().required(),
                    "quantity": integer().required(),
                    "total": integer().computed(F("price") * F("quantity")),  # <-
                },
            )
            """
        ),
        Expect(
            "computed-type-mismatch",
            "gives money (USD), but the field is declared integer",
            "money()",
        ),
    ),
    case(
        "compare-text-to-number",
        model(
            """
            Customer = entity(
                "Customer",
                fields={
                    "name": text(),
                    "is_long": boolean().computed(F("name") > 3),  # <-
                },
            )
            """
        ),
        Expect("expr-compare-types", "comparing text to a number", "quote the value"),
    ),
    case(
        "compare-enum-with-unknown-value",
        model(
            """
            Ticket = entity(
                "Ticket",
                fields={
                    "priority": enum(["low", "high"]),
                    "is_urgent": boolean().computed(F("priority") == "urgent"),  # <-
                },
            )
            """
        ),
        Expect(
            "expr-compare-types",
            "'urgent' is not one of its values (low, high)",
            "use one of: low, high",
        ),
    ),
    case(
        "field-through-one-to-many-without-aggregate",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "lines": array(ref("Line")),
                    "total": money().computed(F("lines.amount")),  # <-
                },
            )
            Line = entity(
                "Line",
                fields={"invoice": ref("Invoice").required(), "amount": money()},
            )
            """
        ),
        Expect("expr-path-many", "goes through Invoice.lines, a list of rows", 'count_("lines")'),
    ),
    case(
        "aggregate-not-through-to-many",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "amount": money(),
                    "total": money().computed(sum_("amount")),  # <-
                },
            )
            """
        ),
        Expect("expr-aggregate-path", "does not go through a one-to-many", 'sum_("lines.total")'),
    ),
    case(
        "computed-cycle",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "net": money().computed(F("gross") - F("tax")),  # <-
                    "tax": money().required(),
                    "gross": money().computed(F("net") + F("tax")),
                },
            )
            """
        ),
        Expect("computed-cycle", "depends on itself", "must be stored, not computed"),
    ),
    case(
        "guard-not-boolean",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text(), "total": money()},
                actions={
                    "remind": action(custom=True).guard(F("total")),  # <-
                },
            )
            """
        ),
        Expect("guard-not-boolean", "gives money (USD), not a condition", "write a comparison"),
    ),
    # -- policies ----------------------------------------------------------------------------
    case(
        "policy-unknown-role",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                policies=allow(
                    read=role("biling"),  # <-
                ),
            )
            """
        ),
        Expect("policy-unknown-role", 'role("biling") is not a role', 'did you mean "billing"?'),
    ),
    case(
        "policy-unknown-operation",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                policies=allow(
                    read=authenticated(),
                    updte=role("admin"),  # <-
                ),
            )
            """
        ),
        Expect("policy-unknown-operation", "'updte', which is neither", 'did you mean "update"?'),
    ),
    case(
        "policy-duplicate-rule",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                actions={
                    "remind": action(custom=True).allow(role("billing")),  # <-
                },
                policies=allow(remind=role("admin")),
            )
            """
        ),
        Expect("policy-duplicate", "Invoice.remind has two rules", "keep one"),
    ),
    case(
        "policy-owner-not-a-user-ref",
        model(
            """
            Customer = entity("Customer", fields={"name": text()})
            Invoice = entity(
                "Invoice",
                fields={"customer": ref("Customer")},
                policies=allow(
                    read=owner("customer"),  # <-
                ),
            )
            """
        ),
        Expect(
            "policy-owner-field",
            "Invoice.customer is not one",
            'add a field such as "owner": ref("User")',
        ),
    ),
    case(
        "policy-tenant-member-on-non-tenant-entity",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                policies=allow(
                    read=tenant_member(),  # <-
                ),
            )
            """
        ),
        Expect("policy-tenant-member", "Invoice is not tenant=True", "add tenant=True"),
    ),
    case(
        "policy-rel-not-ending-at-user",
        model(
            """
            Customer = entity("Customer", fields={"manager": ref("User")})
            Invoice = entity(
                "Invoice",
                fields={"customer": ref("Customer")},
                policies=allow(
                    read=rel("customer"),  # <-
                ),
            )
            """
        ),
        Expect(
            "policy-rel-user",
            'rel("customer") ends at Customer, not at a User',
            'rel("customer.manager")',
        ),
    ),
    case(
        "policy-file-unknown-entity",
        model(
            """
            Invoice = entity("Invoice", fields={"number": text()})
            """
        ),
        Expect(
            "policy-unknown-entity",
            "policy('Invoce', ...) names no entity",
            '"Invoice"',
            file=POLICY,
        ),
        files={
            POLICY: model(
                """
                policy("Invoce", read=authenticated())  # <-
                """
            )
        },
    ),
    # -- views -----------------------------------------------------------------------------
    case(
        "view-unknown-field",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text(), "total": money()},
                views={
                    "list": view().columns(["number", "totl"]),  # <-
                },
            )
            """
        ),
        Expect("view-unknown-field", "names 'totl', which is not a field", '"total"'),
    ),
    case(
        "form-view-with-computed-field",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "quantity": integer(),
                    "double": integer().computed(F("quantity") * 2),
                },
                views={
                    "form": view().fields(["quantity", "double"]),  # <-
                },
            )
            """
        ),
        Expect(
            "view-field-kind", "'double' cannot be used in .fields() (computed)", "not computed"
        ),
    ),
    case(
        "list-view-filter-on-json",
        model(
            """
            Item = entity(
                "Item",
                fields={"name": text(), "extra": json()},
                views={
                    "list": view().columns(["name"]).filters(["name", "extra"]),  # <-
                },
            )
            """
        ),
        Expect(
            "view-field-kind",
            "'extra' cannot be used in .filters() (a json field)",
            "filter on plain values",
        ),
    ),
    case(
        "list-view-with-layout",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                views={
                    "list": view()
                    .columns(["number"])
                    .layout(tabs(tab("Details", ["number"]))),  # <-
                },
            )
            """
        ),
        Expect("view-setting", ".layout() belongs to a detail view", "a list view takes"),
    ),
    # -- indexes ---------------------------------------------------------------------------
    case(
        "index-unknown-field",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                indexes=[
                    index("numbr"),  # <-
                ],
            )
            """
        ),
        Expect("index-field", "'numbr' is not a field", 'did you mean "number"?'),
    ),
    case(
        "index-unique-gin",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"tags": array(text())},
                indexes=[
                    index("tags", using="gin").unique(),  # <-
                ],
            )
            """
        ),
        Expect("index-unique-method", "a unique index must use btree, not gin", "drop .unique()"),
    ),
    case(
        "index-partial-uses-now",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text(), "due": datetime()},
                indexes=[
                    index("number").where(F("due") > now()),  # <-
                ],
            )
            """
        ),
        Expect("expr-clock", "now() changes over time", "compare against a fixed value"),
    ),
    # -- gen.toml and the project -------------------------------------------------------------
    case(
        "config-missing",
        GOOD_MODEL,
        Expect("config-missing", "no gen.toml in", "gen init", file=TOML, line=0),
        files={TOML: None},
    ),
    case(
        "config-invalid-toml",
        GOOD_MODEL,
        Expect("config-syntax", "gen.toml is not valid TOML", "check quotes", file=TOML),
        files={TOML: '[app]\nname = "shop"\nroles = [admin, "member"]  # <-\n'},
    ),
    case(
        "config-unknown-key",
        GOOD_MODEL,
        Expect(
            "config-invalid",
            "[app.tenantcy] Extra inputs are not permitted",
            'did you mean "tenancy"?',
            file=TOML,
        ),
        files={TOML: '[app]\nname = "shop"\ntenantcy = "org"  # <-\n'},
    ),
    case(
        "config-roles-without-admin",
        GOOD_MODEL,
        Expect("config-invalid", "must include 'admin'", 'roles = ["admin", "member"]', file=TOML),
        files={TOML: '[app]\nname = "shop"\nroles = ["owner", "member"]  # <-\ntenancy = "org"\n'},
    ),
    case(
        "no-model-files",
        None,
        Expect(
            "no-models", "no model files found", "domain/things.model.py", file="domain", line=0
        ),
    ),
    # -- more loading mistakes --------------------------------------------------------------
    case(
        "python-error-missing-helper-module",
        model(
            """
            from pricing import vat_rate  # <-

            Product = entity("Product", fields={"name": text()})
            """
        ),
        Expect("python-error", "ModuleNotFoundError", "fix the Python on that line"),
    ),
    case(
        "dsl-usage-inside-a-helper-module",
        model(
            """
            from helpers import choice

            Ticket = entity(
                "Ticket",
                fields={
                    "priority": choice("low"),  # <-
                },
            )
            """
        ),
        Expect("dsl-usage", "enum() takes a list of values", "enum(['low', 'high'])"),
        files={
            "helpers.py": "from compiler.dsl import enum\n\n\ndef choice(values):\n"
            "    return enum(values).required()\n"
        },
    ),
    case(
        "dsl-usage-columns-given-a-string",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                views={
                    "list": view().columns("number"),  # <-
                },
            )
            """
        ),
        Expect("dsl-usage", "takes a list of field names", "['number']"),
    ),
    case(
        "dsl-usage-policies-not-allow",
        model(
            """
            Invoice = entity(  # <-
                "Invoice",
                fields={"number": text()},
                policies=role("admin"),
            )
            """
        ),
        Expect("dsl-usage", "policies= takes allow(...)", "policies=allow("),
    ),
    case(
        "field-value-not-a-field",
        model(
            """
            Invoice = entity(  # <-
                "Invoice",
                fields={"number": "text"},
            )
            """
        ),
        Expect("field-not-a-field", "Invoice.number is 'text', not a field", "text()"),
    ),
    case(
        "field-clashes-with-implicit-timestamp",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "created_at": datetime(),  # <-
                },
            )
            """
        ),
        Expect(
            "field-implicit-clash",
            "Invoice.created_at is added by the compiler",
            "timestamps=False",
        ),
    ),
    case(
        "primary-key-of-money",
        model(
            """
            Price = entity(
                "Price",
                fields={
                    "amount": money().primary(),  # <-
                },
            )
            """
        ),
        Expect(
            "primary-type", "a money field cannot be the primary key", "uuid, integer, text, slug"
        ),
    ),
    case(
        "materialized-without-computed",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "total": money().materialized(),  # <-
                },
            )
            """
        ),
        Expect(
            "materialized-without-computed",
            ".materialized() without .computed(expr)",
            "add .computed(...)",
        ),
    ),
    case(
        "unique-on-virtual-computed-field",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "code": text(),
                    "key": text().computed(F("code") + "-x").unique(),  # <-
                },
            )
            """
        ),
        Expect("modifier-unstored", ".unique() needs a column", ".materialized()"),
    ),
    case(
        "on-delete-unknown-behaviour",
        model(
            """
            Customer = entity("Customer", fields={"name": text()})
            Invoice = entity(
                "Invoice",
                fields={
                    "customer": ref("Customer").on_delete("nullify"),  # <-
                },
            )
            """
        ),
        Expect("on-delete", "on_delete('nullify') is not known", "cascade, restrict, set_null"),
    ),
    case(
        "default-expression-instead-of-value",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "price": money(),
                    "list_price": money().default(F("price")),  # <-
                },
            )
            """
        ),
        Expect(
            "default-type", "a default must be a fixed value, not an expression", ".computed(expr)"
        ),
    ),
    case(
        "default-today-on-datetime",
        model(
            """
            Event = entity(
                "Event",
                fields={
                    "starts": datetime().default(today()),  # <-
                },
            )
            """
        ),
        Expect(
            "default-type", "default today() is not a datetime; use now()", "of the field's type"
        ),
    ),
    case(
        "many-to-many-unknown-entity",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "tags": many_to_many("Tags"),  # <-
                },
            )
            Tag = entity("Tag", fields={"name": text()})
            """
        ),
        Expect("unknown-entity", "unknown entity 'Tags'", 'did you mean "Tag"?'),
    ),
    case(
        "many-to-many-through-without-refs",
        model(
            """
            Tag = entity("Tag", fields={"name": text()})
            Tagging = entity("Tagging", fields={"tag": ref("Tag")})
            Invoice = entity(
                "Invoice",
                fields={
                    "tags": many_to_many("Tag", through="Tagging"),  # <-
                },
            )
            """
        ),
        Expect(
            "m2m-through-refs",
            "needs exactly one ref to Invoice and one to Tag",
            '"invoice": ref("Invoice")',
        ),
    ),
    case(
        "transition-declared-by-two-state-fields",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "status": state(["draft", "sent"], initial="draft", transitions={"send": ("draft", "sent")}),
                    "delivery": state(  # <-
                        ["pending", "sent"], initial="pending", transitions={"send": ("pending", "sent")}
                    ),
                },
                actions={"send": action()},
            )
            """
        ),
        Expect(
            "transition-duplicate",
            "transition 'send' is declared by both status and delivery",
            "different names",
        ),
    ),
    case(
        "action-named-like-an-operation",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                actions={
                    "delete": action(custom=True),  # <-
                },
            )
            """
        ),
        Expect(
            "action-name",
            "action name 'delete' of Invoice is not usable",
            "other than read, create",
        ),
    ),
    # -- more expressions -------------------------------------------------------------------
    case(
        "field-naming-rows-without-aggregate",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "lines": array(ref("Line")),
                    "n": integer().computed(F("lines")),  # <-
                },
            )
            Line = entity("Line", fields={"invoice": ref("Invoice").required()})
            """
        ),
        Expect(
            "expr-many-without-aggregate", 'F("lines") is a list of Line rows', 'count_("lines")'
        ),
    ),
    case(
        "when-condition-not-boolean",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "quantity": integer(),
                    "size": text().computed(when(F("quantity"), "big", "small")),  # <-
                },
            )
            """
        ),
        Expect(
            "expr-when-condition",
            "when() needs a condition first, got integer",
            "when(F('status') == 'sent'",
        ),
    ),
    case(
        "compare-with-none",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "note": text(),
                    "bare": boolean().computed(F("note") == None),  # <-
                },
            )
            """
        ),
        Expect("expr-compare-null", "comparing with None using == is never true", ".is_null()"),
    ),
    case(
        "money-plus-plain-number-field",
        model(
            """
            Line = entity(
                "Line",
                fields={
                    "price": money(),
                    "quantity": integer(),
                    "total": money().computed(F("price") + F("quantity")),  # <-
                },
            )
            """
        ),
        Expect("expr-operator-types", "'+' adds a plain integer to money", "add money to money"),
    ),
    case(
        "policy-condition-not-boolean",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"total": money()},
                policies=allow(
                    read=F("total"),  # <-
                ),
            )
            """
        ),
        Expect(
            "policy-condition-type", "a condition must be true or false", "F('status') == 'draft'"
        ),
    ),
    case(
        "policy-rel-unknown-field",
        model(
            """
            Customer = entity("Customer", fields={"manager": ref("User")})
            Invoice = entity(
                "Invoice",
                fields={"customer": ref("Customer")},
                policies=allow(
                    read=rel("customer.manger"),  # <-
                ),
            )
            """
        ),
        Expect("policy-rel-path", "Customer has no field 'manger'", "rel("),
    ),
    case(
        "policy-unknown-operation-in-policy-file",
        model(
            """
            Invoice = entity("Invoice", fields={"number": text()})
            """
        ),
        Expect(
            "policy-unknown-operation",
            "'reed', which is neither",
            'did you mean "read"?',
            file=POLICY,
        ),
        files={
            POLICY: model(
                """
                policy("Invoice", reed=authenticated())  # <-
                """
            )
        },
    ),
    # -- more views and indexes -----------------------------------------------------------------
    case(
        "view-kind-cannot-be-told",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                views={
                    "overview": view().title("Overview"),  # <-
                },
            )
            """
        ),
        Expect(
            "view-kind",
            "cannot tell whether it is a list, detail or form view",
            "name it list, detail or form",
        ),
    ),
    case(
        "view-page-size-out-of-range",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                views={
                    "list": view()
                    .columns(["number"])
                    .page_size(10_000),  # <-
                },
            )
            """
        ),
        Expect("view-page-size", "page_size(10000) is out of range", "from 1 to 500"),
    ),
    case(
        "index-unknown-method",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"number": text()},
                indexes=[
                    index("number", using="bitmap"),  # <-
                ],
            )
            """
        ),
        Expect("index-method", "using='bitmap' is not an index method", "btree, hash, gin"),
    ),
    case(
        "index-on-unstored-field",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={"lines": array(ref("Line"))},
                indexes=[
                    index("lines"),  # <-
                ],
            )
            Line = entity("Line", fields={"invoice": ref("Invoice").required()})
            """
        ),
        Expect("index-field", "'lines' has no column (not stored)", "index stored fields only"),
    ),
    # -- more gen.toml --------------------------------------------------------------------------
    case(
        "config-bad-app-name",
        GOOD_MODEL,
        Expect(
            "config-invalid",
            "[app.name] Value error, must be lowercase",
            'name = "my-app"',
            file=TOML,
        ),
        files={TOML: '[app]\nname = "My Shop"  # <-\n'},
    ),
    case(
        "config-unknown-tenancy",
        GOOD_MODEL,
        Expect(
            "config-invalid", "[app.tenancy] Input should be 'org'", 'tenancy = "org"', file=TOML
        ),
        files={TOML: '[app]\nname = "shop"\ntenancy = "team"  # <-\n'},
    ),
    case(
        "config-unknown-auth-provider",
        GOOD_MODEL,
        Expect("config-invalid", "[auth.providers.1]", "password, magic_link", file=TOML),
        files={TOML: '[app]\nname = "shop"\n\n[auth]\nproviders = ["password", "saml"]  # <-\n'},
    ),
    # -- one mistake, one message: uses of a broken declaration stay quiet ----------------------
    case(
        "cascade-broken-field-used-elsewhere",
        model(
            """
            Rate = entity(
                "Rate",
                fields={
                    "value": decimal(4, 6),  # <-
                    "doubled": decimal().computed(F("value") * 2),
                },
                views={"list": view().columns(["value", "doubled"]).sort("value")},
                indexes=[index("value")],
                policies=allow(read=F("value") > 1),
            )
            """
        ),
        Expect("decimal-precision", "decimal(4, 6) is not a valid precision", "decimal(10, 2)"),
    ),
    case(
        "cascade-broken-entity-name-referenced",
        model(
            """
            Header = entity("invoice_header", fields={"number": text()})  # <-
            Line = entity("Line", fields={"header": ref("invoice_header")})
            """
        ),
        Expect("entity-name", "'invoice_header' is not PascalCase", '"InvoiceLine"'),
        files={POLICY: model('policy("invoice_header", read=authenticated())\n')},
    ),
    case(
        "cascade-table-clash-referenced",
        model(
            """
            HttpLog = entity("HttpLog", fields={"path": text()})
            HTTPLog = entity("HTTPLog", fields={"status": integer()})  # <-
            Hit = entity("Hit", fields={"log": ref("HTTPLog")})
            """
        ),
        Expect("entity-table-clash", "would both use the table 'http_log'", "rename one"),
    ),
    case(
        "cascade-broken-state-used-by-actions-views-and-guards",
        model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "status": state(  # <-
                        ["draft", "sent", "paid"],
                        initial="new",
                        transitions={"send": ("draft", "sent"), "pay": ("sent", "paid")},
                    ),
                },
                actions={
                    "send": action().guard(F("status") == "draft"),
                    "pay": action().allow(role("billing")),
                },
                views={"list": view().filters(["status"])},
            )
            """
        ),
        Expect("state-initial", "initial state 'new' is not one of", "initial='draft'"),
    ),
    case(
        "cascade-broken-ref-back-to-one-to-many",
        model(
            """
            Invoice = entity("Invoice", fields={"lines": array(ref("Line"))})
            Line = entity(
                "Line",
                fields={
                    "invoice": ref("Invoice").required().on_delete("set_null"),  # <-
                },
            )
            """
        ),
        Expect("on-delete-required", "on_delete('set_null') could never succeed", "cascade"),
    ),
    case(
        "theme-token-name",
        GOOD_MODEL,
        Expect(
            "dsl-usage",
            "'Accent Color' is not a token name",
            "lowercase letters",
            file=THEME,
        ),
        files={THEME: model('theme(light={"Accent Color": "#4f46e5"})  # <-')},
    ),
    case(
        "theme-token-value",
        GOOD_MODEL,
        Expect("dsl-usage", "is not a CSS value", 'without ";"', file=THEME),
        files={THEME: model('theme(dark={"accent": "red; background: url(x)"})  # <-')},
    ),
    case(
        "theme-declared-twice",
        GOOD_MODEL,
        Expect("theme-duplicate", "theme(...) is called twice", "keep one", file=THEME),
        files={
            THEME: model(
                'theme(light={"accent": "#111111"})\ntheme(dark={"accent": "#eeeeee"})  # <-'
            )
        },
    ),
]

CASE_IDS = [c.id for c in CASES]


def test_case_ids_are_distinct_and_plenty() -> None:
    assert len(set(CASE_IDS)) == len(CASE_IDS)
    assert len(CASES) >= 40


# The per-case check -------------------------------------------------------------------------


def _show(diagnostics: tuple[Diagnostic, ...]) -> str:
    return "\n".join(d.render() for d in diagnostics) or "(none)"


@pytest.mark.parametrize("c", CASES, ids=CASE_IDS)
def test_bad_model_is_reported_precisely(tmp_path: Path, c: Case) -> None:
    diagnostics = diagnostics_of(write_project(tmp_path, c))
    unmatched = list(diagnostics)
    for e in c.expect:
        line = expected_line(c, e)
        matches = [
            d for d in unmatched if d.code == e.code and d.loc.file == e.file and d.loc.line == line
        ]
        assert matches, f"expected {e.file}:{line} error[{e.code}]; got:\n{_show(diagnostics)}"
        d = matches[0]
        assert e.message in d.message, d.render()
        assert e.hint in d.hint, d.render()
        unmatched.remove(d)
    if not c.extra_allowed:
        assert not unmatched, f"unexpected extra diagnostics:\n{_show(tuple(unmatched))}"


# All errors of a run, in one run -----------------------------------------------------------

MANY_FIRST = "domain/billing.model.py"
MANY_SECOND = "domain/customers.model.py"
MANY_MISTAKES = Case(
    "several-mistakes-in-two-files",
    {
        MANY_FIRST: model(
            """
            Invoice = entity(
                "Invoice",
                fields={
                    "customer": ref("Custmer"),  # <-ref
                    "total": money("euro"),  # <-currency
                    "number": text(),
                },
                views={
                    "list": view().columns(["numbr"]),  # <-column
                },
            )
            """
        ),
        MANY_SECOND: model(
            """
            Customer = entity(
                "Customer",
                fields={
                    "name": text().min(3),  # <-min
                    "tier": enum(["gold", "gold"]),  # <-enum
                },
                policies=allow(
                    read=role("biling"),  # <-role
                ),
            )
            Customer2 = entity("customer_copy", fields={"name": text()})  # <-entity
            """
        ),
    },
    (
        Expect("policy-unknown-role", 'role("biling")', '"billing"', "role", MANY_SECOND),
        Expect("unknown-entity", "unknown entity 'Custmer'", '"Customer"', "ref", MANY_FIRST),
        Expect("view-unknown-field", "'numbr'", '"number"', "column", MANY_FIRST),
        Expect("money-currency", "'euro'", "EUR", "currency", MANY_FIRST),
        Expect("enum-values", "repeated values ['gold']", "distinct", "enum", MANY_SECOND),
        Expect(
            "modifier-type",
            ".min() does not apply to a text field",
            "min_length",
            "min",
            MANY_SECOND,
        ),
        Expect(
            "entity-name",
            "'customer_copy' is not PascalCase",
            '"InvoiceLine"',
            "entity",
            MANY_SECOND,
        ),
    ),
)


def test_every_mistake_of_a_run_is_reported_at_once_and_sorted(tmp_path: Path) -> None:
    with pytest.raises(CompileError) as caught:
        compile_project(write_project(tmp_path, MANY_MISTAKES))
    error = caught.value
    expected = sorted(
        (e.file, expected_line(MANY_MISTAKES, e), e.code) for e in MANY_MISTAKES.expect
    )
    got = [(d.loc.file, d.loc.line, d.code) for d in error.diagnostics]
    assert got == expected, _show(error.diagnostics)
    by_code = {d.code: d for d in error.diagnostics}
    for e in MANY_MISTAKES.expect:
        assert e.message in by_code[e.code].message
        assert e.hint in by_code[e.code].hint
    # The rendering lists them in the same order, one `file:line: error[code]` each.
    text = str(error)
    positions = [text.index(f"{file}:{line}: error[{code}]") for file, line, code in expected]
    assert positions == sorted(positions)
    assert text.rstrip().endswith(f"{len(expected)} errors; nothing was written.")


def test_a_broken_file_does_not_hide_mistakes_in_the_others(tmp_path: Path) -> None:
    c = Case(
        "broken-file-and-bad-model",
        {
            "domain/a.model.py": model(
                """
                Customer = entity("Customer", fields={"name": text()})
                broken = Customer.nonexistent  # <-
                """
            ),
            "domain/b.model.py": model(
                """
                Invoice = entity(
                    "Invoice",
                    fields={"customer": ref("Customer"), "total": money("euro")},  # <-
                )
                """
            ),
        },
        (
            Expect("python-error", "AttributeError", "fix the Python", file="domain/a.model.py"),
            Expect("money-currency", "'euro'", "EUR", file="domain/b.model.py"),
        ),
    )
    diagnostics = diagnostics_of(write_project(tmp_path, c))
    got = [(d.loc.file, d.loc.line, d.code) for d in diagnostics]
    assert got == [(e.file, expected_line(c, e), e.code) for e in c.expect], _show(diagnostics)


# Nothing is written ----------------------------------------------------------------------------


def _tree_hashes(root: Path, skip: set[str]) -> dict[str, str]:
    """sha256 of every file under root, except the inputs a case writes or removes."""
    hashes = {}
    for path in sorted(root.rglob("*")):
        rel = path.relative_to(root).as_posix()
        if path.is_file() and rel not in skip and not rel.startswith(("domain/", "policies/")):
            hashes[rel] = hashlib.sha256(path.read_bytes()).hexdigest()
    return hashes


@pytest.fixture(scope="module")
def generated_project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A good project, generated once: `.gen/store.db` and `generated/` exist."""
    root = tmp_path_factory.mktemp("generated") / "shop"
    good = Case("good", {MODEL: GOOD_MODEL}, ())
    write_project(root, good)
    generate(root)
    assert (root / ".gen" / "store.db").is_file()
    assert any((root / "generated").rglob("*"))
    return root


@pytest.mark.parametrize("c", CASES, ids=CASE_IDS)
def test_a_bad_model_writes_nothing(tmp_path: Path, generated_project: Path, c: Case) -> None:
    root = tmp_path / "shop"
    shutil.copytree(generated_project, root)
    skip = {TOML, *c.project_files()}
    before = _tree_hashes(root, skip)
    store_before = (root / ".gen" / "store.db").read_bytes()
    generated_before = _tree_hashes(root / "generated", set())
    assert ".gen/store.db" in before and generated_before

    # Break the project: its inputs become exactly the case's files.
    for rel in (TOML, "domain", "policies"):
        target = root / rel
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
    write_project(root, c)

    with pytest.raises(CompileError):
        generate(root)
    assert (root / ".gen" / "store.db").read_bytes() == store_before
    assert _tree_hashes(root / "generated", set()) == generated_before
    assert _tree_hashes(root, skip) == before


# Every message is actionable -----------------------------------------------------------------


@pytest.mark.parametrize("c", [*CASES, MANY_MISTAKES], ids=[*CASE_IDS, MANY_MISTAKES.id])
def test_every_message_is_actionable(tmp_path: Path, c: Case) -> None:
    root = write_project(tmp_path, c)
    with pytest.raises(CompileError) as caught:
        compile_project(root)
    rendered = str(caught.value)
    for d in caught.value.diagnostics:
        assert d.code and d.message.strip() and d.hint.strip(), d.render()
        assert d.hint.strip() != d.message.strip(), d.render()
        # A line is given whenever there is a file to point into; only a missing
        # gen.toml or a missing domain/ folder has none (line 0).
        if (root / d.loc.file).is_file():
            assert d.loc.line > 0, d.render()
        else:
            assert d.loc.line == 0 and d.code in ("config-missing", "no-models"), d.render()
        assert f"{d.loc.file}:{d.loc.line}: error[{d.code}]: {d.message}" in rendered
        assert f"fix: {d.hint}" in rendered
