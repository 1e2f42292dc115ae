"""The resolution passes, each observed through the IR a small model compiles to."""

from __future__ import annotations

import pytest

from compiler import ir
from compiler.compile import compile_project
from compiler.diagnostics import CompileError
from tests.conftest import MakeProject

HEADER = "from compiler.dsl import *\n"


def compile_model(make_project: MakeProject, model: str, **extra: str) -> ir.Project:
    root = make_project({"domain/app.model.py": HEADER + model, **extra})
    return compile_project(root).project


def compile_errors(make_project: MakeProject, model: str) -> list[tuple[str, str]]:
    root = make_project({"domain/app.model.py": HEADER + model})
    with pytest.raises(CompileError) as caught:
        compile_project(root)
    return [(d.code, d.message) for d in caught.value.diagnostics]


SHOP = """
Customer = entity("Customer", tenant=True, fields={"name": text().required()})
Invoice = entity(
    "Invoice",
    tenant=True,
    fields={
        "customer": ref("Customer").required(),
        "lines": array(ref("InvoiceLine")),
        "status": state(["draft", "sent"], initial="draft", transitions={"send": ("draft", "sent")}),
        "subtotal": money().computed(sum_("lines.total")),
        "tags": many_to_many("Tag"),
    },
    actions={"send": action().guard(count_("lines") > 0)},
    policies=allow(read=tenant_member(), update=owner() | role("billing")),
)
InvoiceLine = entity("InvoiceLine", tenant=True, fields={
    "invoice": ref(Invoice).required().on_delete("cascade"),
    "quantity": integer().required(),
    "unit_price": money().required(),
    "total": money().computed(F("quantity") * F("unit_price")),
})
Tag = entity("Tag", fields={"name": text().required()})
"""


def test_naming_conventions_follow_dsl_md(make_project: MakeProject) -> None:
    project = compile_model(make_project, SHOP)
    line = project.entity("InvoiceLine")
    assert line is not None
    assert (line.table, line.path, line.api_path, line.route) == (
        "invoice_line",
        "invoice-lines",
        "/api/invoice-lines",
        "/app/invoice-lines",
    )
    assert line.label == "Invoice line"
    invoice = project.entity("Invoice")
    assert invoice is not None and invoice.field("customer") is not None
    assert invoice.field("customer").column == "customer_id"  # type: ignore[union-attr]


def test_implicit_fields_are_added_in_a_fixed_order(make_project: MakeProject) -> None:
    project = compile_model(make_project, SHOP)
    customer = project.entity("Customer")
    assert customer is not None
    assert [f.name for f in customer.fields] == [
        "id",
        "name",
        "tenant",
        "created_by",
        "created_at",
        "updated_at",
    ]
    key = customer.field("id")
    assert key is not None and key.primary and key.default == ir.Default(kind="uuid")
    owner = customer.field("created_by")
    assert owner is not None and isinstance(owner.type, ir.RefType) and owner.type.target == "User"
    tag = project.entity("Tag")
    assert tag is not None and tag.field("tenant") is None, "only tenant=True entities get a tenant"


def test_declared_primary_key_replaces_id_and_timestamps_can_be_off(
    make_project: MakeProject,
) -> None:
    project = compile_model(
        make_project,
        'Rate = entity("Rate", timestamps=False, fields={"code": slug().primary(), "rate": decimal(5, 4)})',
    )
    rate = project.entity("Rate")
    assert rate is not None
    assert rate.primary_key == "code"
    assert [f.name for f in rate.fields] == ["code", "rate", "created_by"]


def test_forward_refs_and_inverse_one_to_many_resolve(make_project: MakeProject) -> None:
    project = compile_model(make_project, SHOP)
    lines = project.field("Invoice.lines")
    assert lines is not None and isinstance(lines.type, ir.OneToManyType)
    assert lines.type.via == "invoice"
    assert lines.column is None, "a one-to-many has no column on this side"


def test_many_to_many_gets_a_named_join_table(make_project: MakeProject) -> None:
    project = compile_model(make_project, SHOP)
    (table,) = project.join_tables
    assert (table.name, table.left_column, table.right_column) == (
        "invoice_tag",
        "invoice_id",
        "tag_id",
    )
    tags = project.field("Invoice.tags")
    assert tags is not None and isinstance(tags.type, ir.ManyToManyType)
    assert tags.type.join_table == "invoice_tag"


