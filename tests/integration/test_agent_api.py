"""The agent API handler on moto: SLA-sorted queue with pagination, ticket view, tenant isolation."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.ids import new_id
from helpdesk.core.models import Channel, Message, MessageDirection, Ticket, TicketStatus
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event


def _call(stack: LocalStack, event: dict[str, Any]) -> tuple[int, dict[str, Any]]:
    response = stack.functions["AgentApiFunction"].invoke(event)
    return response["statusCode"], json.loads(response["body"])


def _store_ticket(repo: DynamoRepository, seller: Seller, due_in_minutes: int, **changes: Any) -> Ticket:
    now = datetime.now(UTC)
    ticket = Ticket(
        tenant_id=seller.tenant_id,
        ticket_id=new_id(now),
        store_id=seller.store_id,
        channel=Channel.WOOCOMMERCE,
        subject=f"due in {due_in_minutes}",
        first_response_due_at=now + timedelta(minutes=due_in_minutes),
        sla_timer_version=1,
        message_count=1,
        created_at=now,
        updated_at=now,
        **changes,
    )
    message = Message(
        tenant_id=seller.tenant_id,
        ticket_id=ticket.ticket_id,
        message_id=new_id(now),
        direction=MessageDirection.INBOUND,
        channel=Channel.WOOCOMMERCE,
        store_id=seller.store_id,
        channel_message_id=f"cm-{ticket.ticket_id}",
        author="buyer",
        body=f"message for {due_in_minutes}",
        created_at=now,
    )
    repo.create_ticket(ticket, message)
    return ticket


def _queue(stack: LocalStack, tenant_id: str, query: str = "") -> tuple[int, dict[str, Any]]:
    return _call(stack, agent_event("GET", "/tickets", "/tickets", tenant_id=tenant_id, query=query))


def test_queue_is_sorted_by_sla_due_and_paginates(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    for minutes in (300, 30, 1440, 5, 60):
        _store_ticket(repo, seller, minutes)
    _store_ticket(repo, seller, 1, status=TicketStatus.RESOLVED)  # answered: not in the queue
    status, first = _queue(stack, seller.tenant_id, "limit=2")
    assert status == 200
    assert [t["subject"] for t in first["tickets"]] == ["due in 5", "due in 30"]
    status, second = _queue(stack, seller.tenant_id, f"limit=2&cursor={first['next_cursor']}")
    assert [t["subject"] for t in second["tickets"]] == ["due in 60", "due in 300"]
    _, third = _queue(stack, seller.tenant_id, f"limit=2&cursor={second['next_cursor']}")
    assert [t["subject"] for t in third["tickets"]] == ["due in 1440"]


def test_team_and_assignee_queues(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    mine = _store_ticket(repo, seller, 10, assignee_id="agent-1", team_id="de")
    _store_ticket(repo, seller, 5, assignee_id="agent-2", team_id="de")
    _store_ticket(repo, seller, 1)
    _, team = _queue(stack, seller.tenant_id, "team_id=de")
    assert [t["subject"] for t in team["tickets"]] == ["due in 5", "due in 10"]
    _, me = _queue(stack, seller.tenant_id, "assignee_id=me")
    assert [t["ticket_id"] for t in me["tickets"]] == [mine.ticket_id]


def test_ticket_view_has_the_timeline(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    ticket = _store_ticket(repo, seller, 15)
    status, view = _call(
        stack,
        agent_event(
            "GET",
            f"/tickets/{ticket.ticket_id}",
            "/tickets/{ticket_id}",
            tenant_id=seller.tenant_id,
            params={"ticket_id": ticket.ticket_id},
        ),
    )
    assert status == 200
    assert view["ticket"]["ticket_id"] == ticket.ticket_id
    assert [m["body"] for m in view["messages"]] == ["message for 15"]


def test_another_tenant_sees_nothing(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    ticket = _store_ticket(repo, seller, 15)
    status, _ = _call(
        stack,
        agent_event(
            "GET",
            f"/tickets/{ticket.ticket_id}",
            "/tickets/{ticket_id}",
            tenant_id="someone-else",
            params={"ticket_id": ticket.ticket_id},
        ),
    )
    assert status == 404
    status, page = _queue(stack, "someone-else")
    assert status == 200 and page["tickets"] == []
    # A cursor from one tenant's queue cannot open another tenant's partition.
    _store_ticket(repo, seller, 16)
    _, own = _queue(stack, seller.tenant_id, "limit=1")
    status, answer = _queue(stack, "someone-else", f"cursor={own['next_cursor']}")
    assert status == 400 and answer["error"]["code"] == "invalid_cursor"


@pytest.mark.parametrize(
    ("query", "status", "code"),
    [
        ("limit=0", 422, "validation_error"),
        ("limit=abc", 422, "validation_error"),
        ("cursor=not-a-cursor", 400, "invalid_cursor"),
        ("team_id=a&assignee_id=b", 400, "bad_request"),
    ],
)
def test_bad_queries_get_clear_errors(stack: LocalStack, seller: Seller, query: str, status: int, code: str) -> None:
    got, body = _queue(stack, seller.tenant_id, query)
    assert (got, body["error"]["code"]) == (status, code)


def test_no_verified_claims_is_401(stack: LocalStack) -> None:
    event = agent_event("GET", "/tickets", "/tickets", tenant_id="x")
    del event["requestContext"]["authorizer"]
    status, body = _call(stack, event)
    assert status == 401 and body["error"]["code"] == "unauthorized"
