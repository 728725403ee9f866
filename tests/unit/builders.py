"""Small factories for domain objects used across the unit tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from helpdesk.core.models import Channel, InboundMessage, SlaPolicy, SlaTarget, Store, Ticket

TENANT = "t1"
STORE = "s1"
SECRET = "wc-secret-123"
NOW = datetime(2024, 3, 1, 12, 0, 0, tzinfo=UTC)


def make_store(**overrides: Any) -> Store:
    fields: dict[str, Any] = {
        "tenant_id": TENANT,
        "store_id": STORE,
        "channel": Channel.WOOCOMMERCE,
        "display_name": "Demo shop",
        "secret_name": "helpdesk/t1/s1",
        "created_at": NOW,
    }
    fields.update(overrides)
    return Store(**fields)


def make_inbound(**overrides: Any) -> InboundMessage:
    fields: dict[str, Any] = {
        "tenant_id": TENANT,
        "store_id": STORE,
        "channel": Channel.WOOCOMMERCE,
        "channel_message_id": "m-1",
        "channel_thread_id": "thread-1",
        "buyer_email": "buyer@example.com",
        "buyer_name": "Jane Buyer",
        "body": "Where is my parcel?\nIt has been a week.",
        "received_at": NOW,
    }
    fields.update(overrides)
    return InboundMessage(**fields)


def make_ticket(**overrides: Any) -> Ticket:
    fields: dict[str, Any] = {
        "tenant_id": TENANT,
        "ticket_id": "01HQ0000000000000000000000",
        "store_id": STORE,
        "channel": Channel.WOOCOMMERCE,
        "subject": "Where is my parcel?",
        "first_response_due_at": datetime(2024, 3, 2, 12, 0, 0, tzinfo=UTC),
        "sla_timer_version": 1,
        "created_at": NOW,
        "updated_at": NOW,
    }
    fields.update(overrides)
    return Ticket(**fields)


def make_policy(first: int = 60, following: int = 120, policy_id: str = "fast") -> SlaPolicy:
    return SlaPolicy(
        tenant_id=TENANT,
        policy_id=policy_id,
        name="Fast lane",
        target=SlaTarget(first_response_minutes=first, next_response_minutes=following),
    )
