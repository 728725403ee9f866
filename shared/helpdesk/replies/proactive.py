"""Proactive messages: an order event (shipped, delivered, cancelled, delayed) sends the buyer a
message the seller configured, before they have to ask. Plain Python.

A **nudge** names the event, the macro to send (one body per language, order placeholders, the
store's brand voice) and optionally the stores or channels it applies to. When an order event
changes an order that way (``triggered``), the message goes

* into the buyer's existing conversation about the order, when there is one: the ticket's
  channel and thread (a marketplace's messaging API, or e-mail);
* otherwise, for stores answered by e-mail (Shopify, WooCommerce, BigCommerce, Magento, e-mail), in a
  new ticket opened for it, *resolved* (nothing is owed: it stays out of the queues; a buyer's answer
  reopens it or threads by the order number);
* not at all on a marketplace without a conversation: marketplaces let a seller write only inside a
  buyer's thread (or through channel-specific APIs not used here); the outcome says so.

A nudge is not a response: it changes no SLA deadline (``Automation.NUDGE``). Each nudge is sent
at most once per order (``Ticket.automated`` holds ``<nudge_id>:<order_ref>``), whatever the channel
redelivers.

"Delayed" is the channel pushing its delivery promise back: the order's latest delivery date moved
later by more than ``DELAY_THRESHOLD`` on an order not yet delivered.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from enum import StrEnum

from pydantic import Field

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import Conflict, DuplicateMessage, HelpdeskError
from helpdesk.core.ids import new_id
from helpdesk.core.models import (
    ID_PATTERN,
    Automation,
    Channel,
    DeliveryStatus,
    Macro,
    Message,
    MessageDirection,
    Model,
    Order,
    OrderStatus,
    Store,
    Ticket,
    TicketStatus,
)
from helpdesk.replies.agent_replies import outbound_reply
from helpdesk.replies.automatic_answers import buyer_text
from helpdesk.replies.ports import MacroSource, NudgeConfig, NudgeRepository, ReplyQueue

DELAY_THRESHOLD = timedelta(hours=12)
FIRST_SEEN_WINDOW = timedelta(hours=48)
MAIL_ANSWERED = frozenset({Channel.SHOPIFY, Channel.WOOCOMMERCE, Channel.BIGCOMMERCE, Channel.MAGENTO, Channel.EMAIL})
MAX_NUDGES = 50
_DONE = {OrderStatus.DELIVERED, OrderStatus.COMPLETED, OrderStatus.CANCELLED, OrderStatus.REFUNDED}


class NudgesInvalid(HelpdeskError):
    code = "invalid_nudges"
    status = 422


class NudgeEvent(StrEnum):
    SHIPPED = "shipped"
    DELIVERED = "delivered"
    CANCELLED = "cancelled"
    DELAYED = "delayed"


class Nudge(Model):
    nudge_id: str = Field(pattern=ID_PATTERN)
    name: str = Field(min_length=1, max_length=200)
    event: NudgeEvent
    macro_id: str = Field(pattern=ID_PATTERN, description="The macro sent (in the buyer's language)")
    subjects: dict[str, str] = Field(
        default_factory=dict, description="E-mail subject per language; default: the store's name and the order number"
    )
    store_ids: list[str] = Field(default_factory=list, description="Only these stores (empty: every store)")
    channels: list[Channel] = Field(default_factory=list, description="Only these channels (empty: every channel)")
    enabled: bool = True


def triggered(before: Order | None, after: Order, now: datetime | None = None) -> set[NudgeEvent]:
    """What an order change means for the buyer: newly shipped, delivered, cancelled, or delayed.

    An order seen for the first time (a store just connected, an update on an old order) is news
    only if what happened to it is recent (``FIRST_SEEN_WINDOW``): nobody wants "your order was
    delivered" about a parcel that arrived two months ago."""
    events: set[NudgeEvent] = set()
    if before is None and now is not None:
        happened = {OrderStatus.SHIPPED: after.shipped_at, OrderStatus.DELIVERED: after.delivered_at}.get(
            after.status, after.updated_at
        ) or after.updated_at
        if happened is None or now - happened > FIRST_SEEN_WINDOW:
            return events
    previous = before.status if before else OrderStatus.UNKNOWN
    became = {
        OrderStatus.SHIPPED: NudgeEvent.SHIPPED,
        OrderStatus.DELIVERED: NudgeEvent.DELIVERED,
        OrderStatus.CANCELLED: NudgeEvent.CANCELLED,
    }
    if (
        after.status in became
        and after.status != previous
        and not (after.status == OrderStatus.SHIPPED and previous in _DONE)
    ):
        events.add(became[after.status])
    if (
        before is not None
        and before.delivery_latest
        and after.delivery_latest
        and after.delivery_latest - before.delivery_latest > DELAY_THRESHOLD
        and after.status not in _DONE
    ):
        events.add(NudgeEvent.DELAYED)
    return events


