"""The agent API's queues, saved views and ticket detail through the handler on moto: every filter,
pagination that stays right when filters skip most items, views and counts, tenant isolation."""

from __future__ import annotations

import json
import operator
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest
from botocore.exceptions import ClientError

from helpdesk.adapters import inbox_store
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    Channel,
    Intent,
    Message,
    MessageDirection,
    Order,
    OrderStatus,
    Ticket,
    TicketStatus,
)
from helpdesk.tickets.inbox import QueueFilter, SlaFilter, plan_queue
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event

NOW = datetime.now(UTC)


def _call(stack: LocalStack, event: dict[str, Any]) -> tuple[int, Any]:
    response = stack.functions["AgentApiFunction"].invoke(event)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


def _get(
    stack: LocalStack,
    tenant_id: str,
    path: str,
    route: str,
    *,
    query: dict[str, Any] | None = None,
    params: dict[str, str] | None = None,
    agent_id: str = "agent-1",
    role: str = "agent",
) -> tuple[int, Any]:
    return _call(
        stack,
        agent_event(
            "GET",
            path,
            route,
            tenant_id=tenant_id,
            agent_id=agent_id,
            role=role,
            query=urlencode(query or {}),
            params=params,
        ),
    )


def _send(
    stack: LocalStack,
    method: str,
    tenant_id: str,
    path: str,
    route: str,
    body: Any = None,
    *,
    params: dict[str, str] | None = None,
    agent_id: str = "agent-1",
    role: str = "agent",
) -> tuple[int, Any]:
    return _call(
        stack,
        agent_event(
            method, path, route, tenant_id=tenant_id, agent_id=agent_id, role=role, params=params, json_body=body
        ),
    )


def _queue(stack: LocalStack, tenant_id: str, agent_id: str = "agent-1", **query: Any) -> tuple[int, Any]:
    return _get(stack, tenant_id, "/tickets", "/tickets", query=query, agent_id=agent_id)


def _all_pages(stack: LocalStack, tenant_id: str, **query: Any) -> tuple[list[str], int]:
    subjects: list[str] = []
    pages = 0
    cursor = None
    while True:
        status, page = _queue(stack, tenant_id, **query, **({"cursor": cursor} if cursor else {}))
        assert status == 200, page
        pages += 1
        subjects += [t["subject"] for t in page["tickets"]]
        cursor = page["next_cursor"]
        if cursor is None:
            return subjects, pages
        assert pages < 100


def _store_ticket(
    repo: DynamoRepository, seller: Seller, subject: str, due_in_minutes: float = 60, **changes: Any
) -> Ticket:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "tenant_id": seller.tenant_id,
        "ticket_id": new_id(now),
        "store_id": seller.store_id,
        "channel": Channel.WOOCOMMERCE,
        "subject": subject,
        "sla_timer_version": 1,
        "message_count": 1,
        "first_response_due_at": NOW + timedelta(minutes=due_in_minutes),
        "created_at": now,
        "updated_at": now,
    }
    ticket = Ticket(**{**fields, **changes})
    message = Message(
        tenant_id=seller.tenant_id,
        ticket_id=ticket.ticket_id,
        message_id=new_id(now),
        direction=MessageDirection.INBOUND,
        channel=ticket.channel,
        store_id=ticket.store_id,
        channel_message_id=f"cm-{ticket.ticket_id}",
        author="buyer",
        body=f"about {subject}",
        created_at=now,
    )
    repo.create_ticket(ticket, message)
    return ticket


# --- filters ------------------------------------------------------------------------------------


