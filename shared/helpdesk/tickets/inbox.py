"""The agents' inbox: queues with filters, saved views with counts, and the ticket detail. Plain Python.

**Queues.** A queue read is one Query on one index partition, never a Scan (docs/data-model.md):
``plan_queue`` picks the partition from the filters (an agent's, a team's or the tenant's SLA-sorted
queue; the StatusIndex for statuses outside the queues) and leaves the rest of the filters to be
applied to the items read. The SLA filters become a key range on the SLA-sorted indexes: the queue
is sorted by due time, so "breached" is the head of the queue up to now and "near breach" the rest,
whose warning point has passed. ``QueueFilter.matches`` is the definition every store must agree
with. Filters drop items after DynamoDB's ``Limit``, so the store keeps reading pages until the page
is full or a read budget is spent, and the cursor resumes right after the last item it returned.

**Views.** A saved view is a name and a filter spec, private to its owner or shared with every agent
of the tenant. ``assignee_id: "me"`` in a view means whoever looks at it. Four built-in views (mine,
unassigned, breached, all open) need no storage; counts are one COUNT Query per view, each reading at
most ``COUNT_BUDGET`` (200) items (``capped`` beyond), and one counts call at most
``COUNTS_READ_BUDGET`` items in all: 4 built-ins + 50 private + 50 shared views × 200 = 20,800.

**Ticket detail.** The timeline (messages with their translation, notes, events), the order the
ticket is about (with how fresh the stored copy is), the buyer with their other orders and tickets,
and the other agents looking at the ticket right now. Opening a ticket marks the caller as viewing it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Literal

from pydantic import Field

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Forbidden, NotFound
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    ID_PATTERN,
    Channel,
    Intent,
    Message,
    Model,
    Order,
    QueuePage,
    Ticket,
    TicketStatus,
)
from helpdesk.tickets.collaboration import PRESENCE_TTL, Viewer, active_viewers
from helpdesk.tickets.ports import InboxQueues, InboxRepository, PresenceLog, SavedViews
from helpdesk.tickets.threads import found_view

if TYPE_CHECKING:
    from helpdesk.languages.translation import TranslationService

MAX_PAGE = 100
MAX_VIEWS = 50  # private views per agent, and shared views per tenant: bounds the counts call
COUNT_BUDGET = 200  # items a count may read per view; beyond it the count is reported as capped
MAX_LINKED_STORES = 5
MAX_CUSTOMER_ORDERS = 10
MAX_CUSTOMER_TICKETS = 10
ME = "me"
UNASSIGNED = "none"


class SlaFilter(StrEnum):
    BREACHED = "breached"
    NEAR_BREACH = "near_breach"  # the warning point passed, the deadline did not


class QueueFilter(Model):
    """What a queue or a saved view shows. Every field narrows; none set: every open ticket."""

    store_id: str | None = Field(default=None, pattern=ID_PATTERN)
    channel: Channel | None = None
    tag: str | None = Field(default=None, min_length=1, max_length=100)
    intent: Intent | None = None
    status: TicketStatus | None = Field(
        default=None, description="new/open/pending read the SLA-sorted queue; other statuses, newest change first"
    )
    assignee_id: str | None = Field(
        default=None, pattern=ID_PATTERN, description="An agent id, 'me' (the caller), or 'none' (unassigned)"
    )
    team_id: str | None = Field(default=None, pattern=ID_PATTERN)
    language: str | None = Field(default=None, min_length=2, max_length=35)
    sla: SlaFilter | None = None

    def for_agent(self, agent_id: str) -> QueueFilter:
        """The filter as ``agent_id`` sees it: "me" becomes that agent."""
        if self.assignee_id == ME:
            return self.model_copy(update={"assignee_id": agent_id})
        return self

    def matches(self, ticket: Ticket, now: datetime) -> bool:
        """Whether ``ticket`` belongs in the queue this (resolved) filter describes."""
        if self.status is None and not ticket.status.in_queue:
            return False
        checks = [
            (self.store_id, ticket.store_id),
            (self.channel, ticket.channel),
            (self.intent, ticket.intent),
            (self.status, ticket.status),
            (self.team_id, ticket.team_id),
            (self.language, ticket.language),
        ]
        if any(wanted is not None and wanted != actual for wanted, actual in checks):
            return False
        if self.tag is not None and self.tag not in ticket.tags:
            return False
        if self.assignee_id == UNASSIGNED:
            if ticket.assignee_id is not None:
                return False
        elif self.assignee_id is not None and ticket.assignee_id != self.assignee_id:
            return False
        if self.sla == SlaFilter.BREACHED:
            return is_breached(ticket, now)
        if self.sla == SlaFilter.NEAR_BREACH:
            return is_near_breach(ticket, now)
        return True


def is_breached(ticket: Ticket, now: datetime) -> bool:
    """In a queue: the deadline passed. Outside the queues: a breach was recorded before it left."""
    if ticket.status.in_queue:
        due = ticket.sla_due_at
        return due is not None and due < now
    return ticket.sla_breached_at is not None


def is_near_breach(ticket: Ticket, now: datetime) -> bool:
    """Still owed an answer, deadline ahead, warning point passed (recorded by the SLA timer, or due)."""
    due = ticket.sla_due_at
    if not ticket.status.in_queue or due is None or due < now or ticket.sla_breached_at is not None:
        return False
    return ticket.sla_warned_at is not None or (ticket.sla_warn_at is not None and ticket.sla_warn_at <= now)


QueueIndex = Literal["tenant", "team", "agent", "status"]


@dataclass(frozen=True)
class QueuePlan:
    """Which index partition to read and what is left to filter on the items read.

    ``filters`` is the whole (resolved) filter — what a returned ticket must match; ``residual`` is
    the part the partition does not already guarantee. ``due`` narrows an SLA-sorted index to the
    tickets whose deadline passed ("passed") or not ("ahead"). ``empty``: nothing can match."""

    index: QueueIndex
    partition: str | None
    filters: QueueFilter
    residual: QueueFilter
    due: Literal["passed", "ahead"] | None = None
    empty: bool = False

    @property
    def newest_first(self) -> bool:
        return self.index == "status"


def plan_queue(filters: QueueFilter) -> QueuePlan:
    """The cheapest partition for a resolved filter (no "me" left in it)."""
    if filters.assignee_id == ME:
        raise ValueError("resolve 'me' before planning the read")
    agent = filters.assignee_id if filters.assignee_id not in (None, UNASSIGNED) else None
    if agent and filters.team_id:
        # An agent's queue is theirs whatever the team: one partition, one meaning.
        raise ValueError("filter by team or by assignee, not both")
    if filters.status is not None and not filters.status.in_queue:
        residual = filters.model_copy(update={"status": None})
        return QueuePlan(
            "status", filters.status.value, filters, residual, empty=filters.sla == SlaFilter.NEAR_BREACH
        )  # nothing outside a queue is owed an answer
    if agent:
        index: QueueIndex = "agent"
        partition: str | None = agent
        residual = filters.model_copy(update={"assignee_id": None})
    elif filters.team_id:
        index, partition = "team", filters.team_id
        residual = filters.model_copy(update={"team_id": None})
    else:
        index, partition, residual = "tenant", None, filters
    due: Literal["passed", "ahead"] | None = None
    if filters.sla == SlaFilter.BREACHED:
        due, residual = "passed", residual.model_copy(update={"sla": None})
    elif filters.sla == SlaFilter.NEAR_BREACH:
        due = "ahead"  # the warning condition stays in the residual
    return QueuePlan(index, partition, filters, residual, due)


# --- saved views --------------------------------------------------------------------------------


class ViewSpec(Model):
    """A saved view as an agent writes it."""

    name: str = Field(min_length=1, max_length=100)
    filters: QueueFilter = Field(default_factory=QueueFilter)
    shared: bool = Field(default=False, description="Visible to every agent of the tenant")


class SavedView(Model):
    tenant_id: str
    view_id: str
    owner_id: str
    name: str
    filters: QueueFilter
    shared: bool = False
    builtin: bool = False
    created_at: datetime | None = None
    updated_at: datetime | None = None


class ViewList(Model):
    views: list[SavedView]


class ViewCount(Model):
    view_id: str
    name: str
    builtin: bool
    count: int
    capped: bool = Field(description="More tickets than one count reads: the count is a lower bound")


class ViewCounts(Model):
    views: list[ViewCount]


BUILTIN_VIEWS: dict[str, tuple[str, QueueFilter]] = {
    "mine": ("Mine", QueueFilter(assignee_id=ME)),
    "unassigned": ("Unassigned", QueueFilter(assignee_id=UNASSIGNED)),
    "breached": ("SLA breached", QueueFilter(sla=SlaFilter.BREACHED)),
    "open": ("All open", QueueFilter()),
}


# What one counts call may read in all: every view an agent can see at its full budget. Views beyond it
# (more than MAX_VIEWS got in through concurrent creates) are reported capped without being read.
COUNTS_READ_BUDGET = (len(BUILTIN_VIEWS) + 2 * MAX_VIEWS) * COUNT_BUDGET


def builtin_view(tenant_id: str, view_id: str) -> SavedView | None:
    if view_id not in BUILTIN_VIEWS:
        return None
    name, filters = BUILTIN_VIEWS[view_id]
    return SavedView(
        tenant_id=tenant_id, view_id=view_id, owner_id="system", name=name, filters=filters, shared=True, builtin=True
    )


# --- ticket detail ------------------------------------------------------------------------------


class OrderContext(Model):
    order_status: Literal["found", "not_found", "no_order"] = Field(
        description="found: the stored order; not_found: the ticket names an order we have not stored; "
        "no_order: the ticket names none"
    )
    order_ref: str | None = None
    store_id: str | None = Field(default=None, description="The store the order was found in")
    updated_at: datetime | None = Field(default=None, description="When the stored order last changed (freshness)")
    order: Order | None = None


class TicketSummary(Model):
    ticket_id: str
    subject: str
    status: TicketStatus
    channel: Channel
    store_id: str
    order_refs: list[str]
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, ticket: Ticket) -> TicketSummary:
        return cls(
            ticket_id=ticket.ticket_id,
            subject=ticket.subject,
            status=ticket.status,
            channel=ticket.channel,
            store_id=ticket.store_id,
            order_refs=ticket.order_refs,
            created_at=ticket.created_at,
            updated_at=ticket.updated_at,
        )


class CustomerContext(Model):
    email: str | None = None
    name: str | None = None
    orders: list[Order] = Field(default_factory=list, description="The buyer's orders in every store, newest first")
    tickets: list[TicketSummary] = Field(default_factory=list, description="The buyer's other tickets, newest first")


class TicketDetail(Model):
    """What an agent sees on opening a ticket."""

    ticket: Ticket
    messages: list[Message] = Field(
        description="The whole timeline: buyer messages (original and translated "
        "text), replies, internal notes and events, oldest first"
    )
    order: OrderContext
    customer: CustomerContext
    viewers: list[Viewer] = Field(description="Other agents viewing or typing in this ticket right now")


# --- ports --------------------------------------------------------------------------------------


# --- the service --------------------------------------------------------------------------------


class InboxService:
    def __init__(
        self,
        repository: InboxRepository,
        queues: InboxQueues,
        views: SavedViews,
        presence: PresenceLog,
        clock: Callable[[], datetime] = utc_now,
        translations: TranslationService | None = None,
    ) -> None:
        self._repo = repository
        self._queues = queues
        self._views = views
        self._presence = presence
        self._clock = clock
        self._translations = translations

    # --- queues -------------------------------------------------------------------------------

    def queue(
        self, tenant_id: str, agent_id: str, filters: QueueFilter, limit: int = 25, cursor: str | None = None
    ) -> QueuePage:
        plan = plan_queue(filters.for_agent(agent_id))
        if plan.empty:
            return QueuePage(tickets=[])
        return self._queues.queue_page(tenant_id, plan, max(1, min(limit, MAX_PAGE)), cursor, self._clock())

    # --- views --------------------------------------------------------------------------------

    def views(self, tenant_id: str, agent_id: str) -> ViewList:
        """Built-in views first, then the agent's and the shared ones by name."""
        saved = sorted(self._views.list_views(tenant_id, agent_id), key=lambda v: (v.name.lower(), v.view_id))
        builtins = [v for v in (builtin_view(tenant_id, i) for i in BUILTIN_VIEWS) if v]
        return ViewList(views=[*builtins, *saved])

    def get_view(self, tenant_id: str, agent_id: str, view_id: str) -> SavedView:
        view = builtin_view(tenant_id, view_id)
        if view is None:
            view = self._views.get_view(tenant_id, agent_id, view_id, shared=False) or self._views.get_view(
                tenant_id, agent_id, view_id, shared=True
            )
        if view is None:
            raise NotFound("view not found", view_id=view_id)
        return view

    def create_view(self, tenant_id: str, agent_id: str, spec: ViewSpec) -> SavedView:
        plan_queue(spec.filters.for_agent(agent_id))  # refuses what no queue read can serve
        self._check_room(tenant_id, agent_id, spec.shared)
        now = self._clock()
        view = SavedView(
            tenant_id=tenant_id,
            view_id=new_id(now),
            owner_id=agent_id,
            name=spec.name,
            filters=spec.filters,
            shared=spec.shared,
            created_at=now,
            updated_at=now,
        )
        self._views.put_view(view)
        return view

    def update_view(self, tenant_id: str, agent_id: str, view_id: str, spec: ViewSpec, *, admin: bool) -> SavedView:
        current = self._changeable(tenant_id, agent_id, view_id, admin)
        plan_queue(spec.filters.for_agent(agent_id))
        if spec.shared != current.shared:
            self._check_room(tenant_id, current.owner_id, spec.shared)
        updated = current.model_copy(
            update={"name": spec.name, "filters": spec.filters, "shared": spec.shared, "updated_at": self._clock()}
        )
        self._views.put_view(updated, previous=current)
        return updated

    def delete_view(self, tenant_id: str, agent_id: str, view_id: str, *, admin: bool) -> SavedView:
        view = self._changeable(tenant_id, agent_id, view_id, admin)
        self._views.delete_view(view)
        return view

    def _check_room(self, tenant_id: str, owner_id: str, shared: bool) -> None:
        """At most MAX_VIEWS private views per agent and shared views per tenant (bounds the counts)."""
        same_kind = [v for v in self._views.list_views(tenant_id, owner_id) if v.shared == shared]
        if len(same_kind) >= MAX_VIEWS:
            raise ValueError(f"at most {MAX_VIEWS} {'shared' if shared else 'private'} views")

    def _changeable(self, tenant_id: str, agent_id: str, view_id: str, admin: bool) -> SavedView:
        view = self.get_view(tenant_id, agent_id, view_id)
        if view.builtin:
            raise Forbidden("built-in views cannot be changed", view_id=view_id)
        if view.owner_id != agent_id and not admin:
            raise Forbidden("only its owner or an admin changes a shared view", view_id=view_id)
        return view

    def view_tickets(
        self, tenant_id: str, agent_id: str, view_id: str, limit: int = 25, cursor: str | None = None
    ) -> QueuePage:
        view = self.get_view(tenant_id, agent_id, view_id)
        return self.queue(tenant_id, agent_id, view.filters, limit, cursor)

    def counts(self, tenant_id: str, agent_id: str) -> ViewCounts:
        """One bounded COUNT per view (built-ins and the agent's saved views): at most ``COUNT_BUDGET``
        items read per view, ``COUNTS_READ_BUDGET`` in all; a count that stopped there is ``capped``."""
        now = self._clock()
        counts = []
        remaining = COUNTS_READ_BUDGET
        for view in self.views(tenant_id, agent_id).views:
            plan = plan_queue(view.filters.for_agent(agent_id))
            budget = min(COUNT_BUDGET, remaining)
            if plan.empty:
                count, capped = 0, False
            elif budget == 0:
                count, capped = 0, True  # the call's budget is spent: not read, a lower bound
            else:
                count, capped = self._queues.count_queue(tenant_id, plan, now, budget)
                remaining -= budget
            counts.append(
                ViewCount(view_id=view.view_id, name=view.name, builtin=view.builtin, count=count, capped=capped)
            )
        return ViewCounts(views=counts)

    # --- ticket detail ------------------------------------------------------------------------

    def ticket_detail(self, tenant_id: str, agent_id: str, ticket_id: str) -> TicketDetail:
        view = found_view(self._repo, tenant_id, ticket_id)
        ticket = view.ticket
        now = self._clock()
        self._presence.touch_presence(tenant_id, ticket_id, agent_id, now, now + PRESENCE_TTL)
        viewers = active_viewers(self._presence.list_presence(tenant_id, ticket_id), agent_id, now)
        order = self._order_context(ticket)
        messages = view.messages
        if self._translations is not None:
            from helpdesk.languages.multilingual import protected_terms, translate_timeline

            reader = next((a for a in self._repo.list_agents(tenant_id) if a.agent_id == agent_id), None)
            terms = protected_terms(order.order, self._repo.get_store(tenant_id, ticket.store_id))
            messages = translate_timeline(self._translations, ticket, messages, reader, terms)
        return TicketDetail(
            ticket=ticket, messages=messages, order=order, customer=self._customer(ticket), viewers=viewers
        )

    def _order_context(self, ticket: Ticket) -> OrderContext:
        """The ticket's latest order ref, in its own store or a store it is linked to."""
        if not ticket.order_refs:
            return OrderContext(order_status="no_order")
        ref = ticket.order_refs[-1]
        order = self._repo.get_order(ticket.tenant_id, ticket.store_id, ref)
        if order is None:
            store = self._repo.get_store(ticket.tenant_id, ticket.store_id)
            for linked in (store.linked_store_ids if store else [])[:MAX_LINKED_STORES]:
                order = self._repo.get_order(ticket.tenant_id, linked, ref)
                if order is not None:
                    break
        if order is None:
            return OrderContext(order_status="not_found", order_ref=ref)
        return OrderContext(
            order_status="found", order_ref=ref, store_id=order.store_id, updated_at=order.updated_at, order=order
        )

    def _customer(self, ticket: Ticket) -> CustomerContext:
        email = ticket.customer_email
        if not email:
            return CustomerContext(name=ticket.customer_name)
        orders = self._repo.find_orders_by_email(ticket.tenant_id, email, limit=MAX_CUSTOMER_ORDERS)
        others = [
            t for t in self._repo.find_tickets_by_email(ticket.tenant_id, email) if t.ticket_id != ticket.ticket_id
        ]
        others.sort(key=lambda t: (t.created_at, t.ticket_id), reverse=True)
        return CustomerContext(
            email=email,
            name=ticket.customer_name,
            orders=orders[:MAX_CUSTOMER_ORDERS],
            tickets=[TicketSummary.of(t) for t in others[:MAX_CUSTOMER_TICKETS]],
        )
