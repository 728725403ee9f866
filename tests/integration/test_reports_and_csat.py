"""Issue 7's reports and CSAT on moto, through the real functions: an agent's reply resolves a ticket;
the table's stream feeds the ticket-events function (report aggregates, breaches list, satisfaction
request); the buyer's e-mail carries signed one-click rating links; the public CSAT function records
the score on the ticket and the agent; the admin reads it all back through the agent API (JSON and CSV)."""

from __future__ import annotations

import csv
import email
import io
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    Agent,
    AgentRole,
    Automation,
    Channel,
    Message,
    MessageDirection,
    Tenant,
    Ticket,
    TicketStatus,
)
from infrastructure.local.mailbox import sent_mail
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event


def drain_events(stack: LocalStack) -> int:
    function = stack.functions["TicketEventsFunction"]
    props = function.events["TableChanges"]["Properties"]
    total = 0
    while True:
        read = stack.drain_stream_once(function, props)
        if not read:
            return total
        total += read


def dispatch(stack: LocalStack) -> int:
    function = stack.functions["ReplyDispatchFunction"]
    return stack.drain_sqs_once(function, function.events["Outbound"]["Properties"])


def api(
    stack: LocalStack,
    method: str,
    path: str,
    route: str,
    tenant: str,
    *,
    role: str = "admin",
    query: str = "",
    params: dict[str, str] | None = None,
    body: Any = None,
) -> dict[str, Any]:
    return stack.functions["AgentApiFunction"].invoke(
        agent_event(method, path, route, tenant_id=tenant, role=role, query=query, params=params or {}, json_body=body)
    )


