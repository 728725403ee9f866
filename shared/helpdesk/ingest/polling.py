"""Polling the channels that do not push (Mirakl inboxes, later eBay and TikTok Shop conversations).

One scheduled run per tenant fans out over every connected poll-based store at once (a bounded
thread pool: 130 marketplaces fit in one tick). For each store: read its cursor → ask the connector
for everything new → keep the raw pages in S3 → put the canonical envelope on the ingest queue →
only then advance the cursor. A store that fails is put in exponential backoff and reported
unhealthy (last error, consecutive failures) without holding up the others.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from helpdesk.channels import is_polled, open_client, poll_connector
from helpdesk.core.clock import utc_now
from helpdesk.core.errors import HelpdeskError
from helpdesk.core.models import IngestEnvelope, Store, StoreHealth
from helpdesk.ingest.ports import EnvelopePublisher, PollRepository, RawPayloadStore
from helpdesk.ingest.webhooks import raw_key
from helpdesk.stores.ports import StoreCredentials

MAX_WORKERS = 32
BACKOFF_BASE = timedelta(minutes=1)
BACKOFF_CAP = timedelta(hours=1)
MESSAGES_PER_ENVELOPE = 25  # keeps each SQS message far below its 256 KB limit
STREAM = "inbox"


@dataclass(frozen=True)
class StoreOutcome:
    store_id: str
    ok: bool
    messages: int = 0
    order_events: int = 0
    skipped: bool = False
    error: str | None = None


@dataclass(frozen=True)
class TickReport:
    tenant_id: str
    outcomes: list[StoreOutcome]

    @property
    def polled(self) -> int:
        return sum(1 for o in self.outcomes if not o.skipped)

    @property
    def failed(self) -> int:
        return sum(1 for o in self.outcomes if not o.ok)

    @property
    def messages(self) -> int:
        return sum(o.messages for o in self.outcomes)


def backoff_for(failures: int) -> timedelta:
    """1, 2, 4 … minutes after consecutive failures, at most an hour."""
    return min(BACKOFF_CAP, BACKOFF_BASE * 2 ** max(0, failures - 1))


class PollService:
    def __init__(
        self,
        repository: PollRepository,
        credentials: StoreCredentials,
        raw_store: RawPayloadStore,
        publisher: EnvelopePublisher,
        clock: Callable[[], datetime] = utc_now,
        max_workers: int = MAX_WORKERS,
    ) -> None:
        self._repo = repository
        self._credentials = credentials
        self._raw = raw_store
        self._publisher = publisher
        self._clock = clock
        self._max_workers = max_workers

    def tick(self, tenant_id: str) -> TickReport:
        stores = [s for s in self._repo.list_stores(tenant_id) if s.active and is_polled(s.channel.value)]
        if not stores:
            return TickReport(tenant_id, [])
        with ThreadPoolExecutor(max_workers=min(self._max_workers, len(stores))) as pool:
            outcomes = list(pool.map(self._poll_store, stores))
        return TickReport(tenant_id, outcomes)

    def _poll_store(self, store: Store) -> StoreOutcome:
        now = self._clock()
        health = self._repo.get_health(store.tenant_id, store.store_id) or StoreHealth(
            tenant_id=store.tenant_id, store_id=store.store_id
        )
        if health.next_poll_after and now < health.next_poll_after:
            return StoreOutcome(store.store_id, ok=True, skipped=True)
        try:
            outcome = self._poll(store, now)
        except Exception as exc:  # noqa: BLE001 - one store's failure must not stop the others
            failures = health.consecutive_failures + 1
            reason = exc.message if isinstance(exc, HelpdeskError) else f"{type(exc).__name__}: {exc}"
            self._repo.put_health(
                health.model_copy(
                    update={
                        "last_poll_at": now,
                        "last_error": reason[:500],
                        "last_error_at": now,
                        "consecutive_failures": failures,
                        "next_poll_after": now + backoff_for(failures),
                    }
                )
            )
            return StoreOutcome(store.store_id, ok=False, error=reason)
        update = {"last_poll_at": now, "last_success_at": now, "consecutive_failures": 0, "next_poll_after": None}
        if outcome.messages:
            update["last_message_at"] = now
        self._repo.put_health(health.model_copy(update=update))
        return outcome

    def _poll(self, store: Store, now: datetime) -> StoreOutcome:
        connector = poll_connector(store.channel.value)
        cursor = self._repo.get_cursor(store.tenant_id, store.store_id, STREAM)
        credentials = self._credentials.credentials(store)
        http = open_client(
            connector,
            store,
            credentials,
            on_refresh_token=lambda token: self._credentials.update_credentials(store, {"refresh_token": token}),
        )
        try:
            result = connector.poll(store, http, cursor, now)
        finally:
            http.close()
        if result.messages or result.order_events:
            digest = hashlib.sha256(b"".join(result.raw_pages) or json.dumps(cursor).encode()).hexdigest()[:24]
            delivery_id = f"poll-{digest}"
            key = raw_key("raw", store, delivery_id, now)  # a prefix: one object per page, byte for byte
            for number, page in enumerate(result.raw_pages):
                self._raw.put(f"{key}/page-{number:03d}.json", page, "application/json", {"cursor": cursor or ""})
            for i in range(0, max(len(result.messages), 1), MESSAGES_PER_ENVELOPE):
                self._publisher.publish(
                    IngestEnvelope(
                        tenant_id=store.tenant_id,
                        store_id=store.store_id,
                        channel=store.channel,
                        delivery_id=f"{delivery_id}-{i // MESSAGES_PER_ENVELOPE}",
                        raw_s3_key=key,
                        messages=[
                            m.model_copy(update={"raw_s3_key": key})
                            for m in result.messages[i : i + MESSAGES_PER_ENVELOPE]
                        ],
                        order_events=result.order_events if i == 0 else [],
                    )
                )
        # Only now that everything is queued may the cursor move on.
        if result.next_cursor and result.next_cursor != cursor:
            self._repo.advance_cursor(store.tenant_id, store.store_id, STREAM, cursor, result.next_cursor)
        return StoreOutcome(
            store.store_id, ok=True, messages=len(result.messages), order_events=len(result.order_events)
        )
