"""The ingest queue's consumer: a canonical envelope becomes stored orders and threaded tickets, each new
buyer message starting the intake workflow. Plain Python."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from helpdesk.core.errors import HelpdeskError
from helpdesk.core.models import IngestEnvelope, Order, OrderEvent, OrderEventType, OrderStatus
from helpdesk.ingest.ports import IntakeStarter, ProactiveMessages
from helpdesk.tickets.ports import OrderSource, TicketRepository
from helpdesk.tickets.threads import TicketService

if TYPE_CHECKING:  # the macro engine loads only where proactive messages are configured
    from helpdesk.replies.proactive import Nudge


@dataclass(frozen=True)
class OrderRefreshFailure:
    """A thin order event whose full order the channel could not give: what the event carried was
    stored instead. Ids and the channel's error only (no buyer data), for the consumer's log."""

    store_id: str
    order_ref: str
    reason: str


@dataclass(frozen=True)
class EnvelopeResult:
    tickets_created: int
    messages_stored: int
    duplicates: int
    orders_written: int
    orders_refreshed: int = 0
    order_refresh_failures: tuple[OrderRefreshFailure, ...] = ()
    nudges: tuple[str, ...] = ()  # proactive messages: what each configured one did


class EnvelopeProcessor:
    """The ingest queue's consumer: orders first (so tickets find their order), then messages; each
    newly stored message starts the intake workflow (intent, rules, SLA) for its ticket.

    Thin order events — an order id and at most a status, no items (BigCommerce callbacks, Walmart
    and TikTok status changes, Amazon ORDER_CHANGE, Shopify fulfilment events) — are completed from
    the channel's order API (``orders``) before they are stored, once per order per envelope, so the
    stored order, which every ticket on it reads (ticket view, intake's Enrich and rules, replies),
    has its items, totals, carrier and tracking as of now. When the channel fails, what the event
    carried is stored all the same (nothing lost) and the failure is reported in the result."""

    def __init__(
        self,
        repository: TicketRepository,
        tickets: TicketService,
        intake: IntakeStarter | None = None,
        orders: OrderSource | None = None,
        nudges: ProactiveMessages | None = None,
    ) -> None:
        self._repo = repository
        self._tickets = tickets
        self._intake = intake
        self._orders = orders
        self._nudges = nudges

    def process(self, envelope: IngestEnvelope) -> EnvelopeResult:
        refresh = _OrderRefresh()
        if self._nudges is not None and envelope.order_events:
            refresh.nudges = self._nudges.configured(envelope.tenant_id)
        orders_written = sum(1 for event in envelope.order_events if self._apply_order(event, refresh))
        created = stored = duplicates = 0
        for message in envelope.messages:
            result = self._tickets.receive(message)
            duplicates += result.duplicate
            stored += not result.duplicate
            created += result.created_ticket
            if self._intake is not None and not result.duplicate:
                self._intake.start(message.tenant_id, result.ticket_id, result.message_id)
        return EnvelopeResult(
            created,
            stored,
            duplicates,
            orders_written,
            sum(1 for order in refresh.fetched.values() if order is not None),
            tuple(refresh.failures),
            tuple(refresh.nudged),
        )

    # --- orders -------------------------------------------------------------------------------

    def _apply_order(self, event: OrderEvent, refresh: _OrderRefresh) -> bool:
        order = event.order
        if self._orders is not None and is_thin(event):
            key = (event.store_id, order.order_ref)
            if key not in refresh.fetched:
                refresh.fetched[key] = self._fetch(self._orders, event, refresh)
            fetched = refresh.fetched[key]
            if fetched is not None:
                order = completed(fetched, order)
        if not refresh.nudges or self._nudges is None:
            return self._repo.upsert_order(order)
        before = self._repo.get_order(order.tenant_id, order.store_id, order.order_ref)
        written = self._repo.upsert_order(order)
        after = self._repo.get_order(order.tenant_id, order.store_id, order.order_ref) if written else None
        if after is not None:
            try:
                refresh.nudged.extend(self._nudges.on_order_change(refresh.nudges, before, after))
            except Exception as exc:  # noqa: BLE001 - a proactive message must never cost the order event
                refresh.nudged.append(f"{order.order_ref}: failed: {type(exc).__name__}: {str(exc)[:200]}")
        return written

    def _fetch(self, orders: OrderSource, event: OrderEvent, refresh: _OrderRefresh) -> Order | None:
        store = self._repo.get_store(event.tenant_id, event.store_id)
        if store is None or store.disconnected_at is not None:
            return None
        try:
            fetched = orders.fetch(store, event.order.order_ref)
        except Exception as exc:  # noqa: BLE001 - a refresh failure must never cost the event it completes
            reason = exc.message if isinstance(exc, HelpdeskError) else f"{type(exc).__name__}: {exc}"
            refresh.failures.append(OrderRefreshFailure(event.store_id, event.order.order_ref, reason[:300]))
            return None
        if fetched is None or (fetched.tenant_id, fetched.store_id) != (event.tenant_id, event.store_id):
            return None
        return fetched


@dataclass
class _OrderRefresh:
    """One envelope's order lookups: each order asked once, failures kept for the log."""

    fetched: dict[tuple[str, str], Order | None] = field(default_factory=dict)
    failures: list[OrderRefreshFailure] = field(default_factory=list)
    nudges: list[Nudge] = field(default_factory=list)  # the tenant's proactive messages
    nudged: list[str] = field(default_factory=list)  # what they did


def is_thin(event: OrderEvent) -> bool:
    """An event that names an order without being one (no items), other than its deletion."""
    return not event.order.items and event.event_type != OrderEventType.DELETED


def completed(fetched: Order, thin: Order) -> Order:
    """The channel's full order, with what only the event knew filled into the fields the order
    answer left unknown (None, UNKNOWN status)."""
    gaps = {
        name: value
        for name, value in thin
        if value is not None and value != OrderStatus.UNKNOWN and getattr(fetched, name) in (None, OrderStatus.UNKNOWN)
    }
    return fetched.model_copy(update=gaps) if gaps else fetched
