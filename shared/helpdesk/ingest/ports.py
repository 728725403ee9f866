"""The interfaces the ingest services depend on: raw payloads, the envelope queue, the error log, secrets."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol

from helpdesk.core.models import IngestEnvelope, IngestError, Store


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