@pytest.fixture
def varied(repo: DynamoRepository, seller: Seller) -> dict[str, Ticket]:
    """Tickets that differ in one attribute each; the subject says how."""
    specs: dict[str, dict[str, Any]] = {
        "plain": {"due_in_minutes": 300},
        "mine": {"assignee_id": "agent-1", "due_in_minutes": 200},
        "theirs": {"assignee_id": "agent-2", "team_id": "de", "due_in_minutes": 100},
        "team-de": {"team_id": "de", "due_in_minutes": 250},
        "vip-wismo-de": {"tags": ["vip", "late"], "intent": Intent.WISMO, "language": "de", "due_in_minutes": 150},
        "ebay-store": {
            "store_id": "ebay-1",
            "channel": Channel.EBAY,
            "status": TicketStatus.OPEN,
            "due_in_minutes": 400,
        },
        "breached": {"due_in_minutes": -30, "sla_breached_at": NOW - timedelta(minutes=30)},
        "warned": {"due_in_minutes": 20, "sla_warned_at": NOW - timedelta(minutes=5)},
        "warn-point-passed": {"due_in_minutes": 25, "sla_warn_at": NOW - timedelta(minutes=1)},
        "warn-point-ahead": {"due_in_minutes": 30, "sla_warn_at": NOW + timedelta(minutes=10)},
        "snoozed-old": {"status": TicketStatus.SNOOZED, "assignee_id": "agent-1"},
        "snoozed-new": {"status": TicketStatus.SNOOZED},
        "resolved-late": {"status": TicketStatus.RESOLVED, "sla_breached_at": NOW - timedelta(hours=2)},
    }
    return {subject: _store_ticket(repo, seller, subject, **fields) for subject, fields in specs.items()}


OPEN_BY_DUE = [
    "breached",
    "warned",
    "warn-point-passed",
    "warn-point-ahead",
    "theirs",
    "vip-wismo-de",
    "mine",
    "team-de",
    "plain",
    "ebay-store",
]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({}, OPEN_BY_DUE),
        ({"store_id": "ebay-1"}, ["ebay-store"]),
        ({"channel": "ebay"}, ["ebay-store"]),
        ({"tag": "vip"}, ["vip-wismo-de"]),
        ({"intent": "wismo"}, ["vip-wismo-de"]),
        ({"language": "de"}, ["vip-wismo-de"]),
        ({"status": "open"}, ["ebay-store"]),
        ({"status": "new", "channel": "woocommerce", "assignee_id": "none", "team_id": "de"}, ["team-de"]),
        ({"assignee_id": "me"}, ["mine"]),
        ({"assignee_id": "agent-2"}, ["theirs"]),
        ({"assignee_id": "none"}, [s for s in OPEN_BY_DUE if s not in ("mine", "theirs")]),
        ({"team_id": "de"}, ["theirs", "team-de"]),
        ({"sla": "breached"}, ["breached"]),
        ({"sla": "near_breach"}, ["warned", "warn-point-passed"]),
        ({"status": "snoozed"}, ["snoozed-new", "snoozed-old"]),  # newest change first
        ({"status": "snoozed", "assignee_id": "me"}, ["snoozed-old"]),
        ({"status": "resolved", "sla": "breached"}, ["resolved-late"]),
        ({"status": "resolved", "sla": "near_breach"}, []),
        ({"status": "closed"}, []),
    ],
)
def test_each_filter(
    stack: LocalStack, seller: Seller, varied: dict[str, Ticket], query: dict[str, str], expected: list[str]
) -> None:
    subjects, _ = _all_pages(stack, seller.tenant_id, **query)
    assert subjects == expected
    # The store's expressions agree with the domain's definition of the filter.
    resolved = QueueFilter(**query).for_agent("agent-1")
    reference = [s for s, t in varied.items() if resolved.matches(t, datetime.now(UTC))]
    assert sorted(subjects) == sorted(reference)


