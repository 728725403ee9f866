"""The interfaces of ticket storage the ticket services depend on (adapters implement them)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from helpdesk.core.models import (
    Agent,
    Message,
    Order,
    QueuePage,
    SlaPolicy,
    Store,
    Team,
    Ticket,
    TicketView,
)

if TYPE_CHECKING:  # annotations only: the webhook never loads SLA policy specs, and the services import these ports
    from helpdesk.sla.policies import SlaPolicySpec
    from helpdesk.tickets.collaboration import Notification, NotificationPage, PresenceEntry
    from helpdesk.tickets.inbox import QueuePlan, SavedView


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


class SnoozeRepository(Protocol):
    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None: ...

    def update_ticket(self, previous: Ticket, updated: Ticket, events: Sequence[Message] = ()) -> None: ...

    def list_snoozed_due(self, tenant_id: str, now: datetime, limit: int) -> list[str]:
        """Ids of the tenant's snoozed tickets whose ``snoozed_until`` is not after ``now``, soonest first."""
        ...


class ActionsRepository(SnoozeRepository, Protocol):
    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None: ...

    def list_agents(self, tenant_id: str) -> list[Agent]: ...

    def list_teams(self, tenant_id: str) -> list[Team]: ...

    def mark_assigned(self, tenant_id: str, agent_id: str, at: datetime) -> None: ...

    def close_merged_source(
        self, previous: Ticket, updated: Ticket, event: Message, threads: Sequence[tuple[str, str]]
    ) -> None:
        """Merge step 1 in one transaction: the source as ``updated`` (version-checked) with its event,
        the target ``updated.merged_into`` checked to exist unmerged, and the (store, thread) pointers
        that name the source moved to the target. Conflict when any condition fails."""
        ...

    def copy_messages(self, messages: Sequence[Message]) -> None:
        """Store the messages under their ``ticket_id`` (overwriting the same ids: repeatable)."""
        ...

    def split_message(
        self,
        previous: Ticket,
        updated: Ticket,
        event: Message,
        moved: Message,
        new_ticket: Ticket,
        new_message: Message,
        new_event: Message,
    ) -> None:
        """In one transaction: the old ticket (version-checked) and its event, ``moved`` removed from
        its timeline, the new ticket with ``new_message`` (same id) and its event, and the channel
        message marker pointed at the new ticket. Conflict when any condition fails."""
        ...


class CollaborationRepository(Protocol):
    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None: ...

    def update_ticket(self, previous: Ticket, updated: Ticket, events: Sequence[Message] = ()) -> None: ...

    def list_agents(self, tenant_id: str) -> list[Agent]: ...


class NoteLog(Protocol):
    def add_note(self, note: Message) -> None:
        """Store a note on its ticket's timeline (the ticket itself unchanged)."""
        ...


class NotificationLog(Protocol):
    def put_notifications(self, notifications: Sequence[Notification]) -> None: ...

    def list_notifications(
        self, tenant_id: str, agent_id: str, unread_only: bool, limit: int, cursor: str | None, now: datetime
    ) -> NotificationPage:
        """The agent's notifications, newest first, expired ones left out."""
        ...

    def mark_read(self, tenant_id: str, agent_id: str, notification_id: str, at: datetime) -> Notification | None:
        """Set ``read_at`` (kept if already read); None when the agent has no such notification."""
        ...


class PresenceLog(Protocol):
    def touch_presence(
        self,
        tenant_id: str,
        ticket_id: str,
        agent_id: str,
        seen_at: datetime,
        expires_at: datetime,
        typing: bool | None = None,
    ) -> None:
        """Record the agent on the ticket until ``expires_at``; ``typing`` True: typing until then,
        False: not typing any more, None: as it was."""
        ...

    def list_presence(self, tenant_id: str, ticket_id: str) -> list[PresenceEntry]:
        """Every stored presence record of the ticket, expired ones included."""
        ...


class InboxRepository(Protocol):
    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None: ...

    def get_order(self, tenant_id: str, store_id: str, order_ref: str) -> Order | None: ...

    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...

    def find_orders_by_email(self, tenant_id: str, email: str, limit: int = 20) -> list[Order]: ...

    def find_tickets_by_email(self, tenant_id: str, email: str) -> list[Ticket]: ...

    def list_agents(self, tenant_id: str) -> list[Agent]: ...


class InboxQueues(Protocol):
    def queue_page(self, tenant_id: str, plan: QueuePlan, limit: int, cursor: str | None, now: datetime) -> QueuePage:
        """Up to ``limit`` tickets of the plan's partition matching its filters, in index order; the
        cursor resumes after the last one returned (also when a read budget ended the page early)."""
        ...

    def count_queue(self, tenant_id: str, plan: QueuePlan, now: datetime, budget: int) -> tuple[int, bool]:
        """How many tickets match, reading at most ``budget`` items; (count, capped)."""
        ...


class SavedViews(Protocol):
    def get_view(self, tenant_id: str, owner_id: str, view_id: str, shared: bool) -> SavedView | None: ...

    def list_views(self, tenant_id: str, owner_id: str) -> list[SavedView]:
        """The owner's private views and the tenant's shared views."""
        ...

    def put_view(self, view: SavedView, previous: SavedView | None = None) -> None:
        """Store ``view``; ``previous`` is removed when the view moved (shared ↔ private)."""
        ...

    def delete_view(self, view: SavedView) -> None: ...


class OrderSource(Protocol):
    def fetch(self, store: Store, order_ref: str) -> Order | None:
        """The full order from the channel's API (None: no lookup for this store, or unknown order);
        raises when the channel fails (``adapters.channel_orders.ChannelOrders``)."""
        ...