def test_two_sides_of_a_many_to_many_share_one_table(make_project: MakeProject) -> None:
    project = compile_model(
        make_project,
        """
Student = entity("Student", fields={"courses": many_to_many("Course")})
Course = entity("Course", fields={"students": many_to_many("Student")})
""",
    )
    (table,) = project.join_tables
    assert table.name == "course_student"
    assert table.serves == ("Course.students", "Student.courses")
    courses = project.field("Student.courses")
    assert courses is not None and isinstance(courses.type, ir.ManyToManyType)
    assert (courses.type.source_column, courses.type.target_column) == ("student_id", "course_id")


def test_self_referential_many_to_many_uses_distinct_columns(make_project: MakeProject) -> None:
    project = compile_model(
        make_project, 'Person = entity("Person", fields={"friends": many_to_many("Person")})'
    )
    (table,) = project.join_tables
    assert (table.left_column, table.right_column) == ("person_id", "friend_id")


def test_money_times_integer_is_money(make_project: MakeProject) -> None:
    project = compile_model(make_project, SHOP)
    total = project.field("InvoiceLine.total")
    assert total is not None and total.computed is not None
    assert total.computed.type == "money"
    assert total.computed.same_row and total.column == "total", "a generated column"
    assert total.computed.depends_on == ("InvoiceLine.quantity", "InvoiceLine.unit_price")
    subtotal = project.field("Invoice.subtotal")
    assert subtotal is not None and subtotal.computed is not None
    assert subtotal.computed.type == "money" and not subtotal.computed.same_row
    assert subtotal.column is None, "derived in SQL on read"
    assert subtotal.computed.depends_on == ("Invoice.lines", "InvoiceLine.total")


def test_a_computed_field_reading_computed_ones_is_derived_on_read(
    make_project: MakeProject,
) -> None:
    project = compile_model(
        make_project,
        """
Line = entity("Line", fields={
    "quantity": integer().required(),
    "price": money().required(),
    "net": money().computed(F("quantity") * F("price")),
    "gross": money().computed(F("net") * 2),
    "kept": money().computed(F("quantity") * F("price")).materialized(),
})
""",
    )
    net, gross, kept = (project.field(f"Line.{n}") for n in ("net", "gross", "kept"))
    assert net is not None and net.computed is not None and net.computed.same_row
    assert net.column == "net"
    # Postgres refuses a generated column that reads another generated one.
    assert gross is not None and gross.computed is not None and not gross.computed.same_row
    assert gross.column is None
    assert kept is not None and kept.column == "kept", "materialized: an ordinary column"


@pytest.mark.parametrize(
    ("expression", "field_type", "expected"),
    [
        ('F("qty") * F("price")', "money()", "money"),
        ('F("qty") + 1', "integer()", "integer"),
        ('F("qty") / 2', "decimal()", "decimal"),
        ('F("price") - F("price")', "money()", "money"),
        ('F("price") / F("price")', "decimal()", "decimal"),
        ('F("due") + 30', "date()", "date"),
        ('F("due") - F("due")', "integer()", "integer"),
        ('F("name") + " (copy)"', "text()", "text"),
        ('when(F("qty") > 10, "bulk", "single")', 'enum(["bulk", "single"])', "text"),
        ('F("due") < today()', "boolean()", "boolean"),
        ('F("status").in_(["draft", "sent"])', "boolean()", "boolean"),
    ],
)
def test_expression_types(
    make_project: MakeProject, expression: str, field_type: str, expected: str
) -> None:
    project = compile_model(
        make_project,
        f"""
Item = entity("Item", fields={{
    "qty": integer(), "price": money(), "due": date(), "name": text(),
    "status": enum(["draft", "sent"]),
    "result": {field_type}.computed({expression}),
}})
""",
    )
    result = project.field("Item.result")
    assert result is not None and result.computed is not None
    assert result.computed.type == expected


@pytest.mark.parametrize(
    ("expression", "code", "words"),
    [
        ('F("name") > 3', "expr-compare-types", "comparing text to a number"),
        ('F("price") * F("price")', "expr-operator-types", "money times money"),
        ('F("price") + F("qty")', "expr-operator-types", "adds a plain integer to money"),
        ('F("status") == "snet"', "expr-compare-types", "'snet' is not one of its values"),
        ('F("due") == "tomorrow"', "expr-compare-types", "'tomorrow' is not a date"),
        ('F("qty") == None', "expr-compare-null", "never true in SQL"),
        ('F("nope") > 1', "expr-unknown-field", "Item has no field 'nope'"),
    ],
)
def test_expression_type_errors(
    make_project: MakeProject, expression: str, code: str, words: str
) -> None:
    errors = compile_errors(
        make_project,
        f"""
Item = entity("Item", fields={{
    "qty": integer(), "price": money(), "due": date(), "name": text(),
    "status": enum(["draft", "sent"]),
    "result": boolean().computed({expression}),
}})
""",
    )
    assert [c for c, _ in errors] == [code]
    assert words in errors[0][1]


