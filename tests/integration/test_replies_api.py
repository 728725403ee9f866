"""Replies and macros through the agent API and the dispatch function on moto: stored queued, sent
through SES (an e-mail-answered WooCommerce store), first response recorded at acceptance, stale
timeline refused, macro CRUD admin-only and tenant-isolated."""

from __future__ import annotations

import email
import json
from datetime import UTC, datetime, timedelta
from typing import Any

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.ids import new_id
from helpdesk.core.models import Channel, Message, MessageDirection, Order, OrderStatus, Ticket, TicketStatus
from infrastructure.local.mailbox import sent_mail
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event


def call(
    stack: LocalStack,
    method: str,
    path: str,
    route: str,
    tenant_id: str,
    *,
    role: str = "agent",
    agent_id: str = "agent-1",
    body: Any = None,
    params: dict[str, str] | None = None,
) -> tuple[int, dict[str, Any]]:
    response = stack.functions["AgentApiFunction"].invoke(
        agent_event(
            method, path, route, tenant_id=tenant_id, role=role, agent_id=agent_id, json_body=body, params=params
        )
    )
    return response["statusCode"], json.loads(response["body"] or "null")


def dispatch(stack: LocalStack) -> int:
    function = stack.functions["ReplyDispatchFunction"]
    return stack.drain_sqs_once(function, function.events["Outbound"]["Properties"])


def open_ticket(repo: DynamoRepository, seller: Seller, **changes: Any) -> tuple[Ticket, Message]:
    now = datetime.now(UTC)
    ticket = Ticket(
        tenant_id=seller.tenant_id,
        ticket_id=new_id(now),
        store_id=seller.store_id,
        channel=Channel.WOOCOMMERCE,
        subject="Wo ist meine Bestellung 1001?",
        language="de",
        customer_email="max@example.de",
        customer_name="Max Muster",
        order_refs=["1001"],
        first_response_due_at=now + timedelta(hours=4),
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
        channel_message_id=f"<{ticket.ticket_id}@example.de>",
        author="Max Muster",
        body="Wo ist meine Bestellung 1001?",
        created_at=now,
    )
    repo.create_ticket(ticket, message)
    return ticket, message


def reply_path(ticket: Ticket) -> tuple[str, str, dict[str, str]]:
    return f"/tickets/{ticket.ticket_id}/replies", "/tickets/{ticket_id}/replies", {"ticket_id": ticket.ticket_id}


