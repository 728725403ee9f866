"""The interfaces of ticket storage the ticket services depend on (adapters implement them)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol

from helpdesk.core.models import (
    Message,
    Order,
    QueuePage,
    SlaPolicy,
    Store,
    Ticket,
    TicketView,
)

if TYPE_CHECKING:  # only the SLA path reads policy specs: the webhook never imports them
    from helpdesk.sla.policies import SlaPolicySpec


class QueueScope:
    """Which queue to read: the whole tenant, one team, or one agent."""

    TENANT = "tenant"
    TEAM = "team"
    AGENT = "agent"


class TicketRepository(Protocol):
    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...

    def put_store(self, store: Store) -> None: ...

    def get_sla_policy(self, tenant_id: str, policy_id: str) -> SlaPolicy | None: ...

    def list_policy_specs(self, tenant_id: str) -> list[SlaPolicySpec]:
        """The tenant's SLA policies (business hours, conditions) the intake chooses among."""
        ...

    def find_message(self, tenant_id: str, store_id: str, channel_message_id: str) -> tuple[str, str] | None:
        """(ticket_id, message_id) of an already stored channel message."""
        ...

    def find_ticket_by_thread(self, tenant_id: str, store_id: str, thread_id: str) -> Ticket | None: ...

    def find_tickets_by_order(self, tenant_id: str, store_id: str, order_ref: str) -> list[Ticket]: ...

    def find_tickets_by_email(self, tenant_id: str, email: str) -> list[Ticket]: ...

    def find_orders_by_email(self, tenant_id: str, email: str, limit: int = 20) -> list[Order]:
        """The buyer's orders in every store of the tenant, newest first."""
        ...

    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None: ...

    def create_ticket(self, ticket: Ticket, message: Message) -> None:
        """Store a new ticket with its first message. Raises Conflict if its thread was claimed
        meanwhile, DuplicateMessage if the channel message is already stored."""
        ...

    def append_message(self, previous: Ticket, updated: Ticket, message: Message) -> None:
        """Store a message and the ticket's new state at once. Raises Conflict if the ticket
        changed since ``previous`` was read, DuplicateMessage if the message is already stored."""
        ...

    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None: ...

    def list_queue(
        self, tenant_id: str, scope: str, scope_id: str | None, limit: int, cursor: str | None
    ) -> QueuePage: ...

    def get_order(self, tenant_id: str, store_id: str, order_ref: str) -> Order | None: ...

    def upsert_order(self, order: Order) -> bool:
        """Store the order unless a newer version is already stored; True if written."""
        ...
