"""Issue 6's automatic answers on moto, through the real ingest → intake workflow (Automate step) →
reply dispatch: an Italian WISMO message on a shipped order gets an Italian answer with the carrier,
the tracking link and the delivery window, in the store's brand voice; an acknowledgement outside
business hours does not stop the SLA clock; a macro without a value for a placeholder is not sent but
kept as a draft."""

from __future__ import annotations

import email
import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from helpdesk.adapters.aws import SqsEnvelopePublisher
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.outbound import DynamoMacros
from helpdesk.core.models import (
    Automation,
    Channel,
    DeliveryStatus,
    InboundMessage,
    IngestEnvelope,
    Intent,
    Macro,
    Order,
    OrderEvent,
    OrderEventType,
    OrderStatus,
    Store,
    Tenant,
    TicketStatus,
)
from helpdesk.routing.rule_schema import RoutingRule
from helpdesk.sla.policies import SlaPolicySpec
from infrastructure.local.mailbox import sent_mail
from infrastructure.local.stack import LocalStack
from tests.conftest import eventually
from tests.integration.conftest import agent_event, drain_ingest_queue

WISMO_MACRO = {
    "it": "{{ store.greeting }} {{ customer.first_name }},\nil suo ordine {{ order.ref }} è stato spedito con "
    "{{ order.carrier }}: {{ order.tracking_url }}\nConsegna prevista: {{ order.delivery_window }}.\n"
    "{{ store.signature }}",
    "en": "Hello {{ customer.first_name }}, order {{ order.ref }} left with {{ order.carrier }}: "
    "{{ order.tracking_url }} (delivery {{ order.delivery_window }}).",
}


