"""helpdesk.tickets.inbox: queue filters and the partition each read uses, saved views and their counts, the
ticket detail (order freshness, the buyer's other orders and tickets, who else is looking)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pytest

from helpdesk.core.errors import Forbidden, InvalidCursor, NotFound
from helpdesk.core.models import Channel, Intent, Message, MessageDirection, Order, OrderStatus, TicketStatus
from helpdesk.tickets.collaboration import PRESENCE_TTL
from helpdesk.tickets.inbox import (
    MAX_VIEWS,
    InboxService,
    QueueFilter,
    SavedView,
    SlaFilter,
    ViewSpec,
    is_breached,
    is_near_breach,
    plan_queue,
)
from tests.fakes.repository import InMemoryRepository
from tests.unit.builders import NOW, STORE, TENANT, make_store, make_ticket

HOUR = timedelta(hours=1)


class Clock:
    def __init__(self, now: datetime = NOW) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


@pytest.fixture
def repo() -> InMemoryRepository:
    return InMemoryRepository()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def service(repo: InMemoryRepository, clock: Clock) -> InboxService:
    return InboxService(repo, repo, repo, repo, clock=clock)


def _ticket(number: int, **changes: Any) -> Any:
    fields: dict[str, Any] = {"ticket_id": f"T{number:03d}", "first_response_due_at": NOW + number * HOUR}
    fields.update(changes)
    return make_ticket(**fields)


def _store(repo: InMemoryRepository, *tickets: Any) -> None:
    for ticket in tickets:
        repo.set_ticket(ticket)


# --- what a filter matches ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("filters", "changes", "expected"),
    [
        (QueueFilter(), {}, True),
        (QueueFilter(), {"status": TicketStatus.RESOLVED}, False),  # not in a queue
        (QueueFilter(store_id="s2"), {}, False),
        (QueueFilter(store_id=STORE), {}, True),
        (QueueFilter(channel=Channel.EBAY), {}, False),
        (QueueFilter(channel=Channel.WOOCOMMERCE), {}, True),
        (QueueFilter(tag="vip"), {"tags": ["vip", "late"]}, True),
        (QueueFilter(tag="vip"), {"tags": ["late"]}, False),
        (QueueFilter(intent=Intent.WISMO), {"intent": Intent.WISMO}, True),
        (QueueFilter(intent=Intent.WISMO), {"intent": None}, False),
        (QueueFilter(status=TicketStatus.OPEN), {"status": TicketStatus.NEW}, False),
        (QueueFilter(status=TicketStatus.SNOOZED), {"status": TicketStatus.SNOOZED}, True),
        (QueueFilter(assignee_id="none"), {}, True),
        (QueueFilter(assignee_id="none"), {"assignee_id": "agent-1"}, False),
        (QueueFilter(assignee_id="agent-1"), {"assignee_id": "agent-1"}, True),
        (QueueFilter(assignee_id="agent-1"), {"assignee_id": "agent-2"}, False),
        (QueueFilter(team_id="de"), {"team_id": "de"}, True),
        (QueueFilter(team_id="de"), {"team_id": None}, False),
        (QueueFilter(language="de"), {"language": "de"}, True),
        (QueueFilter(language="de"), {"language": "fr"}, False),
    ],
)
def test_each_filter_narrows(filters: QueueFilter, changes: dict[str, Any], expected: bool) -> None:
    assert filters.matches(_ticket(1, **changes), NOW) is expected


def test_breached_means_the_deadline_passed_in_a_queue_and_a_recorded_breach_outside() -> None:
    overdue = _ticket(1, first_response_due_at=NOW - HOUR)
    assert is_breached(overdue, NOW) and not is_breached(_ticket(2), NOW)
    answered_late = _ticket(3, status=TicketStatus.RESOLVED, sla_breached_at=NOW - HOUR)
    assert is_breached(answered_late, NOW)
    assert not is_breached(_ticket(4, status=TicketStatus.RESOLVED), NOW)


def test_near_breach_is_a_passed_warning_point_before_the_deadline() -> None:
    warned = _ticket(1, sla_warned_at=NOW - HOUR)
    warn_point_passed = _ticket(2, sla_warn_at=NOW - timedelta(minutes=1))
    warn_point_ahead = _ticket(3, sla_warn_at=NOW + timedelta(minutes=1))
    overdue_and_warned = _ticket(4, first_response_due_at=NOW - HOUR, sla_warned_at=NOW - 2 * HOUR)
    snoozed_warned = _ticket(5, status=TicketStatus.SNOOZED, sla_warned_at=NOW - HOUR)
    assert is_near_breach(warned, NOW) and is_near_breach(warn_point_passed, NOW)
    assert not is_near_breach(warn_point_ahead, NOW)
    assert not is_near_breach(overdue_and_warned, NOW) and is_breached(overdue_and_warned, NOW)
    assert not is_near_breach(snoozed_warned, NOW)


def test_me_is_the_agent_looking() -> None:
    assert QueueFilter(assignee_id="me").for_agent("agent-7").assignee_id == "agent-7"
    assert QueueFilter(assignee_id="none").for_agent("agent-7").assignee_id == "none"


# --- which partition a read uses ----------------------------------------------------------------


def test_an_agent_filter_reads_that_agents_queue() -> None:
    plan = plan_queue(QueueFilter(assignee_id="agent-1", tag="vip"))
    assert (plan.index, plan.partition) == ("agent", "agent-1")
    assert plan.residual == QueueFilter(tag="vip")


def test_a_team_filter_reads_the_team_queue_and_unassigned_stays_a_filter() -> None:
    plan = plan_queue(QueueFilter(team_id="de", assignee_id="none"))
    assert (plan.index, plan.partition) == ("team", "de")
    assert plan.residual == QueueFilter(assignee_id="none")


def test_no_partition_filter_reads_the_tenant_queue() -> None:
    plan = plan_queue(QueueFilter(channel=Channel.EBAY, status=TicketStatus.OPEN))
    assert (plan.index, plan.partition, plan.newest_first) == ("tenant", None, False)
    assert plan.residual == QueueFilter(channel=Channel.EBAY, status=TicketStatus.OPEN)


def test_a_status_outside_the_queues_reads_the_status_index_newest_first() -> None:
    plan = plan_queue(QueueFilter(status=TicketStatus.SNOOZED, assignee_id="agent-1"))
    assert (plan.index, plan.partition, plan.newest_first) == ("status", "snoozed", True)
    assert plan.residual == QueueFilter(assignee_id="agent-1")
    assert plan_queue(QueueFilter(status=TicketStatus.RESOLVED, sla=SlaFilter.NEAR_BREACH)).empty


def test_sla_filters_become_a_range_of_the_sla_sorted_index() -> None:
    breached = plan_queue(QueueFilter(sla=SlaFilter.BREACHED))
    assert breached.due == "passed" and breached.residual.sla is None
    near = plan_queue(QueueFilter(sla=SlaFilter.NEAR_BREACH))
    assert near.due == "ahead" and near.residual.sla == SlaFilter.NEAR_BREACH
    closed_breached = plan_queue(QueueFilter(status=TicketStatus.CLOSED, sla=SlaFilter.BREACHED))
    assert closed_breached.due is None and closed_breached.residual.sla == SlaFilter.BREACHED


def test_a_team_and_an_agent_together_are_refused() -> None:
    with pytest.raises(ValueError, match="not both"):
        plan_queue(QueueFilter(team_id="de", assignee_id="agent-1"))
    with pytest.raises(ValueError, match="resolve"):
        plan_queue(QueueFilter(assignee_id="me"))


# --- queue reads --------------------------------------------------------------------------------


def test_filtered_queue_pages_through_every_match_in_sla_order(service: InboxService, repo: InMemoryRepository) -> None:
    tickets = [
        _ticket(n, tags=["vip"] if n % 3 == 0 else [], assignee_id=None if n % 2 else "agent-1") for n in range(1, 31)
    ]
    _store(repo, *tickets)
    seen: list[str] = []
    cursor = None
    while True:
        page = service.queue(TENANT, "agent-1", QueueFilter(tag="vip", assignee_id="none"), limit=2, cursor=cursor)
        seen += [t.ticket_id for t in page.tickets]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == [t.ticket_id for t in tickets if "vip" in t.tags and t.assignee_id is None]
    assert seen == ["T003", "T009", "T015", "T021", "T027"]


def test_my_queue_resolves_me(service: InboxService, repo: InMemoryRepository) -> None:
    _store(repo, _ticket(1, assignee_id="agent-1"), _ticket(2, assignee_id="agent-2"))
    page = service.queue(TENANT, "agent-2", QueueFilter(assignee_id="me"))
    assert [t.ticket_id for t in page.tickets] == ["T002"]
    plan = repo.calls[-1][1][1]
    assert (plan.index, plan.partition) == ("agent", "agent-2")


def test_snoozed_tickets_are_listed_newest_change_first(service: InboxService, repo: InMemoryRepository) -> None:
    _store(
        repo,
        _ticket(1, status=TicketStatus.SNOOZED, updated_at=NOW - HOUR),
        _ticket(2, status=TicketStatus.SNOOZED, updated_at=NOW),
        _ticket(3),
    )
    page = service.queue(TENANT, "agent-1", QueueFilter(status=TicketStatus.SNOOZED))
    assert [t.ticket_id for t in page.tickets] == ["T002", "T001"]


def test_a_cursor_of_another_partition_is_refused(service: InboxService, repo: InMemoryRepository) -> None:
    _store(repo, *[_ticket(n, team_id="de") for n in range(1, 4)])
    page = service.queue(TENANT, "agent-1", QueueFilter(team_id="de"), limit=1)
    with pytest.raises(InvalidCursor):
        service.queue(TENANT, "agent-1", QueueFilter(), limit=1, cursor=page.next_cursor)


# --- saved views --------------------------------------------------------------------------------


def test_views_list_the_builtins_then_mine_and_the_shared_ones(service: InboxService) -> None:
    mine = service.create_view(TENANT, "agent-1", ViewSpec(name="VIP", filters=QueueFilter(tag="vip")))
    shared = service.create_view(
        TENANT, "agent-2", ViewSpec(name="German", filters=QueueFilter(language="de"), shared=True)
    )
    service.create_view(TENANT, "agent-2", ViewSpec(name="Private of agent-2"))
    listed = service.views(TENANT, "agent-1").views
    assert [v.view_id for v in listed] == ["mine", "unassigned", "breached", "open", shared.view_id, mine.view_id]
    assert [v.builtin for v in listed] == [True] * 4 + [False, False]
    assert service.get_view(TENANT, "agent-1", shared.view_id).owner_id == "agent-2"


def test_a_private_view_is_nobody_elses(service: InboxService) -> None:
    view = service.create_view(TENANT, "agent-1", ViewSpec(name="VIP", filters=QueueFilter(tag="vip")))
    with pytest.raises(NotFound):
        service.get_view(TENANT, "agent-2", view.view_id)
    with pytest.raises(NotFound):
        service.delete_view(TENANT, "agent-2", view.view_id, admin=True)
    with pytest.raises(NotFound):
        service.get_view("other-tenant", "agent-1", view.view_id)


def test_a_shared_view_is_changed_by_its_owner_or_an_admin(service: InboxService, clock: Clock) -> None:
    view = service.create_view(
        TENANT, "agent-1", ViewSpec(name="Team DE", filters=QueueFilter(team_id="de"), shared=True)
    )
    change = ViewSpec(name="Team DE unassigned", filters=QueueFilter(team_id="de", assignee_id="none"), shared=True)
    with pytest.raises(Forbidden):
        service.update_view(TENANT, "agent-2", view.view_id, change, admin=False)
    clock.now = NOW + HOUR
    updated = service.update_view(TENANT, "agent-2", view.view_id, change, admin=True)
    assert (updated.name, updated.owner_id, updated.updated_at, updated.created_at) == (
        "Team DE unassigned",
        "agent-1",
        NOW + HOUR,
        view.created_at,
    )
    assert service.get_view(TENANT, "agent-1", view.view_id).filters.assignee_id == "none"


def test_unsharing_moves_the_view_back_to_its_owner(service: InboxService) -> None:
    view = service.create_view(TENANT, "agent-1", ViewSpec(name="X", shared=True))
    service.update_view(TENANT, "agent-1", view.view_id, ViewSpec(name="X"), admin=False)
    assert [v.view_id for v in service.views(TENANT, "agent-2").views if not v.builtin] == []
    assert service.get_view(TENANT, "agent-1", view.view_id).shared is False


def test_builtin_views_cannot_be_changed(service: InboxService) -> None:
    with pytest.raises(Forbidden):
        service.update_view(TENANT, "agent-1", "mine", ViewSpec(name="Mine!"), admin=True)
    with pytest.raises(Forbidden):
        service.delete_view(TENANT, "agent-1", "open", admin=True)


def test_deleting_a_view(service: InboxService) -> None:
    view = service.create_view(TENANT, "agent-1", ViewSpec(name="X"))
    assert service.delete_view(TENANT, "agent-1", view.view_id, admin=False).view_id == view.view_id
    with pytest.raises(NotFound):
        service.get_view(TENANT, "agent-1", view.view_id)


def test_a_view_no_queue_can_serve_is_refused(service: InboxService) -> None:
    with pytest.raises(ValueError, match="not both"):
        service.create_view(TENANT, "agent-1", ViewSpec(name="X", filters=QueueFilter(team_id="de", assignee_id="me")))


def test_views_per_agent_are_bounded(service: InboxService) -> None:
    for n in range(MAX_VIEWS):
        service.create_view(TENANT, "agent-1", ViewSpec(name=f"v{n}"))
    with pytest.raises(ValueError, match=f"at most {MAX_VIEWS}"):
        service.create_view(TENANT, "agent-1", ViewSpec(name="one too many"))
    assert service.create_view(TENANT, "agent-2", ViewSpec(name="another agent's")).owner_id == "agent-2"


def test_shared_views_per_tenant_are_bounded_also_when_sharing_one(service: InboxService) -> None:
    for n in range(MAX_VIEWS):
        service.create_view(TENANT, f"agent-{n % 3}", ViewSpec(name=f"v{n}", shared=True))
    private = service.create_view(TENANT, "agent-9", ViewSpec(name="mine"))
    with pytest.raises(ValueError, match="shared views"):
        service.update_view(TENANT, "agent-9", private.view_id, ViewSpec(name="mine", shared=True), admin=False)
    assert service.get_view(TENANT, "agent-9", private.view_id).shared is False


def test_a_shared_view_with_me_shows_each_agent_their_own(service: InboxService, repo: InMemoryRepository) -> None:
    _store(repo, _ticket(1, assignee_id="agent-1", tags=["vip"]), _ticket(2, assignee_id="agent-2", tags=["vip"]))
    view = service.create_view(
        TENANT, "agent-1", ViewSpec(name="My VIPs", shared=True, filters=QueueFilter(assignee_id="me", tag="vip"))
    )
    assert [t.ticket_id for t in service.view_tickets(TENANT, "agent-1", view.view_id).tickets] == ["T001"]
    assert [t.ticket_id for t in service.view_tickets(TENANT, "agent-2", view.view_id).tickets] == ["T002"]


def test_counts_per_view(service: InboxService, repo: InMemoryRepository) -> None:
    _store(
        repo,
        _ticket(1, assignee_id="agent-1", first_response_due_at=NOW - HOUR),  # breached
        _ticket(2, assignee_id="agent-1"),
        _ticket(3, tags=["vip"]),
        _ticket(4, tags=["vip"], first_response_due_at=NOW - 2 * HOUR),  # breached
        _ticket(5, status=TicketStatus.RESOLVED),
    )
    view = service.create_view(TENANT, "agent-1", ViewSpec(name="VIP", filters=QueueFilter(tag="vip")))
    counts = {c.view_id: c.count for c in service.counts(TENANT, "agent-1").views}
    assert counts == {"mine": 2, "unassigned": 2, "breached": 2, "open": 4, view.view_id: 2}
    assert not any(c.capped for c in service.counts(TENANT, "agent-1").views)


def test_a_count_stops_at_200_items_and_says_so(service: InboxService, repo: InMemoryRepository) -> None:
    _store(repo, *[_ticket(n) for n in range(201)])
    counts = {c.view_id: (c.count, c.capped) for c in service.counts(TENANT, "agent-1").views}
    assert counts == {"mine": (0, False), "unassigned": (200, True), "breached": (0, False), "open": (200, True)}


def test_one_counts_call_reads_at_most_20800_items(repo: InMemoryRepository, clock: Clock) -> None:
    # More views than MAX_VIEWS allows (two creates racing past the check): the call stays bounded.
    for n in range(MAX_VIEWS + 10):
        for shared in (False, True):
            repo.put_view(
                SavedView(
                    tenant_id=TENANT,
                    view_id=f"v{n:03d}{'s' if shared else 'p'}",
                    owner_id="agent-1",
                    name=f"{n:03d}",
                    filters=QueueFilter(),
                    shared=shared,
                )
            )
    budgets: list[int] = []

    class Recording:
        def queue_page(self, *args: Any) -> Any:
            return repo.queue_page(*args)

        def count_queue(self, tenant_id: str, plan: Any, now: datetime, budget: int) -> tuple[int, bool]:
            budgets.append(budget)
            return repo.count_queue(tenant_id, plan, now, budget)

    counts = InboxService(repo, Recording(), repo, repo, clock=clock).counts(TENANT, "agent-1").views
    assert len(counts) == 4 + 2 * (MAX_VIEWS + 10)
    assert max(budgets) == 200 and sum(budgets) <= 20_800
    assert len(budgets) == 104  # the rest were not read: reported capped, as a lower bound
    assert {(c.count, c.capped) for c in counts[104:]} == {(0, True)}


def test_an_unknown_view_is_not_found(service: InboxService) -> None:
    with pytest.raises(NotFound):
        service.view_tickets(TENANT, "agent-1", "nope")


# --- ticket detail ------------------------------------------------------------------------------


def _order(ref: str, store_id: str = STORE, **changes: Any) -> Order:
    fields: dict[str, Any] = {
        "tenant_id": TENANT,
        "store_id": store_id,
        "channel": Channel.WOOCOMMERCE,
        "order_ref": ref,
        "status": OrderStatus.SHIPPED,
        "buyer_email": "buyer@example.com",
        "ordered_at": NOW - 48 * HOUR,
        "updated_at": NOW - HOUR,
    }
    fields.update(changes)
    return Order(**fields)


def _note(ticket_id: str, body: str, at: datetime) -> Message:
    return Message(
        tenant_id=TENANT,
        ticket_id=ticket_id,
        message_id=f"N{at.timestamp():.0f}",
        direction=MessageDirection.NOTE,
        channel=Channel.WOOCOMMERCE,
        store_id=STORE,
        author="Ann",
        author_id="agent-2",
        body=body,
        created_at=at,
    )


def test_detail_has_the_timeline_the_order_and_the_buyer(service: InboxService, repo: InMemoryRepository) -> None:
    ticket = _ticket(1, order_refs=["1000", "1001"], customer_email="buyer@example.com", customer_name="Jane")
    older = _ticket(2, customer_email="buyer@example.com", created_at=NOW - 72 * HOUR, status=TicketStatus.RESOLVED)
    _store(repo, ticket, older, _ticket(3, customer_email="someone@else.example"))
    repo.messages[(TENANT, ticket.ticket_id)].append(_note(ticket.ticket_id, "checking", NOW))
    repo.upsert_order(_order("1001"))
    repo.upsert_order(_order("999", ordered_at=NOW - 500 * HOUR))

    detail = service.ticket_detail(TENANT, "agent-1", ticket.ticket_id)

    assert detail.ticket.ticket_id == "T001"
    assert [m.body for m in detail.messages] == ["checking"]
    assert detail.order.order_status == "found"
    assert (detail.order.order_ref, detail.order.store_id, detail.order.updated_at) == ("1001", STORE, NOW - HOUR)
    assert detail.order.order is not None and detail.order.order.status is OrderStatus.SHIPPED
    assert (detail.customer.email, detail.customer.name) == ("buyer@example.com", "Jane")
    assert [o.order_ref for o in detail.customer.orders] == ["1001", "999"]
    assert [t.ticket_id for t in detail.customer.tickets] == ["T002"]  # this one left out
    assert detail.customer.tickets[0].status is TicketStatus.RESOLVED


def test_the_order_is_looked_up_in_linked_stores(service: InboxService, repo: InMemoryRepository) -> None:
    repo.put_store(make_store(store_id="mail", channel=Channel.EMAIL, linked_store_ids=["shop"]))
    _store(repo, _ticket(1, store_id="mail", channel=Channel.EMAIL, order_refs=["1001"]))
    repo.upsert_order(_order("1001", store_id="shop"))
    detail = service.ticket_detail(TENANT, "agent-1", "T001")
    assert (detail.order.order_status, detail.order.store_id) == ("found", "shop")


def test_an_order_we_never_stored_and_no_order(service: InboxService, repo: InMemoryRepository) -> None:
    _store(repo, _ticket(1, order_refs=["4242"]), _ticket(2))
    missing = service.ticket_detail(TENANT, "agent-1", "T001").order
    assert (missing.order_status, missing.order_ref, missing.order) == ("not_found", "4242", None)
    none = service.ticket_detail(TENANT, "agent-1", "T002")
    assert none.order.order_status == "no_order"
    assert (none.customer.email, none.customer.orders, none.customer.tickets) == (None, [], [])


def test_opening_a_ticket_shows_who_else_is_there_and_marks_me(
    service: InboxService, repo: InMemoryRepository, clock: Clock
) -> None:
    _store(repo, _ticket(1))
    assert service.ticket_detail(TENANT, "agent-1", "T001").viewers == []
    clock.now = NOW + timedelta(seconds=20)
    viewers = service.ticket_detail(TENANT, "agent-2", "T001").viewers
    assert [(v.agent_id, v.typing, v.seen_at) for v in viewers] == [("agent-1", False, NOW)]
    clock.now = NOW + PRESENCE_TTL + timedelta(seconds=1)  # agent-1 left a minute ago
    assert service.ticket_detail(TENANT, "agent-2", "T001").viewers == []


def test_another_tenants_ticket_is_not_found_and_nobody_is_marked(
    service: InboxService, repo: InMemoryRepository
) -> None:
    _store(repo, _ticket(1))
    with pytest.raises(NotFound):
        service.ticket_detail("other-tenant", "agent-1", "T001")
    assert repo.inbox.presence == {}
