"""In-memory fakes of the ports in the areas' ``ports`` modules for the unit tier (no AWS).

``InMemoryRepository`` honours the contract ``ports.TicketRepository`` documents and the DynamoDB
adapter implements:

* ``create_ticket`` raises DuplicateMessage if the channel message id is already stored and
  Conflict if the ticket's thread is already claimed by another ticket;
* ``append_message`` raises DuplicateMessage if the channel message id is stored, Conflict if the
  stored ticket's version differs from ``previous.version`` (or the message's thread belongs to
  another ticket), and on success stores ``updated`` with ``version = previous.version + 1``;
* reads return copies, as a database would: mutating a returned ticket changes nothing stored.

Tests can make the next call of a method fail (``fail_next``) or run a side effect first
(``before_next``, e.g. a concurrent consumer winning a race), and read every call in ``calls``.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from helpdesk.core.errors import Conflict, DuplicateMessage, InvalidCursor
from helpdesk.core.models import (
    Message,
    Order,
    QueuePage,
    SlaPolicy,
    Store,
    StoreHealth,
    Ticket,
    TicketStatus,
    TicketView,
)
from helpdesk.tickets.collaboration import NOTIFICATION_TTL, Notification, NotificationPage, PresenceEntry
from helpdesk.tickets.inbox import QueuePlan, SavedView
from helpdesk.tickets.ports import QueueScope

MAX_LOOKUP = 10


class InMemoryRepository:
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

    # --- test controls ------------------------------------------------------------------------

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

    # --- configuration ------------------------------------------------------------------------

    def get_store(self, tenant_id: str, store_id: str) -> Store | None:
        self._enter("get_store", tenant_id, store_id)
        store = self.stores.get((tenant_id, store_id))
        return store.model_copy(deep=True) if store else None

    def put_store(self, store: Store) -> None:
        self.stores[(store.tenant_id, store.store_id)] = store.model_copy(deep=True)

    def create_store(self, store: Store) -> None:
        self._enter("create_store", store)
        if (store.tenant_id, store.store_id) in self.stores:
            raise Conflict("store id already taken")
        self.put_store(store)

    def list_stores(self, tenant_id: str) -> list[Store]:
        return [s.model_copy(deep=True) for (tenant, _), s in self.stores.items() if tenant == tenant_id]

    def put_channel_route(self, channel: str, account_id: str, tenant_id: str, store_id: str) -> None:
        self.routes[(channel, account_id)] = (tenant_id, store_id)

    def list_ingest_errors(self, tenant_id: str, store_id: str, limit: int = 50) -> list:
        return [e for e in self.ingest_errors if e.tenant_id == tenant_id and e.store_id == store_id][::-1][:limit]

    def record_ingest_error(self, error: Any) -> None:
        self.ingest_errors.append(error)

    def list_health(self, tenant_id: str) -> list[StoreHealth]:
        return [h.model_copy(deep=True) for (tenant, _), h in self.health.items() if tenant == tenant_id]

    def put_sla_policy(self, policy: SlaPolicy) -> None:
        self.policies[(policy.tenant_id, policy.policy_id)] = policy.model_copy(deep=True)

    def get_sla_policy(self, tenant_id: str, policy_id: str) -> SlaPolicy | None:
        self._enter("get_sla_policy", tenant_id, policy_id)
        policy = self.policies.get((tenant_id, policy_id))
        return policy.model_copy(deep=True) if policy else None

    def list_policy_specs(self, tenant_id: str) -> list[Any]:
        return [spec.model_copy(deep=True) for spec in self.policy_specs.get(tenant_id, [])]

    # --- tickets ------------------------------------------------------------------------------

    def find_message(self, tenant_id: str, store_id: str, channel_message_id: str) -> tuple[str, str] | None:
        self._enter("find_message", tenant_id, store_id, channel_message_id)
        return self.channel_messages.get((tenant_id, store_id, channel_message_id))

    def find_ticket_by_thread(self, tenant_id: str, store_id: str, thread_id: str) -> Ticket | None:
        self._enter("find_ticket_by_thread", tenant_id, store_id, thread_id)
        ticket_id = self.threads.get((tenant_id, store_id, thread_id))
        return self._copy(tenant_id, ticket_id) if ticket_id else None

    def find_tickets_by_order(self, tenant_id: str, store_id: str, order_ref: str) -> list[Ticket]:
        self._enter("find_tickets_by_order", tenant_id, store_id, order_ref)
        found = [
            t
            for (tenant, _), t in self.tickets.items()
            if tenant == tenant_id and t.store_id == store_id and order_ref in t.order_refs
        ]
        found.sort(key=lambda t: (t.created_at, t.ticket_id), reverse=True)
        return [t.model_copy(deep=True) for t in found[:MAX_LOOKUP]]

    def find_tickets_by_email(self, tenant_id: str, email: str) -> list[Ticket]:
        self._enter("find_tickets_by_email", tenant_id, email)
        found = [
            t for (tenant, _), t in self.tickets.items() if tenant == tenant_id and t.customer_email == email.lower()
        ]
        found.sort(key=lambda t: (t.created_at, t.ticket_id), reverse=True)
        return [t.model_copy(deep=True) for t in found[:MAX_LOOKUP]]

    def get_ticket(self, tenant_id: str, ticket_id: str) -> Ticket | None:
        self._enter("get_ticket", tenant_id, ticket_id)
        return self._copy(tenant_id, ticket_id)

    def create_ticket(self, ticket: Ticket, message: Message) -> None:
        self._enter("create_ticket", ticket, message)
        dedup = self._dedup_key(message)
        if dedup in self.channel_messages:
            raise DuplicateMessage("channel message already stored")
        if (ticket.tenant_id, ticket.ticket_id) in self.tickets:
            raise Conflict("ticket id already taken")
        thread = (ticket.tenant_id, ticket.store_id, ticket.channel_thread_id) if ticket.channel_thread_id else None
        if thread is not None and thread in self.threads:
            raise Conflict("thread already claimed by another ticket")
        self.tickets[(ticket.tenant_id, ticket.ticket_id)] = ticket.model_copy(deep=True)
        self.messages[(ticket.tenant_id, ticket.ticket_id)].append(message.model_copy(deep=True))
        self.channel_messages[dedup] = (ticket.ticket_id, message.message_id)
        if thread is not None:
            self.threads[thread] = ticket.ticket_id

    def append_message(self, previous: Ticket, updated: Ticket, message: Message) -> None:
        self._enter("append_message", previous, updated, message)
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        dedup = self._dedup_key(message)
        if dedup in self.channel_messages:
            raise DuplicateMessage("channel message already stored")
        stored = self.tickets.get((previous.tenant_id, previous.ticket_id))
        if stored is None or stored.version != previous.version:
            raise Conflict("ticket changed since it was read")
        thread = None
        if message.channel_thread_id and message.channel_thread_id != previous.channel_thread_id:
            thread = (updated.tenant_id, message.store_id, message.channel_thread_id)
            owner = self.threads.get(thread)
            if owner is not None and owner != updated.ticket_id:
                raise Conflict("thread belongs to another ticket")
        updated.version = previous.version + 1
        self.tickets[(updated.tenant_id, updated.ticket_id)] = updated.model_copy(deep=True)
        self.messages[(updated.tenant_id, updated.ticket_id)].append(message.model_copy(deep=True))
        self.channel_messages[dedup] = (updated.ticket_id, message.message_id)
        if thread is not None:
            self.threads[thread] = updated.ticket_id

    def update_ticket(self, previous: Ticket, updated: Ticket, events: Any = ()) -> None:
        self._enter("update_ticket", previous, updated)
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        stored = self.tickets.get((previous.tenant_id, previous.ticket_id))
        if stored is None or stored.version != previous.version:
            raise Conflict("ticket changed since it was read")
        updated.version = previous.version + 1
        self.tickets[(updated.tenant_id, updated.ticket_id)] = updated.model_copy(deep=True)
        self.messages[(updated.tenant_id, updated.ticket_id)].extend(e.model_copy(deep=True) for e in events)

    def list_agents(self, tenant_id: str) -> list:
        return [a.model_copy(deep=True) for a in self.agents if a.tenant_id == tenant_id]

    def count_assigned(self, tenant_id: str, agent_id: str) -> int:
        return sum(
            1
            for (tenant, _), t in self.tickets.items()
            if tenant == tenant_id and t.assignee_id == agent_id and t.status.in_queue
        )

    def mark_assigned(self, tenant_id: str, agent_id: str, at: Any) -> None:
        for agent in self.agents:
            if agent.tenant_id == tenant_id and agent.agent_id == agent_id:
                agent.last_assigned_at = at

    def get_ticket_view(self, tenant_id: str, ticket_id: str) -> TicketView | None:
        self._enter("get_ticket_view", tenant_id, ticket_id)
        ticket = self._copy(tenant_id, ticket_id)
        if ticket is None:
            return None
        messages = sorted(self.messages[(tenant_id, ticket_id)], key=lambda m: (m.created_at, m.message_id))
        return TicketView(ticket=ticket, messages=[m.model_copy(deep=True) for m in messages])

    def list_queue(self, tenant_id: str, scope: str, scope_id: str | None, limit: int, cursor: str | None) -> QueuePage:
        self._enter("list_queue", tenant_id, scope, scope_id, limit, cursor)
        in_scope = {
            QueueScope.TENANT: lambda t: True,
            QueueScope.TEAM: lambda t: t.team_id == scope_id,
            QueueScope.AGENT: lambda t: t.assignee_id == scope_id,
        }[scope]
        queued = sorted(
            (
                t
                for (tenant, _), t in self.tickets.items()
                if tenant == tenant_id and t.status.in_queue and t.sla_due_at is not None and in_scope(t)
            ),
            key=lambda t: (t.sla_due_at, t.ticket_id),
        )
        prefix = f"{scope}:{scope_id or ''}:"
        start = 0
        if cursor:
            if not cursor.startswith(prefix) or not cursor[len(prefix) :].isdigit():
                raise InvalidCursor("cursor belongs to another queue")
            start = int(cursor[len(prefix) :])
        page = queued[start : start + limit]
        more = start + limit < len(queued)
        return QueuePage(
            tickets=[t.model_copy(deep=True) for t in page], next_cursor=f"{prefix}{start + limit}" if more else None
        )

    # --- orders -------------------------------------------------------------------------------

    def upsert_order(self, order: Order) -> bool:
        self._enter("upsert_order", order)
        key = (order.tenant_id, order.store_id, order.order_ref)
        stored = self.orders.get(key)
        if (
            stored is not None
            and order.updated_at is not None
            and stored.updated_at is not None
            and stored.updated_at > order.updated_at
        ):
            return False  # a newer version is already stored
        self.orders[key] = order.model_copy(deep=True)
        return True

    def find_orders_by_email(self, tenant_id: str, email: str, limit: int = 20) -> list[Order]:
        self._enter("find_orders_by_email", tenant_id, email)
        found = [
            o for (tenant, _, _), o in self.orders.items() if tenant == tenant_id and o.buyer_email == email.lower()
        ]
        found.sort(key=lambda o: o.ordered_at or o.updated_at or datetime.min.replace(tzinfo=UTC), reverse=True)
        return [o.model_copy(deep=True) for o in found[:limit]]

    # --- helpers ------------------------------------------------------------------------------

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

    # --- ticket actions: merge, split, snooze (helpdesk.tickets.actions) -------------------------

    def close_merged_source(self, previous: Ticket, updated: Ticket, event: Message, threads: Any) -> None:
        self._enter("close_merged_source", previous, updated, event, threads)
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        target = self.tickets.get((updated.tenant_id, updated.merged_into or ""))
        if target is None or target.merged_into:
            raise Conflict("the target is gone or merged itself")
        stored = self.tickets.get((previous.tenant_id, previous.ticket_id))
        if stored is None or stored.version != previous.version:
            raise Conflict("ticket changed since it was read")
        updated.version = previous.version + 1
        self.tickets[(updated.tenant_id, updated.ticket_id)] = updated.model_copy(deep=True)
        self.messages[(updated.tenant_id, updated.ticket_id)].append(event.model_copy(deep=True))
        for store_id, thread_id in threads:
            key = (updated.tenant_id, store_id, thread_id)
            if self.threads.get(key) == previous.ticket_id:
                self.threads[key] = target.ticket_id

    def copy_messages(self, messages: Any) -> None:
        self._enter("copy_messages", messages)
        for message in messages:
            timeline = self.messages[(message.tenant_id, message.ticket_id)]
            timeline[:] = [m for m in timeline if m.message_id != message.message_id]
            timeline.append(message.model_copy(deep=True))

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
        self._enter("split_message", previous, updated, moved, new_ticket)
        if updated.version != previous.version:
            raise ValueError("pass the ticket as read; the repository bumps the version")
        stored = self.tickets.get((previous.tenant_id, previous.ticket_id))
        old_timeline = self.messages[(previous.tenant_id, previous.ticket_id)]
        marker = self._dedup_key(moved)
        if (
            stored is None
            or stored.version != previous.version
            or not any(m.message_id == moved.message_id for m in old_timeline)
            or (new_ticket.tenant_id, new_ticket.ticket_id) in self.tickets
        ):
            raise Conflict("the ticket changed since it was read")
        updated.version = previous.version + 1
        self.tickets[(updated.tenant_id, updated.ticket_id)] = updated.model_copy(deep=True)
        old_timeline[:] = [m for m in old_timeline if m.message_id != moved.message_id]
        old_timeline.append(event.model_copy(deep=True))
        self.tickets[(new_ticket.tenant_id, new_ticket.ticket_id)] = new_ticket.model_copy(deep=True)
        self.messages[(new_ticket.tenant_id, new_ticket.ticket_id)].extend(
            [new_message.model_copy(deep=True), new_event.model_copy(deep=True)]
        )
        self.channel_messages[marker] = (new_ticket.ticket_id, new_message.message_id)

    def list_snoozed_due(self, tenant_id: str, now: datetime, limit: int) -> list[str]:
        self._enter("list_snoozed_due", tenant_id, now, limit)
        due = sorted(
            (
                t
                for (tenant, _), t in self.tickets.items()
                if tenant == tenant_id
                and t.status == TicketStatus.SNOOZED
                and t.snoozed_until is not None
                and t.snoozed_until <= now
            ),
            key=lambda t: (t.snoozed_until, t.ticket_id),
        )
        return [t.ticket_id for t in due[:limit]]

    # --- inbox and collaboration (helpdesk.tickets.inbox / helpdesk.tickets.collaboration stores) ----------------
    # Queue pages use the domain's own definition (QueuePlan.filters.matches) over the plan's
    # partition, in the index's order; cursors are offsets, valid only for the partition they came from.

    @property
    def inbox(self) -> InboxState:
        state = self.__dict__.get("_inbox")
        if state is None:
            state = self.__dict__["_inbox"] = InboxState()
        return state

    def _plan_tickets(self, tenant_id: str, plan: QueuePlan, now: datetime) -> list[Ticket]:
        mine = [t for (tenant, _), t in self.tickets.items() if tenant == tenant_id]
        if plan.index == "status":
            found = [t for t in mine if t.status.value == plan.partition]
            found.sort(key=lambda t: (t.updated_at, t.ticket_id), reverse=True)
        else:
            in_partition = {
                "tenant": lambda t: True,
                "team": lambda t: t.team_id == plan.partition,
                "agent": lambda t: t.assignee_id == plan.partition,
            }[plan.index]
            found = [t for t in mine if t.status.in_queue and t.sla_due_at is not None and in_partition(t)]
            if plan.due == "passed":
                found = [t for t in found if t.sla_due_at < now]
            elif plan.due == "ahead":
                found = [t for t in found if t.sla_due_at >= now]
            found.sort(key=lambda t: (t.sla_due_at, t.ticket_id))
        return [t.model_copy(deep=True) for t in found if plan.filters.matches(t, now)]

    def queue_page(self, tenant_id: str, plan: QueuePlan, limit: int, cursor: str | None, now: datetime) -> QueuePage:
        self._enter("queue_page", tenant_id, plan, limit, cursor)
        found = self._plan_tickets(tenant_id, plan, now)
        prefix = f"inbox:{tenant_id}:{plan.index}:{plan.partition or ''}:"
        start = _offset(cursor, prefix)
        more = start + limit < len(found)
        return QueuePage(tickets=found[start : start + limit], next_cursor=f"{prefix}{start + limit}" if more else None)

    def count_queue(self, tenant_id: str, plan: QueuePlan, now: datetime, budget: int) -> tuple[int, bool]:
        self._enter("count_queue", tenant_id, plan)
        total = len(self._plan_tickets(tenant_id, plan, now))
        return min(total, budget), total > budget

    def get_view(self, tenant_id: str, owner_id: str, view_id: str, shared: bool) -> SavedView | None:
        view = self.inbox.views.get((tenant_id, "shared" if shared else owner_id, view_id))
        return view.model_copy(deep=True) if view else None

    def list_views(self, tenant_id: str, owner_id: str) -> list[SavedView]:
        return [
            v.model_copy(deep=True)
            for (tenant, owner, _), v in self.inbox.views.items()
            if tenant == tenant_id and owner in (owner_id, "shared")
        ]

    def put_view(self, view: SavedView, previous: SavedView | None = None) -> None:
        if previous is not None:
            self.delete_view(previous)
        key = (view.tenant_id, "shared" if view.shared else view.owner_id, view.view_id)
        self.inbox.views[key] = view.model_copy(deep=True)

    def delete_view(self, view: SavedView) -> None:
        self.inbox.views.pop((view.tenant_id, "shared" if view.shared else view.owner_id, view.view_id), None)

    def touch_presence(
        self,
        tenant_id: str,
        ticket_id: str,
        agent_id: str,
        seen_at: datetime,
        expires_at: datetime,
        typing: bool | None = None,
    ) -> None:
        key = (tenant_id, ticket_id, agent_id)
        before = self.inbox.presence.get(key)
        typing_until = before.typing_until if before is not None and typing is None else None
        if typing:
            typing_until = expires_at
        self.inbox.presence[key] = PresenceEntry(
            agent_id=agent_id, seen_at=seen_at, expires_at=expires_at, typing_until=typing_until
        )

    def list_presence(self, tenant_id: str, ticket_id: str) -> list[PresenceEntry]:
        return [
            p.model_copy()
            for (tenant, ticket, _), p in self.inbox.presence.items()
            if (tenant, ticket) == (tenant_id, ticket_id)
        ]

    def get_order(self, tenant_id: str, store_id: str, order_ref: str) -> Order | None:
        self._enter("get_order", tenant_id, store_id, order_ref)
        order = self.orders.get((tenant_id, store_id, order_ref))
        return order.model_copy(deep=True) if order else None

    def add_note(self, note: Message) -> None:
        self._enter("add_note", note)
        self.messages[(note.tenant_id, note.ticket_id)].append(note.model_copy(deep=True))

    def put_notifications(self, notifications: Any) -> None:
        for n in notifications:
            self.inbox.notifications[(n.tenant_id, n.agent_id, n.notification_id)] = n.model_copy(deep=True)

    def list_notifications(
        self, tenant_id: str, agent_id: str, unread_only: bool, limit: int, cursor: str | None, now: datetime
    ) -> NotificationPage:
        found = sorted(
            (
                n
                for (tenant, agent, _), n in self.inbox.notifications.items()
                if (tenant, agent) == (tenant_id, agent_id)
                and n.created_at + NOTIFICATION_TTL > now
                and not (unread_only and n.read_at is not None)
            ),
            key=lambda n: n.notification_id,
            reverse=True,
        )
        prefix = f"notify:{tenant_id}:{agent_id}:"
        start = _offset(cursor, prefix)
        more = start + limit < len(found)
        return NotificationPage(
            notifications=[n.model_copy() for n in found[start : start + limit]],
            next_cursor=f"{prefix}{start + limit}" if more else None,
        )

    def mark_read(self, tenant_id: str, agent_id: str, notification_id: str, at: datetime) -> Notification | None:
        stored = self.inbox.notifications.get((tenant_id, agent_id, notification_id))
        if stored is None:
            return None
        if stored.read_at is None:
            stored.read_at = at
        return stored.model_copy()

    # --- routing administration: agents, teams, aging steps (helpdesk.routing.admin, aging) ------

    @property
    def teams(self) -> dict[tuple[str, str], Any]:
        return self.__dict__.setdefault("_teams", {})

    @property
    def aging_steps(self) -> dict[str, list[Any]]:
        return self.__dict__.setdefault("_aging_steps", {})

    def replace_agents(self, tenant_id: str, agents: list[Any]) -> None:
        self._enter("replace_agents", tenant_id, agents)
        self.agents = [a for a in self.agents if a.tenant_id != tenant_id] + [a.model_copy(deep=True) for a in agents]

    def put_team(self, team: Any) -> None:
        self.teams[(team.tenant_id, team.team_id)] = team.model_copy(deep=True)

    def list_teams(self, tenant_id: str) -> list[Any]:
        return [t.model_copy(deep=True) for (tenant, _), t in sorted(self.teams.items()) if tenant == tenant_id]

    def replace_teams(self, tenant_id: str, teams: list[Any]) -> None:
        self._enter("replace_teams", tenant_id, teams)
        for key in [k for k in self.teams if k[0] == tenant_id]:
            del self.teams[key]
        for team in teams:
            self.put_team(team)

    def get_aging_steps(self, tenant_id: str) -> list[Any] | None:
        steps = self.aging_steps.get(tenant_id)
        return None if steps is None else [step.model_copy() for step in steps]

    def put_aging_steps(self, tenant_id: str, steps: list[Any]) -> None:
        self._enter("put_aging_steps", tenant_id, steps)
        self.aging_steps[tenant_id] = [step.model_copy() for step in steps]


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
