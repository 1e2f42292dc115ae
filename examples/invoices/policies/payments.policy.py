"""Who may see and record payments: kept apart from the model, as a policy file."""

from compiler.dsl import F, policy, role, tenant_member

policy(
    "Payment",
    read=tenant_member(),
    create=role("billing") & (F("invoice.status") == "sent"),
    delete=role("admin"),
)
