"""Aging rules on moto: the scheduled function reassigns a stalled ticket through the agents' queue
indexes and writes why on the ticket's timeline; the tenant's schedules include it."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

from helpdesk.adapters.aws import EventBridgePollScheduler
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.ids import new_id
from helpdesk.core.models import Agent, Channel, Message, MessageDirection, Ticket, TicketStatus
from infrastructure.local.stack import LocalStack


def test_a_stalled_ticket_is_reassigned_with_the_reason_on_its_timeline(
    stack: LocalStack, repo: DynamoRepository
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    for agent_id in ("greta", "bernd"):
        repo.put_agent(
            Agent(
                tenant_id=tenant,
                agent_id=agent_id,
                name=agent_id,
                email=f"{agent_id}@s.example",
                languages=["de"],
                team_ids=["support"],
            )
        )
    now = datetime.now(UTC)
    ticket = Ticket(
        tenant_id=tenant,
        ticket_id=new_id(now),
        store_id="s1",
        channel=Channel.MIRAKL,
        subject="Wo ist mein Paket?",
        status=TicketStatus.OPEN,
        language="de",
        team_id="support",
        assignee_id="greta",
        first_response_due_at=now + timedelta(hours=20),
        last_agent_action_at=now - timedelta(hours=5),
        message_count=1,
        created_at=now,
        updated_at=now,
    )
    message = Message(
        tenant_id=tenant,
        ticket_id=ticket.ticket_id,
        message_id=new_id(now),
        direction=MessageDirection.INBOUND,
        channel=Channel.MIRAKL,
        store_id="s1",
        channel_message_id="a-1",
        author="buyer",
        body="Wo ist mein Paket?",
        created_at=now,
    )
    repo.create_ticket(ticket, message)

    result = stack.functions["AgingFunction"].invoke({"tenant_id": tenant})
    assert result[tenant]["reassigned"] == [[ticket.ticket_id, "greta", "bernd"]]
    assert [t.ticket_id for t in repo.list_queue(tenant, "agent", "bernd", 10, None).tickets] == [ticket.ticket_id]
    assert repo.list_queue(tenant, "agent", "greta", 10, None).tickets == []
    view = repo.get_ticket_view(tenant, ticket.ticket_id)
    assert view is not None
    assert any(
        m.direction == MessageDirection.EVENT and "reassigned from greta to bernd" in m.body for m in view.messages
    )


def test_tenant_schedules_cover_polling_and_aging(stack: LocalStack) -> None:
    client = stack.client("scheduler")
    EventBridgePollScheduler(
        client,
        "arn:aws:lambda:eu-west-1:123456789012:function:poller",
        "arn:aws:iam::123456789012:role/s",
        aging_arn="arn:aws:lambda:eu-west-1:123456789012:function:aging",
    ).ensure_tenant_schedule("t-both")
    aging = client.get_schedule(Name="helpdesk-aging-t-both")
    assert aging["ScheduleExpression"] == "rate(15 minutes)"
    assert json.loads(aging["Target"]["Input"]) == {"tenant_id": "t-both"}
    assert client.get_schedule(Name="helpdesk-poll-t-both")["Target"]["Arn"].endswith("poller")
