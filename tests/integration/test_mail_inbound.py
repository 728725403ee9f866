"""E-mail into the one inbox (on moto): SES receipt → mail function → raw kept → threaded; a buyer's
e-mail about a WooCommerce order merges into that order's ticket; replies follow by References;
auto-replies and infected mail open no ticket."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from helpdesk.adapters.dynamodb import DynamoRepository
from helpdesk.core.models import Channel, Store
from infrastructure.local import mailbox
from infrastructure.local.stack import LocalStack
from tests.conftest import ROOT
from tests.integration.conftest import Seller, buyer_messages, drain_ingest_queue

SAMPLES = ROOT / "infrastructure/local/samples/email"


def _mail_store(repo: DynamoRepository, seller: Seller) -> str:
    repo.put_store(
        Store(
            tenant_id=seller.tenant_id,
            store_id="mail",
            channel=Channel.EMAIL,
            display_name="Support mailbox",
            linked_store_ids=[seller.store_id],
            created_at=datetime.now(UTC),
        )
    )
    return f"{seller.tenant_id}+mail@{mailbox.INBOUND_DOMAIN}"


def test_buyer_email_about_an_order_joins_the_orders_ticket(
    stack: LocalStack, repo: DynamoRepository, seller: Seller, woo_order: dict[str, Any]
) -> None:
    address = _mail_store(repo, seller)
    drain_ingest_queue(stack)
    woo_order.update(id=4242, number="4242", customer_note="Bitte schnell liefern")
    woo_order["billing"]["email"] = "anna@example.com"
    body = json.dumps(woo_order).encode()
    response = stack.functions["WebhookFunction"].invoke(seller.webhook_event(body, delivery_id="4242"))
    assert response["statusCode"] == 202
    drain_ingest_queue(stack)
    (order_ticket,) = repo.find_tickets_by_order(seller.tenant_id, seller.store_id, "4242")

    first_id, raw = mailbox.compose(
        ("Anna Rossi", "anna@example.com"), address, "Bestellung #4242", "Hallo, wo bleibt meine Bestellung #4242?"
    )
    result = mailbox.deliver(stack, raw, [address])
    assert result["outcomes"][0]["messages"] == 1
    _, reply = mailbox.compose(
        ("Anna Rossi", "anna@example.com"),
        address,
        "Re: Bestellung",
        "Noch etwas: bitte an die Nachbarin geben.\n\n> Hallo, wo bleibt meine Bestellung?",
        in_reply_to=first_id,
        references=[first_id],
    )
    mailbox.deliver(stack, reply, [address])
    assert drain_ingest_queue(stack) == 2

    view = repo.get_ticket_view(seller.tenant_id, order_ticket.ticket_id)
    assert view is not None
    assert [(m.channel, m.store_id) for m in buyer_messages(view)] == [
        (Channel.WOOCOMMERCE, seller.store_id),
        (Channel.EMAIL, "mail"),
        (Channel.EMAIL, "mail"),
    ]
    assert buyer_messages(view)[2].body == "Noch etwas: bitte an die Nachbarin geben."  # quoted history stripped
    raw_keys = [m.raw_s3_key for m in buyer_messages(view)[1:]]
    assert all(k and k.startswith(f"raw/{seller.tenant_id}/email/mail/") for k in raw_keys)


def test_attachments_are_kept_in_s3(stack: LocalStack, repo: DynamoRepository, seller: Seller) -> None:
    address = _mail_store(repo, seller)
    drain_ingest_queue(stack)
    raw = (SAMPLES / "fr_outlook_html_attachments.eml").read_bytes()
    mailbox.deliver(stack, raw, [address])
    drain_ingest_queue(stack)
    (ticket,) = [t for t in repo.find_tickets_by_email(seller.tenant_id, _sender(raw))]
    view = repo.get_ticket_view(seller.tenant_id, ticket.ticket_id)
    assert view is not None and buyer_messages(view)[0].attachments
    attachment = buyer_messages(view)[0].attachments[0]
    stored = stack.client("s3").get_object(Bucket=stack.resolver.refs["RawPayloadBucket"], Key=attachment.s3_key)
    assert stored["ContentLength"] == attachment.size > 0


def test_auto_replies_and_infected_mail_open_no_ticket(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    address = _mail_store(repo, seller)
    drain_ingest_queue(stack)
    auto = mailbox.deliver(stack, (SAMPLES / "out_of_office.eml").read_bytes(), [address])
    assert auto["outcomes"][0]["messages"] == 0 and "automatic" in auto["outcomes"][0]["skipped"][0]
    _, raw = mailbox.compose(("Eve", "eve@example.com"), address, "invoice", "see attachment")
    infected = mailbox.deliver(stack, raw, [address], virus="FAIL")
    assert infected["outcomes"][0]["messages"] == 0 and "virus" in infected["outcomes"][0]["skipped"][0]
    unknown = mailbox.deliver(stack, raw, [f"nobody+none@{mailbox.INBOUND_DOMAIN}"])
    assert unknown["outcomes"][0]["messages"] == 0
    assert drain_ingest_queue(stack) == 0


def _sender(raw: bytes) -> str:
    from email import message_from_bytes
    from email.utils import parseaddr

    return parseaddr(message_from_bytes(raw)["From"])[1].lower()


def test_a_reply_sent_through_ses_comes_back_into_the_same_ticket(
    stack: LocalStack, repo: DynamoRepository, seller: Seller
) -> None:
    """Outbound through SES (moto) from the store's inbound address; the buyer's answer to it, which
    references our Message-ID, threads back into the ticket."""
    from helpdesk.adapters.aws import SesMailTransport
    from helpdesk.replies.by_email import MailReplySender

    address = _mail_store(repo, seller)
    drain_ingest_queue(stack)
    first_id, raw = mailbox.compose(("Bo Berg", "bo@example.com"), address, "Frage", "Haben Sie Größe 42?")
    mailbox.deliver(stack, raw, [address])
    drain_ingest_queue(stack)
    (ticket,) = repo.find_tickets_by_email(seller.tenant_id, "bo@example.com")
    view = repo.get_ticket_view(seller.tenant_id, ticket.ticket_id)
    assert view is not None

    ses = stack.client("ses")
    ses.verify_domain_identity(Domain=mailbox.INBOUND_DOMAIN)
    store = repo.get_store(seller.tenant_id, "mail")
    assert store is not None
    sent = MailReplySender(SesMailTransport(ses), mailbox.INBOUND_DOMAIN).send_reply(
        store, view.ticket, buyer_messages(view)[-1], "Ja, Größe 42 ist vorrätig."
    )
    assert sent.transport_id and sent.to == "bo@example.com"

    # The buyer answers our reply (new thread root in their client, but References name our mail).
    _, answer = mailbox.compose(
        ("Bo Berg", "bo@example.com"),
        address,
        "Re: Frage",
        "Super, danke!",
        in_reply_to=sent.message_id,
        references=[first_id, sent.message_id],
    )
    mailbox.deliver(stack, answer, [address])
    drain_ingest_queue(stack)
    again = repo.get_ticket_view(seller.tenant_id, ticket.ticket_id)
    assert again is not None and [m.body for m in buyer_messages(again)] == ["Haben Sie Größe 42?", "Super, danke!"]
