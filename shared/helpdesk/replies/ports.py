"""The interfaces the replies services depend on; adapters (``helpdesk.adapters``) and the tests' fakes
(``tests/fakes``) implement them."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from helpdesk.core.models import (
    Agent,
    Draft,
    Macro,
    Message,
    Order,
    Store,
    Ticket,
    TicketView,
)

if TYPE_CHECKING:
    from helpdesk.replies.drafting import DraftContext, PolicySnippet
    from helpdesk.replies.outbox import OutboxEntry
    from helpdesk.replies.proactive import Nudge
    from helpdesk.sla.policies import SlaPolicySpec


class ReplyRepository(Protocol):
    """What every outbound message is written with: the ticket (version-checked), its store and order."""

    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None: ...

    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None: ...

    def update_ticket(self, previous: Ticket, updated: Ticket, events: Sequence[Message] = ()) -> None: ...

    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...

    def get_order(self, tenant_id: str, store_id: str, order_ref: str) -> Order | None: ...


class AgentReplyRepository(ReplyRepository, Protocol):
    """What agents' replies read besides: the agents (their names and languages) and the SLA policies."""

    def list_agents(self, tenant_id: str) -> list[Agent]: ...

    def list_policy_specs(self, tenant_id: str) -> list[SlaPolicySpec]: ...


class DeliveryLog(Protocol):
    def record_delivery(
        self, previous: Ticket, updated: Ticket, reply: Message, events: Sequence[Message] = ()
    ) -> None:
        """Store the reply's new delivery state with the ticket's (version-checked) in one write."""
        ...


class DeliveryClaims(Protocol):
    def claim_delivery(self, reply: Message) -> bool:
        """Mark the stored reply ``sending`` if it is still ``queued`` (one conditional write);
        False when another dispatch claimed it or it is no longer queued."""
        ...


class ReplyQueue(Protocol):
    def publish(self, tenant_id: str, ticket_id: str, message_id: str) -> None: ...


class ReplyChannel(Protocol):
    def send(self, store: Store, ticket: Ticket, reply: Message, answering: Message | None) -> str:
        """Hand the reply to the channel; the channel's id for it. Raises ChannelError."""
        ...


class MacroSource(Protocol):
    def get_macro(self, tenant_id: str, macro_id: str) -> Macro | None: ...

    def list_macros(self, tenant_id: str) -> list[Macro]: ...


class SnippetSource(Protocol):
    def list_snippets(self, tenant_id: str) -> list[PolicySnippet]: ...


class SnippetConfig(Protocol):
    def put_snippets(self, tenant_id: str, snippets: Sequence[PolicySnippet]) -> None: ...


class MailTransport(Protocol):
    def send_raw(self, source: str, destinations: list[str], raw: bytes) -> str:
        """Hand the message to the mail service; returns the service's id for it."""
        ...


class Drafter(Protocol):
    name: str

    def draft(self, context: DraftContext, now: datetime) -> Draft:
        """A draft in ``context.language`` (as far as the drafter can); raises ``DraftUnavailable``."""
        ...


class MacroRecords(Protocol):
    """Where a tenant's macros are kept (``adapters.outbound.DynamoMacros``)."""

    def list_macros(self, tenant_id: str) -> list[Macro]: ...

    def get_macro(self, tenant_id: str, macro_id: str) -> Macro | None: ...

    def create_macro(self, macro: Macro) -> bool:
        """Store a new macro; False when one with its id exists."""
        ...

    def put_macro(self, macro: Macro) -> None: ...

    def delete_macro(self, tenant_id: str, macro_id: str) -> bool:
        """Delete a macro; False when there was none."""
        ...


class Outbox(Protocol):
    def due_outbound(self, tenant_id: str, now: datetime, limit: int) -> list[OutboxEntry]: ...

    def postpone_outbound(self, tenant_id: str, entry: OutboxEntry, check_at: datetime) -> bool: ...


class DispatchQueue(Protocol):
    def publish(self, tenant_id: str, ticket_id: str, message_id: str) -> None: ...


class NudgeRepository(Protocol):
    def list_nudges(self, tenant_id: str) -> list[Nudge]: ...

    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...

    def find_tickets_by_order(self, tenant_id: str, store_id: str, order_ref: str) -> list[Ticket]: ...

    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None: ...

    def update_ticket(self, previous: Ticket, updated: Ticket, events: Sequence[Message] = ()) -> None: ...

    def create_ticket(self, ticket: Ticket, message: Message) -> None: ...


class NudgeConfig(Protocol):
    def list_nudges(self, tenant_id: str) -> list[Nudge]: ...

    def put_nudges(self, tenant_id: str, nudges: Sequence[Nudge]) -> None: ...
