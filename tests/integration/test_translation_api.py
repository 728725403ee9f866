"""Issue 6's translation done-when, through the agent API and the reply dispatcher on moto, with the
production translator (``AmazonTranslator``) on a real boto3 Translate client whose answers come
from botocore's Stubber (moto has no Translate): a French buyer message is shown in English to an
English-speaking agent (translated once, then read from the cache), the agent's English reply is
translated for review, sent in French with the tracking number and link intact, and both versions
are kept on the reply."""

from __future__ import annotations

import email
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from helpdesk.adapters import language_services
from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.adapters.translation_aws import AmazonTranslator
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    Agent,
    Channel,
    DeliveryStatus,
    Message,
    MessageDirection,
    Order,
    OrderItem,
    OrderStatus,
    Ticket,
)
from helpdesk.languages.multilingual import protected_terms
from helpdesk.languages.translation import placeholder, protect
from helpdesk.platform import wiring
from infrastructure.local.mailbox import sent_mail
from infrastructure.local.stack import LocalStack
from tests.integration.conftest import Seller, agent_event

TRACKING = "1Z999AA10123456784"
TRACKING_URL = f"https://www.ups.com/track?tracknum={TRACKING}"
FRENCH = f"Bonjour, ma commande 1001 n'est toujours pas arrivée. Le suivi {TRACKING} ne bouge plus depuis lundi."
ENGLISH_REPLY = f"Sorry for the wait! Your Arco lamp left with UPS, tracking {TRACKING}: {TRACKING_URL}"


@pytest.fixture
def translate(stack: LocalStack) -> Iterator[Stubber]:
    """Amazon Translate as the agent API's translator, answering from the Stubber."""
    client = boto3.client(
        "translate",
        region_name="eu-west-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        endpoint_url="https://translate.eu-west-1.amazonaws.com",
    )
    stubber = Stubber(client)
    original = language_services.translator

    def reset() -> None:
        language_services.translation_service.cache_clear()
        wiring.inbox.cache_clear()
        wiring.reply_service.cache_clear()

    language_services.translator = lambda: AmazonTranslator(client)  # type: ignore[assignment]
    reset()
    with stubber:
        yield stubber
    language_services.translator = original  # type: ignore[assignment]
    reset()


def call(
    stack: LocalStack, method: str, path: str, route: str, tenant_id: str, params: dict[str, str], body: Any = None
) -> tuple[int, Any]:
    response = stack.functions["AgentApiFunction"].invoke(
        agent_event(method, path, route, tenant_id=tenant_id, agent_id="ann", params=params, json_body=body)
    )
    return response["statusCode"], json.loads(response["body"] or "null")


