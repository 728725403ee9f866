"""Ticket actions through the agent API handler on moto: assign / status / tags (PATCH), snooze and
the aging run's wake-up, merge (timelines joined, threads moved, resumable), split, bulk; every route
refuses a read-only token (403), another tenant's ticket (404) and a bad body (422)."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.ticket_moves import TicketMoves
from helpdesk.core.models import Agent, Channel, InboundMessage, Message, MessageDirection, Team, Ticket, TicketStatus
from helpdesk.sla.timers import TimerRequest
from helpdesk.tickets.actions import TicketActions
from helpdesk.tickets.threads import TicketService
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event


class _Timers:
    def __init__(self) -> None:
        self.requests: list[TimerRequest] = []

    def start(self, request: TimerRequest) -> None:
        self.requests.append(request)


def _call(
    stack: LocalStack,
    method: str,
    path: str,
    route: str,
    tenant_id: str,
    *,
    role: str = "agent",
    params: dict[str, str] | None = None,
    body: Any = None,
    query: str = "",
) -> tuple[int, Any]:
    event = agent_event(method, path, route, tenant_id=tenant_id, role=role, params=params, json_body=body, query=query)
    response = stack.functions["AgentApiFunction"].invoke(event)
    return response["statusCode"], json.loads(response["body"])


def _patch(stack: LocalStack, tenant_id: str, ticket_id: str, body: Any, role: str = "agent") -> tuple[int, Any]:
    return _call(
        stack,
        "PATCH",
        f"/tickets/{ticket_id}",
        "/tickets/{ticket_id}",
        tenant_id,
        role=role,
        params={"ticket_id": ticket_id},
        body=body,
    )


def _post(
    stack: LocalStack, tenant_id: str, ticket_id: str, action: str, body: Any = None, role: str = "agent"
) -> tuple[int, Any]:
    return _call(
        stack,
        "POST",
        f"/tickets/{ticket_id}/{action}",
        f"/tickets/{{ticket_id}}/{action}",
        tenant_id,
        role=role,
        params={"ticket_id": ticket_id},
        body=body,
    )


def _split(stack: LocalStack, tenant_id: str, ticket_id: str, message_id: str, role: str = "agent") -> tuple[int, Any]:
    return _call(
        stack,
        "POST",
        f"/tickets/{ticket_id}/messages/{message_id}/split",
        "/tickets/{ticket_id}/messages/{message_id}/split",
        tenant_id,
        role=role,
        params={"ticket_id": ticket_id, "message_id": message_id},
    )


def _bulk(stack: LocalStack, tenant_id: str, body: Any, role: str = "agent") -> tuple[int, Any]:
    return _call(stack, "POST", "/tickets/bulk", "/tickets/bulk", tenant_id, role=role, body=body)


def _queue(stack: LocalStack, tenant_id: str, query: str = "") -> list[str]:
    status, page = _call(stack, "GET", "/tickets", "/tickets", tenant_id, query=query)
    assert status == 200
    return [t["ticket_id"] for t in page["tickets"]]


def _receive(
    repo: DynamoRepository,
    seller: Seller,
    thread: str,
    *bodies: str,
    order_ref: str | None = None,
    minutes_ago: int = 60,
    first: int = 0,
    step: int = 1,
) -> Ticket:
    """Buyer messages threaded by the real ticket service (thread pointers, markers, links)."""
    service = TicketService(repo, _Timers())
    start = datetime.now(UTC) - timedelta(minutes=minutes_ago)
    result = None
    for i, body in enumerate(bodies):
        result = service.receive(
            InboundMessage(
                tenant_id=seller.tenant_id,
                store_id=seller.store_id,
                channel=Channel.WOOCOMMERCE,
                channel_message_id=f"{thread}-{first + i}",
                channel_thread_id=thread,
                order_ref=order_ref,
                buyer_email="buyer@example.com",
                body=body,
                received_at=start + timedelta(minutes=i * step),
            )
        )
    assert result is not None
    ticket = repo.get_ticket(seller.tenant_id, result.ticket_id)
    assert ticket is not None
    return ticket


def _timeline(repo: DynamoRepository, tenant_id: str, ticket_id: str) -> list[Message]:
    view = repo.get_ticket_view(tenant_id, ticket_id)
    assert view is not None
    return view.messages


def _events(repo: DynamoRepository, tenant_id: str, ticket_id: str) -> list[str]:
    return [m.body for m in _timeline(repo, tenant_id, ticket_id) if m.direction == MessageDirection.EVENT]


def _said(repo: DynamoRepository, tenant_id: str, ticket_id: str) -> list[str]:
    return [m.body for m in _timeline(repo, tenant_id, ticket_id) if m.direction != MessageDirection.EVENT]


@pytest.fixture
def agents(repo: DynamoRepository, seller: Seller) -> list[str]:
    ids = ["agent-1", "agent-2"]
    for agent_id in ids:
        repo.put_agent(
            Agent(tenant_id=seller.tenant_id, agent_id=agent_id, name=agent_id, email=f"{agent_id}@seller.example")
        )
    return ids


# --- PATCH ----------------------------------------------------------------------------------------


def test_patch_assigns_tags_and_resolves_with_an_audit_trail(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, agents: list[str]
) -> None:
    ticket = _receive(repo, seller, "th-patch", "Where is my parcel?")
    status, body = _patch(
        stack, seller.tenant_id, ticket.ticket_id, {"assignee_id": "agent-2", "priority": "high", "tags_add": ["VIP"]}
    )
    assert status == 200, body
    assert (body["assignee_id"], body["priority"], body["tags"], body["aging_level"]) == ("agent-2", "high", ["vip"], 0)
    assert body["last_agent_action_at"] is not None
    assert _queue(stack, seller.tenant_id, "assignee_id=agent-2") == [ticket.ticket_id]
    assert _events(repo, seller.tenant_id, ticket.ticket_id) == [
        "agent-1: assigned to agent-2; priority normal → high; tags +vip"
    ]

    status, body = _patch(stack, seller.tenant_id, ticket.ticket_id, {"status": "resolved"})
    assert status == 200 and body["status"] == "resolved"
    assert body["sla_timer_version"] == ticket.sla_timer_version + 1  # the running timer is stale
    assert _queue(stack, seller.tenant_id) == [] and _queue(stack, seller.tenant_id, "assignee_id=agent-2") == []

    status, body = _patch(stack, seller.tenant_id, ticket.ticket_id, {"status": "open"})
    assert status == 200 and body["sla_timer_version"] == ticket.sla_timer_version + 2
    assert _queue(stack, seller.tenant_id) == [ticket.ticket_id]
    name = TimerRequest(
        tenant_id=seller.tenant_id,
        ticket_id=ticket.ticket_id,
        deadline="first_response",
        due_at="",
        timer_version=str(body["sla_timer_version"]),
    ).execution_name
    machine = stack.resolver.attributes[("SlaTimerStateMachine", "Name")]
    execution = f"arn:aws:states:eu-west-1:123456789012:execution:{machine}:{name}"
    assert stack.client("stepfunctions").describe_execution(executionArn=execution)["status"] in (
        "RUNNING",
        "SUCCEEDED",
    )  # the deadline is ahead: a fresh timer for the new version


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({}, 422, "validation_error"),
        ({"status": "snoozed"}, 422, "validation_error"),
        ({"priority": "whenever"}, 422, "validation_error"),
        ({"tags_add": ["two words"]}, 422, "validation_error"),
        ({"tenant_id": "other"}, 422, "validation_error"),
        ({"assignee_id": "nobody"}, 400, "bad_request"),
        ({"team_id": "sales"}, 400, "bad_request"),
    ],
)
def test_patch_refuses_bad_bodies(
    stack: LocalStack,
    repo: DynamoRepository,
    seller: Seller,
    agents: list[str],
    body: dict[str, Any],
    status: int,
    code: str,
) -> None:
    repo.put_team(Team(tenant_id="someone-else", team_id="sales", name="Another tenant's team"))
    ticket = _receive(repo, seller, "th-bad", "Hello")
    got, answer = _patch(stack, seller.tenant_id, ticket.ticket_id, body)
    assert (got, answer["error"]["code"]) == (status, code)
    assert repo.get_ticket(seller.tenant_id, ticket.ticket_id) == ticket


# --- every route: read-only 403, another tenant 404 -------------------------------------------------


def _routes(ticket_id: str, message_id: str, source_id: str) -> list[tuple[str, str, str, dict[str, str], Any]]:
    until = (datetime.now(UTC) + timedelta(days=1)).isoformat()
    return [
        ("PATCH", f"/tickets/{ticket_id}", "/tickets/{ticket_id}", {"ticket_id": ticket_id}, {"priority": "low"}),
        (
            "POST",
            f"/tickets/{ticket_id}/snooze",
            "/tickets/{ticket_id}/snooze",
            {"ticket_id": ticket_id},
            {"until": until},
        ),
        (
            "POST",
            f"/tickets/{ticket_id}/merge",
            "/tickets/{ticket_id}/merge",
            {"ticket_id": ticket_id},
            {"source_ticket_id": source_id},
        ),
        (
            "POST",
            f"/tickets/{ticket_id}/messages/{message_id}/split",
            "/tickets/{ticket_id}/messages/{message_id}/split",
            {"ticket_id": ticket_id, "message_id": message_id},
            None,
        ),
    ]


def test_read_only_tokens_and_other_tenants_change_nothing(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, agents: list[str]
) -> None:
    ticket = _receive(repo, seller, "th-guard", "first", "second")
    source = _receive(repo, seller, "th-guard-src", "other")
    message_id = _timeline(repo, seller.tenant_id, ticket.ticket_id)[-1].message_id
    for method, path, route, params, body in _routes(ticket.ticket_id, message_id, source.ticket_id):
        event = agent_event(
            method, path, route, tenant_id=seller.tenant_id, role="read_only", params=params, json_body=body
        )
        response = stack.functions["AgentApiFunction"].invoke(event)
        assert response["statusCode"] == 403, (path, response["body"])
        event = agent_event(method, path, route, tenant_id="someone-else", params=params, json_body=body)
        response = stack.functions["AgentApiFunction"].invoke(event)
        assert response["statusCode"] == 404, (path, response["body"])
        assert json.loads(response["body"])["error"]["code"] == "not_found"
    status, _ = _bulk(
        stack, seller.tenant_id, {"ticket_ids": [ticket.ticket_id], "action": {"priority": "low"}}, role="read_only"
    )
    assert status == 403
    status, answer = _bulk(stack, "someone-else", {"ticket_ids": [ticket.ticket_id], "action": {"priority": "low"}})
    assert status == 200 and answer["results"][0]["outcome"] == "not_found"
    assert repo.get_ticket(seller.tenant_id, ticket.ticket_id) == ticket
    assert repo.get_ticket(seller.tenant_id, source.ticket_id) == source
    assert len(_timeline(repo, seller.tenant_id, ticket.ticket_id)) == 2


# --- snooze and wake-up -------------------------------------------------------------------------------


def test_snoozed_ticket_leaves_the_queue_and_the_aging_run_brings_it_back(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    ticket = _receive(repo, seller, "th-snooze", "Call me next week", minutes_ago=1)
    until = datetime.now(UTC) + timedelta(seconds=4)  # room for a slow machine before the first aging run
    status, body = _post(stack, seller.tenant_id, ticket.ticket_id, "snooze", {"until": until.isoformat()})
    assert status == 200, body
    assert body["status"] == "snoozed" and datetime.fromisoformat(body["snoozed_until"]) == until
    assert _queue(stack, seller.tenant_id) == []
    moves = TicketMoves(stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"])
    assert moves.list_snoozed_due(seller.tenant_id, until, 10) == [ticket.ticket_id]  # the sparse index
    assert moves.list_snoozed_due(seller.tenant_id, until - timedelta(seconds=1), 10) == []

    assert stack.functions["AgingFunction"].invoke({"tenant_id": seller.tenant_id})[seller.tenant_id]["woken"] == []
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 0.1)
    report = stack.functions["AgingFunction"].invoke({"tenant_id": seller.tenant_id})[seller.tenant_id]
    assert report["woken"] == [ticket.ticket_id]
    woken = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    assert woken is not None and (woken.status, woken.snoozed_until) == (TicketStatus.OPEN, None)
    assert _queue(stack, seller.tenant_id) == [ticket.ticket_id]
    assert moves.list_snoozed_due(seller.tenant_id, datetime.now(UTC), 10) == []
    assert _events(repo, seller.tenant_id, ticket.ticket_id)[-1].endswith("ended: back in the queue")
    assert woken.sla_timer_version == ticket.sla_timer_version + 1  # a fresh timer at the wake-up


@pytest.mark.parametrize(
    ("until", "status"), [(timedelta(minutes=-1), 400), (timedelta(days=91), 400), (None, 422), ("naive", 422)]
)
def test_snooze_refuses_times_out_of_range(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, until: Any, status: int
) -> None:
    ticket = _receive(repo, seller, "th-snooze-bad", "Hello")
    if isinstance(until, timedelta):
        value: Any = (datetime.now(UTC) + until).isoformat()
    elif until == "naive":
        value = datetime.now().replace(tzinfo=None).isoformat()
    else:
        value = None
    got, _ = _post(stack, seller.tenant_id, ticket.ticket_id, "snooze", {"until": value})
    assert got == status
    assert repo.get_ticket(seller.tenant_id, ticket.ticket_id) == ticket


# --- merge ------------------------------------------------------------------------------------------


def test_merge_joins_timelines_and_moves_the_sources_thread(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    target = _receive(
        repo, seller, "th-target", "Where is order 1001?", "Hello?", order_ref="1001", minutes_ago=60, step=2
    )
    source = _receive(repo, seller, "th-source", "And an invoice for 1002", order_ref="1002", minutes_ago=59)
    status, body = _post(stack, seller.tenant_id, target.ticket_id, "merge", {"source_ticket_id": source.ticket_id})
    assert status == 200, body
    assert body["order_refs"] == ["1001", "1002"] and body["message_count"] == 3
    # The source's message sits in the target's timeline at its original time.
    assert _said(repo, seller.tenant_id, target.ticket_id) == [
        "Where is order 1001?",
        "And an invoice for 1002",
        "Hello?",
    ]
    closed = repo.get_ticket(seller.tenant_id, source.ticket_id)
    assert closed is not None and (closed.status, closed.merged_into) == (TicketStatus.CLOSED, target.ticket_id)
    assert _events(repo, seller.tenant_id, source.ticket_id) == [f"agent-1: merged into ticket {target.ticket_id}"]
    assert _events(repo, seller.tenant_id, target.ticket_id) == [
        f"agent-1: merged ticket {source.ticket_id} into this one (1 messages); order refs +1002"
    ]
    assert _queue(stack, seller.tenant_id) == [target.ticket_id]
    about_1002 = {t.ticket_id for t in repo.find_tickets_by_order(seller.tenant_id, seller.store_id, "1002")}
    assert about_1002 == {target.ticket_id, source.ticket_id}  # the target is linked to the source's order

    # The buyer answers in the source's thread: it joins the target.
    later = _receive(repo, seller, "th-source", "Any news on the invoice?", minutes_ago=1, first=1)
    assert later.ticket_id == target.ticket_id
    assert _said(repo, seller.tenant_id, target.ticket_id)[-1] == "Any news on the invoice?"

    # Repeating the merge changes nothing; another target is refused; so is the ticket itself.
    before = repo.get_ticket(seller.tenant_id, target.ticket_id)
    status, again = _post(stack, seller.tenant_id, target.ticket_id, "merge", {"source_ticket_id": source.ticket_id})
    assert status == 200 and again["version"] == before.version  # type: ignore[union-attr]
    other = _receive(repo, seller, "th-third", "third")
    status, answer = _post(stack, seller.tenant_id, other.ticket_id, "merge", {"source_ticket_id": source.ticket_id})
    assert (status, answer["error"]["code"]) == (409, "ticket_merged")
    status, answer = _post(stack, seller.tenant_id, other.ticket_id, "merge", {"source_ticket_id": other.ticket_id})
    assert (status, answer["error"]["code"]) == (400, "bad_request")
    status, answer = _post(stack, seller.tenant_id, other.ticket_id, "merge", {"source": other.ticket_id})
    assert status == 422


def test_merge_of_a_long_timeline_resumes_after_a_crash(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    """60 messages: more than one BatchWriteItem; a crash before the target's write is finished by a
    retry without a single duplicate."""
    target = _receive(repo, seller, "th-long-t", "target", minutes_ago=200)
    source = _receive(repo, seller, "th-long-s", *[f"message {i}" for i in range(60)], minutes_ago=100)
    client, table = stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"]

    class CrashingOnce(TicketMoves):
        crashed = False

        def update_ticket(self, previous: Ticket, updated: Ticket, events: Any = ()) -> None:
            if not CrashingOnce.crashed:
                CrashingOnce.crashed = True
                raise RuntimeError("Lambda timed out")
            super().update_ticket(previous, updated, events)

    with pytest.raises(RuntimeError):
        TicketActions(CrashingOnce(client, table), _Timers()).merge(
            seller.tenant_id, "agent-1", target.ticket_id, source.ticket_id
        )
    assert len(_said(repo, seller.tenant_id, target.ticket_id)) == 61  # copied, not yet recorded
    merged = TicketActions(TicketMoves(client, table), _Timers()).merge(
        seller.tenant_id, "agent-1", target.ticket_id, source.ticket_id
    )
    assert merged.message_count == 61
    said = _said(repo, seller.tenant_id, target.ticket_id)
    assert said == ["target", *[f"message {i}" for i in range(60)]]
    ids = [m.message_id for m in _timeline(repo, seller.tenant_id, target.ticket_id)]
    assert len(ids) == len(set(ids)) == 62


def _reply(stack: LocalStack, tenant_id: str, ticket_id: str, body: dict[str, Any]) -> tuple[int, Any]:
    return _post(stack, tenant_id, ticket_id, "replies", body)


def _dispatch_all(stack: LocalStack) -> None:
    function = stack.functions["ReplyDispatchFunction"]
    while stack.drain_sqs_once(function, function.events["Outbound"]["Properties"]):
        pass


def _timer_status(stack: LocalStack, tenant_id: str, ticket: dict[str, Any]) -> str:
    name = TimerRequest(
        tenant_id=tenant_id,
        ticket_id=ticket["ticket_id"],
        deadline="",
        due_at="",
        timer_version=str(ticket["sla_timer_version"]),
    ).execution_name
    machine = stack.resolver.attributes[("SlaTimerStateMachine", "Name")]
    execution = f"arn:aws:states:eu-west-1:123456789012:execution:{machine}:{name}"
    return stack.client("stepfunctions").describe_execution(executionArn=execution)["status"]


def test_merging_an_owed_ticket_into_a_waiting_one_keeps_the_answer_owed(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    target = _receive(repo, seller, "th-owed-t", "Where is order 1001?", minutes_ago=120)
    waiting = target.model_copy(deep=True)  # answered: waiting on the buyer, no deadline running
    waiting.status, waiting.first_responded_at = TicketStatus.WAITING_ON_CUSTOMER, datetime.now(UTC)
    waiting.next_response_due_at, waiting.sla_timer_version = None, target.sla_timer_version + 1
    repo.update_ticket(target, waiting)
    source = _receive(repo, seller, "th-owed-s", "And the invoice for 1002?", minutes_ago=30)
    due = source.first_response_due_at
    assert due is not None and _queue(stack, seller.tenant_id) == [source.ticket_id]

    status, body = _post(stack, seller.tenant_id, target.ticket_id, "merge", {"source_ticket_id": source.ticket_id})
    assert status == 200, body
    merged = repo.get_ticket(seller.tenant_id, target.ticket_id)
    assert merged is not None and merged.status == TicketStatus.OPEN
    assert merged.sla_due_at == merged.next_response_due_at == due
    assert merged.sla_timer_version == waiting.sla_timer_version + 1
    assert _queue(stack, seller.tenant_id) == [target.ticket_id]  # the owed answer is still in a queue
    assert _timer_status(stack, seller.tenant_id, body) in ("RUNNING", "SUCCEEDED")  # and a timer runs for it
    assert _events(repo, seller.tenant_id, target.ticket_id)[-1].endswith(
        f"status waiting_on_customer → open (ticket {source.ticket_id} is owed an answer); answer due "
        f"{due.isoformat()} (ticket {source.ticket_id}'s deadline)"
    )


def test_merge_waits_for_a_reply_on_its_way_and_a_reply_after_the_merge_is_not_stale(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    target = _receive(repo, seller, "th-rif-t", "Where is order 1001?", minutes_ago=60)
    source = _receive(repo, seller, "th-rif-s", *[f"follow-up {i}" for i in range(6)], minutes_ago=30)
    newest_source = max(m.message_id for m in _timeline(repo, seller.tenant_id, source.ticket_id))
    status, queued = _reply(
        stack, seller.tenant_id, source.ticket_id, {"body": "On its way", "last_seen_message_id": newest_source}
    )
    assert status == 202, queued

    status, answer = _post(stack, seller.tenant_id, target.ticket_id, "merge", {"source_ticket_id": source.ticket_id})
    assert (status, answer["error"]["code"]) == (409, "reply_in_flight"), answer
    assert "sent or failed" in answer["error"]["message"]
    unmerged = repo.get_ticket(seller.tenant_id, source.ticket_id)
    assert unmerged is not None and unmerged.merged_into is None

    _dispatch_all(stack)  # the reply goes out on the source's thread
    status, body = _post(stack, seller.tenant_id, target.ticket_id, "merge", {"source_ticket_id": source.ticket_id})
    assert status == 200, body
    said = [m for m in _timeline(repo, seller.tenant_id, target.ticket_id) if m.direction != MessageDirection.EVENT]
    assert [m.body for m in said] == ["Where is order 1001?", *[f"follow-up {i}" for i in range(6)], "On its way"]
    copies = [m.message_id for m in said[1:]]
    assert copies == sorted(copies)  # the copies' ids follow the timeline
    newest = max(m.message_id for m in said)
    assert newest == said[-1].message_id
    status, reply = _reply(
        stack, seller.tenant_id, target.ticket_id, {"body": "Anything else?", "last_seen_message_id": newest}
    )
    assert status == 202, reply
    status, stale = _reply(
        stack, seller.tenant_id, target.ticket_id, {"body": "Late", "last_seen_message_id": said[0].message_id}
    )
    assert (status, stale["error"]["code"]) == (409, "stale_timeline")  # the merged-in entries are newer
    _dispatch_all(stack)


# --- split ------------------------------------------------------------------------------------------


def test_split_moves_the_message_into_a_new_ticket(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    ticket = _receive(repo, seller, "th-split", "Where is order 1001?", "Separate: gift cards?", order_ref="1001")
    moved = _timeline(repo, seller.tenant_id, ticket.ticket_id)[-1]
    status, body = _split(stack, seller.tenant_id, ticket.ticket_id, moved.message_id)
    assert status == 201, body
    new_id = body["ticket_id"]
    assert (body["status"], body["order_refs"], body["customer_email"], body["store_id"]) == (
        "new",
        ["1001"],
        "buyer@example.com",
        seller.store_id,
    )
    assert _said(repo, seller.tenant_id, ticket.ticket_id) == ["Where is order 1001?"]
    assert _said(repo, seller.tenant_id, new_id) == ["Separate: gift cards?"]
    assert _timeline(repo, seller.tenant_id, new_id)[0].message_id == moved.message_id
    assert _events(repo, seller.tenant_id, ticket.ticket_id) == [
        f"agent-1: message {moved.message_id} split into new ticket {new_id}"
    ]
    assert _events(repo, seller.tenant_id, new_id) == [
        f"agent-1: split from ticket {ticket.ticket_id} (message {moved.message_id})"
    ]
    assert repo.find_message(seller.tenant_id, seller.store_id, "th-split-1") == (new_id, moved.message_id)
    assert sorted(_queue(stack, seller.tenant_id)) == sorted([ticket.ticket_id, new_id])
    assert new_id in [t.ticket_id for t in repo.find_tickets_by_order(seller.tenant_id, seller.store_id, "1001")]

    # The old ticket now has one buyer message: it cannot be split off; a repeat finds nothing.
    remaining = _timeline(repo, seller.tenant_id, ticket.ticket_id)[0]
    status, answer = _split(stack, seller.tenant_id, ticket.ticket_id, remaining.message_id)
    assert (status, answer["error"]["code"]) == (409, "conflict")
    status, _ = _split(stack, seller.tenant_id, ticket.ticket_id, moved.message_id)
    assert status == 404


def test_a_merged_in_message_can_be_split_off_again(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    target = _receive(repo, seller, "th-ms-t", "Where is my parcel?", "Hello?", minutes_ago=30, step=2)
    source = _receive(repo, seller, "th-ms-s", "Wrong ticket, sorry", minutes_ago=29)
    assert _post(stack, seller.tenant_id, target.ticket_id, "merge", {"source_ticket_id": source.ticket_id})[0] == 200
    copy = next(m for m in _timeline(repo, seller.tenant_id, target.ticket_id) if m.body == "Wrong ticket, sorry")
    status, body = _split(stack, seller.tenant_id, target.ticket_id, copy.message_id)
    assert status == 201, body
    assert _said(repo, seller.tenant_id, target.ticket_id) == ["Where is my parcel?", "Hello?"]
    assert _said(repo, seller.tenant_id, body["ticket_id"]) == ["Wrong ticket, sorry"]
    assert repo.find_message(seller.tenant_id, seller.store_id, "th-ms-s-0") == (body["ticket_id"], copy.message_id)


# --- bulk -------------------------------------------------------------------------------------------


def test_bulk_applies_per_ticket_and_a_repeat_is_unchanged(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, agents: list[str]
) -> None:
    first = _receive(repo, seller, "th-bulk-1", "one")
    second = _receive(repo, seller, "th-bulk-2", "two")
    request = {
        "ticket_ids": [first.ticket_id, second.ticket_id, "NOT-A-TICKET"],
        "action": {"assignee_id": "agent-2", "tags_add": ["wave"], "status": "resolved"},
    }
    status, answer = _bulk(stack, seller.tenant_id, request)
    assert status == 200, answer
    assert [(r["ticket_id"], r["outcome"]) for r in answer["results"]] == [
        (first.ticket_id, "updated"),
        (second.ticket_id, "updated"),
        ("NOT-A-TICKET", "not_found"),
    ]
    assert _queue(stack, seller.tenant_id) == []  # resolved: out of every queue
    status, again = _bulk(stack, seller.tenant_id, request)
    assert [r["outcome"] for r in again["results"]] == ["unchanged", "unchanged", "not_found"]
    assert _events(repo, seller.tenant_id, first.ticket_id) == [
        "agent-1: assigned to agent-2; status new → resolved; tags +wave"
    ]

    until = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    status, snoozed = _bulk(
        stack, seller.tenant_id, {"ticket_ids": [first.ticket_id], "action": {"snooze_until": until}}
    )
    assert status == 200
    assert snoozed["results"] == [{"ticket_id": first.ticket_id, "outcome": "updated", "error": None}]
    snoozed_ticket = repo.get_ticket(seller.tenant_id, first.ticket_id)
    assert snoozed_ticket is not None and snoozed_ticket.status == TicketStatus.SNOOZED


@pytest.mark.parametrize(
    "body",
    [
        {"ticket_ids": [], "action": {"priority": "low"}},
        {"ticket_ids": [f"T{i}" for i in range(101)], "action": {"priority": "low"}},
        {"ticket_ids": ["A"], "action": {}},
        {"ticket_ids": ["A"], "action": {"status": "open", "snooze_until": "2030-01-01T00:00:00Z"}},
        {"ticket_ids": ["A"]},
    ],
)
def test_bulk_refuses_bad_bodies(stack: LocalStack, seller: Seller, body: dict[str, Any]) -> None:
    status, answer = _bulk(stack, seller.tenant_id, body)
    assert (status, answer["error"]["code"]) == (422, "validation_error")


def test_get_on_bulk_is_not_a_bulk(stack: LocalStack, seller: Seller) -> None:
    status, answer = _call(
        stack, "GET", "/tickets/bulk", "/tickets/{ticket_id}", seller.tenant_id, params={"ticket_id": "bulk"}
    )
    assert status == 404 and answer["error"]["code"] == "not_found"