def test_pages_stay_right_when_filters_skip_most_items(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(30):
        _store_ticket(
            repo,
            seller,
            f"t{n:02d}",
            due_in_minutes=10 + n,
            tags=["vip"] if n % 4 == 0 else [],
            assignee_id=None if n % 3 else "agent-1",
        )
    # Small DynamoDB pages: every API page takes several Queries and is cut in the middle of one.
    monkeypatch.setattr(inbox_store, "READ_AHEAD", (3, 3))
    subjects, pages = _all_pages(stack, seller.tenant_id, tag="vip", assignee_id="none", limit=2)
    assert subjects == ["t04", "t08", "t16", "t20", "t28"]
    assert pages == 3
    everything, _ = _all_pages(stack, seller.tenant_id, limit=7)
    assert everything == [f"t{n:02d}" for n in range(30)]


def test_a_read_budget_ends_a_page_early_with_a_cursor(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, monkeypatch: pytest.MonkeyPatch
) -> None:
    for n in range(30):
        _store_ticket(repo, seller, f"t{n:02d}", due_in_minutes=10 + n, tags=["rare"] if n == 29 else [])
    monkeypatch.setattr(inbox_store, "READ_AHEAD", (5, 5))
    monkeypatch.setattr(inbox_store, "READ_BUDGET", 10)
    status, first = _queue(stack, seller.tenant_id, tag="rare", limit=5)
    assert status == 200 and first["tickets"] == [] and first["next_cursor"]
    subjects, pages = _all_pages(stack, seller.tenant_id, tag="rare", limit=5)
    assert subjects == ["t29"] and pages >= 3  # 30 items read 10 at a time


_KEY_OPS = {"=": operator.eq, "<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


class _StrictStartKey:
    """The moto DynamoDB client, refusing (as DynamoDB does and moto does not) a Query whose
    ExclusiveStartKey lies outside its key condition: "The provided starting key is outside query
    boundaries based on provided conditions" (ValidationException)."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    def query(self, **params: Any) -> Any:
        start = params.get("ExclusiveStartKey")
        names, values = params.get("ExpressionAttributeNames", {}), params.get("ExpressionAttributeValues", {})
        for name, op, value in re.findall(r"(#\w+) (>=|<=|=|<|>) (:\w+)", params["KeyConditionExpression"]):
            if start and not _KEY_OPS[op](start[names[name]]["S"], values[value]["S"]):
                raise ClientError(
                    {
                        "Error": {
                            "Code": "ValidationException",
                            "Message": (
                                "The provided starting key is outside query boundaries based on provided conditions"
                            ),
                        }
                    },
                    "Query",
                )
        return self._client.query(**params)


def test_near_breach_pages_go_on_when_the_cursors_ticket_passed_its_deadline(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    start = datetime.now(UTC)
    for minutes in (10, 12, 20, 30):
        _store_ticket(
            repo,
            seller,
            f"due-in-{minutes}",
            due_in_minutes=(start - NOW).total_seconds() / 60 + minutes,
            sla_warned_at=start,
        )
    store = inbox_store.QueueStore(_StrictStartKey(stack.client("dynamodb")), stack.resolver.refs["HelpdeskTable"])
    plan = plan_queue(QueueFilter(sla=SlaFilter.NEAR_BREACH))

    first = store.queue_page(seller.tenant_id, plan, 1, None, start)
    assert [t.subject for t in first.tickets] == ["due-in-10"] and first.next_cursor
    # 15 minutes on, the cursor's ticket (and the one after it) passed their deadlines: no longer near breach.
    later = start + timedelta(minutes=15)
    second = store.queue_page(seller.tenant_id, plan, 1, first.next_cursor, later)
    assert [t.subject for t in second.tickets] == ["due-in-20"] and second.next_cursor
    third = store.queue_page(seller.tenant_id, plan, 5, second.next_cursor, start + timedelta(minutes=25))
    assert [t.subject for t in third.tickets] == ["due-in-30"] and third.next_cursor is None
    # A cursor still ahead of the clock keeps the plain range.
    again = store.queue_page(seller.tenant_id, plan, 5, first.next_cursor, start)
    assert [t.subject for t in again.tickets] == ["due-in-12", "due-in-20", "due-in-30"]


def test_a_count_reads_no_more_than_its_budget(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    for n in range(12):
        _store_ticket(repo, seller, f"t{n:02d}", due_in_minutes=10 + n)
    reads: list[int] = []

    class Counting:
        def __init__(self, client: Any) -> None:
            self._client = client

        def query(self, **params: Any) -> Any:
            answer = self._client.query(**params)
            reads.append(answer["ScannedCount"])
            return answer

    store = inbox_store.QueueStore(Counting(stack.client("dynamodb")), stack.resolver.refs["HelpdeskTable"])
    everything = plan_queue(QueueFilter())
    assert store.count_queue(seller.tenant_id, everything, datetime.now(UTC), 5) == (5, True)
    assert sum(reads) == 5
    reads.clear()
    assert store.count_queue(seller.tenant_id, everything, datetime.now(UTC), 50) == (12, False)
    assert sum(reads) == 12


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ({"channel": "fax"}, 422),
        ({"sla": "soon"}, 422),
        ({"status": "lost"}, 422),
        ({"assignee_id": "a b"}, 422),
        ({"limit": "101"}, 422),
        ({"team_id": "de", "assignee_id": "me"}, 400),
    ],
)
def test_bad_filters(stack: LocalStack, seller: Seller, query: dict[str, str], code: int) -> None:
    status, body = _queue(stack, seller.tenant_id, **query)
    assert status == code and body["error"]["code"] in ("validation_error", "bad_request")


def test_a_cursor_of_another_filter_partition_is_refused(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    for n in range(3):
        _store_ticket(repo, seller, f"t{n}", team_id="de")
    _, page = _queue(stack, seller.tenant_id, team_id="de", limit=1)
    status, body = _queue(stack, seller.tenant_id, status="snoozed", cursor=page["next_cursor"])
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


# --- saved views --------------------------------------------------------------------------------


def _create_view(
    stack: LocalStack, tenant_id: str, body: dict[str, Any], agent_id: str = "agent-1", role: str = "agent"
) -> tuple[int, Any]:
    return _send(stack, "POST", tenant_id, "/views", "/views", body, agent_id=agent_id, role=role)


def _view_route(
    stack: LocalStack,
    method: str,
    tenant_id: str,
    view_id: str,
    body: Any = None,
    agent_id: str = "agent-1",
    role: str = "agent",
) -> tuple[int, Any]:
    return _send(
        stack,
        method,
        tenant_id,
        f"/views/{view_id}",
        "/views/{view_id}",
        body,
        params={"view_id": view_id},
        agent_id=agent_id,
        role=role,
    )


def _view_tickets(
    stack: LocalStack, tenant_id: str, view_id: str, agent_id: str = "agent-1", **query: Any
) -> tuple[int, Any]:
    return _get(
        stack,
        tenant_id,
        f"/views/{view_id}/tickets",
        "/views/{view_id}/tickets",
        query=query,
        params={"view_id": view_id},
        agent_id=agent_id,
    )


def test_saved_views_lifecycle(stack: LocalStack, seller: Seller, varied: dict[str, Ticket]) -> None:
    status, view = _create_view(
        stack, seller.tenant_id, {"name": "German VIPs", "filters": {"tag": "vip", "language": "de"}}
    )
    assert status == 201 and view["owner_id"] == "agent-1" and view["shared"] is False
    view_id = view["view_id"]

    status, listed = _get(stack, seller.tenant_id, "/views", "/views")
    assert status == 200
    assert [v["view_id"] for v in listed["views"]] == ["mine", "unassigned", "breached", "open", view_id]

    status, page = _view_tickets(stack, seller.tenant_id, view_id)
    assert status == 200 and [t["subject"] for t in page["tickets"]] == ["vip-wismo-de"]

    status, changed = _view_route(
        stack, "PUT", seller.tenant_id, view_id, {"name": "Team DE", "filters": {"team_id": "de"}, "shared": True}
    )
    assert status == 200 and changed["shared"] is True and changed["name"] == "Team DE"
    # Shared now: a colleague sees it and its tickets, but cannot change it.
    status, seen = _view_route(stack, "GET", seller.tenant_id, view_id, agent_id="agent-2")
    assert status == 200 and seen["filters"]["team_id"] == "de"
    _, theirs = _view_tickets(stack, seller.tenant_id, view_id, agent_id="agent-2")
    assert [t["subject"] for t in theirs["tickets"]] == ["theirs", "team-de"]
    status, refused = _view_route(stack, "DELETE", seller.tenant_id, view_id, agent_id="agent-2")
    assert status == 403 and refused["error"]["code"] == "forbidden"

    status, deleted = _view_route(stack, "DELETE", seller.tenant_id, view_id)
    assert status == 200 and deleted == {"deleted": view_id}
    status, _ = _view_route(stack, "GET", seller.tenant_id, view_id)
    assert status == 404


def test_a_private_view_is_invisible_to_colleagues(stack: LocalStack, seller: Seller) -> None:
    _, view = _create_view(stack, seller.tenant_id, {"name": "mine only"})
    status, _ = _view_route(stack, "GET", seller.tenant_id, view["view_id"], agent_id="agent-2")
    assert status == 404
    _, listed = _get(stack, seller.tenant_id, "/views", "/views", agent_id="agent-2")
    assert [v["view_id"] for v in listed["views"] if not v["builtin"]] == []


def test_builtin_views_and_me(stack: LocalStack, seller: Seller, varied: dict[str, Ticket]) -> None:
    _, mine = _view_tickets(stack, seller.tenant_id, "mine")
    assert [t["subject"] for t in mine["tickets"]] == ["mine"]
    _, theirs = _view_tickets(stack, seller.tenant_id, "mine", agent_id="agent-2")
    assert [t["subject"] for t in theirs["tickets"]] == ["theirs"]
    _, breached = _view_tickets(stack, seller.tenant_id, "breached")
    assert [t["subject"] for t in breached["tickets"]] == ["breached"]
    status, body = _view_route(stack, "PUT", seller.tenant_id, "open", {"name": "x"}, role="admin")
    assert status == 403 and body["error"]["code"] == "forbidden"


def test_counts_per_view(stack: LocalStack, seller: Seller, varied: dict[str, Ticket]) -> None:
    _, view = _create_view(stack, seller.tenant_id, {"name": "near", "filters": {"sla": "near_breach"}})
    _, snoozed = _create_view(
        stack,
        seller.tenant_id,
        {"name": "snoozed", "filters": {"status": "snoozed"}, "shared": True},
        agent_id="agent-2",
    )
    status, counts = _get(stack, seller.tenant_id, "/views/counts", "/views/counts")
    assert status == 200
    got = {c["view_id"]: (c["count"], c["capped"]) for c in counts["views"]}
    assert got == {
        "mine": (1, False),
        "unassigned": (8, False),
        "breached": (1, False),
        "open": (10, False),
        view["view_id"]: (2, False),
        snoozed["view_id"]: (2, False),
    }


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({}, 422),
        ({"name": ""}, 422),
        ({"name": "x", "filters": {"colour": "red"}}, 422),
        ({"name": "x", "filters": {"sla": "later"}}, 422),
        ({"name": "x", "owner_id": "agent-9"}, 422),
        ({"name": "x", "filters": {"team_id": "de", "assignee_id": "agent-2"}}, 400),
    ],
)
def test_bad_views(stack: LocalStack, seller: Seller, body: dict[str, Any], status: int) -> None:
    got, answer = _create_view(stack, seller.tenant_id, body)
    assert got == status and answer["error"]["code"] in ("validation_error", "bad_request")


def test_a_read_only_agent_reads_views_but_saves_none(stack: LocalStack, seller: Seller) -> None:
    _, view = _create_view(stack, seller.tenant_id, {"name": "shared", "shared": True})
    status, _ = _create_view(stack, seller.tenant_id, {"name": "x"}, agent_id="viewer", role="read_only")
    assert status == 403
    status, _ = _view_route(
        stack, "PUT", seller.tenant_id, view["view_id"], {"name": "y"}, agent_id="viewer", role="read_only"
    )
    assert status == 403
    status, _ = _view_route(stack, "GET", seller.tenant_id, view["view_id"], agent_id="viewer", role="read_only")
    assert status == 200


# --- ticket detail ------------------------------------------------------------------------------


def _detail(
    stack: LocalStack, tenant_id: str, ticket_id: str, agent_id: str = "agent-1", role: str = "agent"
) -> tuple[int, Any]:
    return _get(
        stack,
        tenant_id,
        f"/tickets/{ticket_id}",
        "/tickets/{ticket_id}",
        params={"ticket_id": ticket_id},
        agent_id=agent_id,
        role=role,
    )


def test_ticket_detail(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    email = f"buyer-{seller.tenant_id}@example.com"
    older = _store_ticket(repo, seller, "older", customer_email=email, status=TicketStatus.RESOLVED)
    ticket = _store_ticket(
        repo, seller, "jetzt", customer_email=email, customer_name="Jane", order_refs=["1001"], language="de"
    )
    other_buyer = _store_ticket(repo, seller, "someone else", customer_email="x@example.com")
    updated = datetime(2024, 3, 1, 10, 0, tzinfo=UTC)
    repo.upsert_order(
        Order(
            tenant_id=seller.tenant_id,
            store_id=seller.store_id,
            channel=Channel.WOOCOMMERCE,
            order_ref="1001",
            status=OrderStatus.SHIPPED,
            buyer_email=email,
            tracking_number="TRK1",
            ordered_at=updated - timedelta(days=1),
            updated_at=updated,
        )
    )
    current = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    assert current is not None
    routed = Message(
        tenant_id=seller.tenant_id,
        ticket_id=ticket.ticket_id,
        message_id=new_id(NOW),
        direction=MessageDirection.EVENT,
        channel=ticket.channel,
        store_id=ticket.store_id,
        author="system",
        body="Routed",
        created_at=datetime.now(UTC),
    )
    after = current.model_copy(deep=True)
    repo.update_ticket(current, after, [routed])

    status, detail = _detail(stack, seller.tenant_id, ticket.ticket_id)
    assert status == 200
    assert detail["ticket"]["ticket_id"] == ticket.ticket_id
    # The reader speaks English only; the local stack has no translation provider, and says so.
    inbound = detail["messages"][0]
    assert inbound["translation"] == {
        "language": "en",
        "source_language": "de",
        "text": "about jetzt",
        "provider": "none",
        "translated": False,
        "note": inbound["translation"]["note"],
    }
    assert "no translation provider" in inbound["translation"]["note"]
    assert [(m["direction"], m["body"]) for m in detail["messages"]] == [
        ("inbound", "about jetzt"),
        ("event", "Routed"),
    ]
    assert detail["order"]["order_status"] == "found"
    assert detail["order"]["updated_at"].startswith("2024-03-01T10:00:00")
    assert detail["order"]["order"]["tracking_number"] == "TRK1"
    assert detail["customer"]["email"] == email and detail["customer"]["name"] == "Jane"
    assert [o["order_ref"] for o in detail["customer"]["orders"]] == ["1001"]
    assert [t["ticket_id"] for t in detail["customer"]["tickets"]] == [older.ticket_id]
    assert other_buyer.ticket_id not in json.dumps(detail)
    assert detail["viewers"] == []

    # A second agent opening it sees the first one (collision), and the first then sees the second.
    _, seen_by_2 = _detail(stack, seller.tenant_id, ticket.ticket_id, agent_id="agent-2")
    assert [(v["agent_id"], v["typing"]) for v in seen_by_2["viewers"]] == [("agent-1", False)]
    _, seen_by_1 = _detail(stack, seller.tenant_id, ticket.ticket_id)
    assert [v["agent_id"] for v in seen_by_1["viewers"]] == ["agent-2"]


def test_detail_of_a_ticket_without_order_or_email(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    unknown_order = _store_ticket(repo, seller, "unknown order", order_refs=["9999"])
    no_order = _store_ticket(repo, seller, "no order")
    _, detail = _detail(stack, seller.tenant_id, unknown_order.ticket_id)
    assert (detail["order"]["order_status"], detail["order"]["order_ref"]) == ("not_found", "9999")
    _, detail = _detail(stack, seller.tenant_id, no_order.ticket_id)
    assert detail["order"]["order_status"] == "no_order" and detail["order"].get("order") is None
    assert detail["customer"]["orders"] == [] and detail["customer"]["tickets"] == []


# --- tenant isolation and authentication -------------------------------------------------------


def test_another_tenant_sees_and_changes_nothing(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    ticket = _store_ticket(repo, seller, "secret", tags=["vip"])
    _, view = _create_view(stack, seller.tenant_id, {"name": "shared", "shared": True})
    view_id = view["view_id"]
    intruder = f"intruder-{seller.tenant_id}"

    _, page = _queue(stack, intruder)
    assert page["tickets"] == []
    _, page = _queue(stack, intruder, tag="vip")
    assert page["tickets"] == []
    status, _ = _detail(stack, intruder, ticket.ticket_id, agent_id="agent-1", role="admin")
    assert status == 404
    _, listed = _get(stack, intruder, "/views", "/views")
    assert all(v["builtin"] for v in listed["views"])
    _, counts = _get(stack, intruder, "/views/counts", "/views/counts")
    assert all(c["count"] == 0 for c in counts["views"]) and view_id not in json.dumps(counts)
    for method, body in (("GET", None), ("PUT", {"name": "taken"}), ("DELETE", None)):
        status, answer = _view_route(stack, method, intruder, view_id, body, role="admin")
        assert status == 404 and answer["error"]["code"] == "not_found"
    status, _ = _view_tickets(stack, intruder, view_id)
    assert status == 404
    # Nothing changed for the owner; the intruder left no presence on the ticket.
    status, still = _view_route(stack, "GET", seller.tenant_id, view_id)
    assert status == 200 and still["name"] == "shared"
    _, detail = _detail(stack, seller.tenant_id, ticket.ticket_id)
    assert detail["viewers"] == []


@pytest.mark.parametrize(
    ("method", "path", "route", "params"),
    [
        ("GET", "/tickets", "/tickets", {}),
        ("GET", "/tickets/T1", "/tickets/{ticket_id}", {"ticket_id": "T1"}),
        ("GET", "/views", "/views", {}),
        ("POST", "/views", "/views", {}),
        ("GET", "/views/counts", "/views/counts", {}),
        ("GET", "/views/mine", "/views/{view_id}", {"view_id": "mine"}),
        ("PUT", "/views/v1", "/views/{view_id}", {"view_id": "v1"}),
        ("DELETE", "/views/v1", "/views/{view_id}", {"view_id": "v1"}),
        ("GET", "/views/mine/tickets", "/views/{view_id}/tickets", {"view_id": "mine"}),
    ],
)
def test_every_route_needs_a_verified_token(
    stack: LocalStack, method: str, path: str, route: str, params: dict[str, str]
) -> None:
    body = {"name": "x"} if method in ("POST", "PUT") else None
    event = agent_event(method, path, route, tenant_id="x", params=params, json_body=body)
    del event["requestContext"]["authorizer"]
    status, answer = _call(stack, event)
    assert status == 401 and answer["error"]["code"] == "unauthorized"