def test_reply_resolve_rate_and_report(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    function = stack.functions["TicketEventsFunction"]
    stack.skip_stream(function, function.events["TableChanges"]["Properties"])  # only what happens next
    while dispatch(stack):
        pass
    tenant = seller.tenant_id
    now = datetime.now(UTC)
    repo.put_tenant(Tenant(tenant_id=tenant, name="Seller", time_zone="Europe/Rome", created_at=now))
    repo.put_agent(
        Agent(
            tenant_id=tenant,
            agent_id="agent-1",
            name="Anna Bianchi",
            email="anna@shop.example",
            languages=["it", "en"],
            role=AgentRole.ADMIN,
        )
    )
    ticket = Ticket(
        tenant_id=tenant,
        ticket_id=new_id(now),
        store_id=seller.store_id,
        channel=Channel.WOOCOMMERCE,
        subject="Ordine 1001",
        language="it",
        customer_email="giulia@example.it",
        customer_name="Giulia Rossi",
        order_refs=["1001"],
        assignee_id="agent-1",
        first_response_due_at=now + timedelta(hours=4),
        sla_timer_version=1,
        message_count=1,
        created_at=now,
        updated_at=now,
    )
    inbound = Message(
        tenant_id=tenant,
        ticket_id=ticket.ticket_id,
        message_id=new_id(now),
        direction=MessageDirection.INBOUND,
        channel=Channel.WOOCOMMERCE,
        store_id=seller.store_id,
        channel_message_id=f"<{ticket.ticket_id}@example.it>",
        author="Giulia",
        body="Dov'è?",
        language="it",
        created_at=now,
    )
    repo.create_ticket(ticket, inbound)

    # The agent answers and resolves; the channel (SES) accepts the reply.
    response = api(
        stack,
        "POST",
        f"/tickets/{ticket.ticket_id}/replies",
        "/tickets/{ticket_id}/replies",
        tenant,
        role="agent",
        params={"ticket_id": ticket.ticket_id},
        body={
            "body": "Il pacco arriva domani.",
            "last_seen_message_id": inbound.message_id,
            "status_after": "resolved",
        },
    )
    assert response["statusCode"] == 202, response["body"]
    assert dispatch(stack) == 1
    assert repo.get_ticket(tenant, ticket.ticket_id).status == TicketStatus.RESOLVED

    # The stream: aggregates written, and the satisfaction request queued (once).
    assert drain_events(stack) > 0
    view = repo.get_ticket_view(tenant, ticket.ticket_id)
    (survey,) = [m for m in view.messages if m.automation == Automation.SURVEY]
    assert view.ticket.csat_requested_at is not None and survey.language == "it"
    outbox = len(sent_mail(stack))
    assert dispatch(stack) == 1
    (mail,) = sent_mail(stack)[outbox:]
    text = email.message_from_string(mail["raw"]).get_payload(decode=True).decode()
    links = dict(re.findall(r"(\d) – [^:]+: (\S+/csat/\S+)", text))
    assert sorted(links) == ["1", "2", "3", "4", "5"], text
    assert repo.get_ticket(tenant, ticket.ticket_id).status == TicketStatus.RESOLVED, "a survey changes nothing"
    drain_events(stack)

    # One click: the link's page (a scanner opening it records nothing) posts the score at once; the public
    # function records 5/5 on the ticket, for agent-1.
    token = links["5"].split("/csat/")[1].split("?")[0]
    opened = stack.functions["CsatFunction"].invoke(
        agent_event(
            "GET", f"/csat/{token}", "/csat/{token}", tenant_id="nobody", query="score=5", params={"token": token}
        )
    )
    assert opened["statusCode"] == 200 and "text/html" in opened["headers"]["Content-Type"]
    assert 'name="score" value="5"' in opened["body"] and ".submit()" in opened["body"]
    assert repo.get_ticket(tenant, ticket.ticket_id).csat_score is None
    posted = agent_event("POST", f"/csat/{token}", "/csat/{token}", tenant_id="nobody", params={"token": token})
    posted.update(body="score=5", isBase64Encoded=False)
    posted["headers"]["content-type"] = "application/x-www-form-urlencoded"
    rated = stack.functions["CsatFunction"].invoke(posted)
    assert rated["statusCode"] == 200 and "Ha valutato il nostro servizio clienti 5/5" in rated["body"]
    after = repo.get_ticket(tenant, ticket.ticket_id)
    assert (after.csat_score, after.csat_agent_id) == (5, "agent-1")
    forged = stack.functions["CsatFunction"].invoke(
        agent_event(
            "GET",
            f"/csat/{token}x",
            "/csat/{token}",
            tenant_id="nobody",
            query="score=1",
            params={"token": token + "x"},
        )
    )
    assert forged["statusCode"] == 404
    assert repo.get_ticket(tenant, ticket.ticket_id).csat_score == 5

    # A breach on another ticket, for the breaches list.
    late = ticket.model_copy(update={"ticket_id": new_id(now), "first_response_due_at": now - timedelta(minutes=5)})
    repo.create_ticket(
        late,
        inbound.model_copy(
            update={
                "ticket_id": late.ticket_id,
                "message_id": new_id(now),
                "channel_message_id": f"<{late.ticket_id}@example.it>",
            }
        ),
    )
    stored = repo.get_ticket(tenant, late.ticket_id)
    repo.update_ticket(stored, stored.model_copy(update={"sla_breached_at": now}))
    drain_events(stack)

    day = now.astimezone(ZoneInfo("Europe/Rome")).date().isoformat()
    answer = api(stack, "GET", "/reports", "/reports", tenant, query=f"start={day}&end={day}&group_by=agent")
    assert answer["statusCode"] == 200, answer["body"]
    (row,) = json.loads(answer["body"])
    assert (row["period"], row["value"], row["created"], row["first_responses"], row["resolved"]) == (
        day,
        "agent-1",
        2,
        1,
        1,
    )
    assert row["sla_compliance"] == 100.0 and row["breaches"] == 1
    assert (row["csat_count"], row["csat_average"], row["csat_positive"]) == (1, 5.0, 100.0)
    assert row["frt_median"] is not None and row["frt_median"] < 600

    exported = api(
        stack,
        "GET",
        "/reports",
        "/reports",
        tenant,
        query=f"start={day}&end={day}&group_by=store&period=month&format=csv",
    )
    assert exported["statusCode"] == 200 and exported["headers"]["Content-Type"].startswith("text/csv")
    (line,) = list(csv.DictReader(io.StringIO(exported["body"])))
    assert (line["value"], line["created"], line["csat_average"]) == (seller.store_id, "2", "5.0")

    breaches = json.loads(
        api(stack, "GET", "/reports/breaches", "/reports/breaches", tenant, query=f"start={day}&end={day}")["body"]
    )
    assert [b["ticket_id"] for b in breaches["breaches"]] == [late.ticket_id]
    backlog = json.loads(
        api(stack, "GET", "/reports/backlog", "/reports/backlog", tenant, query=f"start={day}&end={day}")["body"]
    )
    assert backlog["points"] == [{"day": day, "open_tickets": 1}]

    refused = api(stack, "GET", "/reports", "/reports", tenant, role="agent", query=f"start={day}&end={day}")
    assert refused["statusCode"] == 403
    bad = api(stack, "GET", "/reports", "/reports", tenant, query=f"start={day}&end=2020-01-01")
    assert bad["statusCode"] == 422