def test_a_french_buyer_and_an_english_agent_understand_each_other(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, translate: Stubber
) -> None:
    now = datetime.now(UTC)
    tenant = seller.tenant_id
    repo.put_agent(Agent(tenant_id=tenant, agent_id="ann", name="Ann Lee", email="ann@shop.example", languages=["en"]))
    order = Order(
        tenant_id=tenant,
        store_id=seller.store_id,
        channel=Channel.WOOCOMMERCE,
        order_ref="1001",
        status=OrderStatus.SHIPPED,
        carrier="UPS",
        tracking_number=TRACKING,
        tracking_url=TRACKING_URL,
        items=[OrderItem(name="Arco lamp", quantity=1)],
        buyer_email="claire@example.fr",
        updated_at=now,
    )
    repo.upsert_order(order)
    ticket = Ticket(
        tenant_id=tenant,
        ticket_id=new_id(now),
        store_id=seller.store_id,
        channel=Channel.WOOCOMMERCE,
        subject="Commande 1001",
        language="fr",
        customer_email="claire@example.fr",
        customer_name="Claire Martin",
        order_refs=["1001"],
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
        channel_message_id=f"<{ticket.ticket_id}@example.fr>",
        author="Claire Martin",
        body=FRENCH,
        language="fr",
        created_at=now,
    )
    repo.create_ticket(ticket, inbound)
    terms = protected_terms(repo.get_order(tenant, seller.store_id, "1001"), repo.get_store(tenant, seller.store_id))
    params = {"ticket_id": ticket.ticket_id}

    # 1. The agent opens the ticket: the French message, and its English translation.
    sent_in = protect(FRENCH, terms)
    assert sent_in.values == ["1001", TRACKING], "the order and tracking numbers never reach the translator"
    translate.add_response(
        "translate_text",
        {
            "TranslatedText": f"Hello, my order {placeholder(0)} has still not arrived. The tracking {placeholder(1)} "
            "has not moved since Monday.",
            "SourceLanguageCode": "fr",
            "TargetLanguageCode": "en",
        },
        {"Text": sent_in.text, "SourceLanguageCode": "fr", "TargetLanguageCode": "en"},
    )
    status, detail = call(stack, "GET", f"/tickets/{ticket.ticket_id}", "/tickets/{ticket_id}", tenant, params)
    assert status == 200, detail
    shown = detail["messages"][0]
    assert shown["body"] == FRENCH
    assert shown["translation"] == {
        "language": "en",
        "source_language": "fr",
        "provider": "amazon-translate",
        "translated": True,
        "note": None,
        "text": f"Hello, my order 1001 has still not arrived. The tracking {TRACKING} has not moved since Monday.",
    }

    # Reading it again costs nothing: the Stubber has no answer queued, a call would fail the test.
    status, again = call(stack, "GET", f"/tickets/{ticket.ticket_id}", "/tickets/{ticket_id}", tenant, params)
    assert status == 200 and again["messages"][0]["translation"] == shown["translation"]
    translate.assert_no_pending_responses()

    # 2. The agent's English reply, translated into French for review.
    reply_in = protect(ENGLISH_REPLY, terms)
    assert reply_in.values == ["Arco lamp", "UPS", TRACKING, TRACKING_URL]
    translate.add_response(
        "translate_text",
        {
            "TranslatedText": f"Désolés pour l'attente ! Votre {placeholder(0)} est partie avec {placeholder(1)}, "
            f"suivi {placeholder(2)} : {placeholder(3)}",
            "SourceLanguageCode": "en",
            "TargetLanguageCode": "fr",
        },
        {"Text": reply_in.text, "SourceLanguageCode": "en", "TargetLanguageCode": "fr"},
    )
    status, review = call(
        stack,
        "POST",
        f"/tickets/{ticket.ticket_id}/replies/translation",
        "/tickets/{ticket_id}/replies/translation",
        tenant,
        params,
        body={"body": ENGLISH_REPLY},
    )
    assert status == 200, review
    french_reply = f"Désolés pour l'attente ! Votre Arco lamp est partie avec UPS, suivi {TRACKING} : {TRACKING_URL}"
    assert (review["language"], review["provider"], review["translated"], review["text"]) == (
        "fr",
        "amazon-translate",
        True,
        french_reply,
    )

    # 3. Sent as reviewed: the buyer gets French, the reply keeps the agent's English.
    status, reply = call(
        stack,
        "POST",
        f"/tickets/{ticket.ticket_id}/replies",
        "/tickets/{ticket_id}/replies",
        tenant,
        params,
        body={
            "body": ENGLISH_REPLY,
            "last_seen_message_id": inbound.message_id,
            "translation": {"body": review["text"], "language": "fr"},
        },
    )
    assert status == 202, reply
    assert (reply["body"], reply["language"]) == (french_reply, "fr")
    assert reply["translation"]["text"] == ENGLISH_REPLY and reply["translation"]["language"] == "en"
    assert reply["translation"]["provider"] == "amazon-translate"
    assert reply["translation"]["note"] == "machine translation reviewed by the agent"

    outbox = len(sent_mail(stack))
    function = stack.functions["ReplyDispatchFunction"]
    assert stack.drain_sqs_once(function, function.events["Outbound"]["Properties"]) == 1
    (mail,) = sent_mail(stack)[outbox:]
    text = email.message_from_string(mail["raw"]).get_payload(decode=True).decode()
    assert french_reply in text and TRACKING in text and TRACKING_URL in text
    stored = next(
        m for m in repo.get_ticket_view(tenant, ticket.ticket_id).messages if m.message_id == reply["message_id"]
    )
    assert stored.delivery_status == DeliveryStatus.SENT and stored.body == french_reply
    assert stored.translation is not None and stored.translation.text == ENGLISH_REPLY


def test_without_a_provider_nothing_pretends_to_be_translated(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    now = datetime.now(UTC)
    tenant = seller.tenant_id
    repo.put_agent(Agent(tenant_id=tenant, agent_id="ann", name="Ann Lee", email="ann@shop.example", languages=["en"]))
    ticket = Ticket(
        tenant_id=tenant,
        ticket_id=new_id(now),
        store_id=seller.store_id,
        channel=Channel.WOOCOMMERCE,
        subject="Commande",
        language="fr",
        customer_email="claire@example.fr",
        message_count=1,
        created_at=now,
        updated_at=now,
    )
    repo.create_ticket(
        ticket,
        Message(
            tenant_id=tenant,
            ticket_id=ticket.ticket_id,
            message_id=new_id(now),
            direction=MessageDirection.INBOUND,
            channel=Channel.WOOCOMMERCE,
            store_id=seller.store_id,
            channel_message_id=f"<{ticket.ticket_id}@x.fr>",
            author="Claire",
            body="Où est mon colis ?",
            language="fr",
            created_at=now,
        ),
    )
    params = {"ticket_id": ticket.ticket_id}
    status, review = call(
        stack,
        "POST",
        f"/tickets/{ticket.ticket_id}/replies/translation",
        "/tickets/{ticket_id}/replies/translation",
        tenant,
        params,
        body={"body": "On its way!"},
    )
    assert status == 200
    assert (review["translated"], review["provider"], review["text"]) == (False, "none", "On its way!")
    assert "no translation provider" in review["note"]