def applies(nudge: Nudge, store: Store, event: NudgeEvent) -> bool:
    return (
        nudge.enabled
        and nudge.event == event
        and (not nudge.store_ids or store.store_id in nudge.store_ids)
        and (not nudge.channels or store.channel in nudge.channels)
    )


class NudgeService:
    def __init__(
        self,
        repository: NudgeRepository,
        macros: MacroSource,
        queue: ReplyQueue,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._repo = repository
        self._macros = macros
        self._queue = queue
        self._clock = clock

    def configured(self, tenant_id: str) -> list[Nudge]:
        return [n for n in self._repo.list_nudges(tenant_id) if n.enabled]

    def on_order_change(self, nudges: Sequence[Nudge], before: Order | None, after: Order) -> list[str]:
        """Send what the tenant's ``nudges`` ask for on this change; what happened, one line each."""
        events = triggered(before, after, self._clock())
        if not events or not nudges:
            return []
        store = self._repo.get_store(after.tenant_id, after.store_id)
        if store is None or store.disconnected_at is not None:
            return []
        outcomes = []
        for nudge in nudges:
            for event in events:
                if applies(nudge, store, event):
                    outcomes.append(f"{nudge.nudge_id}: {self._send(nudge, store, after)}")
        return outcomes

    def _send(self, nudge: Nudge, store: Store, order: Order) -> str:
        macro = self._macros.get_macro(order.tenant_id, nudge.macro_id)
        if macro is None:
            return f"not sent: no macro {nudge.macro_id}"
        marker = f"{nudge.nudge_id}:{order.order_ref}"
        tickets = [
            t
            for t in self._repo.find_tickets_by_order(order.tenant_id, order.store_id, order.order_ref)
            if not t.merged_into
        ]
        if any(marker in t.automated for t in tickets):
            return "already sent for this order"
        conversations = [t for t in tickets if self._buyer_wrote(t)]
        if conversations:
            return self._into_conversation(
                max(conversations, key=lambda t: t.created_at), nudge, macro, store, order, marker
            )
        if store.channel not in MAIL_ANSWERED:
            return f"not sent: no conversation with the buyer on {store.channel.value} about this order yet"
        if not order.buyer_email:
            return "not sent: the order has no buyer e-mail"
        return self._new_conversation(nudge, macro, store, order, marker)

    def _buyer_wrote(self, ticket: Ticket) -> bool:
        """A conversation to write into: the buyer wrote on it (a ticket a nudge opened has only our
        messages; the next nudge opens its own, with its own subject)."""
        view = self._repo.get_ticket_view(ticket.tenant_id, ticket.ticket_id)
        return view is not None and any(m.direction == MessageDirection.INBOUND for m in view.messages)

    def _into_conversation(
        self, ticket: Ticket, nudge: Nudge, macro: Macro, store: Store, order: Order, marker: str
    ) -> str:
        for _ in range(5):
            view = self._repo.get_ticket_view(ticket.tenant_id, ticket.ticket_id)
            if view is None:
                return "not sent: the ticket is gone"
            current = view.ticket
            if marker in current.automated:
                return "already sent for this order"
            body, language, problem = self._body(macro, current, order, store, strict=True)
            if problem:
                return f"not sent: {problem}"
            now = self._clock()
            message = outbound_reply(
                view,
                now,
                body=body,
                language=language,
                author="automation",
                author_id=None,
                macro_id=macro.macro_id,
                status_after=None,
            )
            message.automation = Automation.NUDGE
            updated = current.model_copy(deep=True)
            updated.updated_at = now
            updated.automated = [*updated.automated, marker]
            try:
                self._repo.update_ticket(current, updated, [message])
            except Conflict:
                continue
            self._queue.publish(ticket.tenant_id, ticket.ticket_id, message.message_id)
            return f"queued on ticket {ticket.ticket_id}"
        return "not sent: the ticket kept changing"

    def _new_conversation(self, nudge: Nudge, macro: Macro, store: Store, order: Order, marker: str) -> str:
        now = self._clock()
        language = store.default_language
        subject = nudge.subjects.get(language) or nudge.subjects.get("en") or f"{store.display_name}: {order.order_ref}"
        ticket = Ticket(
            tenant_id=order.tenant_id,
            ticket_id=new_id(now),
            store_id=store.store_id,
            channel=store.channel,
            subject=subject[:300],
            status=TicketStatus.RESOLVED,
            language=language,
            customer_email=order.buyer_email,
            customer_name=order.buyer_name,
            order_refs=[order.order_ref],
            automated=[marker],
            message_count=1,
            created_at=now,
            updated_at=now,
        )
        body, language, problem = self._body(macro, ticket, order, store)
        if problem:
            return f"not sent: {problem}"
        message = Message(
            tenant_id=ticket.tenant_id,
            ticket_id=ticket.ticket_id,
            message_id=new_id(now),
            direction=MessageDirection.OUTBOUND,
            channel=store.channel,
            store_id=store.store_id,
            author="automation",
            body=body,
            language=language,
            macro_id=macro.macro_id,
            automation=Automation.NUDGE,
            delivery_status=DeliveryStatus.QUEUED,
            channel_message_id=f"nudge:{marker}",
            created_at=now,
        )
        try:
            self._repo.create_ticket(ticket, message)
        except (Conflict, DuplicateMessage):
            return "already sent for this order"  # the same nudge, raced by a redelivered event
        self._queue.publish(ticket.tenant_id, ticket.ticket_id, message.message_id)
        return f"queued on new ticket {ticket.ticket_id}"

    @staticmethod
    def _body(
        macro: Macro, ticket: Ticket, order: Order, store: Store, strict: bool = False
    ) -> tuple[str, str, str | None]:
        """The macro for this buyer; ``strict`` (their own conversation): only in their language, else
        the store's language will do."""
        wanted = ticket.language or store.default_language
        body, problem, language, _ = buyer_text(
            macro, ticket, order, store, wanted, also=() if strict else (store.default_language,)
        )
        return ("" if problem else body), language, problem


def replace_nudges(config: NudgeConfig, macros: MacroSource, tenant_id: str, raw: object) -> list[Nudge]:
    """The tenant's proactive messages, replaced as a whole; each must name a macro that exists."""
    from helpdesk.core.validation import validate_list

    known = {m.macro_id for m in macros.list_macros(tenant_id)}

    def check(nudge: Nudge) -> list[str]:
        return [] if nudge.macro_id in known else [f"macro_id: no macro {nudge.macro_id!r} (create it first)"]

    nudges = validate_list(
        raw, Nudge, "nudge_id", what="nudges", noun="nudge", limit=MAX_NUDGES, error=NudgesInvalid, check=check
    )
    config.put_nudges(tenant_id, nudges)
    return nudges
