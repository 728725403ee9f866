"""Channel pushes that arrive on a queue rather than at our webhook URL (Amazon SP-API
notifications: ORDER_CHANGE, including buyer cancellation requests). Plain Python.

The notification names the seller account, not the tenant: the store is found through the channel
route the seller setup wrote (``ROUTE#amazon#<seller id>``). The raw notification is kept like any
delivery (replayable), then the canonical envelope goes on the ingest queue. An unknown seller or
an unreadable notification is kept under ``quarantine/`` and reported, never retried forever.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from helpdesk.core.clock import utc_now
from helpdesk.core.errors import MalformedPayload, NotFound
from helpdesk.core.models import Channel, IngestEnvelope
from helpdesk.ingest.ports import EnvelopePublisher, RawPayloadStore, StoreRoutes


@dataclass(frozen=True)
class NotificationOutcome:
    notification_id: str
    store_id: str
    messages: int
    order_events: int


class AmazonNotificationIngestor:
    def __init__(
        self,
        routes: StoreRoutes,
        raw_store: RawPayloadStore,
        publisher: EnvelopePublisher,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._routes = routes
        self._raw = raw_store
        self._publisher = publisher
        self._clock = clock

    def ingest(self, body: str) -> NotificationOutcome:
        from helpdesk.channels import amazon

        at = self._clock()
        raw = body.encode()
        try:
            notification_id = amazon.notification_id(body)
            seller_id, _marketplace = amazon.notification_seller(body)
        except MalformedPayload as exc:
            self._quarantine(f"quarantine/amazon/unreadable/{at:%Y/%m/%d}/{at:%H%M%S%f}", raw, exc.message)
            raise
        store = self._routes.find_store_by_account(Channel.AMAZON.value, seller_id)
        if store is None or store.disconnected_at is not None:
            self._quarantine(
                f"quarantine/amazon/unknown-seller/{seller_id}/{notification_id}",
                raw,
                "no connected Amazon store for this seller id",
            )
            raise NotFound("no Amazon store for this seller id", seller_id=seller_id)
        delivery_id = f"spapi-{notification_id}"
        key = f"raw/{store.tenant_id}/amazon/{store.store_id}/{at:%Y/%m/%d}/{delivery_id}"
        try:
            parsed = amazon.parse_notification(store, body, raw_s3_key=key, received_at=at)
        except MalformedPayload as exc:
            self._quarantine(key.replace("raw/", "quarantine/", 1), raw, exc.message)
            raise
        self._raw.put(
            key,
            raw,
            "application/json",
            {
                "delivery-id": delivery_id,
                "received-at": at.isoformat(),
                "headers": json.dumps({"content-type": "application/json"}),
            },
        )
        self._publisher.publish(
            IngestEnvelope(
                tenant_id=store.tenant_id,
                store_id=store.store_id,
                channel=Channel.AMAZON,
                delivery_id=delivery_id,
                raw_s3_key=key,
                messages=parsed.messages,
                order_events=parsed.order_events,
            )
        )
        return NotificationOutcome(notification_id, store.store_id, len(parsed.messages), len(parsed.order_events))

    def _quarantine(self, key: str, raw: bytes, reason: str) -> None:
        self._raw.put(key, raw, "application/json", {"reason": reason[:512]})
