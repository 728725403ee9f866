"""Replies by e-mail: threaded on the buyer's message, to the right address, from the store's
inbound address, with the brand signature (fake transport; SES is covered on moto)."""

from __future__ import annotations

from email import message_from_bytes, policy

import pytest

from helpdesk.core.errors import ChannelError
from helpdesk.core.models import Channel, Message, MessageDirection
from helpdesk.replies.by_email import MailReplySender
from tests.unit.builders import NOW, TENANT, make_store, make_ticket


class Outbox:
    def __init__(self) -> None:
        self.sent: list[tuple[str, list[str], bytes]] = []

    def send_raw(self, source: str, destinations: list[str], raw: bytes) -> str:
        self.sent.append((source, destinations, raw))
        return f"ses-{len(self.sent)}"


def buyer_message(**overrides) -> Message:
    fields = dict(
        tenant_id=TENANT,
        ticket_id="T1",
        message_id="M1",
        direction=MessageDirection.INBOUND,
        channel=Channel.EMAIL,
        store_id="mail",
        channel_message_id="b2@mail.example",
        channel_thread_id="b1@mail.example",
        author="Anna",
        body="Wo ist mein Paket?",
        created_at=NOW,
    )
    return Message(**{**fields, **overrides})


def test_reply_threads_on_the_buyers_message_and_signs_for_the_store() -> None:
    outbox = Outbox()
    store = make_store(
        store_id="mail", channel=Channel.EMAIL, display_name="Demo Shop", brand_signature="Ihr Demo-Shop-Team"
    )
    ticket = make_ticket(
        channel=Channel.EMAIL,
        store_id="mail",
        subject="Bestellung #1001",
        customer_email="anna@example.com",
        channel_thread_id="b1@mail.example",
    )
    sent = MailReplySender(outbox, "in.example.com").send_reply(
        store, ticket, buyer_message(), "Ihr Paket ist unterwegs: DHL 00340434161094042557"
    )
    source, destinations, raw = outbox.sent[0]
    assert source == "t1+mail@in.example.com" and destinations == ["anna@example.com"]
    mail = message_from_bytes(raw, policy=policy.default)
    assert mail["In-Reply-To"] == "<b2@mail.example>"
    assert mail["References"] == "<b1@mail.example> <b2@mail.example>"
    assert mail["Subject"] == "Re: Bestellung #1001"
    assert mail["Message-ID"] == f"<{sent.message_id}>" and sent.message_id.endswith("@in.example.com")
    text = mail.get_content()
    assert "DHL 00340434161094042557" in text and text.rstrip().endswith("Ihr Demo-Shop-Team")
    assert sent.transport_id == "ses-1" and sent.to == "anna@example.com"


def test_amazon_replies_go_to_the_relay_alias() -> None:
    outbox = Outbox()
    store = make_store(store_id="amazon-de", channel=Channel.AMAZON)
    ticket = make_ticket(channel=Channel.AMAZON, store_id="amazon-de", channel_thread_id="amazon-order:303-1-1")
    alias = "x3k9p2m8q7@marketplace.amazon.de"
    sent = MailReplySender(outbox, "in.example.com").send_reply(
        store, ticket, buyer_message(), "Danke!", reply_to=alias
    )
    assert outbox.sent[0][1] == [alias] and sent.to == alias
    assert "References: <b2@mail.example>" in outbox.sent[0][2].decode()  # no relay thread id in References


def test_no_address_to_answer_is_a_clear_error() -> None:
    with pytest.raises(ChannelError, match="no e-mail address"):
        MailReplySender(Outbox(), "in.example.com").send_reply(make_store(), make_ticket(), None, "hello")