def _seed(stack: LocalStack, repo: DynamoRepository, tenant: str, *, calendar: dict[str, Any] | None = None) -> None:
    now = datetime.now(UTC)
    repo.put_tenant(
        Tenant(
            tenant_id=tenant,
            name="Seller",
            time_zone="Europe/Rome",
            languages=["en", "it", "de"],
            default_sla_policy_id="standard",
            created_at=now,
        )
    )
    repo.put_store(
        Store(
            tenant_id=tenant,
            store_id="shop-it",
            channel=Channel.WOOCOMMERCE,
            display_name="Lampade",
            base_url="https://lampade.example",
            default_language="en",
            greetings={"it": "Gentile"},
            signatures={"it": "Il team di Lampade"},
            created_at=now,
        )
    )
    repo.put_policy_spec(
        tenant,
        SlaPolicySpec(
            policy_id="standard",
            name="24h",
            first_response_minutes=24 * 60,
            next_response_minutes=24 * 60,
            calendar=calendar,
        ),
    )
    macros = DynamoMacros(stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"])
    macros.put_macro(
        Macro(tenant_id=tenant, macro_id="wismo-auto", name="WISMO", bodies=WISMO_MACRO, tags=["auto-answered"])
    )
    macros.put_macro(
        Macro(
            tenant_id=tenant,
            macro_id="ack",
            name="Outside hours",
            bodies={
                "it": "Gentile cliente, abbiamo ricevuto il suo messaggio e le risponderemo lunedì.",
                "de": "Wir haben Ihre Nachricht erhalten und antworten am Montag.",
            },
        )
    )
    repo.put_rule(
        RoutingRule.model_validate(
            {
                "tenant_id": tenant,
                "rule_id": "wismo-auto",
                "name": "Answer WISMO when the order has tracking",
                "conditions": [
                    {"field": "intent", "op": "eq", "value": "wismo"},
                    {"field": "order_has_tracking", "op": "eq", "value": True},
                ],
                "actions": [{"type": "send_macro", "value": "wismo-auto"}],
            }
        )
    )
    repo.put_rule(
        RoutingRule.model_validate(
            {
                "tenant_id": tenant,
                "rule_id": "ack",
                "name": "Acknowledge outside business hours",
                "position": 1,
                "conditions": [{"field": "business_hours", "op": "eq", "value": False}],
                "actions": [{"type": "acknowledge", "value": "ack"}],
            }
        )
    )


def _order(tenant: str, ref: str, **changes: Any) -> Order:
    now = datetime.now(UTC)
    fields: dict[str, Any] = dict(
        tenant_id=tenant,
        store_id="shop-it",
        channel=Channel.WOOCOMMERCE,
        order_ref=ref,
        status=OrderStatus.SHIPPED,
        buyer_email="giulia@example.it",
        buyer_name="Giulia Rossi",
        carrier="BRT",
        tracking_number="084123456789",
        tracking_url="https://vas.brt.it/vas/sped_det_show.hsm?referer=sped_numspe_par.htm&Nspediz=084123456789",
        delivery_earliest=datetime(2026, 11, 26, 8, tzinfo=UTC),
        delivery_latest=datetime(2026, 11, 27, 18, tzinfo=UTC),
        ordered_at=now - timedelta(days=2),
        shipped_at=now - timedelta(days=1),
        updated_at=now,
    )
    fields.update(changes)
    return Order(**fields)


def _publish(stack: LocalStack, tenant: str, ref: str, body: str, n: int) -> None:
    message = InboundMessage(
        tenant_id=tenant,
        store_id="shop-it",
        channel=Channel.WOOCOMMERCE,
        channel_message_id=f"<m{n}@example.it>",
        order_ref=ref,
        buyer_email="giulia@example.it",
        buyer_name="Giulia Rossi",
        subject=f"Ordine {ref}",
        body=body,
        received_at=datetime.now(UTC),
    )
    SqsEnvelopePublisher(stack.client("sqs"), stack.resolver.refs["InboundQueue"]).publish(
        IngestEnvelope(
            tenant_id=tenant,
            store_id="shop-it",
            channel=Channel.WOOCOMMERCE,
            delivery_id=f"d-{n}",
            raw_s3_key=f"raw/{n}",
            messages=[message],
        )
    )
    assert drain_ingest_queue(stack) == 1


def _settled(repo: DynamoRepository, tenant: str) -> Any:
    """The only ticket once the intake workflow has run to its end (automatic replies stored)."""

    def decided() -> Any:
        found = repo.list_queue(tenant, "tenant", None, 10, None).tickets
        if not found or found[0].intent is None or found[0].intake_error:
            return None
        view = repo.get_ticket_view(tenant, found[0].ticket_id)
        return found[0] if any(m.direction.value == "event" for m in view.messages) else None

    ticket = eventually(decided, "the intake decision")
    time.sleep(1.0)  # the Automate step follows the Decide step's write
    return repo.get_ticket_view(tenant, ticket.ticket_id)


def _dispatch(stack: LocalStack) -> int:
    function = stack.functions["ReplyDispatchFunction"]
    return stack.drain_sqs_once(function, function.events["Outbound"]["Properties"])


def test_an_italian_wismo_message_gets_an_italian_answer_with_carrier_and_tracking_link(
    stack: LocalStack, repo: DynamoRepository
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _seed(stack, repo, tenant)  # 24/7 calendar: no acknowledgement
    repo.upsert_order(_order(tenant, "IT-1001"))
    _dispatch(stack)
    _publish(
        stack,
        tenant,
        "IT-1001",
        "Buongiorno, dov'è il mio pacco? Non è ancora arrivato e sono passati giorni dalla spedizione.",
        1,
    )
    view = _settled(repo, tenant)
    ticket = view.ticket
    assert ticket.language == "it" and ticket.intent == Intent.WISMO
    (answer,) = [m for m in view.messages if m.direction.value == "outbound"]
    assert answer.automation == Automation.ANSWER and answer.language == "it"
    assert answer.delivery_status == DeliveryStatus.QUEUED and answer.author == "automation"
    assert answer.body == (
        "Gentile Giulia,\nil suo ordine IT-1001 è stato spedito con BRT: "
        "https://vas.brt.it/vas/sped_det_show.hsm?referer=sped_numspe_par.htm&Nspediz=084123456789\n"
        "Consegna prevista: 2026-11-26 – 2026-11-27.\nIl team di Lampade"
    )
    assert ticket.automated == ["wismo-auto"] and "auto-answered" in ticket.tags

    outbox = len(sent_mail(stack))
    assert _dispatch(stack) == 1
    (mail,) = sent_mail(stack)[outbox:]
    parsed = email.message_from_string(mail["raw"])
    assert parsed["To"] == "giulia@example.it"
    text = parsed.get_payload(decode=True).decode()
    assert "spedito con BRT" in text and "Nspediz=084123456789" in text
    assert text.count("Il team di Lampade") == 1, "the macro signed already: the e-mail adds no second signature"

    after = repo.get_ticket_view(tenant, ticket.ticket_id)
    sent = next(m for m in after.messages if m.message_id == answer.message_id)
    assert sent.delivery_status == DeliveryStatus.SENT
    assert after.ticket.first_responded_at == sent.sent_at, "the automatic answer is the first response"
    assert after.ticket.status == TicketStatus.WAITING_ON_CUSTOMER


def test_no_tracking_no_automatic_answer_and_outside_hours_an_acknowledgement_that_keeps_the_sla(
    stack: LocalStack, repo: DynamoRepository
) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    today = datetime.now(ZoneInfo("Europe/Rome")).date()
    closed = {
        "time_zone": "Europe/Rome",
        "holidays": [today.isoformat(), (today + timedelta(days=1)).isoformat()],
        "periods": {
            day: [{"start": "00:00", "end": "24:00"}]
            for day in ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
        },
    }
    _seed(stack, repo, tenant, calendar=closed)  # a holiday today: now is outside business hours
    repo.upsert_order(
        _order(tenant, "IT-2002", status=OrderStatus.PROCESSING, carrier=None, tracking_number=None, tracking_url=None)
    )
    _dispatch(stack)
    _publish(stack, tenant, "IT-2002", "Buongiorno, quando arriva il mio ordine? Non ho ancora ricevuto nulla.", 2)
    view = _settled(repo, tenant)
    replies = [m for m in view.messages if m.direction.value == "outbound"]
    assert [(m.automation, m.macro_id, m.language) for m in replies] == [(Automation.ACKNOWLEDGEMENT, "ack", "it")]
    assert view.ticket.automated == ["ack"]
    due = view.ticket.first_response_due_at
    assert due is not None

    assert _dispatch(stack) == 1
    after = repo.get_ticket_view(tenant, view.ticket.ticket_id)
    assert [m.delivery_status for m in after.messages if m.direction.value == "outbound"] == [DeliveryStatus.SENT]
    assert after.ticket.first_responded_at is None, "an acknowledgement is not a response"
    assert after.ticket.first_response_due_at == due and after.ticket.status.in_queue

    # The buyer writes again: no second acknowledgement.
    _publish(stack, tenant, "IT-2002", "Scusate, ci sono novità sul mio ordine IT-2002?", 3)

    def routed_twice() -> Any:
        current = repo.get_ticket_view(tenant, view.ticket.ticket_id)
        routed = [m for m in current.messages if m.direction.value == "event" and m.body.startswith("Routed")]
        return current if len(routed) == 2 else None

    again = eventually(routed_twice, "the second message routed")
    time.sleep(1.0)  # the Automate step runs after the Decide step's write
    again = repo.get_ticket_view(tenant, view.ticket.ticket_id)
    assert len([m for m in again.messages if m.direction.value == "outbound"]) == 1
    assert again.ticket.automated == ["ack"]


def test_a_shipped_order_sends_the_configured_proactive_message(stack: LocalStack, repo: DynamoRepository) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _seed(stack, repo, tenant)
    macros = DynamoMacros(stack.client("dynamodb"), stack.resolver.refs["HelpdeskTable"])
    macros.put_macro(
        Macro(
            tenant_id=tenant,
            macro_id="shipped",
            name="Shipped",
            bodies={
                "en": "Good news {{ customer.first_name }}: order {{ order.ref }} left with {{ order.carrier }}, "
                "track it at {{ order.tracking_url }}."
            },
        )
    )
    status, answer = _setup(
        stack,
        tenant,
        "PUT",
        "/nudges",
        [
            {
                "nudge_id": "shipped",
                "name": "Tell buyers their order shipped",
                "event": "shipped",
                "macro_id": "shipped",
                "subjects": {"en": "Your order has shipped"},
            }
        ],
    )
    assert status == 200, answer
    repo.upsert_order(
        _order(tenant, "IT-3003", status=OrderStatus.PROCESSING, carrier=None, tracking_number=None, tracking_url=None)
    )
    _dispatch(stack)
    event = OrderEvent(
        tenant_id=tenant,
        store_id="shop-it",
        channel=Channel.WOOCOMMERCE,
        event_type=OrderEventType.SHIPPED,
        event_id="e-1",
        occurred_at=datetime.now(UTC),
        order=_order(tenant, "IT-3003"),
    )
    publisher = SqsEnvelopePublisher(stack.client("sqs"), stack.resolver.refs["InboundQueue"])
    for delivery in ("d-ship-1", "d-ship-2"):  # the channel delivers the same event twice
        publisher.publish(
            IngestEnvelope(
                tenant_id=tenant,
                store_id="shop-it",
                channel=Channel.WOOCOMMERCE,
                delivery_id=delivery,
                raw_s3_key=f"raw/{delivery}",
                order_events=[event],
            )
        )
        drain_ingest_queue(stack)

    (ticket,) = repo.find_tickets_by_order(tenant, "shop-it", "IT-3003")
    assert ticket.status == TicketStatus.RESOLVED and ticket.automated == ["shipped:IT-3003"]
    outbox = len(sent_mail(stack))
    assert _dispatch(stack) == 1
    (mail,) = sent_mail(stack)[outbox:]
    parsed = email.message_from_string(mail["raw"])
    assert parsed["To"] == "giulia@example.it" and parsed["Subject"] == "Your order has shipped"
    assert "order IT-3003 left with BRT, track it at https://vas.brt.it/" in parsed.get_payload(decode=True).decode()
    after = repo.get_ticket(tenant, ticket.ticket_id)
    assert after.status == TicketStatus.RESOLVED and after.first_responded_at is None


def test_an_agent_asks_for_a_first_draft_in_the_buyers_language(stack: LocalStack, repo: DynamoRepository) -> None:
    tenant = f"t-{uuid.uuid4().hex[:8]}"
    _seed(stack, repo, tenant)
    repo.upsert_order(_order(tenant, "IT-4004"))
    _dispatch(stack)
    _publish(stack, tenant, "IT-4004", "Salve, vorrei sapere quando arriverà il mio ordine IT-4004, grazie.", 4)
    view = _settled(repo, tenant)
    _dispatch(stack)  # the WISMO rule answered it already; the agent still wants a draft for a follow-up
    path = f"/tickets/{view.ticket.ticket_id}/draft"
    response = stack.functions["AgentApiFunction"].invoke(
        agent_event(
            "POST",
            path,
            "/tickets/{ticket_id}/draft",
            tenant_id=tenant,
            params={"ticket_id": view.ticket.ticket_id},
            json_body={},
        )
    )
    assert response["statusCode"] == 201, response["body"]
    draft = json.loads(response["body"])
    assert draft["language"] == "it" and draft["created_by"] == "agent-1"
    assert "BRT" in draft["body"] and "Nspediz=084123456789" in draft["body"]
    assert repo.get_ticket(tenant, view.ticket.ticket_id).draft.body == draft["body"]


def _setup(stack: LocalStack, tenant: str, method: str, path: str, body: Any) -> tuple[int, Any]:
    response = stack.functions["SetupApiFunction"].invoke(
        agent_event(method, path, path, tenant_id=tenant, role="admin", json_body=body)
    )
    return response["statusCode"], json.loads(response["body"] or "null")