def test_a_reply_is_queued_sent_by_email_and_counts_as_first_response(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    while dispatch(stack):  # replies other tests left on the queue
        pass
    ticket, message = open_ticket(repo, seller)
    path, route, params = reply_path(ticket)
    status, reply = call(
        stack,
        "POST",
        path,
        route,
        seller.tenant_id,
        params=params,
        body={"body": "Ihre Bestellung ist unterwegs.", "last_seen_message_id": message.message_id},
    )
    assert status == 202, reply
    assert reply["delivery_status"] == "queued" and reply["author_id"] == "agent-1"
    assert repo.get_ticket(seller.tenant_id, ticket.ticket_id).first_responded_at is None

    outbox = len(sent_mail(stack))
    assert dispatch(stack) == 1
    mails = sent_mail(stack)[outbox:]
    assert len(mails) == 1
    mail = email.message_from_string(mails[0]["raw"])
    assert mail["To"] == "max@example.de"
    assert mail["From"].endswith(f"<{seller.tenant_id}+{seller.store_id}@inbound.example.com>")
    assert mail["In-Reply-To"] == f"<{ticket.ticket_id}@example.de>"
    assert "Ihre Bestellung ist unterwegs." in mail.get_payload(decode=True).decode()

    view = repo.get_ticket_view(seller.tenant_id, ticket.ticket_id)
    sent = next(m for m in view.messages if m.message_id == reply["message_id"])
    assert sent.delivery_status.value == "sent" and sent.sent_at is not None
    assert sent.channel_message_id == mail["Message-ID"].strip("<>")
    assert view.ticket.first_responded_at == sent.sent_at
    assert view.ticket.status == TicketStatus.WAITING_ON_CUSTOMER
    assert view.ticket.sla_timer_version == 2, "the first-response timer was made stale"
    assert dispatch(stack) == 0, "nothing left on the queue"


def test_a_reply_on_a_stale_timeline_is_refused_with_409(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    ticket, message = open_ticket(repo, seller)
    path, route, params = reply_path(ticket)
    status, _ = call(
        stack,
        "POST",
        path,
        route,
        seller.tenant_id,
        agent_id="agent-2",
        params=params,
        body={"body": "Ich schaue nach.", "last_seen_message_id": message.message_id},
    )
    assert status == 202
    status, refused = call(
        stack,
        "POST",
        path,
        route,
        seller.tenant_id,
        params=params,
        body={"body": "Ist unterwegs.", "last_seen_message_id": message.message_id},
    )
    assert status == 409
    assert refused["error"]["code"] == "stale_timeline"
    assert [u["author"] for u in refused["error"]["details"]["unseen"]] == ["agent-2"]
    status, _ = call(
        stack,
        "POST",
        path,
        route,
        seller.tenant_id,
        params=params,
        body={"body": "Ist unterwegs.", "last_seen_message_id": message.message_id, "force": True},
    )
    assert status == 202
    while dispatch(stack):
        pass


def test_bad_reply_requests(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    ticket, _ = open_ticket(repo, seller)
    path, route, params = reply_path(ticket)
    status, error = call(stack, "POST", path, route, seller.tenant_id, params=params, body={"body": "x"})
    assert status == 422 and "last_seen_message_id" in json.dumps(error)
    status, _ = call(
        stack, "POST", path, route, seller.tenant_id, role="read_only", params=params, body={"body": "x", "force": True}
    )
    assert status == 403
    status, error = call(stack, "POST", path, route, "another-tenant", params=params, body={"body": "x", "force": True})
    assert status == 404 and error["error"]["code"] == "not_found"


def test_macros_are_admin_managed_rendered_for_the_ticket_and_tenant_isolated(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    macro = {
        "macro_id": "wismo",
        "name": "Where is my order",
        "tags": ["wismo"],
        "bodies": {
            "en": "Hi {{ customer.first_name }}, your order {{ order.ref }} ships with {{ order.carrier }}.",
            "de": "Hallo {{ customer.first_name }}, Ihre Bestellung {{ order.ref }} ist mit {{ order.carrier }} "
            "unterwegs: {{ order.tracking_url }}",
        },
    }
    assert call(stack, "POST", "/macros", "/macros", seller.tenant_id, body=macro)[0] == 403
    status, created = call(stack, "POST", "/macros", "/macros", seller.tenant_id, role="admin", body=macro)
    assert status == 201 and created["macro_id"] == "wismo"
    assert call(stack, "POST", "/macros", "/macros", seller.tenant_id, role="admin", body=macro)[0] == 409
    broken = {**macro, "macro_id": "broken", "bodies": {"en": "Hi {{ customer.name"}}
    status, error = call(stack, "POST", "/macros", "/macros", seller.tenant_id, role="admin", body=broken)
    assert status == 422 and "not a valid template" in json.dumps(error)

    one = ("/macros/wismo", "/macros/{macro_id}", {"macro_id": "wismo"})
    assert call(stack, "GET", *one[:2], seller.tenant_id, params=one[2])[1]["name"] == "Where is my order"
    assert [m["macro_id"] for m in call(stack, "GET", "/macros", "/macros", seller.tenant_id)[1]] == ["wismo"]
    assert call(stack, "GET", *one[:2], "another-tenant", params=one[2])[0] == 404
    assert call(stack, "GET", "/macros", "/macros", "another-tenant")[1] == []
    assert call(stack, "DELETE", *one[:2], "another-tenant", role="admin", params=one[2])[0] == 404

    ticket, message = open_ticket(repo, seller)
    preview = (
        f"/tickets/{ticket.ticket_id}/macros/wismo/preview",
        "/tickets/{ticket_id}/macros/{macro_id}/preview",
        {"ticket_id": ticket.ticket_id, "macro_id": "wismo"},
    )
    status, rendered = call(stack, "GET", *preview[:2], seller.tenant_id, params=preview[2])
    assert status == 200 and rendered["language"] == "de"
    assert rendered["missing"] == ["carrier", "tracking_url"], "no stored order yet"
    path, route, params = reply_path(ticket)
    status, refused = call(
        stack,
        "POST",
        path,
        route,
        seller.tenant_id,
        params=params,
        body={"macro_id": "wismo", "last_seen_message_id": message.message_id},
    )
    assert status == 422 and refused["error"]["code"] == "macro_incomplete"

    repo.upsert_order(
        Order(
            tenant_id=seller.tenant_id,
            store_id=seller.store_id,
            channel=Channel.WOOCOMMERCE,
            order_ref="1001",
            status=OrderStatus.SHIPPED,
            carrier="DHL",
            tracking_url="https://www.dhl.de/t?p=1",
            updated_at=datetime.now(UTC),
        )
    )
    status, reply = call(
        stack,
        "POST",
        path,
        route,
        seller.tenant_id,
        params=params,
        body={"macro_id": "wismo", "last_seen_message_id": message.message_id},
    )
    assert status == 202
    assert reply["body"] == "Hallo Max, Ihre Bestellung 1001 ist mit DHL unterwegs: https://www.dhl.de/t?p=1"
    assert "wismo" in repo.get_ticket(seller.tenant_id, ticket.ticket_id).tags
    while dispatch(stack):
        pass

    replaced = {"name": "WISMO", "bodies": {"en": "Tracking: {{ order.tracking_url }}"}}
    status, updated = call(stack, "PUT", *one[:2], seller.tenant_id, role="admin", params=one[2], body=replaced)
    assert status == 200 and updated["bodies"] == {"en": "Tracking: {{ order.tracking_url }}"}
    assert call(stack, "DELETE", *one[:2], seller.tenant_id, role="admin", params=one[2])[0] == 200
    assert call(stack, "GET", *one[:2], seller.tenant_id, params=one[2])[0] == 404


def test_a_reply_that_keeps_the_ticket_open_re_arms_the_next_response_timer(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    """The first-response timer made stale, a next-response timer (new version) started from the
    channel's acceptance under the ticket's policy; the buyer's next message re-arms it again."""
    from helpdesk.sla.policies import SlaPolicySpec

    repo.put_policy_spec(
        seller.tenant_id,
        SlaPolicySpec(policy_id="standard", name="Standard", first_response_minutes=240, next_response_minutes=120),
    )
    ticket, message = open_ticket(repo, seller, sla_policy_id="standard")
    path, route, params = reply_path(ticket)
    status, reply = call(
        stack,
        "POST",
        path,
        route,
        seller.tenant_id,
        params=params,
        body={
            "body": "Ich kläre das mit dem Lager und melde mich.",
            "last_seen_message_id": message.message_id,
            "status_after": "open",
        },
    )
    assert status == 202
    assert dispatch(stack) == 1

    after = repo.get_ticket(seller.tenant_id, ticket.ticket_id)
    sent_at = next(
        m
        for m in repo.get_ticket_view(seller.tenant_id, ticket.ticket_id).messages
        if m.message_id == reply["message_id"]
    ).sent_at
    assert after.status == TicketStatus.OPEN and after.first_responded_at == sent_at
    assert after.next_response_due_at == sent_at + timedelta(minutes=120)
    assert after.sla_due_at == after.next_response_due_at, "the queue now sorts on the next-response deadline"
    assert after.sla_timer_version == 2
    sfn = stack.client("stepfunctions")
    executions = sfn.list_executions(stateMachineArn=stack.state_machines["SlaTimerStateMachine"])["executions"]
    timer = next(e for e in executions if e["name"].endswith(f"-{ticket.ticket_id}-v2"))
    timer_input = json.loads(sfn.describe_execution(executionArn=timer["executionArn"])["input"])
    assert timer_input["deadline"] == "next_response"
    assert timer_input["due_at"] == after.next_response_due_at.strftime("%Y-%m-%dT%H:%M:%SZ")
