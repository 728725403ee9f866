"""Notes with @mentions, notifications and presence through the agent API handler on moto."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import urlencode

import pytest

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.inbox_store import PresenceStore
from helpdesk.core.ids import new_id
from helpdesk.core.models import Agent, AgentRole, Channel, Message, MessageDirection, Ticket
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event

OLD = datetime.now(UTC) - timedelta(hours=6)


def _call(stack: LocalStack, event: dict[str, Any]) -> tuple[int, Any]:
    response = stack.functions["AgentApiFunction"].invoke(event)
    return response["statusCode"], json.loads(response["body"]) if response.get("body") else None


@pytest.fixture
def team(repo: DynamoRepository, seller: Seller) -> Seller:
    for agent_id, name, role in (
        ("agent-1", "Ann", AgentRole.AGENT),
        ("agent-2", "Bob", AgentRole.AGENT),
        ("agent-3", "Cleo", AgentRole.ADMIN),
        ("viewer", "Vic", AgentRole.READ_ONLY),
    ):
        repo.put_agent(
            Agent(tenant_id=seller.tenant_id, agent_id=agent_id, name=name, email=f"{agent_id}@shop.example", role=role)
        )
    return seller


def _ticket(repo: DynamoRepository, seller: Seller, **changes: Any) -> Ticket:
    now = datetime.now(UTC)
    fields: dict[str, Any] = {
        "tenant_id": seller.tenant_id,
        "ticket_id": new_id(now),
        "store_id": seller.store_id,
        "channel": Channel.WOOCOMMERCE,
        "subject": "Where is my parcel?",
        "sla_timer_version": 1,
        "first_response_due_at": now + timedelta(hours=2),
        "message_count": 1,
        "created_at": now,
        "updated_at": now,
    }
    ticket = Ticket(**{**fields, **changes})
    repo.create_ticket(
        ticket,
        Message(
            tenant_id=seller.tenant_id,
            ticket_id=ticket.ticket_id,
            message_id=new_id(now),
            direction=MessageDirection.INBOUND,
            channel=ticket.channel,
            store_id=ticket.store_id,
            channel_message_id=f"cm-{ticket.ticket_id}",
            author="buyer",
            body="Where is it?",
            created_at=now,
        ),
    )
    return ticket


def _note(
    stack: LocalStack, tenant_id: str, ticket_id: str, body: Any, agent_id: str = "agent-1", role: str = "agent"
) -> tuple[int, Any]:
    return _call(
        stack,
        agent_event(
            "POST",
            f"/tickets/{ticket_id}/notes",
            "/tickets/{ticket_id}/notes",
            tenant_id=tenant_id,
            agent_id=agent_id,
            role=role,
            params={"ticket_id": ticket_id},
            json_body=body,
        ),
    )


def _presence(
    stack: LocalStack, tenant_id: str, ticket_id: str, body: Any = None, agent_id: str = "agent-1", role: str = "agent"
) -> tuple[int, Any]:
    method = "GET" if body is None else "POST"
    return _call(
        stack,
        agent_event(
            method,
            f"/tickets/{ticket_id}/presence",
            "/tickets/{ticket_id}/presence",
            tenant_id=tenant_id,
            agent_id=agent_id,
            role=role,
            params={"ticket_id": ticket_id},
            json_body=body,
        ),
    )


def _notifications(stack: LocalStack, tenant_id: str, agent_id: str, **query: Any) -> tuple[int, Any]:
    return _call(
        stack,
        agent_event(
            "GET",
            "/me/notifications",
            "/me/notifications",
            tenant_id=tenant_id,
            agent_id=agent_id,
            query=urlencode(query),
        ),
    )


def _mark_read(stack: LocalStack, tenant_id: str, agent_id: str, notification_id: str) -> tuple[int, Any]:
    return _call(
        stack,
        agent_event(
            "POST",
            f"/me/notifications/{notification_id}/read",
            "/me/notifications/{notification_id}/read",
            tenant_id=tenant_id,
            agent_id=agent_id,
            params={"notification_id": notification_id},
        ),
    )


def _timeline(repo: DynamoRepository, seller: Seller, ticket_id: str) -> list[Message]:
    view = repo.get_ticket_view(seller.tenant_id, ticket_id)
    assert view is not None
    return view.messages


# --- notes and mentions -------------------------------------------------------------------------


def test_a_note_mentions_and_notifies(stack: LocalStack, repo: DynamoRepository, team: Seller) -> None:
    ticket = _ticket(repo, team, assignee_id="agent-1", aging_level=1, last_agent_action_at=OLD)
    status, note = _note(
        stack,
        team.tenant_id,
        ticket.ticket_id,
        {"body": "@agent-2 the buyer called, can you check the carrier?", "mentions": ["agent-3"]},
        agent_id="agent-2",
    )
    assert status == 201
    assert (note["direction"], note["author"], note["author_id"]) == ("note", "Bob", "agent-2")
    assert note["mentions"] == ["agent-2", "agent-3"]
    timeline = _timeline(repo, team, ticket.ticket_id)
    assert [m.direction for m in timeline] == [MessageDirection.INBOUND, MessageDirection.NOTE]
    # A colleague's note changes nothing on the ticket.
    stored = repo.get_ticket(team.tenant_id, ticket.ticket_id)
    assert stored is not None and (stored.version, stored.aging_level) == (ticket.version, 1)

    _, cleo = _notifications(stack, team.tenant_id, "agent-3")
    assert [(n["ticket_id"], n["message_id"], n["author_id"], n["read_at"]) for n in cleo["notifications"]] == [
        (ticket.ticket_id, note["message_id"], "agent-2", None)
    ]
    _, bob = _notifications(stack, team.tenant_id, "agent-2")
    assert bob["notifications"] == []  # the author is not notified of their own mention


def test_a_note_by_the_assignee_restarts_aging_not_the_sla(
    stack: LocalStack, repo: DynamoRepository, team: Seller
) -> None:
    ticket = _ticket(repo, team, assignee_id="agent-1", aging_level=2, last_agent_action_at=OLD)
    before = datetime.now(UTC)
    status, _ = _note(stack, team.tenant_id, ticket.ticket_id, {"body": "waiting for the warehouse"})
    assert status == 201
    stored = repo.get_ticket(team.tenant_id, ticket.ticket_id)
    assert stored is not None
    assert stored.aging_level == 0 and stored.last_agent_action_at is not None
    assert stored.last_agent_action_at >= before and stored.version == ticket.version + 1
    assert (stored.first_response_due_at, stored.sla_timer_version, stored.status, stored.first_responded_at) == (
        ticket.first_response_due_at,
        ticket.sla_timer_version,
        ticket.status,
        None,
    )
    # Still in the SLA-sorted queue, where it was.
    _, page = _call(stack, agent_event("GET", "/tickets", "/tickets", tenant_id=team.tenant_id, query="assignee_id=me"))
    assert [t["ticket_id"] for t in page["tickets"]] == [ticket.ticket_id]


def test_an_unknown_mention_is_refused_with_its_name(stack: LocalStack, repo: DynamoRepository, team: Seller) -> None:
    ticket = _ticket(repo, team)
    status, body = _note(stack, team.tenant_id, ticket.ticket_id, {"body": "@agent-2 and @nobody, see this"})
    assert status == 422
    assert body["error"]["code"] == "unknown_mention" and body["error"]["details"] == {"names": ["nobody"]}
    assert len(_timeline(repo, team, ticket.ticket_id)) == 1
    _, bob = _notifications(stack, team.tenant_id, "agent-2")
    assert bob["notifications"] == []


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"body": ""},
        {"body": "   "},
        {"body": "x", "mentions": ["not valid!"]},
        {"body": "x", "author_id": "agent-9"},
        {"body": "x" * 20_001},
    ],
)
def test_bad_notes(stack: LocalStack, repo: DynamoRepository, team: Seller, body: dict[str, Any]) -> None:
    ticket = _ticket(repo, team)
    status, answer = _note(stack, team.tenant_id, ticket.ticket_id, body)
    assert status == 422 and answer["error"]["code"] == "validation_error"
    assert len(_timeline(repo, team, ticket.ticket_id)) == 1


def test_read_only_agents_write_no_notes_but_may_be_present(
    stack: LocalStack, repo: DynamoRepository, team: Seller
) -> None:
    ticket = _ticket(repo, team)
    status, body = _note(stack, team.tenant_id, ticket.ticket_id, {"body": "hi"}, agent_id="viewer", role="read_only")
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, _ = _presence(
        stack, team.tenant_id, ticket.ticket_id, {"typing": True}, agent_id="viewer", role="read_only"
    )
    assert status == 403
    status, _ = _presence(
        stack, team.tenant_id, ticket.ticket_id, {"typing": False}, agent_id="viewer", role="read_only"
    )
    assert status == 200
    _, seen = _presence(stack, team.tenant_id, ticket.ticket_id)
    assert [(v["agent_id"], v["typing"]) for v in seen["viewers"]] == [("viewer", False)]
    assert len(_timeline(repo, team, ticket.ticket_id)) == 1


def test_a_note_on_an_unknown_ticket_is_not_found(stack: LocalStack, team: Seller) -> None:
    status, body = _note(stack, team.tenant_id, "NOPE", {"body": "hi"})
    assert status == 404 and body["error"]["code"] == "not_found"


# --- notifications ------------------------------------------------------------------------------


def test_notifications_page_filter_and_read(stack: LocalStack, repo: DynamoRepository, team: Seller) -> None:
    ticket = _ticket(repo, team)
    for n in range(5):
        status, _ = _note(stack, team.tenant_id, ticket.ticket_id, {"body": f"@agent-2 number {n}"})
        assert status == 201
    seen: list[str] = []
    cursor = None
    for _ in range(5):
        _, page = _notifications(stack, team.tenant_id, "agent-2", limit=2, **({"cursor": cursor} if cursor else {}))
        seen += [n["excerpt"] for n in page["notifications"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert seen == [f"@agent-2 number {n}" for n in (4, 3, 2, 1, 0)]

    _, page = _notifications(stack, team.tenant_id, "agent-2", limit=1)
    newest = page["notifications"][0]
    status, read = _mark_read(stack, team.tenant_id, "agent-2", newest["notification_id"])
    assert status == 200 and read["read_at"] is not None
    status, again = _mark_read(stack, team.tenant_id, "agent-2", newest["notification_id"])
    assert status == 200 and again["read_at"] == read["read_at"]  # idempotent

    _, unread = _notifications(stack, team.tenant_id, "agent-2", unread="true", limit=2)
    assert [n["excerpt"] for n in unread["notifications"]] == ["@agent-2 number 3", "@agent-2 number 2"]
    _, everything = _notifications(stack, team.tenant_id, "agent-2")
    assert len(everything["notifications"]) == 5

    status, _ = _mark_read(stack, team.tenant_id, "agent-1", newest["notification_id"])  # not theirs
    assert status == 404
    status, body = _mark_read(stack, team.tenant_id, "agent-2", "01NOPE")
    assert status == 404 and body["error"]["code"] == "not_found"


@pytest.mark.parametrize("query", ["limit=0", "limit=x", "unread=maybe"])
def test_bad_notification_queries(stack: LocalStack, team: Seller, query: str) -> None:
    status, body = _call(
        stack, agent_event("GET", "/me/notifications", "/me/notifications", tenant_id=team.tenant_id, query=query)
    )
    assert status == 422 and body["error"]["code"] == "validation_error"


def test_a_cursor_of_another_agents_notifications_is_refused(
    stack: LocalStack, repo: DynamoRepository, team: Seller
) -> None:
    ticket = _ticket(repo, team)
    for _ in range(2):
        _note(stack, team.tenant_id, ticket.ticket_id, {"body": "@agent-2 hi"})
    _, page = _notifications(stack, team.tenant_id, "agent-2", limit=1)
    status, body = _notifications(stack, team.tenant_id, "agent-3", cursor=page["next_cursor"])
    assert status == 400 and body["error"]["code"] == "invalid_cursor"


# --- presence -----------------------------------------------------------------------------------


def test_collision_detection(stack: LocalStack, repo: DynamoRepository, team: Seller) -> None:
    ticket = _ticket(repo, team)
    status, alone = _presence(stack, team.tenant_id, ticket.ticket_id, {"typing": False})
    assert status == 200 and alone["viewers"] == []
    status, seen_by_2 = _presence(stack, team.tenant_id, ticket.ticket_id, {"typing": True}, agent_id="agent-2")
    assert [(v["agent_id"], v["typing"]) for v in seen_by_2["viewers"]] == [("agent-1", False)]

    _, seen_by_1 = _presence(stack, team.tenant_id, ticket.ticket_id)
    assert [(v["agent_id"], v["typing"]) for v in seen_by_1["viewers"]] == [("agent-2", True)]
    _, detail = _call(
        stack,
        agent_event(
            "GET",
            f"/tickets/{ticket.ticket_id}",
            "/tickets/{ticket_id}",
            tenant_id=team.tenant_id,
            params={"ticket_id": ticket.ticket_id},
        ),
    )
    assert [(v["agent_id"], v["typing"]) for v in detail["viewers"]] == [("agent-2", True)]

    # Opening the ticket again (a GET) keeps agent-2 typing; stopping says so.
    _call(
        stack,
        agent_event(
            "GET",
            f"/tickets/{ticket.ticket_id}",
            "/tickets/{ticket_id}",
            tenant_id=team.tenant_id,
            agent_id="agent-2",
            params={"ticket_id": ticket.ticket_id},
        ),
    )
    _, still = _presence(stack, team.tenant_id, ticket.ticket_id)
    assert [(v["agent_id"], v["typing"]) for v in still["viewers"]] == [("agent-2", True)]
    _presence(stack, team.tenant_id, ticket.ticket_id, {"typing": False}, agent_id="agent-2")
    _, stopped = _presence(stack, team.tenant_id, ticket.ticket_id)
    assert [(v["agent_id"], v["typing"]) for v in stopped["viewers"]] == [("agent-2", False)]


def test_expired_presence_is_ignored_before_ttl_deletes_it(
    stack: LocalStack, repo: DynamoRepository, team: Seller
) -> None:
    ticket = _ticket(repo, team)
    store = PresenceStore(stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"])
    gone = datetime.now(UTC) - timedelta(minutes=2)
    store.touch_presence(team.tenant_id, ticket.ticket_id, "agent-2", gone, gone + timedelta(seconds=60), True)
    assert [p.agent_id for p in store.list_presence(team.tenant_id, ticket.ticket_id)] == ["agent-2"]  # still stored
    _, seen = _presence(stack, team.tenant_id, ticket.ticket_id)
    assert seen["viewers"] == []


@pytest.mark.parametrize("body", [{"typing": "maybe"}, {"typing": True, "where": "x"}])
def test_bad_presence(stack: LocalStack, repo: DynamoRepository, team: Seller, body: dict[str, Any]) -> None:
    ticket = _ticket(repo, team)
    status, answer = _presence(stack, team.tenant_id, ticket.ticket_id, body)
    assert status == 422 and answer["error"]["code"] == "validation_error"


# --- tenant isolation and authentication -------------------------------------------------------


def test_another_tenant_sees_and_changes_nothing(stack: LocalStack, repo: DynamoRepository, team: Seller) -> None:
    ticket = _ticket(repo, team, assignee_id="agent-1", aging_level=1, last_agent_action_at=OLD)
    _note(stack, team.tenant_id, ticket.ticket_id, {"body": "@agent-2 look"})
    _, page = _notifications(stack, team.tenant_id, "agent-2")
    notification_id = page["notifications"][0]["notification_id"]
    intruder = f"intruder-{team.tenant_id}"

    status, _ = _note(stack, intruder, ticket.ticket_id, {"body": "hi"}, role="admin")
    assert status == 404
    status, _ = _presence(stack, intruder, ticket.ticket_id, {"typing": True})
    assert status == 404
    status, _ = _presence(stack, intruder, ticket.ticket_id)
    assert status == 404
    status, theirs = _notifications(stack, intruder, "agent-2")
    assert status == 200 and theirs["notifications"] == []
    status, _ = _mark_read(stack, intruder, "agent-2", notification_id)
    assert status == 404

    stored = repo.get_ticket(team.tenant_id, ticket.ticket_id)
    assert stored is not None and stored.version == ticket.version + 1  # only the owner's note changed it
    assert [m.author_id for m in _timeline(repo, team, ticket.ticket_id)] == [None, "agent-1"]
    _, viewers = _presence(stack, team.tenant_id, ticket.ticket_id, agent_id="agent-3")
    assert viewers["viewers"] == []
    _, unread = _notifications(stack, team.tenant_id, "agent-2", unread="true")
    assert [n["notification_id"] for n in unread["notifications"]] == [notification_id]


@pytest.mark.parametrize(
    ("method", "path", "route", "params", "body"),
    [
        ("POST", "/tickets/T1/notes", "/tickets/{ticket_id}/notes", {"ticket_id": "T1"}, {"body": "x"}),
        ("POST", "/tickets/T1/presence", "/tickets/{ticket_id}/presence", {"ticket_id": "T1"}, {"typing": True}),
        ("GET", "/tickets/T1/presence", "/tickets/{ticket_id}/presence", {"ticket_id": "T1"}, None),
        ("GET", "/me/notifications", "/me/notifications", {}, None),
        (
            "POST",
            "/me/notifications/N1/read",
            "/me/notifications/{notification_id}/read",
            {"notification_id": "N1"},
            None,
        ),
    ],
)
def test_every_route_needs_a_verified_token(
    stack: LocalStack, method: str, path: str, route: str, params: dict[str, str], body: Any
) -> None:
    event = agent_event(method, path, route, tenant_id="x", params=params, json_body=body)
    del event["requestContext"]["authorizer"]
    status, answer = _call(stack, event)
    assert status == 401 and answer["error"]["code"] == "unauthorized"
