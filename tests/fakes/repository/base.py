"""The in-memory table: its state, the test controls (``fail_next``, ``before_next``, ``calls``) and helpers."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from helpdesk.core.errors import InvalidCursor
from helpdesk.core.models import (
    Message,
    Order,
    SlaPolicy,
    Store,
    StoreHealth,
    Ticket,
    TicketStatus,
)
from helpdesk.tickets.collaboration import Notification, PresenceEntry
from helpdesk.tickets.inbox import SavedView

MAX_LOOKUP = 10


class InMemoryTable:
    def __init__(self) -> None:
        self.stores: dict[tuple[str, str], Store] = {}
        self.policies: dict[tuple[str, str], SlaPolicy] = {}
        self.policy_specs: dict[str, list[Any]] = {}  # tenant → helpdesk.sla.policies.SlaPolicySpec
        self.tickets: dict[tuple[str, str], Ticket] = {}
        self.messages: dict[tuple[str, str], list[Message]] = defaultdict(list)
        self.channel_messages: dict[tuple[str, str, str], tuple[str, str]] = {}
        self.threads: dict[tuple[str, str, str], str] = {}
        self.orders: dict[tuple[str, str, str], Order] = {}
        self.health: dict[tuple[str, str], StoreHealth] = {}
        self.routes: dict[tuple[str, str], tuple[str, str]] = {}
        self.ingest_errors: list[Any] = []
        self.agents: list[Any] = []
        self.calls: list[tuple[str, tuple[Any, ...]]] = []
        self._failures: dict[str, list[BaseException]] = defaultdict(list)
        self._hooks: dict[str, list[Callable[[], None]]] = defaultdict(list)

    def fail_next(self, method: str, error: BaseException, times: int = 1) -> None:
        """The next ``times`` calls of ``method`` raise ``error`` without changing anything."""
        self._failures[method].extend([error] * times)

    def before_next(self, method: str, action: Callable[[], None]) -> None:
        """Run ``action`` once, just before the next call of ``method`` does its work."""
        self._hooks[method].append(action)

    def call_names(self) -> list[str]:
        return [name for name, _ in self.calls]

    def set_ticket(self, ticket: Ticket) -> None:
        """Overwrite a stored ticket as another writer would (e.g. an agent resolving it)."""
        self.tickets[(ticket.tenant_id, ticket.ticket_id)] = ticket.model_copy(deep=True)

    def _enter(self, method: str, *args: Any) -> None:
        self.calls.append((method, args))
        hooks = self._hooks.pop(method, [])
        for hook in hooks:
            hook()
        if self._failures.get(method):
            raise self._failures[method].pop(0)

    def _copy(self, tenant_id: str, ticket_id: str) -> Ticket | None:
        ticket = self.tickets.get((tenant_id, ticket_id))
        return ticket.model_copy(deep=True) if ticket else None

    @staticmethod
    def _dedup_key(message: Message) -> tuple[str, str, str]:
        return (message.tenant_id, message.store_id, message.channel_message_id or message.message_id)

    def ticket_count(self, tenant_id: str) -> int:
        return sum(1 for tenant, _ in self.tickets if tenant == tenant_id)

    def only_ticket(self, tenant_id: str) -> Ticket:
        tickets = [t for (tenant, _), t in self.tickets.items() if tenant == tenant_id]
        assert len(tickets) == 1, f"expected one ticket, found {len(tickets)}"
        return tickets[0].model_copy(deep=True)

    def resolve(self, tenant_id: str, ticket_id: str, status: TicketStatus = TicketStatus.RESOLVED) -> Ticket:
        """What an agent closing the ticket would write: new status, version bumped."""
        ticket = self.tickets[(tenant_id, ticket_id)].model_copy(deep=True)
        ticket.status = status
        ticket.version += 1
        self.set_ticket(ticket)
        return ticket


@dataclass
class InboxState:
    views: dict[tuple[str, str, str], SavedView] = field(default_factory=dict)  # (tenant, owner|"shared", id)
    presence: dict[tuple[str, str, str], PresenceEntry] = field(default_factory=dict)  # (tenant, ticket, agent)
    notifications: dict[tuple[str, str, str], Notification] = field(default_factory=dict)  # (tenant, agent, id)


def _offset(cursor: str | None, prefix: str) -> int:
    if not cursor:
        return 0
    if not cursor.startswith(prefix) or not cursor[len(prefix) :].isdigit():
        raise InvalidCursor("cursor belongs to another list")
    return int(cursor[len(prefix) :])
