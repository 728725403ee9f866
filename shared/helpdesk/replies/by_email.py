"""Replies by e-mail: the outbound half of every channel whose buyers are answered by mail (e-mail
stores, the Amazon buyer–seller relay, and the stores without a messaging API: Shopify, WooCommerce,
BigCommerce, Walmart, Magento, Etsy). Plain Python; the transport is a port (SES in AWS).

The reply is an RFC 5322 message built by ``channels.email.build_reply``: it answers the buyer's
last message (``In-Reply-To``, ``References`` kept so the buyer's mail client threads it), goes to the
address the buyer's mail asks replies to go to (``Reply-To``, or the Amazon relay alias), comes from
the store's inbound address (``<tenant>+<store>@<inbound domain>``) so the buyer's next answer lands
in the same store and thread, and carries the store's brand signature.
"""

from __future__ import annotations

from dataclasses import dataclass

from helpdesk.channels import email as email_channel
from helpdesk.core.errors import ChannelError
from helpdesk.core.models import Message, Store, Ticket
from helpdesk.replies.macros import brand_voice
from helpdesk.replies.ports import MailTransport


@dataclass(frozen=True)
class SentMail:
    message_id: str  # our Message-ID (what the buyer's answer will reference)
    transport_id: str  # the mail service's id (SES MessageId)
    to: str


class MailReplySender:
    def __init__(self, transport: MailTransport, inbound_domain: str) -> None:
        self._transport = transport
        self._domain = inbound_domain

    def from_address(self, store: Store) -> str:
        return f"{store.tenant_id}+{store.store_id}@{self._domain}"

    def send_reply(
        self,
        store: Store,
        ticket: Ticket,
        answering: Message | None,
        body: str,
        reply_to: str | None = None,
        language: str | None = None,
    ) -> SentMail:
        """Answer ``answering`` (the buyer's last message) on ``ticket``; ``reply_to`` is where the
        buyer asked replies to go (relay alias / Reply-To), else the ticket's customer e-mail. The
        store's signature in the reply's ``language`` is appended, unless the text already ends with it
        (a macro that signs with ``store.signature``)."""
        to = reply_to or ticket.customer_email
        if not to:
            raise ChannelError(
                "this ticket has no e-mail address to answer", channel=store.channel.value, ticket_id=ticket.ticket_id
            )
        thread = answering.channel_message_id if answering else None
        references = [ticket.channel_thread_id] if ticket.channel_thread_id and "@" in ticket.channel_thread_id else []
        message_id, raw = email_channel.build_reply(
            from_address=self.from_address(store),
            from_name=store.display_name,
            to_address=to,
            subject=ticket.subject,
            body_text=body,
            in_reply_to=thread,
            references=references,
            message_id_domain=self._domain,
            signature=_signature(store, body, language or ticket.language or "en"),
            opening=answering is None and not references,
        )  # a proactive message: "Your order shipped", no "Re:"
        transport_id = self._transport.send_raw(self.from_address(store), [to], raw)
        return SentMail(message_id=message_id, transport_id=transport_id, to=to)


def _signature(store: Store, body: str, language: str) -> str | None:
    signature = brand_voice(store, language).get("signature")
    if not signature or body.rstrip().endswith(signature.strip()):
        return None
    return signature
