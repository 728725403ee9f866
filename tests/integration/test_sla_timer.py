"""The SLA timer state machine executing on moto: breach recorded only when still due."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta

from helpdesk.adapters.aws import StepFunctionsSlaTimers
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.ids import new_id
from helpdesk.core.models import Channel, Message, MessageDirection, Ticket, TicketStatus
from helpdesk.sla.timers import timer_request
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller


# Tests that change the ticket after starting its timer leave 3 s: moto's Wait truncates to whole
# seconds, so a 1 s wait can end at once.
def _ticket(seller: Seller, due_in: float, **changes: object) -> tuple[Ticket, Message]:
    now = datetime.now(UTC)
    ticket = Ticket(
        tenant_id=seller.tenant_id,
        ticket_id=new_id(now),
        store_id=seller.store_id,
        channel=Channel.WOOCOMMERCE,
        subject="Where is my order?",
        first_response_due_at=now + timedelta(seconds=due_in),
        sla_timer_version=1,
        message_count=1,
        created_at=now,
        updated_at=now,
        last_message_at=now,
    )
    ticket = ticket.model_copy(update=changes)
    message = Message(
        tenant_id=seller.tenant_id,
        ticket_id=ticket.ticket_id,
        message_id=new_id(now),
        direction=MessageDirection.INBOUND,
        channel=Channel.WOOCOMMERCE,
        store_id=seller.store_id,
        channel_message_id=f"m-{ticket.ticket_id}",
        author="buyer",
        body="Where is it?",
        created_at=now,
    )
    return ticket, message


def _wait(stack: LocalStack, execution_arn: str, timeout: float = 30) -> dict:
    sfn = stack.client("stepfunctions")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        described = sfn.describe_execution(executionArn=execution_arn)
        if described["status"] != "RUNNING":
            return described
        time.sleep(0.2)
    raise AssertionError("timer did not finish")


def _start(stack: LocalStack, ticket: Ticket) -> str:
    request = timer_request(ticket)
    assert request is not None
    StepFunctionsSlaTimers(stack.client("stepfunctions"), stack.state_machines["SlaTimerStateMachine"]).start(request)
    return (
        f"arn:aws:states:eu-west-1:123456789012:execution:"
        f"{stack.resolver.attributes[('SlaTimerStateMachine', 'Name')]}:{request.execution_name}"
    )


def _sla_events(stack: LocalStack, ticket_id: str) -> list[dict]:
    sqs = stack.client("sqs")
    url = stack.resolver.refs["SlaEventsQueue"]
    found = []
    for _ in range(50):  # other tests' timers share the queue: look through it, keep theirs
        messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        for message in messages:
            body = json.loads(message["Body"])
            if body["ticket_id"] == ticket_id:
                found.append(body)
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        if not messages:
            break
    return found


def test_unanswered_ticket_is_breached_when_due_passes(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    ticket, message = _ticket(seller, due_in=1)
    repo.create_ticket(ticket, message)
    execution = _start(stack, ticket)
    assert _wait(stack, execution)["status"] == "SUCCEEDED"
    stored = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    assert stored is not None and stored.sla_breached_at is not None
    assert stored.sla_breached_at >= ticket.first_response_due_at - timedelta(seconds=1)
    events = _sla_events(stack, ticket.ticket_id)
    # The default near-breach point (80 % of the time to the deadline) came first.
    assert sorted((e["type"], e["deadline"], e["timer_version"]) for e in events) == [
        ("sla.breached", "first_response", "1"),
        ("sla.warning", "first_response", "1"),
    ]


def test_answered_ticket_is_not_breached(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    ticket, message = _ticket(seller, due_in=3)
    repo.create_ticket(ticket, message)
    execution = _start(stack, ticket)
    answered = ticket.model_copy(update={"first_responded_at": datetime.now(UTC), "status": TicketStatus.OPEN})
    repo.append_message(
        ticket,
        answered,
        message.model_copy(
            update={
                "message_id": new_id(datetime.now(UTC)),
                "channel_message_id": "reply-1",
                "direction": MessageDirection.OUTBOUND,
                "author": "agent-1",
                "body": "It ships today.",
            }
        ),
    )
    assert _wait(stack, execution)["status"] == "SUCCEEDED"
    stored = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    assert stored is not None and stored.sla_breached_at is None
    assert _sla_events(stack, ticket.ticket_id) == []


def test_rearmed_timer_makes_the_old_execution_stale(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    ticket, message = _ticket(seller, due_in=3)
    repo.create_ticket(ticket, message)
    old_execution = _start(stack, ticket)
    rearmed = ticket.model_copy(
        update={"sla_timer_version": 2, "first_response_due_at": datetime.now(UTC) + timedelta(hours=4)}
    )
    repo.append_message(
        ticket,
        rearmed,
        message.model_copy(
            update={"message_id": new_id(datetime.now(UTC)), "channel_message_id": "again", "body": "Any news?"}
        ),
    )
    assert _wait(stack, old_execution)["status"] == "SUCCEEDED"
    stored = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    assert stored is not None and stored.sla_breached_at is None


def test_starting_the_same_timer_twice_is_a_no_op(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    ticket, message = _ticket(seller, due_in=3600)
    repo.create_ticket(ticket, message)
    first = _start(stack, ticket)
    second = _start(stack, ticket)
    assert first == second
    sfn = stack.client("stepfunctions")
    names = [
        e["name"]
        for e in sfn.list_executions(stateMachineArn=stack.state_machines["SlaTimerStateMachine"])["executions"]
    ]
    assert names.count(first.rsplit(":", 1)[1]) == 1
    sfn.stop_execution(executionArn=first)


def test_an_unanswered_ticket_is_warned_then_breached(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    ticket, message = _ticket(seller, due_in=4)
    ticket = ticket.model_copy(update={"sla_warn_at": ticket.first_response_due_at - timedelta(seconds=3)})
    repo.create_ticket(ticket, message)
    execution = _start(stack, ticket)
    assert _wait(stack, execution)["status"] == "SUCCEEDED"
    stored = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    assert stored is not None and stored.sla_warned_at is not None and stored.sla_breached_at is not None
    assert stored.sla_warned_at < stored.sla_breached_at
    events = _sla_events(stack, ticket.ticket_id)
    assert sorted(e["type"] for e in events) == ["sla.breached", "sla.warning"]


def test_a_ticket_answered_after_the_warning_is_not_breached(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    ticket, message = _ticket(seller, due_in=5)
    ticket = ticket.model_copy(update={"sla_warn_at": datetime.now(UTC)})
    repo.create_ticket(ticket, message)
    execution = _start(stack, ticket)

    def warned() -> bool:
        stored = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
        return stored is not None and stored.sla_warned_at is not None

    deadline = time.monotonic() + 10
    while not warned():
        assert time.monotonic() < deadline, "no warning recorded"
        time.sleep(0.2)
    current = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    assert current is not None
    answered = current.model_copy(update={"first_responded_at": datetime.now(UTC), "sla_timer_version": 2})
    repo.update_ticket(current, answered)
    assert _wait(stack, execution)["status"] == "SUCCEEDED"
    final = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    assert final is not None and final.sla_breached_at is None
    assert [e["type"] for e in _sla_events(stack, ticket.ticket_id)] == ["sla.warning"]
