"""What we sell: products, their tax rates, and tags to sort things by."""

from compiler.dsl import (
    allow,
    anyone,
    array,
    boolean,
    decimal,
    entity,
    index,
    json,
    money,
    ref,
    role,
    slug,
    tenant_member,
    text,
    url,
    view,
)

TaxRate = entity(
    "TaxRate",
    doc="A tax rate shared by every tenant, keyed by a short code.",
    timestamps=False,
    fields={
        "code": slug().primary().max_length(20),
        "name": text().required().max_length(80),
        "rate": decimal(5, 4).required().min(0).max(1).help("0.2 means 20%"),
    },
    policies=allow(read=anyone(), create=role("admin"), update=role("admin")),
)

Product = entity(
    "Product",
    doc="Something that can be put on an invoice line.",
    tenant=True,
    fields={
        "name": text().required().max_length(200),
        "sku": slug().required().unique().label("SKU"),
        "description": text().optional(),
        "unit_price": money().required().min(0),
        "tax_rate": ref(TaxRate).on_delete("set_null"),
        "active": boolean().required().default(True),
        "images": array(url()).default([]),
        "attributes": json().default({}),
    },
    policies=allow(
        read=tenant_member(),
        create=role("admin") | role("billing"),
        update=role("admin") | role("billing"),
        delete=role("admin"),
    ),
    views={
        "list": view()
        .columns(["name", "sku", "unit_price", "active"])
        .filters(["active"])
        .sort("name")
    },
    indexes=[index("attributes", using="gin")],
)

Tag = entity(
    "Tag",
    doc="A label for invoices and customers.",
    tenant=True,
    renamed_from="Label",
    fields={
        "name": text().required().max_length(40),
        "color": text().pattern(r"^#[0-9a-f]{6}$").default("#4f46e5").help("A colour like #4f46e5"),
    },
    policies=allow(
        read=tenant_member(), create=tenant_member(), update=tenant_member(), delete=role("admin")
    ),
    indexes=[index("tenant", "name").unique()],
)
