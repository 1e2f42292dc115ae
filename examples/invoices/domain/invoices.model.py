"""Invoices, their lines and payments, with the invoice state machine."""

from compiler.dsl import (
    F,
    action,
    allow,
    array,
    authenticated,
    avg_,
    boolean,
    count_,
    date,
    datetime,
    decimal,
    entity,
    enum,
    index,
    integer,
    many_to_many,
    max_,
    money,
    now,
    owner,
    ref,
    role,
    state,
    sum_,
    tab,
    tabs,
    tenant_member,
    text,
    today,
    uuid,
    view,
    when,
)

Invoice = entity(
    "Invoice",
    doc="An invoice sent to a customer.",
    tenant=True,
    fields={
        "number": text().required().max_length(30),
        "customer": ref("Customer").required(),
        "issue_date": date().required().default(today()),
        "due_date": date().required(),
        "notes": text().max_length(2000),
        "status": state(
            ["draft", "sent", "paid", "void"],
            initial="draft",
            transitions={
                "send": ("draft", "sent"),
                "pay": ("sent", "paid"),
                "void": (["draft", "sent"], "void"),
            },
        ),
        "sent_at": datetime().read_only(),
        "lines": array(ref("InvoiceLine")),
        "payments": array(ref("Payment"), via="invoice"),
        "tags": many_to_many("Tag"),
        "subtotal": money().computed(sum_("lines.total")),
        "tax": money().computed(sum_("lines.tax")),
        "total": money().computed(F("subtotal") + F("tax")),
        "paid": money().computed(sum_("payments.amount")),
        "largest_line": money().computed(max_("lines.total")),
        "average_price": money().computed(avg_("lines.unit_price")),
        "overdue": boolean().computed(when(F("status") == "sent", F("due_date") < today(), False)),
    },
    actions={
        "send": action().guard(count_("lines") > 0).effect("invoices.effects:send_invoice_email"),
        "pay": action()
        .input(amount=money().required().min(0), reference=text())
        .allow(role("billing")),
        "void": action().guard(F("paid") == 0),
        "remind": action(custom=True, label="Send reminder")
        .guard(F("overdue") == True)  # noqa: E712 - builds an expression, not a Python comparison
        .effect("invoices.effects:send_reminder"),
    },
    policies=allow(
        read=tenant_member(),
        create=role("billing") | role("admin"),
        update=(owner() | role("billing")) & (F("status") == "draft"),
        delete=role("admin") & (F("status") == "draft"),
        send=role("billing") | owner(),
        void=role("admin") | (owner() & ~(F("status") == "sent")),
        remind=role("billing"),
    ),
    views={
        "list": view()
        .columns(["number", "customer", "total", "status", "due_date"])
        .filters(["status", "customer", "overdue"])
        .sort("-created_at"),
        "detail": view().layout(
            tabs(
                tab(
                    "Details",
                    [
                        "number",
                        "customer",
                        "status",
                        "issue_date",
                        "due_date",
                        "lines",
                        "subtotal",
                        "tax",
                        "total",
                    ],
                ),
                tab("Payments", ["payments", "paid"]),
                tab("Timeline"),
            )
        ),
        "form": view()
        .fields(["number", "customer", "issue_date", "due_date", "notes", "lines", "tags"])
        .widget("notes", "richtext"),
        "overdue": view()
        .columns(["number", "customer", "total", "due_date"])
        .sort("due_date")
        .page_size(50)
        .title("Overdue invoices"),
    },
    indexes=[
        index("tenant", "number").unique(),
        index("customer", "status"),
        index("due_date").where(F("status") != "void"),
    ],
)

InvoiceLine = entity(
    "InvoiceLine",
    doc="One line of an invoice: a quantity of something at a price.",
    tenant=True,
    fields={
        "invoice": ref(Invoice).required().on_delete("cascade"),
        "product": ref("Product").on_delete("set_null"),
        "description": text().required().min_length(1).max_length(500),
        "quantity": integer().required().default(1).min(1).max(100000),
        "unit_price": money().required().min(0),
        "tax_rate": decimal(5, 4).required().default("0").min(0).max(1),
        "total": money().computed(F("quantity") * F("unit_price")),
        "tax": money().computed(F("quantity") * F("unit_price") * F("tax_rate")),
        "position": integer().required().default(0),
    },
    policies=allow(
        read=tenant_member(),
        create=(role("billing") | role("admin")) & (F("invoice.status") == "draft"),
        update=(role("billing") | role("admin")) & (F("invoice.status") == "draft"),
        delete=(role("billing") | role("admin")) & (F("invoice.status") == "draft"),
    ),
    views={
        "list": view()
        .columns(["invoice", "description", "quantity", "unit_price", "total"])
        .sort("position")
    },
)

Payment = entity(
    "Payment",
    doc="Money received against an invoice. Its rules live in policies/payments.policy.py.",
    tenant=True,
    fields={
        "invoice": ref(Invoice).required().on_delete("restrict"),
        "amount": money().required().min("0.01"),
        "received_on": date().required().default(today()).index(),
        "method": enum(["card", "transfer", "cash"]).required().default("transfer"),
        "processor_id": uuid().unique().help("The card processor's payment id"),
        "recorded_at": datetime().required().default(now()),
    },
)

Comment = entity(
    "Comment",
    doc="A note left on an invoice or a customer.",
    tenant=True,
    fields={
        "subject": ref(["Invoice", "Customer"]).required().on_delete("cascade"),
        "body": text().required().max_length(5000),
        "pinned": boolean().required().default(False),
    },
    policies=allow(
        read=tenant_member(),
        create=authenticated() & tenant_member(),
        update=owner(),
        delete=owner() | role("admin"),
    ),
)
