"""Effects named by actions in domain/invoices.model.py.

They run after the action's transaction commits, with an idempotency key,
so a retry never sends the same email twice. The generated API calls them.
"""

from __future__ import annotations

from typing import Any

OUTBOX: list[dict[str, Any]] = []


def send_invoice_email(invoice: dict[str, Any], *, idempotency_key: str) -> None:
    """Queue the invoice email for the customer (in dev, into an outbox)."""
    OUTBOX.append({"kind": "invoice", "invoice": invoice["id"], "key": idempotency_key})


def send_reminder(invoice: dict[str, Any], *, idempotency_key: str) -> None:
    """Queue a payment reminder for an overdue invoice."""
    OUTBOX.append({"kind": "reminder", "invoice": invoice["id"], "key": idempotency_key})