def test_state_machine_links_actions_to_transitions(make_project: MakeProject) -> None:
    project = compile_model(make_project, SHOP)
    invoice = project.entity("Invoice")
    assert invoice is not None
    send = invoice.action("send")
    assert send is not None
    assert (send.kind, send.state_field, send.sources, send.target) == (
        "transition",
        "status",
        ("draft",),
        "sent",
    )
    assert send.guard is not None and send.guard.type == "boolean"


def test_policies_get_ids_texts_and_tenant_isolation(make_project: MakeProject) -> None:
    project = compile_model(make_project, SHOP)
    invoice = project.entity("Invoice")
    assert invoice is not None
    assert [(r.id, r.text) for r in invoice.rules] == [
        ("Invoice.read", "same_tenant() & tenant_member()"),
        ("Invoice.update", 'same_tenant() & (owner() | role("billing"))'),
    ]
    assert invoice.rule("delete") is None, "deny by default: no rule, no access"
    assert invoice.action("send") is not None and invoice.action("send").rule is None  # type: ignore[union-attr]


def test_policy_files_merge_into_the_entity(make_project: MakeProject) -> None:
    project = compile_model(
        make_project,
        'Note = entity("Note", fields={"body": text()}, actions={"archive": action(custom=True)})',
        **{
            "policies/notes.policy.py": (
                "from compiler.dsl import policy, role, authenticated\n"
                'policy("Note", read=authenticated(), archive=role("admin"))\n'
            )
        },
    )
    note = project.entity("Note")
    assert note is not None
    assert [r.id for r in note.rules] == ["Note.read", "Note.archive"]
    assert note.rules[0].loc.file == "policies/notes.policy.py"
    assert note.action("archive").rule == "Note.archive"  # type: ignore[union-attr]


def test_field_level_rules_have_their_own_ids(make_project: MakeProject) -> None:
    project = compile_model(
        make_project,
        'Doc = entity("Doc", fields={"secret": text().visible_to(role("admin")).editable_by(role("admin"))})',
    )
    secret = project.field("Doc.secret")
    assert secret is not None and secret.visible_to is not None and secret.editable_by is not None
    assert (secret.visible_to.id, secret.visible_to.text) == (
        "Doc.secret.visible_to",
        'role("admin")',
    )
    assert secret.editable_by.id == "Doc.secret.editable_by"


def test_every_entity_gets_list_detail_and_form_views(make_project: MakeProject) -> None:
    project = compile_model(make_project, SHOP)
    tag = project.entity("Tag")
    assert tag is not None
    assert [(v.name, v.implicit) for v in tag.views] == [
        ("list", True),
        ("detail", True),
        ("form", True),
    ]
    listing = tag.view("list")
    assert isinstance(listing, ir.ListView)
    assert listing.columns == ("name",)
    assert listing.sort == (ir.SortKey(field="created_at", descending=True),)
    form = tag.view("form")
    assert isinstance(form, ir.FormView) and form.fields == ("name",)


def test_indexes_are_named_and_foreign_keys_indexed(make_project: MakeProject) -> None:
    project = compile_model(
        make_project,
        """
Customer = entity("Customer", fields={"name": text()})
Order = entity(
    "Order",
    fields={"customer": ref("Customer"), "number": text(), "status": enum(["open", "done"])},
    indexes=[index("customer", "status"), index("number").unique(), index("number").where(F("status") != "done")],
)
""",
    )
    order = project.entity("Order")
    assert order is not None
    names = {i.name: i.origin for i in order.indexes}
    assert names == {
        "ix_order_created_by_id": "implicit",
        "ix_order_customer_id_status": "declared",
        "uq_order_number": "declared",
        "ix_order_number_partial": "declared",
    }, "customer_id is covered by the composite index, so it gets no separate one"


def test_identity_is_stable_across_a_declared_rename(make_project: MakeProject) -> None:
    before = compile_model(make_project, 'Bill = entity("Bill", fields={"amount": money()})')
    after = compile_model(
        make_project,
        'Invoice = entity("Invoice", renamed_from="Bill", fields={"total": money().renamed_from("amount")})',
    )
    old, new = before.entity("Bill"), after.entity("Invoice")
    assert old is not None and new is not None
    assert old.uid == new.uid
    assert old.field("amount").uid == new.field("total").uid  # type: ignore[union-attr]
    assert old.field("id").uid == new.field("id").uid  # type: ignore[union-attr]


def test_compiling_twice_gives_the_same_ir(make_project: MakeProject) -> None:
    first = compile_model(make_project, SHOP)
    second = compile_model(make_project, SHOP)
    assert first.model_dump_json() == second.model_dump_json()
