"""Who we bill, where they are, and who looks after them."""

from compiler.dsl import (
    F,
    allow,
    array,
    count_,
    date,
    email,
    entity,
    index,
    integer,
    many_to_many,
    min_,
    money,
    one,
    owner,
    ref,
    rel,
    role,
    tab,
    tabs,
    tenant_member,
    text,
    url,
    view,
)

Address = entity(
    "Address",
    tenant=True,
    fields={
        "street": text().required().max_length(200),
        "city": text().required().max_length(100),
        "postal_code": text().required().pattern(r"^[A-Za-z0-9 -]{3,10}$"),
        "country": text()
        .required()
        .min_length(2)
        .max_length(2)
        .pattern(r"^[A-Z]{2}$")
        .help("ISO code, e.g. FR"),
    },
    policies=allow(
        read=tenant_member(), create=tenant_member(), update=tenant_member(), delete=role("admin")
    ),
)

Customer = entity(
    "Customer",
    doc="A company or person we send invoices to.",
    tenant=True,
    fields={
        "name": text().required().max_length(200),
        "email": email().required().private(),
        "website": url(),
        "vat_number": text().max_length(20).renamed_from("tax_id").label("VAT number"),
        "account_manager": ref("User").on_delete("set_null"),
        "billing_address": one(ref(Address)).on_delete("set_null"),
        "credit_limit": money().default("5000.00").min(0).editable_by(role("admin")),
        "notes": text().visible_to(role("admin") | role("billing")),
        "aliases": array(text()).default([]),
        "invoices": array(ref("Invoice")),
        "contacts": many_to_many("User", through="CustomerContact"),
        "tags": many_to_many("Tag"),
        "invoice_count": integer().computed(count_("invoices")).materialized(),
        "first_invoice_on": date().computed(min_("invoices.issue_date")),
    },
    policies=allow(
        read=tenant_member(),
        create=role("billing") | role("admin"),
        update=owner() | rel("account_manager") | role("admin"),
        delete=role("admin") & F("account_manager").is_null(),
    ),
    views={
        "list": view()
        .columns(["name", "email", "account_manager", "invoice_count"])
        .filters(["account_manager"])
        .sort("name"),
        "detail": view().layout(
            tabs(
                tab(
                    "Details",
                    ["name", "email", "website", "vat_number", "billing_address", "notes"],
                ),
                tab("Invoices", ["invoices", "invoice_count", "first_invoice_on"]),
                tab("Contacts", ["contacts", "tags"]),
            )
        ),
    },
    indexes=[index("name"), index("notes", using="gin")],
)

CustomerContact = entity(
    "CustomerContact",
    doc="A user who is a contact person for a customer, with their role there.",
    tenant=True,
    fields={
        "customer": ref(Customer).required().on_delete("cascade"),
        "user": ref("User").required().on_delete("cascade"),
        "job_title": text().max_length(100),
    },
    policies=allow(
        read=tenant_member(), create=role("admin") | role("billing"), delete=role("admin")
    ),
    indexes=[index("customer", "user").unique()],
)
