"""The interfaces the ingest services depend on: raw payloads, the envelope queue, the error log, secrets."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from helpdesk.core.models import (
    IngestEnvelope,
    IngestError,
    Order,
    Store,
    StoreHealth,
)

if TYPE_CHECKING:
    from helpdesk.ingest.replay import RawObject
    from helpdesk.replies.proactive import Nudge


class IngestErrorLog(Protocol):
    def record_ingest_error(self, error: IngestError) -> None: ...


class RawPayloadStore(Protocol):
    def put(self, key: str, body: bytes, content_type: str, metadata: Mapping[str, str]) -> None: ...


class EnvelopePublisher(Protocol):
    def publish(self, envelope: IngestEnvelope) -> None: ...


class SecretProvider(Protocol):
    def webhook_secret(self, store: Store, refresh: bool = False) -> str:
        """The store's webhook secret; cached, ``refresh`` bypasses the cache (after rotation)."""
        ...


class StoreRoutes(Protocol):
    def find_store_by_account(self, channel: str, account_id: str) -> Store | None: ...


class IntakeStarter(Protocol):
    def start(self, tenant_id: str, ticket_id: str, message_id: str) -> None:
        """Run the intake workflow for a newly stored buyer message (asynchronously)."""
        ...


class ProactiveMessages(Protocol):
    """``helpdesk.replies.proactive``: the tenant's configured proactive messages and sending them."""

    def configured(self, tenant_id: str) -> list[Nudge]: ...

    def on_order_change(self, nudges: Sequence[Nudge], before: Order | None, after: Order) -> list[str]: ...


class RawMailReader(Protocol):
    def read(self, bucket: str, key: str) -> bytes: ...


class StoreLookup(Protocol):
    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...


class PollRepository(Protocol):
    def list_stores(self, tenant_id: str) -> list[Store]: ...

    def get_cursor(self, tenant_id: str, store_id: str, stream: str) -> str | None: ...

    def advance_cursor(self, tenant_id: str, store_id: str, stream: str, previous: str | None, new: str) -> None:
        """Store ``new`` if the stored cursor is still ``previous`` (two pollers never interleave)."""
        ...

    def get_health(self, tenant_id: str, store_id: str) -> StoreHealth | None: ...

    def put_health(self, health: StoreHealth) -> None: ...


class RawArchive(Protocol):
    def keys(self, prefix: str) -> Iterable[str]: ...

    def get(self, key: str) -> RawObject: ...


class ReplayRepository(Protocol):
    def get_store(self, tenant_id: str, store_id: str) -> Store | None: ...

    def get_cursor(self, tenant_id: str, store_id: str, stream: str) -> str | None: ...

    def set_cursor(self, tenant_id: str, store_id: str, stream: str, value: str) -> None: ...


class EnvelopeSink(Protocol):
    def publish(self, envelope: IngestEnvelope) -> None: ...


class DeadLetters(Protocol):
    def receive(self, limit: int) -> list[tuple[str, str, Mapping[str, object]]]:
        """(receipt handle, body, message attributes) of up to ``limit`` dead letters."""
        ...

    def send_back(self, body: str, attributes: Mapping[str, object]) -> None: ...

    def delete(self, receipt_handle: str) -> None: ...
